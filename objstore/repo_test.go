package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

var allModes = []objstore.Mode{objstore.ModeBare, objstore.ModeBareUser, objstore.ModeBareUserOnly, objstore.ModeArchive}

func modesFor(t *testing.T) []objstore.Mode {
	if os.Geteuid() == 0 {
		return allModes
	}
	t.Log("not root: skipping bare mode (it records ownership)")
	return allModes[1:]
}

// sampleTree writes a small tree and returns its path.
func sampleTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b/empty"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a/file"), []byte("hello\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "a/b/exec"), bytes.Repeat([]byte("x"), 70000), 0o755))
	must(os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("0123456789"), 300000), 0o644)) // > smallFileMax: streamed
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	must(os.Symlink("a/file", filepath.Join(dir, "link")))
	must(os.Symlink("/abs/dangling", filepath.Join(dir, "dangling")))
	return dir
}

func commitDir(t *testing.T, r *objstore.Repo, dir, branch string) objstore.ID {
	t.Helper()
	ctx := t.Context()
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	root := objstore.NewMutableTree()
	if err := tx.WriteDir(ctx, dir, root, nil); err != nil {
		t.Fatal(err)
	}
	id, err := tx.WriteCommit(ctx, root, &objstore.CommitOptions{Subject: "test", Timestamp: time.Unix(1577836800, 0)})
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRef(branch, id)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCommitReadBackEveryMode(t *testing.T) {
	dir := sampleTree(t)
	for _, mode := range modesFor(t) {
		t.Run(string(mode), func(t *testing.T) {
			r := objtest.NewRepo(t, mode)
			id := commitDir(t, r, dir, "main")
			if got, err := r.ResolveRev(t.Context(), "main"); err != nil || got != id {
				t.Fatalf("ResolveRev(main) = %v, %v; want %v", got, err, id)
			}
			fsys, err := r.CommitFS(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			data, err := fs.ReadFile(fsys, "a/file")
			if err != nil || string(data) != "hello\n" {
				t.Errorf("ReadFile(a/file) = %q, %v", data, err)
			}
			if got, err := fs.ReadFile(fsys, "link"); err != nil || string(got) != "hello\n" {
				t.Errorf("ReadFile(link) through symlink = %q, %v", got, err)
			}
			if target, err := fs.ReadLink(fsys, "dangling"); err != nil || target != "/abs/dangling" {
				t.Errorf("ReadLink(dangling) = %q, %v", target, err)
			}
			if data, err := fs.ReadFile(fsys, "big"); err != nil || len(data) != 3000000 || string(data[2999990:]) != "0123456789" {
				t.Errorf("ReadFile(big) = %d bytes, %v", len(data), err)
			}
			fi, err := fs.Stat(fsys, "a/b/exec")
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != 70000 || fi.Mode().Perm() != 0o755 {
				t.Errorf("Stat(a/b/exec) = size %d mode %v", fi.Size(), fi.Mode())
			}
			// fstest opens every entry, so run it where there is no dangling link.
			sub, err := fs.Sub(fsys, "a")
			if err != nil {
				t.Fatal(err)
			}
			if err := fstest.TestFS(sub, "file", "b/exec", "b/empty"); err != nil {
				t.Errorf("fstest: %v", err)
			}
			var problems []string
			if _, err := r.Fsck(t.Context(), nil, func(p objstore.FsckProblem) { problems = append(problems, p.String()) }); err != nil || len(problems) > 0 {
				t.Errorf("Fsck = %v, problems %q", err, problems)
			}
		})
	}
}

func TestSameCommitAcrossModes(t *testing.T) {
	dir := sampleTree(t)
	var first objstore.ID
	for _, mode := range []objstore.Mode{objstore.ModeBareUser, objstore.ModeArchive} {
		id := commitDir(t, objtest.NewRepo(t, mode), dir, "main")
		if first.IsZero() {
			first = id
		} else if id != first {
			t.Errorf("commit in %s = %s, want %s as in bare-user", mode, id, first)
		}
	}
}

func TestFsckFindsCorruption(t *testing.T) {
	for _, mode := range []objstore.Mode{objstore.ModeBareUser, objstore.ModeArchive} {
		t.Run(string(mode), func(t *testing.T) {
			r := objtest.NewRepo(t, mode)
			commitDir(t, r, sampleTree(t), "main")
			fsys, _ := r.CommitFS(t.Context(), mustResolve(t, r, "main"))
			cid, err := fsys.ContentID("a/file")
			if err != nil {
				t.Fatal(err)
			}
			path := r.ContentPath(cid)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, 0o644)
			data[len(data)-1] ^= 0xff
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var problems []objstore.FsckProblem
			if _, err := r.Fsck(t.Context(), nil, func(p objstore.FsckProblem) { problems = append(problems, p) }); err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || problems[0].Object.ID != cid || problems[0].Path != "/a/file" {
				t.Fatalf("Fsck problems = %v, want one for %s at /a/file", problems, cid)
			}
			if err := r.VerifyContent(t.Context(), cid); err == nil {
				t.Errorf("VerifyContent of corrupted object succeeded")
			}
		})
	}
}

func mustResolve(t *testing.T, r *objstore.Repo, rev string) objstore.ID {
	t.Helper()
	id, err := r.ResolveRev(t.Context(), rev)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCorruptMetadataIsAnError(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	id := commitDir(t, r, sampleTree(t), "main")
	path := filepath.Join(r.Path(), r.ObjectPath(id, objstore.TypeCommit))
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)/2], 0o644)
	_, err := r.LoadCommit(t.Context(), id)
	var dm *objstore.DigestMismatchError
	if !errors.As(err, &dm) {
		t.Fatalf("LoadCommit(truncated) = %v, want DigestMismatchError", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	ctx := t.Context()
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := &objstore.Meta{Mode: 0o100644, Size: 5}
	id, err := tx.WriteContent(ctx, m, strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.HasObject(id, objstore.TypeFile); ok {
		t.Errorf("staged object visible before Commit")
	}
	tx.Abort()
	if ok, _ := r.HasObject(id, objstore.TypeFile); ok {
		t.Errorf("object visible after Abort")
	}
	ents, _ := os.ReadDir(filepath.Join(r.Path(), "tmp"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "staging-") {
			t.Errorf("staging dir %s left after Abort", e.Name())
		}
	}
}

func TestSizeChangeIsDetected(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeArchive)
	tx, _ := r.Begin(t.Context())
	defer tx.Abort()
	for _, size := range []int64{3, 5 << 20} {
		m := &objstore.Meta{Mode: 0o100644, Size: size}
		_, err := tx.WriteContent(t.Context(), m, io.LimitReader(zeros{}, size-1))
		if !errors.Is(err, objstore.ErrSizeChanged) {
			t.Errorf("WriteContent(short %d) = %v, want ErrSizeChanged", size, err)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestConcurrentTransactions(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	dir := sampleTree(t)
	var wg sync.WaitGroup
	ids := make([]objstore.ID, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = commitDir(t, r, dir, "b"+string(rune('0'+i)))
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Errorf("concurrent commits differ: %s vs %s", id, ids[0])
		}
	}
	var problems []string
	r.Fsck(t.Context(), nil, func(p objstore.FsckProblem) { problems = append(problems, p.String()) })
	if len(problems) > 0 {
		t.Errorf("fsck after concurrent commits: %q", problems)
	}
}

func TestCheckoutRoundTrip(t *testing.T) {
	dir := sampleTree(t)
	for _, mode := range modesFor(t) {
		t.Run(string(mode), func(t *testing.T) {
			r := objtest.NewRepo(t, mode)
			id := commitDir(t, r, dir, "main")
			dest := filepath.Join(t.TempDir(), "co")
			user := mode != objstore.ModeBare
			if err := r.Checkout(t.Context(), id, dest, &objstore.CheckoutOptions{UserMode: user}); err != nil {
				t.Fatal(err)
			}
			if err := objtest.CompareTrees(dir, dest, objtest.CompareOptions{IgnoreOwnership: user, IgnoreXattrs: user}); err != nil {
				t.Error(err)
			}
			if err := r.Checkout(t.Context(), id, dest, nil); err == nil {
				t.Errorf("checkout into an existing directory succeeded")
			}
			sub := filepath.Join(t.TempDir(), "sub")
			if err := r.Checkout(t.Context(), id, sub, &objstore.CheckoutOptions{UserMode: true, Subpath: "/a/b"}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(sub, "exec")); err != nil || fi.Size() != 70000 {
				t.Errorf("subpath checkout: %v", err)
			}
		})
	}
}

func TestStatCacheSeesChanges(t *testing.T) {
	r := objtest.NewRepo(t, objstore.ModeBareUser)
	dir := sampleTree(t)
	// Make every file old enough to be cached.
	old := time.Now().Add(-time.Hour)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if !d.IsDir() && d.Type()&fs.ModeSymlink == 0 {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	first := commitDir(t, r, dir, "main")
	if again := commitDir(t, r, dir, "main"); again != first {
		t.Fatalf("re-commit of unchanged tree = %s, want %s", again, first)
	}
	// Same size, same mtime, new content: ctime moves, so the cache must miss.
	p := filepath.Join(dir, "a/file")
	os.WriteFile(p, []byte("HELLO\n"), 0o644)
	os.Chtimes(p, old, old)
	changed := commitDir(t, r, dir, "main")
	if changed == first {
		t.Fatalf("commit after content change reused the stale checksum")
	}
	fsys, _ := r.CommitFS(context.Background(), changed)
	if data, _ := fs.ReadFile(fsys, "a/file"); string(data) != "HELLO\n" {
		t.Errorf("a/file = %q after change", data)
	}
}
