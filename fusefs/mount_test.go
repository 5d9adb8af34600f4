package fusefs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
