package objstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// archiveObjects commits sampleTree into an archive repository and returns
// the raw .filez bytes of its content objects by path.
func archiveObjects(t *testing.T) (*objstore.Repo, map[string]objstore.ID, map[objstore.ID][]byte) {
	t.Helper()
	src := objtest.NewRepo(t, objstore.ModeArchive)
	commit := commitDir(t, src, sampleTree(t), "main")
	c, err := src.LoadCommit(t.Context(), commit)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]objstore.ID{}
	raw := map[objstore.ID][]byte{}
	var walk func(tree objstore.ID, prefix string)
	walk = func(tree objstore.ID, prefix string) {
		dt, err := src.LoadDirTree(t.Context(), tree)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range dt.Files {
			ids[prefix+f.Name] = f.Content
			data, err := os.ReadFile(src.ContentPath(f.Content))
			if err != nil {
				t.Fatal(err)
			}
			raw[f.Content] = data
		}
		for _, d := range dt.Dirs {
			walk(d.Tree, prefix+d.Name+"/")
		}
	}
	walk(c.RootTree, "")
	return src, ids, raw
}

func importModes() []objstore.Mode {
	return []objstore.Mode{objstore.ModeArchive, objstore.ModeBareUser}
}

// importAndCommit imports one .filez stream into a fresh repository and
// commits, returning the import error and the repository.
func importAndCommit(t *testing.T, mode objstore.Mode, want objstore.ID, data []byte) (*objstore.Repo, error) {
	t.Helper()
	r := objtest.NewRepo(t, mode)
	tx, err := r.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ierr := tx.ImportArchiveContent(t.Context(), want, bytes.NewReader(data))
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r, ierr
}

func TestImportArchiveContent(t *testing.T) {
	_, ids, raw := archiveObjects(t)
	for _, mode := range importModes() {
		for _, path := range []string{"a/file", "a/b/exec", "big", "empty", "link", "dangling"} {
			t.Run(string(mode)+"/"+path, func(t *testing.T) {
				id := ids[path]
				r, err := importAndCommit(t, mode, id, raw[id])
				if err != nil {
					t.Fatalf("ImportArchiveContent: %v", err)
				}
				if err := r.VerifyContent(t.Context(), id); err != nil {
					t.Errorf("VerifyContent: %v", err)
				}
				if mode == objstore.ModeArchive {
					got, _ := os.ReadFile(r.ContentPath(id))
					if !bytes.Equal(got, raw[id]) {
						t.Error("archive import did not keep the verified stream as it came")
					}
				}
			})
		}
	}
}

// TestImportArchiveContentRejects feeds damaged streams: each is refused
// with the right error, and nothing at all is stored.
func TestImportArchiveContentRejects(t *testing.T) {
	_, ids, raw := archiveObjects(t)
	small, big, link := ids["a/file"], ids["big"], ids["link"]
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 1
		return b
	}
	// A header for 10 bytes of content followed by endless empty stored
	// DEFLATE blocks: no output, ever.
	var bomb bytes.Buffer
	hdr := raw[small][:8+binary.BigEndian.Uint32(raw[small][:4])]
	bomb.Write(hdr)
	for range 10000 {
		bomb.Write([]byte{0x00, 0x00, 0x00, 0xff, 0xff})
	}
	cases := []struct {
		name     string
		want     objstore.ID
		data     []byte
		mismatch bool
		errText  string
	}{
		{"wrong id", small, raw[big], true, ""},
		{"flipped content", small, flip(raw[small], -3), false, ""},
		{"flipped large content", big, flip(raw[big], -100), false, ""},
		{"flipped symlink target", link, flip(raw[link], bytes.Index(raw[link], []byte("a/file"))), true, ""},
		{"trailing bytes", small, append(bytes.Clone(raw[small]), 0), false, "trailing"},
		{"trailing bytes large", big, append(bytes.Clone(raw[big]), 1, 2, 3), false, "trailing"},
		{"trailing bytes symlink", link, append(bytes.Clone(raw[link]), 0), false, "trailing"},
		{"truncated", small, raw[small][:len(raw[small])-2], false, ""},
		{"truncated header", small, raw[small][:20], false, "truncated"},
		{"truncated large", big, raw[big][:len(raw[big])/2], false, ""},
		{"nonzero padding", small, flip(raw[small], 5), false, "padding"},
		{"huge header", small, append([]byte{0x7f, 0, 0, 0, 0, 0, 0, 0}, raw[small][8:]...), false, "too large"},
		{"empty", small, nil, false, "truncated"},
		{"deflate bomb", small, bomb.Bytes(), false, ""},
	}
	for _, mode := range importModes() {
		for _, tc := range cases {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				r, err := importAndCommit(t, mode, tc.want, tc.data)
				if err == nil {
					t.Fatal("import succeeded")
				}
				var dm *objstore.DigestMismatchError
				if tc.mismatch && !errors.As(err, &dm) {
					t.Errorf("error %v is not a *DigestMismatchError", err)
				}
				if !errors.As(err, &dm) && !errors.Is(err, objstore.ErrInvalidObject) {
					t.Errorf("error %v is neither a mismatch nor ErrInvalidObject", err)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Errorf("error %q lacks %q", err, tc.errText)
				}
				n := 0
				r.ListObjects(t.Context(), func(objstore.ObjectName) error { n++; return nil })
				if n != 0 {
					t.Errorf("%d objects stored after a rejected import", n)
				}
			})
		}
	}
}

// failingReader returns data, then a transport error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestImportPassesReadErrors keeps errors of the input apart from bad
// data: a transport failure is not an invalid object.
func TestImportPassesReadErrors(t *testing.T) {
	_, ids, raw := archiveObjects(t)
	boom := errors.New("connection reset")
	for _, mode := range importModes() {
		for _, path := range []string{"a/file", "big"} {
			id := ids[path]
			r := objtest.NewRepo(t, mode)
			tx, err := r.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			err = tx.ImportArchiveContent(t.Context(), id, &failingReader{data: raw[id][:len(raw[id])/2], err: boom})
			tx.Abort()
			if !errors.Is(err, boom) || errors.Is(err, objstore.ErrInvalidObject) {
				t.Errorf("%s %s: error = %v, want the read error and not ErrInvalidObject", mode, path, err)
			}
		}
	}
}

func TestImportContent(t *testing.T) {
	src, ids, _ := archiveObjects(t)
	for _, mode := range importModes() {
		for _, path := range []string{"a/file", "big", "link"} {
			id := ids[path]
			m, rc, err := src.OpenContent(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var content []byte
			if rc != nil {
				content, _ = io.ReadAll(rc)
				rc.Close()
			}
			r := objtest.NewRepo(t, mode)
			tx, _ := r.Begin(t.Context())
			if err := tx.ImportContent(t.Context(), id, m, bytes.NewReader(content)); err != nil {
				t.Fatalf("%s %s: %v", mode, path, err)
			}
			if m.IsRegular() {
				bad := bytes.Clone(content)
				bad[0] ^= 1
				var dm *objstore.DigestMismatchError
				if err := tx.ImportContent(t.Context(), ids["empty"], m, bytes.NewReader(bad)); !errors.As(err, &dm) {
					t.Errorf("%s %s: mismatched import error = %v", mode, path, err)
				}
				if err := tx.ImportContent(t.Context(), ids["empty"], m, bytes.NewReader(content[:len(content)-1])); !errors.Is(err, objstore.ErrInvalidObject) {
					t.Errorf("%s %s: short import error = %v", mode, path, err)
				}
			}
			if err := tx.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := r.VerifyContent(t.Context(), id); err != nil {
				t.Errorf("%s %s: %v", mode, path, err)
			}
			n := 0
			r.ListObjects(t.Context(), func(objstore.ObjectName) error { n++; return nil })
			if n != 1 {
				t.Errorf("%s %s: %d objects stored, want 1", mode, path, n)
			}
		}
	}
}

func TestImportMeta(t *testing.T) {
	src := objtest.NewRepo(t, objstore.ModeArchive)
	commit := commitDir(t, src, sampleTree(t), "main")
	c, _ := src.LoadCommit(t.Context(), commit)
	commitData, _ := src.ReadMetaObject(t.Context(), commit, objstore.TypeCommit)
	treeData, _ := src.ReadMetaObject(t.Context(), c.RootTree, objstore.TypeDirTree)
	metaData, _ := src.ReadMetaObject(t.Context(), c.RootMeta, objstore.TypeDirMeta)

	dst := objtest.NewRepo(t, objstore.ModeBareUser)
	tx, _ := dst.Begin(t.Context())
	ctx := context.Background()
	for _, tc := range []struct {
		n    objstore.ObjectName
		data []byte
	}{
		{objstore.ObjectName{ID: commit, Type: objstore.TypeCommit}, commitData},
		{objstore.ObjectName{ID: c.RootTree, Type: objstore.TypeDirTree}, treeData},
		{objstore.ObjectName{ID: c.RootMeta, Type: objstore.TypeDirMeta}, metaData},
		{objstore.ObjectName{ID: commit, Type: objstore.TypeCommitMeta}, []byte{}},
	} {
		if err := tx.ImportMeta(ctx, tc.n, tc.data); err != nil {
			t.Errorf("ImportMeta(%s): %v", tc.n, err)
		}
	}
	// Valid checksum but not a dirtree: a commit stored under its own id
	// typed as a dirtree.
	var dm *objstore.DigestMismatchError
	if err := tx.ImportMeta(ctx, objstore.ObjectName{ID: objstore.Hash(commitData), Type: objstore.TypeDirTree}, commitData); !errors.Is(err, objstore.ErrInvalidObject) {
		t.Errorf("commit as dirtree: error = %v, want ErrInvalidObject", err)
	}
	if err := tx.ImportMeta(ctx, objstore.ObjectName{ID: c.RootTree, Type: objstore.TypeDirTree}, metaData); !errors.As(err, &dm) {
		t.Errorf("wrong bytes: error = %v, want a mismatch", err)
	}
	if err := tx.ImportMeta(ctx, objstore.ObjectName{ID: commit, Type: objstore.TypeCommitMeta}, []byte("junk")); !errors.Is(err, objstore.ErrInvalidObject) {
		t.Errorf("junk commitmeta: error = %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	dst.ListObjects(ctx, func(objstore.ObjectName) error { n++; return nil })
	if n != 4 {
		t.Errorf("%d objects stored, want 4", n)
	}
}

func TestMarkCommitPartial(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeArchive)
	id := objstore.Hash([]byte("x"))
	if err := os.RemoveAll(filepath.Join(r.Path(), "state")); err != nil {
		t.Fatal(err)
	}
	for _, partial := range []bool{true, true, false, false} {
		if err := r.MarkCommitPartial(id, partial); err != nil {
			t.Fatal(err)
		}
		if r.IsPartial(id) != partial {
			t.Errorf("IsPartial = %v, want %v", !partial, partial)
		}
	}
}

// FuzzImportArchiveContent feeds arbitrary .filez streams to the import:
// it must never panic, and whatever it accepts must be stored whole and
// hash to the claimed checksum.
func FuzzImportArchiveContent(f *testing.F) {
	src := objtest.NewRepo(f, objstore.ModeArchive)
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("hello fuzz\n"), 0o644)
	os.Symlink("file", filepath.Join(dir, "link"))
	tx, err := src.Begin(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	root := objstore.NewMutableTree()
	if err := tx.WriteDir(context.Background(), dir, root, nil); err != nil {
		f.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		f.Fatal(err)
	}
	var ids []objstore.ID
	src.ListObjects(context.Background(), func(n objstore.ObjectName) error {
		if n.Type == objstore.TypeFile {
			ids = append(ids, n.ID)
			data, _ := os.ReadFile(src.ContentPath(n.ID))
			f.Add(data, uint8(len(ids)-1))
		}
		return nil
	})
	// One repository per mode for the whole run, on tmpfs when there is
	// one: each iteration commits (a syncfs) and then removes what it stored.
	base := f.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "gostree-fuzz-"); err == nil {
		base = shm
		f.Cleanup(func() { os.RemoveAll(shm) })
	}
	repos := map[objstore.Mode]*objstore.Repo{}
	for _, mode := range []objstore.Mode{objstore.ModeArchive, objstore.ModeBareUser} {
		r, err := objstore.Init(context.Background(), filepath.Join(base, string(mode)), &objstore.InitOptions{Mode: mode})
		if err != nil {
			f.Fatal(err)
		}
		repos[mode] = r
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		want := ids[int(which)%len(ids)]
		for _, r := range repos {
			tx, err := r.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ierr := tx.ImportArchiveContent(context.Background(), want, bytes.NewReader(data))
			if err := tx.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			n := 0
			r.ListObjects(context.Background(), func(o objstore.ObjectName) error {
				n++
				if o.ID != want {
					t.Fatalf("stored %s, want only %s", o, want)
				}
				if err := r.VerifyContent(context.Background(), o.ID); err != nil {
					t.Fatalf("stored object does not verify: %v", err)
				}
				return os.Remove(filepath.Join(r.Path(), r.ObjectPath(o.ID, o.Type)))
			})
			if (ierr == nil) != (n == 1) {
				t.Fatalf("import error %v but %d objects stored", ierr, n)
			}
		}
	})
}
