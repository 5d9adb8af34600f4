package integration_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/objstore/objtest"
)

// checkoutOptions says what a checkout of the shared tree from a repo of mode must look like.
// user is a user-mode checkout (-U); bare-user-only checkouts are always user mode (ostree
// forces it: "nothing else makes sense").
//
// ostree 2022.7 behaviour encoded here [verified]:
//   - xattrs with an empty value are not recorded at commit (DropEmptyXattrs);
//   - bare-user-only commits canonicalize: uid/gid 0, no xattrs, mode &= 0755;
//   - user-mode checkouts write no xattrs and no ownership, strip setuid/setgid from files and
//     give owner-unreadable files u+r; directories keep setgid/sticky.
func checkoutOptions(mode string, user bool) objtest.CompareOptions {
	opts := objtest.CompareOptions{Expect: []func(*objtest.TreeEntry){objtest.DropEmptyXattrs}}
	if mode == "bare-user-only" {
		opts.Expect = append(opts.Expect, objtest.CanonicalPermissions)
		user = true
	}
	if user {
		opts.Expect = append(opts.Expect, objtest.UserCheckout)
		opts.IgnoreOwnership = true
		// A bare-user repo's checkout may hardlink its objects, which carry user.ostreemeta.
		opts.IgnoreXattrPrefixes = []string{"user.ostreemeta"}
	}
	return opts
}

// TestGostreeReadsOstreeRepo: ostree writes the shared tree in each mode, gostree reads it
// (issue case a).
func TestGostreeReadsOstreeRepo(t *testing.T) {
	for _, mode := range repoModes {
		t.Run(mode, func(t *testing.T) {
			requireGostree(t)
			repo, commit := ostreeRepo(t, mode)
			tr := theTree(t)
			r := "--repo=" + repo

			t.Run("rev-parse", func(t *testing.T) {
				if got := gostree(t, "rev-parse", r, "main"); got != commit+"\n" {
					t.Errorf("gostree rev-parse main = %q, want %q", got, commit+"\n")
				}
			})

			t.Run("ls", func(t *testing.T) {
				for _, args := range [][]string{
					{"-R", "-X", "main"},
					{"-R", "-X", commit},
					{"-R", "main"},
					{"main"},
					{"main", "/"},
					{"-X", "main", "/xattrs"},
					{"-R", "-X", "main", "/xattrs"},
					{"-R", "main", "/names"},
					{"main", "/modes"},
					{"-X", "main", "/xattrs/file"},
					{"main", "/links/relative"},
					{"main", "/links/to-dir"},
					{"main", tr.info.LongName},
				} {
					argv := append([]string{"ls", r}, args...)
					want := ostree(t, argv...)
					got := gostree(t, argv...)
					if got != want {
						t.Errorf("gostree %s differs from ostree:\n%s", strings.Join(argv, " "), diffText(want, got))
					}
				}
			})

			t.Run("cat", func(t *testing.T) {
				paths := []string{tr.info.EmptyFile, tr.info.XattrFile, "nested/a/b/c/d/e/leaf", tr.info.LongName,
					"names/日本語", "names/with space", "names/-leading-dash", "hardlinks/sub/three-2", tr.info.SetuidFile}
				for _, n := range objtest.SizedFileSizes {
					paths = append(paths, tr.info.SizedFiles[n])
				}
				if tr.info.LargeFile != "" {
					paths = append(paths, tr.info.LargeFile)
				}
				if tr.info.UnreadableOK {
					paths = append(paths, "modes/0000")
				}
				if tr.info.ManyDir != "" {
					paths = append(paths, "many/g000/l00/f00001", "many/g000/l03/f00200")
				}
				for _, p := range paths {
					want, err := os.ReadFile(filepath.Join(tr.dir, p))
					if err != nil {
						t.Fatal(err)
					}
					got := gostree(t, "cat", r, "main", "/"+p)
					if !bytes.Equal([]byte(got), want) {
						t.Errorf("gostree cat main /%s: %d bytes, want the %d source bytes", p, len(got), len(want))
					}
				}
			})

			t.Run("checkout", func(t *testing.T) {
				dest := filepath.Join(tempDir(t), "co")
				gostree(t, "checkout", r, "main", dest)
				if err := objtest.CompareTrees(tr.dir, dest, checkoutOptions(mode, false)); err != nil {
					t.Error(err)
				}
			})

			t.Run("checkout -U", func(t *testing.T) {
				dest := filepath.Join(tempDir(t), "co")
				gostree(t, "checkout", "-U", r, "main", dest)
				checkUserCheckout(t, repo, mode, dest)
			})

			t.Run("checkout --subpath", func(t *testing.T) {
				dest := filepath.Join(tempDir(t), "co")
				gostree(t, "checkout", "--subpath=/nested", r, commit, dest)
				if err := objtest.CompareTrees(filepath.Join(tr.dir, "nested"), dest, checkoutOptions(mode, false)); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// checkUserCheckout checks a -U checkout of the shared tree from repo. In bare-user repos
// ostree hardlinks the object files, whose on-disk modes are (mode & 0775) | 0400, so a
// hardlinking checkout differs from a copying one; either is accepted there, the hardlinking
// one only if it equals ostree's own -U checkout of the same repo.
func checkUserCheckout(t *testing.T, repo, mode, dest string) {
	t.Helper()
	tr := theTree(t)
	err := objtest.CompareTrees(tr.dir, dest, checkoutOptions(mode, true))
	if err == nil || mode != "bare-user" {
		if err != nil {
			t.Error(err)
		}
		return
	}
	ref := filepath.Join(tempDir(t), "ostree-co")
	ostree(t, "checkout", "-U", "--repo="+repo, "main", ref)
	if err2 := objtest.CompareTrees(ref, dest, objtest.CompareOptions{IgnoreOwnership: true}); err2 != nil {
		t.Errorf("-U checkout matches neither a copying checkout:\n%v\nnor ostree's hardlinking one:\n%v", err, err2)
	}
}
