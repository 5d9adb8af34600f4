//go:build linux

package fsverity

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tmpfsFile creates a file with data in /dev/shm (tmpfs, which has no
// fs-verity in any kernel) and returns it reopened read-only.
func tmpfsFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skipf("/dev/shm is not a tmpfs (statfs: %v, type %#x): no known filesystem without fs-verity", err, st.Type)
	}
	w, err := os.CreateTemp("/dev/shm", "fsverity-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(w.Name()) })
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(w.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// On tmpfs Enable and Measure fail with ErrNotSupported and leave the file alone.
func TestVerityUnsupportedTmpfs(t *testing.T) {
	data := testData(100000, 11)
	f := tmpfsFile(t, data)
	before, _ := f.Stat()
	for _, p := range []*Params{nil, {Algorithm: SHA512, BlockSize: 1024, Salt: []byte("salt")}} {
		err := Enable(f, p)
		if !errors.Is(err, ErrNotSupported) || !strings.HasPrefix(err.Error(), "enable verity on "+f.Name()+": ") {
			t.Fatalf("Enable on tmpfs: %v", err)
		}
		if !errors.Is(err, unix.ENOTTY) {
			t.Errorf("Enable on tmpfs: want the ENOTTY errno wrapped too: %v", err)
		}
		t.Logf("Enable: %v", err)
	}
	alg, d, err := Measure(f)
	if !errors.Is(err, ErrNotSupported) || errors.Is(err, ErrNotEnabled) || alg != 0 || d != nil {
		t.Fatalf("Measure on tmpfs: %v %x %v", alg, d, err)
	}
	t.Logf("Measure: %v", err)
	on, err := IsEnabled(f)
	if on || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("IsEnabled on tmpfs: %v %v", on, err)
	}
	t.Logf("IsEnabled: %v", err)
	after, _ := os.Stat(f.Name())
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, data) || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() {
		t.Fatal("file changed by a failed Enable")
	}
	// Writable descriptors are refused before asking the kernel.
	w, _ := os.OpenFile(f.Name(), os.O_RDWR, 0)
	defer w.Close()
	if err := Enable(w, nil); err == nil || errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Enable on a writable fd: %v", err)
	}
	// Bad parameters are refused too.
	if err := Enable(f, &Params{BlockSize: 100}); err == nil || errors.Is(err, ErrNotSupported) {
		t.Fatalf("Enable with bad params: %v", err)
	}
	d2, _ := os.Open(filepath.Dir(f.Name()))
	defer d2.Close()
	if err := Enable(d2, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Enable on a directory: %v", err)
	}
}

// kernelVerityConfig reports what /proc/config.gz says about CONFIG_FS_VERITY.
func kernelVerityConfig() string {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return "kernel config unavailable"
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return "kernel config unreadable"
	}
	b, _ := io.ReadAll(z)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "CONFIG_FS_VERITY=") || l == "# CONFIG_FS_VERITY is not set" {
			return l
		}
	}
	return "CONFIG_FS_VERITY absent from kernel config"
}

// loopExt4 makes a 64 MiB ext4 image with the given mkfs features, mounts it
// with -o loop and returns the mount point; the reason is non-empty if the
// capability is missing.
func loopExt4(t *testing.T, features string) (dir, reason string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return "", "not root: cannot loop-mount an ext4 image"
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", tool + " not found"
		}
	}
	tmp := t.TempDir()
	img, mnt := filepath.Join(tmp, "img"), filepath.Join(tmp, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	args := []string{"-q", "-F", "-b", "4096"}
	if features != "" {
		args = append(args, "-O", features)
	}
	if out, err := exec.Command("mkfs.ext4", append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %v: %v\n%s", args, err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		return "", "mount -o loop of an ext4 image (mkfs -O " + features + ") failed: " +
			strings.TrimSpace(string(out)) + " (" + kernelVerityConfig() + ")"
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	return mnt, ""
}

func writeRO(t *testing.T, path string, data []byte) *os.File {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// ext4 without the verity feature: EOPNOTSUPP → ErrNotSupported, and statx
// reports the attribute (not set).
func TestVerityExt4NoFeature(t *testing.T) {
	mnt, reason := loopExt4(t, "")
	if reason != "" {
		t.Skip(reason)
	}
	data := testData(5000, 12)
	f := writeRO(t, filepath.Join(mnt, "obj"), data)
	err := Enable(f, nil)
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("Enable on ext4 without -O verity: %v", err)
	}
	if _, _, err := Measure(f); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Measure: %v", err)
	}
	on, err := IsEnabled(f)
	if on || err != nil {
		t.Fatalf("IsEnabled on ext4: %v %v", on, err)
	}
	if got, _ := os.ReadFile(f.Name()); !bytes.Equal(got, data) {
		t.Fatal("file changed")
	}
}

// A real verity filesystem: Enable, then Measure equals the user-space digest.
func TestVerityExt4(t *testing.T) {
	mnt, reason := loopExt4(t, "verity")
	if reason != "" {
		skipOrFail(t, "%s", reason)
	}
	// Probe: the filesystem may mount (as it does on 6.18 without
	// CONFIG_FS_VERITY) yet refuse the ioctls with EOPNOTSUPP.
	probe := writeRO(t, filepath.Join(mnt, "probe"), []byte("probe"))
	if err := Enable(probe, nil); err != nil {
		if errors.Is(err, ErrNotSupported) {
			skipOrFail(t, "ext4 -O verity mounted, but the kernel cannot enable fs-verity: %v (%s)", err, kernelVerityConfig())
		}
		t.Fatalf("Enable: %v", err)
	}
	data := testData(1<<20+1, 13)
	cases := []struct {
		name string
		data []byte
		p    *Params
	}{
		{"empty", nil, nil}, {"one", data[:1], nil}, {"4096", data[:4096], nil}, {"big", data, nil},
		{"sha512-salt-1k", data, &Params{Algorithm: SHA512, BlockSize: 1024, Salt: []byte("pepper")}},
	}
	for _, tc := range cases {
		f := writeRO(t, filepath.Join(mnt, tc.name), tc.data)
		if on, err := IsEnabled(f); on || err != nil {
			t.Fatalf("%s: IsEnabled before: %v %v", tc.name, on, err)
		}
		if _, _, err := Measure(f); !errors.Is(err, ErrNotEnabled) {
			t.Fatalf("%s: Measure before Enable: %v", tc.name, err)
		}
		if err := Enable(f, tc.p); err != nil {
			t.Fatalf("%s: Enable: %v", tc.name, err)
		}
		alg, got, err := Measure(f)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := DigestFile(f.Name(), tc.p)
		if wantAlg := SHA256; tc.p != nil && alg != tc.p.Algorithm || tc.p == nil && alg != wantAlg || !bytes.Equal(got, want) {
			t.Fatalf("%s: kernel measured %s:%x, user space %x", tc.name, alg, got, want)
		}
		if on, err := IsEnabled(f); !on || err != nil {
			t.Fatalf("%s: IsEnabled after: %v %v", tc.name, on, err)
		}
		if err := Enable(f, tc.p); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("%s: second Enable: %v", tc.name, err)
		}
		if _, err := os.OpenFile(f.Name(), os.O_WRONLY, 0); err == nil {
			t.Fatalf("%s: verity file opened for writing", tc.name)
		}
	}
}
