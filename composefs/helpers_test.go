package composefs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// skipf skips, or fails when GOSTREE_TEST_NO_SKIP=1 demands the capability.
func skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1 but: "+format, args...)
	}
	t.Skipf(format, args...)
}

// requireMount skips unless this process can mount EROFS and overlayfs.
func requireMount(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipf(t, "composefs mounts need root (euid %d)", os.Geteuid())
	}
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		skipf(t, "cannot read /proc/filesystems: %v", err)
	}
	for _, fs := range []string{"erofs", "overlay"} {
		if !bytes.Contains(fss, []byte("\t"+fs+"\n")) {
			// The module may just not be loaded yet.
			exec.Command("modprobe", fs).Run()
			if fss, _ = os.ReadFile("/proc/filesystems"); !bytes.Contains(fss, []byte("\t"+fs+"\n")) {
				skipf(t, "kernel has no %s filesystem (/proc/filesystems)", fs)
			}
		}
	}
}

// requireFsckErofs returns the path of fsck.erofs or skips.
func requireFsckErofs(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("fsck.erofs")
	if err != nil {
		skipf(t, "fsck.erofs (erofs-utils) not installed")
	}
	return p
}

// fsckErofs runs fsck.erofs on an image file.
func fsckErofs(t testing.TB, fsck string, image []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.cfs")
	if err := os.WriteFile(p, image, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fsck, p).CombinedOutput()
	if err != nil {
		t.Fatalf("fsck.erofs: %v\n%s", err, out)
	}
}

// mountsUnder lists mountinfo mount points that contain any of subs.
func mountsUnder(t testing.TB, subs ...string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, s := range subs {
			if strings.Contains(f[4], s) {
				out = append(out, f[4])
			}
		}
	}
	return out
}
