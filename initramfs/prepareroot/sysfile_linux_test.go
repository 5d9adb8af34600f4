package prepareroot

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSysFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 100000} {
		p := filepath.Join(dir, "f")
		data := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		if err := writeFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, %v", n, len(got), err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640&^umask() {
			t.Fatalf("size %d: mode %v, %v", n, fi.Mode(), err)
		}
	}
	// /proc files report size 0 and are read to their end.
	want, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	got, err := readFile("/proc/self/status")
	if err != nil || len(got) < 100 || !bytes.HasPrefix(got, want[:20]) {
		t.Errorf("readFile(/proc/self/status) = %d bytes, %v", len(got), err)
	}
	if _, err := readFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) || !bytes.Contains([]byte(err.Error()), []byte("missing")) {
		t.Errorf("missing file: %v", err)
	}
	if err := writeFile(filepath.Join(dir, "no", "such"), nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write in a missing directory: %v", err)
	}
	if err := mkdir(filepath.Join(dir, "d"), 0o755); err != nil || !isDir(filepath.Join(dir, "d")) {
		t.Errorf("mkdir: %v", err)
	}
	if err := mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Errorf("mkdir of an existing directory: %v", err)
	}
	if err := mkdir(filepath.Join(dir, "f"), 0o755); err == nil {
		t.Error("mkdir over a file succeeded")
	}
	deep := filepath.Join(dir, "m", "n", "o")
	if err := mkdirAll(deep+"/", 0o700); err != nil || !isDir(deep) {
		t.Errorf("mkdirAll: %v", err)
	}
	if err := mkdirAll(filepath.Join(dir, "f", "x"), 0o700); err == nil {
		t.Error("mkdirAll under a file succeeded")
	}
	long := string(bytes.Repeat([]byte("t"), 300)) // longer than readlink's first buffer
	os.Symlink(long, filepath.Join(dir, "long"))
	if got, err := readlink(filepath.Join(dir, "long")); got != long || err != nil {
		t.Errorf("readlink = %d bytes, %v", len(got), err)
	}
	if _, err := readlink(filepath.Join(dir, "f")); err == nil {
		t.Error("readlink of a file succeeded")
	}
	if link, err := lstatSymlink(filepath.Join(dir, "long")); !link || err != nil {
		t.Errorf("lstatSymlink(long) = %v, %v", link, err)
	}
	if _, err := lstatSymlink(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lstatSymlink(missing): %v", err)
	}
	f, err := openFile(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); err != nil || len(b) != 100000 {
		t.Errorf("openFile: read %d bytes, %v", len(b), err)
	}
	f.Close()
	if _, err := openFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("openFile(missing): %v", err)
	}
	names, err := readDirNames(filepath.Join(dir, "m"))
	if err != nil || !slices.Equal(names, []string{"n"}) {
		t.Errorf("readDirNames = %q, %v", names, err)
	}
	os.Symlink("d", filepath.Join(dir, "ld"))
	os.Symlink("gone", filepath.Join(dir, "dangling"))
	for _, c := range []struct {
		name                 string
		exists, dir, symlink bool
	}{
		{"f", true, false, false}, {"d", true, true, false}, {"ld", true, true, true},
		{"dangling", true, false, true}, {"missing", false, false, false},
	} {
		p := filepath.Join(dir, c.name)
		if exists(p) != c.exists || isDir(p) != c.dir || isSymlink(p) != c.symlink {
			t.Errorf("%s: exists %v isDir %v isSymlink %v; want %v %v %v", c.name, exists(p), isDir(p), isSymlink(p), c.exists, c.dir, c.symlink)
		}
	}
}

func umask() fs.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return fs.FileMode(m)
}

// removeSameDev empties a tree as switch_root does: everything on the
// same filesystem goes, except keep and what is mounted from elsewhere.
func TestRemoveSameDev(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a/b/c", "keep/inner", "empty", "mnt"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for _, f := range []string{"init", "a/x.ko", "a/b/c/y.ko.xz", "keep/inner/k", ".hidden", "a/b/name with spaces"} {
		os.WriteFile(filepath.Join(root, f), []byte(f), 0o644)
	}
	os.Symlink("a", filepath.Join(root, "link-to-dir"))
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o644)
	os.Symlink(outside, filepath.Join(root, "link-outside"))
	mounted := false
	if os.Geteuid() == 0 {
		os.Chmod(filepath.Join(root, "a/b"), 0o555) // root empties read-only directories too
		if err := unix.Mount("tmpfs", filepath.Join(root, "mnt"), "tmpfs", 0, ""); err == nil {
			mounted = true
			t.Cleanup(func() { unix.Unmount(filepath.Join(root, "mnt"), unix.MNT_DETACH) })
			os.WriteFile(filepath.Join(root, "mnt", "other-fs"), []byte("x"), 0o644)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		t.Fatal(err)
	}
	removeSameDev(root, st.Dev, filepath.Join(root, "keep"))
	var left []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if p != root {
			rel, _ := filepath.Rel(root, p)
			left = append(left, rel)
		}
		return nil
	})
	want := []string{"keep", "keep/inner", "keep/inner/k"}
	if mounted {
		want = append(want, "mnt", "mnt/other-fs")
	}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %q; want %q", left, want)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("a symlink was followed out of the tree: %v", err)
	}
}
