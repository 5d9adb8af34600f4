package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// corrupt flips a byte in the middle of the object behind name in the
// commit (the last one could be padding of a compressed stream).
func corrupt(t *testing.T, repo *objstore.Repo, id objstore.ID, name string) objstore.ID {
	t.Helper()
	cfs, err := repo.CommitFS(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := cfs.ContentID(name)
	if err != nil {
		t.Fatal(err)
	}
	p := repo.ContentPath(obj)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var b [1]byte
	f.ReadAt(b[:], fi.Size()/2)
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	return obj
}

// dropCache evicts a mounted file's pages, so the next read asks the server.
func dropCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// TestTamperedObject corrupts one byte of objects under a live mount: the
// files fail with EIO, other files read fine, and the log names the path
// and the object.
func TestTamperedObject(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	for name, data := range map[string][]byte{
		"fresh":  bytes.Repeat([]byte("fresh "), 100000),
		"opened": bytes.Repeat([]byte("opened "), 100000),
		"small":  []byte("small and fine\n"),
		"other":  bytes.Repeat([]byte("other "), 100000),
	} {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			repo := objtest.NewRepo(t, mode)
			id := commitDir(t, repo, src, "main")
			logger, logs := newLogger(t)
			f, mnt := mountCommit(t, repo, id, &fusefs.Options{Logger: logger})

			// "opened" is read (and its object prepared) before the corruption.
			want, _ := os.ReadFile(filepath.Join(src, "opened"))
			if got, err := os.ReadFile(filepath.Join(mnt, "opened")); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read opened before corruption: %v", err)
			}
			freshObj := corrupt(t, repo, id, "fresh")
			openedObj := corrupt(t, repo, id, "opened")

			_, err := os.ReadFile(filepath.Join(mnt, "fresh"))
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("read of a corrupted object: %v, want EIO", err)
			}
			dropCache(t, filepath.Join(mnt, "opened"))
			got, err := os.ReadFile(filepath.Join(mnt, "opened"))
			if mode.IsBare() {
				// The object file is read again, block by block.
				if !errors.Is(err, syscall.EIO) {
					t.Errorf("read of an opened object corrupted later: %v, want EIO", err)
				}
			} else if err != nil || !bytes.Equal(got, want) {
				// Archive objects were inflated and checked before use.
				t.Errorf("read of the verified inflated copy: %v", err)
			}
			for _, name := range []string{"small", "other"} {
				want, _ := os.ReadFile(filepath.Join(src, name))
				if got, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("read %s next to corrupted objects: %v", name, err)
				}
			}
			l := logs.String()
			if !strings.Contains(l, "path=/fresh") || !strings.Contains(l, freshObj.String()) {
				t.Errorf("log does not name /fresh and object %s:\n%s", freshObj, l)
			}
			if mode.IsBare() && (!strings.Contains(l, "path=/opened") || !strings.Contains(l, openedObj.String())) {
				t.Errorf("log does not name /opened and object %s:\n%s", openedObj, l)
			}
			if s := f.Stats(); s.VerifyFailures == 0 {
				t.Errorf("stats: %+v, want verify failures", s)
			}
		})
	}
}

// TestVerifyOff serves a corrupted object as it is, as --verify=off says.
func TestVerifyOff(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	data := bytes.Repeat([]byte("x"), 10000)
	os.WriteFile(filepath.Join(src, "f"), data, 0o644)
	repo := objtest.NewRepo(t, objstore.ModeBare)
	id := commitDir(t, repo, src, "main")
	corrupt(t, repo, id, "f")
	_, mnt := mountCommit(t, repo, id, &fusefs.Options{Verify: fusefs.VerifyOff})
	got, err := os.ReadFile(filepath.Join(mnt, "f"))
	if err != nil || bytes.Equal(got, data) || len(got) != len(data) {
		t.Errorf("verify=off read: %v (equal to the original: %v)", err, bytes.Equal(got, data))
	}
}
