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

// sysStat (statx, raw) must report what stat(2) does: /run/ostree-booted
// records the deployment's st_dev and st_ino, which ostree compares with
// its own stat.
func TestSysStat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), bytes.Repeat([]byte("x"), 12345), 0o640)
	os.Symlink("f", filepath.Join(dir, "l"))
	paths := []string{dir, filepath.Join(dir, "f"), filepath.Join(dir, "l"), "/", "/dev/null", "/proc/self", "/proc/self/status"}
	for _, p := range paths {
		for _, nofollow := range []bool{false, true} {
			var want unix.Stat_t
			var err error
			flags := 0
			if nofollow {
				flags = unix.AT_SYMLINK_NOFOLLOW
				err = unix.Lstat(p, &want)
			} else {
				err = unix.Stat(p, &want)
			}
			if err != nil {
				t.Logf("%s: %v (skipped)", p, err)
				continue
			}
			got, err := sysStat(unix.AT_FDCWD, p, flags)
			if err != nil {
				t.Fatalf("sysStat(%s): %v", p, err)
			}
			if got.mode != want.Mode || got.size != want.Size || got.dev != want.Dev || got.ino != want.Ino {
				t.Errorf("sysStat(%s, nofollow %v) = mode %o size %d dev %#x ino %d; stat(2) says %o %d %#x %d",
					p, nofollow, got.mode, got.size, got.dev, got.ino, want.Mode, want.Size, want.Dev, want.Ino)
			}
		}
	}
	// Of a descriptor (AT_EMPTY_PATH) and relative to one.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var want unix.Stat_t
	unix.Fstat(fd, &want)
	if got, err := sysStat(fd, "", 0); err != nil || got.ino != want.Ino || !got.isDir() {
		t.Errorf("sysStat(fd) = %+v, %v; want ino %d, a directory", got, err, want.Ino)
	}
	if got, err := sysStat(fd, "l", unix.AT_SYMLINK_NOFOLLOW); err != nil || !got.isSymlink() {
		t.Errorf("sysStat(fd, l) = %+v, %v; want a symlink", got, err)
	}
	if _, err := sysStat(unix.AT_FDCWD, filepath.Join(dir, "missing"), 0); err != unix.ENOENT {
		t.Errorf("sysStat(missing) = %v; want ENOENT", err)
	}
	if _, err := sysStat(unix.AT_FDCWD, "a\x00b", 0); err == nil {
		t.Error("sysStat of a path with NUL succeeded")
	}
}

// The raw calls report the kernel's errno, so callers' errors.Is checks
// hold as with x/sys/unix.
func TestRawErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o644)
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"open missing", func() error { _, err := sysOpen(filepath.Join(dir, "missing"), unix.O_RDONLY, 0); return err }(), unix.ENOENT},
		{"mkdir existing", sysMkdir(filepath.Join(dir, "d"), 0o755), unix.EEXIST},
		{"unlink a directory", sysUnlinkat(unix.AT_FDCWD, filepath.Join(dir, "d"), 0), unix.EISDIR},
		{"rmdir non-empty", sysRmdir(filepath.Join(dir, "d")), unix.ENOTEMPTY},
		{"chdir to a file", sysChdir(filepath.Join(dir, "f")), unix.ENOTDIR},
		{"readlink of a file", func() error { _, err := sysReadlink(filepath.Join(dir, "f"), make([]byte, 10)); return err }(), unix.EINVAL},
		{"read a bad descriptor", func() error { _, err := sysRead(-1, make([]byte, 1)); return err }(), unix.EBADF},
		{"close a bad descriptor", sysClose(-1), unix.EBADF},
		{"mount on a missing target", sysMount("tmpfs", filepath.Join(dir, "missing"), "tmpfs", 0, ""), unix.ENOENT}, // the path is looked up first, for any user
		{"finit_module of a text file", func() error {
			fd, err := sysOpen(filepath.Join(dir, "f"), unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			defer sysClose(fd)
			return sysFinitModule(fd, "", 0)
		}(), nil},
	} {
		if c.want == nil {
			// finit_module fails as unprivileged (EPERM) or on a
			// non-module (ENOEXEC, EINVAL): any errno, never success.
			var e unix.Errno
			if !errors.As(c.err, &e) {
				t.Errorf("%s: %v; want an errno", c.name, c.err)
			}
			continue
		}
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v; want %v", c.name, c.err, c.want)
		}
	}
	if err := sysRmdir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rmdir missing: %v; want fs.ErrNotExist", err)
	}
}

// readExt4 finds the UUID and label of an ext4 superblock (here a file
// made to look like one), and refuses anything else.
func TestReadExt4(t *testing.T) {
	dir := t.TempDir()
	img := make([]byte, 4096)
	sb := img[1024:]
	sb[56], sb[57] = 0x53, 0xef
	copy(sb[104:120], []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef})
	copy(sb[120:136], "gostree-root")
	p := filepath.Join(dir, "disk")
	os.WriteFile(p, img, 0o644)
	uuid, label, ok := readExt4(p)
	if !ok || uuid != "12345678-9abc-def0-0123-456789abcdef" || label != "gostree-root" {
		t.Errorf("readExt4 = %q, %q, %v", uuid, label, ok)
	}
	for name, b := range map[string][]byte{"no magic": make([]byte, 4096), "short": img[:1200], "empty": nil} {
		os.WriteFile(p, b, 0o644)
		if _, _, ok := readExt4(p); ok {
			t.Errorf("%s: readExt4 accepted it", name)
		}
	}
	if _, _, ok := readExt4(filepath.Join(dir, "missing")); ok {
		t.Error("readExt4 of a missing file succeeded")
	}
}
