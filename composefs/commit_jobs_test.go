package composefs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// TestWriteCommitJobs checks that the image does not depend on how many
// goroutines read the tree and digest objects, whether digests are
// recorded (bare-user) or computed (archive), and that a cancelled context
// stops the write.
func TestWriteCommitJobs(t *testing.T) {
	src := t.TempDir()
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: 2000, Seed: 3, NoPrivileged: true}); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, mode := range []objstore.Mode{objstore.ModeBareUser, objstore.ModeArchive} {
		repo := objtest.NewRepo(t, mode)
		id := commitTree(t, repo, src, canonical)
		for _, jobs := range []int{1, 2, 3, 8} {
			t.Run(fmt.Sprintf("%s/jobs=%d", mode, jobs), func(t *testing.T) {
				var img bytes.Buffer
				if _, err := composefs.WriteCommitOpts(t.Context(), repo, id, &img, &composefs.CommitOptions{Jobs: jobs}); err != nil {
					t.Fatal(err)
				}
				if want == nil {
					want = img.Bytes()
				} else if !bytes.Equal(img.Bytes(), want) {
					t.Errorf("image differs from the image of %s with 1 job", objstore.ModeBareUser)
				}
			})
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var img bytes.Buffer
		if _, err := composefs.WriteCommitOpts(ctx, repo, id, &img, &composefs.CommitOptions{Jobs: 4}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: WriteCommitOpts with a cancelled context = %v, want %v", mode, err, context.Canceled)
		}
	}
}
