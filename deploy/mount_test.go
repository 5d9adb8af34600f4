package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/deploy"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// TestDeploymentImageMounts deploys real composefs images and mounts each
// deployment's .ostree.cfs with the repository's objects as the data layer:
// the mount shows the commit's tree.
func TestDeploymentImageMounts(t *testing.T) {
	requireRoot(t)
	ctx := t.Context()
	s := newSysroot(t, &deploy.Options{WriteImage: composefs.WriteCommit})
	var ids []objstore.ID
	for v := 1; v <= 2; v++ {
		ids = append(ids, commitTree(t, s.Repo(), osTree(t, v), "testos/stable", "1", int64(1577836800+v)))
		if _, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"}); err != nil {
			t.Fatal(err)
		}
	}
	deps, err := s.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps {
		mnt := filepath.Join(t.TempDir(), "mnt")
		os.Mkdir(mnt, 0o755)
		err := composefs.Mount(ctx, &composefs.MountOptions{
			Image:      filepath.Join(s.Path(), d.RelDir(), deploy.ImageName),
			ObjectsDir: filepath.Join(s.Repo().Path(), "objects"),
			Target:     mnt,
		})
		if err != nil {
			if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
				t.Fatalf("mount: %v", err)
			}
			t.Skipf("cannot mount composefs images here (kernel needs file-backed EROFS and overlayfs data-only layers): %v", err)
		}
		co := filepath.Join(t.TempDir(), "co")
		if err := s.Repo().Checkout(ctx, d.Commit, co, &objstore.CheckoutOptions{Subpath: "/usr", NoHardlinks: true}); err != nil {
			composefs.Unmount(mnt)
			t.Fatal(err)
		}
		err = objtest.CompareTrees(co, filepath.Join(mnt, "usr"), objtest.CompareOptions{IgnoreXattrPrefixes: []string{"trusted.overlay.", "user.overlay."}})
		if uerr := composefs.Unmount(mnt); uerr != nil {
			t.Errorf("unmount: %v", uerr)
		}
		if err != nil {
			t.Errorf("deployment %d (%s): mounted image differs from the commit: %v", d.Index, d.Name(), err)
		}
	}
	if deps[0].Commit != ids[1] {
		t.Errorf("default deployment %s, want %s", deps[0].Commit, ids[1])
	}
}
