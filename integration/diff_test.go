package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDiffMatchesOstree: gostree diff prints what ostree diff prints for two
// commits differing in every way a tree can (content, type, symlink
// target, directory mode, removed and added directories, an untouched
// subtree), both ways round, with one REV (its parent) and with --stats.
func TestDiffMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	repo := filepath.Join(t.TempDir(), "repo")
	ostree(t, "init", "--repo="+repo, "--mode=bare-user")
	a, b := t.TempDir(), t.TempDir()
	build := func(root string, files map[string]string, dirs map[string]os.FileMode, links map[string]string) {
		for d, mode := range dirs {
			os.MkdirAll(filepath.Join(root, d), 0o755)
			os.Chmod(filepath.Join(root, d), mode)
		}
		for f, data := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755)
			if err := os.WriteFile(filepath.Join(root, f), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for l, target := range links {
			os.Symlink(target, filepath.Join(root, l))
		}
	}
	same := map[string]string{"same/x": "x\n", "same/deep/y": "y\n", "keep": "keep\n"}
	build(a, same, map[string]os.FileMode{"chmod": 0o755, "gone-dir/inner": 0o755, "dir-to-file": 0o755, "z-dir": 0o755}, map[string]string{"link": "keep", "link-to-file": "keep"})
	build(a, map[string]string{"mod": "old\n", "gone": "bye\n", "gone-dir/inner/f": "f\n", "file-to-dir": "f\n", "dir-to-file/f": "x\n",
		"z-dir/changed": "1\n", "chmod/f": "same\n", "exec": "#!/bin/sh\n"}, nil, nil)
	build(b, same, map[string]os.FileMode{"chmod": 0o700, "new-dir/sub/deeper": 0o755, "file-to-dir": 0o755, "z-dir": 0o755, "a-new-dir": 0o755}, map[string]string{"link": "mod"})
	build(b, map[string]string{"mod": "new\n", "new": "hi\n", "new-dir/sub/deeper/f": "f\n", "new-dir/top": "t\n", "file-to-dir/f": "f\n",
		"dir-to-file": "x\n", "z-dir/changed": "2\n", "chmod/f": "same\n", "link-to-file": "keep\n", "exec": "#!/bin/sh\n", "a-new-dir/f": "a\n"}, nil, nil)
	os.Chmod(filepath.Join(b, "exec"), 0o755)
	ostree(t, "commit", "--repo="+repo, "-b", "left", "--timestamp=@1", "--tree=dir="+a)
	ostree(t, "commit", "--repo="+repo, "-b", "right", "--timestamp=@2", "--tree=dir="+b, "--parent="+checksumOf(t, ostree(t, "rev-parse", "--repo="+repo, "left")))
	for _, args := range [][]string{
		{"left", "right"}, {"right", "left"}, {"right"}, {"left", "left"}, {"--stats", "left", "right"}, {"--stats", "--fs-diff", "right", "left"},
	} {
		o := ostreeRun(t, append([]string{"diff", "--repo=" + repo}, args...)...)
		g := gostreeRun(t, append([]string{"diff", "--repo=" + repo}, args...)...)
		if o.code != 0 || g.code != 0 {
			t.Errorf("diff %v: ostree %v\ngostree %v", args, o, g)
			continue
		}
		norm := func(s string) string { return replaceNBSP(s) }
		if norm(o.stdout) != norm(g.stdout) {
			t.Errorf("diff %v:\nostree:\n%s\ngostree:\n%s", args, o.stdout, g.stdout)
		}
	}
	// Directories on disk (absolute paths), on either side or both, with
	// an xattr ostree's commit of b lacks, and owner overrides.
	exec.Command("setfattr", "-n", "user.extra", "-v", "1", filepath.Join(b, "keep")).Run()
	for _, args := range [][]string{
		{"left", b}, {b, "left"}, {a, b}, {"right", b}, {"--no-xattrs", "right", b},
		{"--owner-uid=1234", "right", b}, {"--owner-gid=99", "--no-xattrs", "right", b}, {a, a},
	} {
		o := ostreeRun(t, append([]string{"diff", "--repo=" + repo}, args...)...)
		g := gostreeRun(t, append([]string{"diff", "--repo=" + repo}, args...)...)
		if o.code != 0 || g.code != 0 {
			t.Errorf("diff %v: ostree %v\ngostree %v", args, o, g)
			continue
		}
		if o.stdout != g.stdout {
			t.Errorf("diff %v:\nostree:\n%s\ngostree:\n%s", args, o.stdout, g.stdout)
		}
	}

	// The first commit has no parent: both fail.
	o := ostreeRun(t, "diff", "--repo="+repo, "left")
	g := gostreeRun(t, "diff", "--repo="+repo, "left")
	if o.code == 0 || g.code == 0 {
		t.Errorf("diff of a commit without parent: ostree exit %d, gostree exit %d", o.code, g.code)
	}
}

// TestDiffBigDirMatchesOstree: in a directory of more than one batch of
// GLib's enumerator (1000 entries, each batch sorted by inode), the order
// of what ostree diff lists from disk is followed too.
func TestDiffBigDirMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	repo := filepath.Join(t.TempDir(), "repo")
	ostree(t, "init", "--repo="+repo, "--mode=bare-user")
	dir := filepath.Join(t.TempDir(), "big")
	os.MkdirAll(dir, 0o755)
	for i := range 2500 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", (i*7919)%2500)), []byte(fmt.Sprint(i)), 0o644)
	}
	ostree(t, "commit", "--repo="+repo, "-b", "big", "--timestamp=@1", "--tree=dir="+dir)
	for i := 0; i < 2500; i += 7 {
		os.Remove(filepath.Join(dir, fmt.Sprintf("f%04d", i)))
	}
	for i := 1; i < 2500; i += 11 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), []byte("changed"), 0o644)
	}
	for i := range 1200 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("new%04d", (i*31)%1200)), nil, 0o644)
	}
	for _, args := range [][]string{{"big", dir}, {dir, "big"}} {
		o := ostreeRun(t, append([]string{"diff", "--repo=" + repo}, args...)...)
		g := gostreeRun(t, append([]string{"diff", "--repo=" + repo}, args...)...)
		if o.code != 0 || g.code != 0 {
			t.Fatalf("diff %v: ostree %v\ngostree %v", args, o, g)
		}
		if o.stdout != g.stdout {
			t.Errorf("diff %v differs:\n%s", args, diffText(o.stdout, g.stdout))
		}
	}
}
