package fusefs_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

var allModes = []objstore.Mode{objstore.ModeBare, objstore.ModeBareUser, objstore.ModeBareUserOnly, objstore.ModeArchive}

// TestMountMatchesCheckout mounts a commit of the awkward test tree in every
// repository mode and compares every path with a checkout of the commit.
func TestMountMatchesCheckout(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	large := int64(8 << 20)
	if testing.Short() {
		large = 0
	}
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: 300, LargeFile: large, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range allModes {
		for _, verify := range []fusefs.Verify{fusefs.VerifyOn, fusefs.VerifyOff} {
			t.Run(string(mode)+"/verify="+verify.String(), func(t *testing.T) {
				repo := objtest.NewRepo(t, mode)
				id := commitDir(t, repo, src, "main")
				co := filepath.Join(t.TempDir(), "co")
				if err := repo.Checkout(context.Background(), id, co, nil); err != nil {
					t.Fatal(err)
				}
				logger, logs := newLogger(t)
				f, mnt := mountCommit(t, repo, id, &fusefs.Options{Logger: logger, Verify: verify})
				var copts objtest.CompareOptions
				if mode == objstore.ModeBareUserOnly {
					// Checkouts of bare-user-only repos are user-mode: they add u+r
					// to the 0000 file. The mount shows the committed mode.
					copts.IgnorePaths = []string{"modes/0000"}
					if fi, err := os.Lstat(filepath.Join(mnt, "modes/0000")); err != nil || fi.Mode().Perm() != 0 {
						t.Errorf("modes/0000 on the mount: %v, %v; want mode 0000", fi, err)
					}
				}
				if err := objtest.CompareTrees(co, mnt, copts); err != nil {
					t.Errorf("mount differs from checkout: %v\nlogs:\n%s", err, logs)
				}
				t.Logf("stats: %+v", f.Stats())
			})
		}
	}
}

// awkwardCommit commits the awkward test tree (plus a copy of a real
// executable at bin/echo) into a repository of mode.
func awkwardCommit(t *testing.T, mode objstore.Mode, opts objtest.TreeOptions) (*objstore.Repo, objstore.ID, string) {
	t.Helper()
	src := t.TempDir()
	if _, err := objtest.MakeTree(src, opts); err != nil {
		t.Fatal(err)
	}
	repo := objtest.NewRepo(t, mode)
	return repo, commitDir(t, repo, src, "main"), src
}

// TestMountTestFS runs fstest.TestFS over a mount, and executes a binary
// from it.
func TestMountTestFS(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: 100, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	echo, err := exec.LookPath("echo")
	if err != nil {
		t.Skip("no echo binary to copy")
	}
	data, err := os.ReadFile(echo)
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(src, "bin"), 0o755)
	if err := os.WriteFile(filepath.Join(src, "bin/echo"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	repo := objtest.NewRepo(t, objstore.ModeBare)
	id := commitDir(t, repo, src, "main")
	_, mnt := mountCommit(t, repo, id, nil)

	// Symlinks that leave the tree or dangle are not fs.FS material, nor are
	// names with backslashes (names/): test the other directories.
	ents, err := objtest.ScanTree(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"nested", "sizes", "xattrs", "modes", "hardlinks", "many"} {
		var expected []string
		for _, e := range ents {
			if rel, ok := strings.CutPrefix(e.Path, dir+"/"); ok {
				expected = append(expected, rel)
			}
		}
		if err := fstest.TestFS(os.DirFS(filepath.Join(mnt, dir)), expected...); err != nil {
			t.Errorf("fstest.TestFS(%s): %v", dir, err)
		}
	}
	// Through sh: exec'ing a file of a mount served by this very process
	// directly can deadlock in fork (go-fuse's docs, deadlock 1c).
	out, err := exec.Command("/bin/sh", "-c", filepath.Join(mnt, "bin/echo")+" executed from the mount").CombinedOutput()
	if err != nil || string(out) != "executed from the mount\n" {
		t.Errorf("run bin/echo from the mount: %q, %v", out, err)
	}
}

// TestConcurrentReaders reads every file of the tree with 16 readers at
// once, in a different order each, and checks every byte.
func TestConcurrentReaders(t *testing.T) {
	requireFUSE(t)
	for _, mode := range []objstore.Mode{objstore.ModeBare, objstore.ModeArchive} {
		t.Run(string(mode), func(t *testing.T) {
			large := int64(16 << 20)
			if testing.Short() {
				large = 0
			}
			repo, id, src := awkwardCommit(t, mode, objtest.TreeOptions{ManyFiles: 500, LargeFile: large, Seed: 3})
			want := map[string][32]byte{}
			var paths []string
			ents, err := objtest.ScanTree(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.IsRegular() {
					want[e.Path] = e.Sum
					paths = append(paths, e.Path)
				}
			}
			_, mnt := mountCommit(t, repo, id, &fusefs.Options{MaxIdleObjects: 8})
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for r := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					order := slices.Clone(paths)
					rand.New(rand.NewPCG(uint64(r), 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
					for _, p := range order {
						data, err := os.ReadFile(filepath.Join(mnt, p))
						if err != nil {
							errs <- err
							return
						}
						if sha256.Sum256(data) != want[p] {
							errs <- fmt.Errorf("reader %d: %s: wrong content", r, p)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestMountOstreeCommit mounts commits written by ostree itself and
// compares them with ostree's own checkout.
func TestMountOstreeCommit(t *testing.T) {
	requireFUSE(t)
	ostree, err := exec.LookPath("ostree")
	if err != nil {
		t.Skip("ostree not installed")
	}
	src := t.TempDir()
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: 100, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(ostree, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, mode := range []string{"bare", "archive"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "repo")
			run("init", "--repo="+path, "--mode="+mode)
			rev := run("commit", "--repo="+path, "-b", "main", "-s", "test", "--tree=dir="+src)
			co := filepath.Join(t.TempDir(), "co")
			run("checkout", "--repo="+path, "main", co)
			repo, err := objstore.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			id, err := objstore.ParseID(rev)
			if err != nil {
				t.Fatal(err)
			}
			logger, logs := newLogger(t)
			_, mnt := mountCommit(t, repo, id, &fusefs.Options{Logger: logger})
			if err := objtest.CompareTrees(co, mnt, objtest.CompareOptions{}); err != nil {
				t.Errorf("mount of ostree's commit differs from ostree's checkout: %v\n%s", err, logs)
			}
		})
	}
}

// TestMountGenericFS serves fs.FS implementations that are not commits:
// an fstest.MapFS carrying objstore.Meta (xattrs, owners, content ids,
// which are verified), and os.DirFS.
func TestMountGenericFS(t *testing.T) {
	requireFUSE(t)
	meta := func(mode uint32, data string, xattrs ...objstore.Xattr) *objstore.Meta {
		m := &objstore.Meta{Mode: mode, UID: 1000, GID: 100, Xattrs: xattrs, Size: int64(len(data))}
		if mode&0o170000 == 0o120000 {
			m.Target = data
		}
		if mode&0o170000 != 0o040000 {
			m.Content, _ = objstore.ContentChecksum(m, strings.NewReader(data))
		}
		return m
	}
	good := "verified content\n"
	fsys := fstest.MapFS{
		".":        {Mode: fs.ModeDir | 0o755, Sys: meta(0o40755, "")},
		"dir":      {Mode: fs.ModeDir | 0o750, Sys: meta(0o40750, "", objstore.Xattr{Name: "user.d", Value: []byte("dir")})},
		"dir/file": {Data: []byte(good), Mode: 0o640, Sys: meta(0o100640, good, objstore.Xattr{Name: "user.x", Value: []byte{0, 1}})},
		"dir/link": {Data: []byte("file"), Mode: fs.ModeSymlink | 0o777, Sys: meta(0o120777, "file")},
		"bad":      {Data: []byte("tampered\n"), Mode: 0o644, Sys: meta(0o100644, "original\n")},
		"plain":    {Data: []byte("no meta\n"), Mode: 0o600},
	}
	f, err := fusefs.New(fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	mnt := mount(t, f)
	if got := readString(t, filepath.Join(mnt, "dir/file")); got != good {
		t.Errorf("dir/file = %q", got)
	}
	if got := readString(t, filepath.Join(mnt, "plain")); got != "no meta\n" {
		t.Errorf("plain = %q", got)
	}
	if target, err := os.Readlink(filepath.Join(mnt, "dir/link")); target != "file" {
		t.Errorf("readlink dir/link = %q, %v", target, err)
	}
	if _, err := os.ReadFile(filepath.Join(mnt, "bad")); !errors.Is(err, syscall.EIO) {
		t.Errorf("read of content that does not match its id: %v, want EIO", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(mnt, "dir/file"), &st); err != nil || st.Mode != 0o100640 || st.Uid != 1000 || st.Gid != 100 {
		t.Errorf("lstat dir/file: mode %o uid %d gid %d, %v", st.Mode, st.Uid, st.Gid, err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(mnt, "dir/file"), "user.x", buf); err != nil || string(buf[:n]) != "\x00\x01" {
		t.Errorf("getxattr user.x: %q, %v", buf[:n], err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(mnt, "dir"), "user.d", buf); err != nil || string(buf[:n]) != "dir" {
		t.Errorf("getxattr on dir: %q, %v", buf[:n], err)
	}

	// os.DirFS: modes, owners, sizes, contents and symlinks (no xattrs).
	src := t.TempDir()
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{Seed: 6}); err != nil {
		t.Fatal(err)
	}
	f, err = fusefs.New(os.DirFS(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	mnt = mount(t, f)
	if err := objtest.CompareTrees(src, mnt, objtest.CompareOptions{IgnoreXattrs: true}); err != nil {
		t.Errorf("mount of os.DirFS differs: %v", err)
	}
}

// TestPOSIXACL checks that an ACL recorded in the commit is enforced on the
// mount: uid 1000 may read a 0640 root file through it, uid 1001 may not.
func TestPOSIXACL(t *testing.T) {
	requireFUSE(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		skip(t, "needs root and setpriv to read as other users")
	}
	src := t.TempDir()
	p := filepath.Join(src, "f")
	if err := os.WriteFile(p, []byte("acl\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// POSIX ACL xattr, version 2: user::rw- user:1000:r-- group::r-- mask::r-- other::---
	acl := []byte{2, 0, 0, 0}
	for _, e := range [][3]uint32{{1, 6, ^uint32(0)}, {2, 4, 1000}, {4, 4, ^uint32(0)}, {0x10, 4, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		acl = append(acl, byte(e[0]), byte(e[0]>>8), byte(e[1]), byte(e[1]>>8), byte(e[2]), byte(e[2]>>8), byte(e[2]>>16), byte(e[2]>>24))
	}
	if err := unix.Setxattr(p, "system.posix_acl_access", acl, 0); err != nil {
		skip(t, "cannot set ACLs here: %v", err)
	}
	repo := objtest.NewRepo(t, objstore.ModeBare)
	id := commitDir(t, repo, src, "main")
	cfs, err := repo.CommitFS(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fusefs.New(cfs, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Other users reach the mount only with allow_other, and the temp dir.
	dir, err := os.MkdirTemp("", "fusefs-acl-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	srv, err := f.Mount(mnt, &fusefs.MountOptions{AllowOther: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()
	catAs := func(uid string) (string, error) {
		out, err := exec.Command(setpriv, "--reuid="+uid, "--regid="+uid, "--clear-groups", "cat", filepath.Join(mnt, "f")).CombinedOutput()
		return string(out), err
	}
	if out, err := catAs("1000"); err != nil || out != "acl\n" {
		t.Errorf("uid 1000, granted by the ACL: %q, %v", out, err)
	}
	if out, err := catAs("1001"); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("uid 1001: %q, %v; want permission denied", out, err)
	}
}
