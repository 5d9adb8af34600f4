package integration_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/objstore/objtest"
)

// TestOstreeReadsGostreeRepo: gostree writes the shared tree in each mode, ostree verifies and
// reads it (issue case b).
func TestOstreeReadsGostreeRepo(t *testing.T) {
	for _, mode := range repoModes {
		t.Run(mode, func(t *testing.T) {
			repo, commit := gostreeRepo(t, mode)
			tr := theTree(t)
			r := "--repo=" + repo

			t.Run("config", func(t *testing.T) {
				// ostree must agree on the mode (archive is written as archive-z2).
				want := mode
				if mode == "archive" {
					want = "archive-z2"
				}
				got := strings.TrimSpace(ostree(t, "config", r, "get", "core.mode"))
				if got != want {
					t.Errorf("ostree config get core.mode = %q, want %q", got, want)
				}
			})

			t.Run("ostree fsck", func(t *testing.T) {
				res := ostreeRun(t, "fsck", r)
				if res.code != 0 || strings.Contains(res.stderr, "error") {
					t.Errorf("ostree fsck of the gostree repo failed: %v", res)
				}
			})

			t.Run("ostree rev-parse", func(t *testing.T) {
				if got := strings.TrimSpace(ostree(t, "rev-parse", r, "main")); got != commit {
					t.Errorf("ostree rev-parse main = %s, gostree commit printed %s", got, commit)
				}
			})

			t.Run("same listing as ostree's commit", func(t *testing.T) {
				orepo, _ := ostreeRepo(t, mode)
				want := ostree(t, "ls", "--repo="+orepo, "-R", "-X", "main")
				got := ostree(t, "ls", r, "-R", "-X", "main")
				if got != want {
					t.Errorf("ostree ls -R -X of gostree's commit differs from ostree's own commit:\n%s", diffText(want, got))
				}
			})

			t.Run("ostree checkout", func(t *testing.T) {
				dest := filepath.Join(tempDir(t), "co")
				ostree(t, "checkout", r, "main", dest)
				if err := objtest.CompareTrees(tr.dir, dest, checkoutOptions(mode, false)); err != nil {
					t.Error(err)
				}
			})

			if mode == "bare-user-only" {
				return // every checkout of it is user mode, checked above
			}
			t.Run("ostree checkout -U", func(t *testing.T) {
				dest := filepath.Join(tempDir(t), "co")
				ostree(t, "checkout", "-U", r, "main", dest)
				if mode != "bare-user" {
					if err := objtest.CompareTrees(tr.dir, dest, checkoutOptions(mode, true)); err != nil {
						t.Error(err)
					}
					return
				}
				// ostree hardlinks bare-user objects, so the checkout shows the objects' own
				// modes and user.ostreemeta: they must equal those of ostree's own repo.
				orepo, _ := ostreeRepo(t, mode)
				ref := filepath.Join(tempDir(t), "ostree-co")
				ostree(t, "checkout", "-U", "--repo="+orepo, "main", ref)
				if err := objtest.CompareTrees(ref, dest, objtest.CompareOptions{}); err != nil {
					t.Errorf("bare-user objects written by gostree differ from ostree's:\n%v", err)
				}
			})
		})
	}
}
