package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/objstore/objtest"
)

// TestCommitRefusesSpecialFiles: a tree with a fifo (or a device) is refused with a message
// naming its path, a non-zero exit and no ref (issue case f). ostree refuses them too.
func TestCommitRefusesSpecialFiles(t *testing.T) {
	requireGostree(t)
	src := t.TempDir()
	sub := filepath.Join(src, "sub", "deeper")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "regular"), []byte("fine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	made, err := objtest.MakeSpecialFiles(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, special := range made {
		t.Run(special, func(t *testing.T) {
			// Only this special file in the tree, so the message must be about it.
			for _, other := range made {
				if other != special {
					hidden := filepath.Join(t.TempDir(), other)
					if err := os.Rename(filepath.Join(sub, other), hidden); err != nil {
						t.Fatal(err)
					}
					defer os.Rename(hidden, filepath.Join(sub, other))
				}
			}
			rel := "sub/deeper/" + special
			for _, mode := range []string{"archive", "bare-user"} {
				repo := newRepo(t, "gostree", mode)
				res := gostreeRun(t, "commit", "--repo="+repo, "-b", "main", "-s", "special", src)
				noPanic(t, res)
				if res.code == 0 {
					t.Errorf("%s: gostree commit of a tree with %s succeeded: %v", mode, rel, res)
				}
				if !strings.Contains(res.stderr, rel) {
					t.Errorf("%s: gostree commit error does not name %s: %v", mode, rel, res)
				}
				if refs := gostreeRun(t, "refs", "--repo="+repo); strings.TrimSpace(refs.stdout) != "" {
					t.Errorf("%s: refused commit created refs %q", mode, refs.stdout)
				}
				if ostreeErr == nil {
					orepo := newRepo(t, "ostree", mode)
					if o := ostreeRun(t, "commit", "--repo="+orepo, "-b", "main", "-s", "special", src); o.code == 0 {
						t.Errorf("test bug: ostree accepts %s: %v", rel, o)
					}
				}
			}
		})
	}
}
