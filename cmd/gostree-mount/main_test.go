//go:build !initramfs

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, exitUsage, "choose --fuse or --composefs"},
		{[]string{"--help"}, exitOK, "usage:"},
		{[]string{"--fuse", "--help"}, exitOK, "-verify string"},
		{[]string{"--fuse", "main"}, exitUsage, "expected 2 argument(s), got 1"},
		{[]string{"--fuse", "--all", "main", "/mnt"}, exitUsage, "expected 1 argument(s), got 2"},
		{[]string{"--fuse", "--verify=maybe", "main", "/mnt"}, exitUsage, `--verify="maybe"`},
		{[]string{"--fuse", "--bogus", "main", "/mnt"}, exitUsage, "flag provided but not defined"},
		{[]string{"--fuse", "-f", "--repo=/nonexistent", "main", "/mnt"}, exitError, "/nonexistent"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("run(%q) = %d, output %q; want %d and %q", tc.args, code, out, tc.code, tc.out)
		}
	}
}

// TestForegroundMount runs `gostree-mount --fuse -f` in this process until
// its context is cancelled (what SIGINT/SIGTERM do in main).
func TestForegroundMount(t *testing.T) {
	if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
		skip(t, "FUSE unavailable: %v", err)
	} else {
		f.Close()
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		skip(t, "FUSE unavailable: fusermount3 not in PATH")
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("through the CLI\n"), 0o644)
	repo := objtest.NewRepo(t, objstore.ModeBare)
	ctx := context.Background()
	tx, err := repo.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mt := objstore.NewMutableTree()
	if err := tx.WriteDir(ctx, src, mt, nil); err != nil {
		t.Fatal(err)
	}
	id, err := tx.WriteCommit(ctx, mt, &objstore.CommitOptions{Subject: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRef("main", id)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)

	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--fuse", "-f", "--repo=" + repo.Path(), "--tree-cache=", "main", mnt}, &bytes.Buffer{}, &stderr)
	}()
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = os.ReadFile(filepath.Join(mnt, "f")); err == nil {
			break
		}
	}
	if string(got) != "through the CLI\n" {
		t.Errorf("read through the mount: %q, %v", got, err)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(mnt, "f")); err == nil {
		t.Errorf("still mounted after cancel")
	}
}

func skip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1: "+format, args...)
	}
	t.Skipf(format, args...)
}
