package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
