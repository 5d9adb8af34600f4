package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitramfsBuildCLI drives `gostree initramfs build` and `ls` with a
// real helper and a small module tree.
func TestInitramfsBuildCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the helper")
	}
	dir := t.TempDir()
	helper := filepath.Join(dir, "gostree-prepare-root")
	cmd := exec.Command("go", "build", "-tags", "initramfs", "-o", helper, "github.com/gostree/gostree/cmd/gostree-mount")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mods := filepath.Join(dir, "lib/modules/6.12.0-t")
	os.MkdirAll(filepath.Join(mods, "kernel/fs"), 0o755)
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/fs/a.ko.xz: kernel/fs/b.ko.xz\nkernel/fs/b.ko.xz:\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "kernel/fs/a.ko.xz"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(mods, "kernel/fs/b.ko.xz"), []byte("B"), 0o644)
	extra := filepath.Join(dir, "key")
	os.WriteFile(extra, []byte("k\n"), 0o644)

	gostree := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		return out.String(), errb.String(), code
	}
	build := func(out string) string {
		t.Helper()
		stdout, stderr, code := gostree("initramfs", "build", "--kver=6.12.0-t", "--modules-dir="+filepath.Join(dir, "lib/modules"),
			"--module=a", "--helper="+helper, "--compress=gzip", "--file="+extra+":etc/ostree/initramfs-root-binding.key", "-o", out)
		if code != 0 {
			t.Fatalf("initramfs build: exit %d\n%s%s", code, stdout, stderr)
		}
		return stdout
	}
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	if out := build(a); !strings.Contains(out, "2 modules: b.ko.xz a.ko.xz") {
		t.Errorf("build output: %s", out)
	}
	build(b)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Error("two builds differ")
	}
	out, stderr, code := gostree("initramfs", "ls", a)
	if code != 0 {
		t.Fatalf("initramfs ls: exit %d: %s", code, stderr)
	}
	for _, want := range []string{" init\n", " dev/console (5, 1)\n", " usr/lib/modules/6.12.0-t/kernel/fs/a.ko.xz\n",
		" usr/lib/gostree/initramfs.modules\n", "        2 etc/ostree/initramfs-root-binding.key\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("initramfs ls lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"initramfs", "build", "--kver=x", "--helper=" + helper}, exitUsage, "-o FILE is required"},
		{[]string{"initramfs", "build", "--helper=" + helper, "-o", filepath.Join(dir, "c")}, exitUsage, "--kver is required"},
		{[]string{"initramfs", "build", "--no-modules", "--helper=" + helper, "--compress=lz4", "-o", filepath.Join(dir, "c")}, exitUsage, "unknown compression"},
		{[]string{"initramfs", "build", "--kver=9.9", "--modules-dir=" + dir, "--helper=" + helper, "-o", filepath.Join(dir, "c")}, exitError, "no modules.dep for kernel 9.9"},
		{[]string{"initramfs", "build", "--kver=6.12.0-t", "--modules-dir=" + filepath.Join(dir, "lib/modules"), "--module=zz", "--helper=" + helper, "-o", filepath.Join(dir, "c")}, exitError, `"zz" is not in modules.dep`},
		{[]string{"initramfs", "build", "--kver=6.12.0-t", "--modules-dir=" + filepath.Join(dir, "lib/modules"), "--module=a", "--decompress-modules", "--helper=" + helper, "-o", filepath.Join(dir, "c")}, exitError, "decompress module kernel/fs/b.ko.xz"},
	} {
		_, stderr, code := gostree(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("gostree %q: exit %d, %q; want %d, %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); err == nil {
		t.Error("a failed build left its output file")
	}
}
