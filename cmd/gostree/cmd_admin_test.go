package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/gostree/gostree/initramfs"
	"github.com/gostree/gostree/initramfs/cpio"
)

func writeOSTree(t *testing.T, dir, version string) {
	t.Helper()
	files := map[string]string{
		"usr/lib/modules/6.1.0-t/vmlinuz":       "KERNEL\n",
		"usr/lib/modules/6.1.0-t/initramfs.img": "INITRD\n",
		"usr/lib/os-release":                    "PRETTY_NAME=\"Remote OS\"\n",
		"usr/etc/release":                       version + "\n",
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdminUpgradeFromRemote: a deployment whose origin is REMOTE:REF is
// upgraded by pulling the new commit over HTTP and deploying it.
func TestAdminUpgradeFromRemote(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
			t.Fatal("needs root")
		}
		t.Skip("needs root: deployments record file ownership")
	}
	tmp := t.TempDir()
	src, tree, sys := filepath.Join(tmp, "src"), filepath.Join(tmp, "tree"), filepath.Join(tmp, "sysroot")
	mustCLI(t, "init", "--repo="+src, "--mode=archive")
	writeOSTree(t, tree, "v1")
	first := strings.TrimSpace(mustCLI(t, "commit", "--repo="+src, "-b", "os/main", "--add-metadata-string=version=1", tree))
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()

	mustCLI(t, "admin", "init-fs", sys)
	mustCLI(t, "admin", "--sysroot="+sys, "os-init", "os")
	repo := "--repo=" + filepath.Join(sys, "ostree", "repo")
	mustCLI(t, "remote", "add", repo, "--no-gpg-verify", "origin", srv.URL)
	mustCLI(t, "pull", repo, "--quiet", "origin", "os/main")
	mustCLI(t, "admin", "--sysroot="+sys, "deploy", "--os=os", "origin:os/main")
	if out := mustCLI(t, "admin", "--sysroot="+sys, "upgrade", "--check"); !strings.Contains(out, "No update available") {
		t.Fatalf("upgrade --check with nothing new: %q", out)
	}

	writeOSTree(t, tree, "v2")
	second := strings.TrimSpace(mustCLI(t, "commit", "--repo="+src, "-b", "os/main", "--add-metadata-string=version=2", tree))
	if out := mustCLI(t, "admin", "--sysroot="+sys, "upgrade", "--check"); !strings.Contains(out, "Update available") {
		t.Fatalf("upgrade --check with a new commit: %q", out)
	}
	mustCLI(t, "admin", "--sysroot="+sys, "upgrade")
	status := mustCLI(t, "admin", "--sysroot="+sys, "status")
	if i, j := strings.Index(status, second), strings.Index(status, first); i < 0 || j < 0 || i > j {
		t.Fatalf("status after upgrade does not list %s before %s:\n%s", second[:8], first[:8], status)
	}
	etc := filepath.Join(sys, "ostree", "deploy", "os", "deploy", second+".0", "etc", "release")
	if data, err := os.ReadFile(etc); err != nil || string(data) != "v2\n" {
		t.Errorf("new deployment's etc/release = %q, %v", data, err)
	}
	if out := mustCLI(t, "admin", "--sysroot="+sys, "upgrade"); !strings.Contains(out, "No update available") {
		t.Errorf("second upgrade: %q", out)
	}
}

// TestAdminDeployBuildsInitramfs: a commit with a kernel but no initramfs
// gets one built around the helper, its modules stored decompressed.
func TestAdminDeployBuildsInitramfs(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
			t.Fatal("needs root")
		}
		t.Skip("needs root: deployments record file ownership")
	}
	if testing.Short() {
		t.Skip("builds the helper")
	}
	// FindHelper's first place: next to the running program.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(filepath.Dir(exe), initramfs.HelperName)
	if _, err := os.Stat(helper); err == nil {
		t.Fatalf("%s exists already", helper)
	}
	cmd := exec.Command("go", "build", "-tags", "initramfs", "-o", helper, "github.com/gostree/gostree/cmd/gostree-mount")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	t.Cleanup(func() { os.Remove(helper) })
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	tmp := t.TempDir()
	tree, sys, repo := filepath.Join(tmp, "tree"), filepath.Join(tmp, "sysroot"), filepath.Join(tmp, "repo")
	elf := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte("erofs module "), 500)...)
	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(elf)
	xw.Close()
	mods := filepath.Join(tree, "usr/lib/modules/6.1.0-t")
	for p, c := range map[string][]byte{
		"vmlinuz":                     []byte("KERNEL\n"),
		"modules.dep":                 []byte("kernel/fs/erofs/erofs.ko.xz:\n"),
		"kernel/fs/erofs/erofs.ko.xz": xzBuf.Bytes(),
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(mods, p)), 0o755)
		if err := os.WriteFile(filepath.Join(mods, p), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(tree, "usr/lib/os-release"), []byte("PRETTY_NAME=\"Test OS\"\n"), 0o644)
	mustCLI(t, "init", "--repo="+repo, "--mode=bare-user")
	mustCLI(t, "commit", "--repo="+repo, "-b", "os/main", tree)
	mustCLI(t, "admin", "init-fs", sys)
	mustCLI(t, "admin", "--sysroot="+sys, "os-init", "os")
	mustCLI(t, "pull-local", "--repo="+filepath.Join(sys, "ostree", "repo"), repo, "os/main")
	mustCLI(t, "admin", "--sysroot="+sys, "deploy", "--os=os", "os/main")

	imgs, _ := filepath.Glob(filepath.Join(sys, "boot", "ostree", "os-*", "initramfs-6.1.0-t.img"))
	if len(imgs) != 1 {
		t.Fatalf("deployed initramfs: %q", imgs)
	}
	data, err := os.ReadFile(imgs[0])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	cr := cpio.NewReader(zr)
	for {
		h, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(cr)
		files[h.Name] = b
	}
	if got := files["usr/lib/modules/6.1.0-t/kernel/fs/erofs/erofs.ko"]; !bytes.Equal(got, elf) {
		t.Errorf("erofs.ko in the initramfs: %d bytes; want the %d decompressed", len(got), len(elf))
	}
	if _, ok := files["usr/lib/modules/6.1.0-t/kernel/fs/erofs/erofs.ko.xz"]; ok {
		t.Error("the initramfs holds the compressed module")
	}
	if h, err := os.ReadFile(helper); err != nil || !bytes.Equal(files["init"], h) {
		t.Errorf("/init is not the helper (%d bytes, %v)", len(files["init"]), err)
	}
}
