package composefs_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// TestMountCommit mounts a commit of an awkward tree and compares it with a
// checkout of the same commit: every path's type, mode, owner, size,
// content, symlink target and xattrs.
func TestMountCommit(t *testing.T) {
	requireMount(t)
	ctx := t.Context()
	src := t.TempDir()
	info, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: 300, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	tru, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "true"), tru, 0o755); err != nil {
		t.Fatal(err)
	}
	repo := objtest.NewRepo(t, objstore.ModeBareUser)
	id := commitTree(t, repo, src, objstore.DefaultModifier())

	co := filepath.Join(t.TempDir(), "co")
	if err := repo.Checkout(ctx, id, co, nil); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	target := t.TempDir()
	if err := composefs.MountCommit(ctx, repo, id, target, &composefs.CommitMountOptions{TempDir: tmp}); err != nil {
		t.Fatalf("MountCommit: %v", err)
	}
	mounted := true
	defer func() {
		if mounted {
			composefs.Unmount(target)
		}
	}()

	// ostree adds the top-level directories a deployment bind-mounts.
	added := []string{"boot", "etc", "sysroot", "usr", "var"}
	if err := objtest.CompareTrees(co, target, objtest.CompareOptions{IgnorePaths: added}); err != nil {
		t.Errorf("mount differs from checkout: %v", err)
	}
	for _, d := range added {
		if ents, err := os.ReadDir(filepath.Join(target, d)); err != nil || len(ents) != 0 {
			t.Errorf("added directory %s: %v entries, err %v", d, len(ents), err)
		}
	}
	for size, p := range info.SizedFiles {
		fi, err := os.Stat(filepath.Join(target, p))
		if err != nil || fi.Size() != size {
			t.Errorf("stat %s through the mount: size %v, err %v; want %d", p, fi.Size(), err, size)
		}
	}
	if out, err := exec.Command(filepath.Join(target, "true")).CombinedOutput(); err != nil {
		t.Errorf("exec from the mount: %v %s", err, out)
	}
	// The 256 whiteouts and the root opaque marker are invisible.
	if _, err := os.Lstat(filepath.Join(target, "00")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("whiteout 00 visible through the mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); err == nil {
		t.Errorf("writing into the read-only mount succeeded")
	}

	if err := composefs.Unmount(target); err != nil {
		t.Fatal(err)
	}
	mounted = false
	if m := mountsUnder(t, target, "gostree-erofs-"); len(m) != 0 {
		t.Errorf("mounts left after Unmount: %v", m)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("files left in the temp dir: %v", ents)
	}
	if out, _ := exec.Command("losetup", "-j", tmp).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("loop devices left: %s", out)
	}
}

// TestMountVerityRequire: where objects have no kernel fs-verity (this
// kernel has none, and test repos never enable it), verity=require must
// fail before mounting, saying why, and leave nothing behind.
func TestMountVerityRequire(t *testing.T) {
	requireMount(t)
	ctx := t.Context()
	repo := objtest.NewRepo(t, objstore.ModeBareUser)
	id := commitTree(t, repo, ostreeTestTree(t), canonical)
	tmp, target := t.TempDir(), t.TempDir()
	err := composefs.MountCommit(ctx, repo, id, target, &composefs.CommitMountOptions{Verity: composefs.VerityRequire, TempDir: tmp})
	if err == nil {
		composefs.Unmount(target)
		t.Skip("objects have kernel fs-verity here; verity=require mounted")
	}
	if !errors.Is(err, composefs.ErrVerityUnavailable) {
		t.Errorf("MountCommit(verity=require) = %v, want ErrVerityUnavailable", err)
	}
	t.Logf("verity=require: %v", err)
	if m := mountsUnder(t, target, "gostree-erofs-"); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("files left in the temp dir: %v", ents)
	}
	// auto falls back to no verity and mounts.
	if err := composefs.MountCommit(ctx, repo, id, target, &composefs.CommitMountOptions{Verity: composefs.VerityAuto, TempDir: tmp}); err != nil {
		t.Fatalf("MountCommit(verity=auto): %v", err)
	}
	defer composefs.Unmount(target)
	if b, err := os.ReadFile(filepath.Join(target, "baz/cow")); err != nil || string(b) != "moo\n" {
		t.Errorf("read baz/cow through verity=auto mount: %q, %v", b, err)
	}
}

func TestMountArchiveRefused(t *testing.T) {
	repo := objtest.NewRepo(t, objstore.ModeArchive)
	id := commitTree(t, repo, ostreeTestTree(t), canonical)
	err := composefs.MountCommit(t.Context(), repo, id, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "compressed") {
		t.Errorf("MountCommit(archive repo) = %v, want an error about compressed objects", err)
	}
}
