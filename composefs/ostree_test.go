package composefs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// Upstream ostree tests/test-composefs.sh expectations (formats.md §7.7).
const (
	ostreeComposefsDigest = "be956966c70970ea23b1a8043bca58cfb0d011d490a35a7817b36d04c0210954"
	ostreeImageSHA256     = "031fab2c7f390b752a820146dc89f6880e5739cba7490f64024e0c7d11aad7c9"
	ostreeNoVeritySHA256  = "78f873a76ccfea3ad7c86312ba0e06f8e0bca54ab4912b23871b31caafe59c24"
	ostreeDumpLine        = "/baz/cow 4 100644 1 0 0 0 0.0 f6/a517d53831a40cff3886a965c70d57aa50797a8e5ea965b2c49cc575a6ff51.file - ebaa23af194a798df610e5fe2bd10725c9c4a3a56a6b62d4d0ee551d4fc4be27"
)

// ostreeTestTree builds libtest.sh's setup_test_repository tree (without
// the whiteouts directory, which test-composefs.sh removes).
func ostreeTestTree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{"firstfile", "first\n", 0o644},
		{"baz/cow", "moo\n", 0o644},
		{"baz/cowro", "mooro\n", 0o600},
		{"baz/saucer", "alien\n", 0o644},
		{"baz/deeper/ohyeah", "hi\n", 0o644},
		{"baz/deeper/ohyeahx", "hix\n", 0o755},
		{"baz/another/y", "x\n", 0o644},
		{"baz/sub1/duplicate_a", "SAME_CONTENT\n", 0o644},
		{"baz/sub1/duplicate_b", "SAME_CONTENT\n", 0o644},
		{"baz/sub2/duplicate_c", "SAME_CONTENT\n", 0o644},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"somelink": "nosuchfile", "baz/alink": "nonexistent"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// commitTree commits dir as `ostree commit --owner-uid=0 --owner-gid=0
// --no-xattrs --canonical-permissions` does.
func commitTree(t testing.TB, repo *objstore.Repo, dir string, mod *objstore.Modifier) objstore.ID {
	t.Helper()
	ctx := t.Context()
	tx, err := repo.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	root := objstore.NewMutableTree()
	if err := tx.WriteDir(ctx, dir, root, &objstore.DirOptions{Modifier: mod}); err != nil {
		t.Fatal(err)
	}
	id, err := tx.WriteCommit(ctx, root, &objstore.CommitOptions{Subject: "test", Timestamp: time.Unix(1577836800, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

var canonical = &objstore.Modifier{OwnerUID: 0, OwnerGID: 0, CanonicalPermissions: true, NoXattrs: true}

func TestOstreeVectors(t *testing.T) {
	for _, mode := range []objstore.Mode{objstore.ModeBareUser, objstore.ModeBareUserOnly, objstore.ModeArchive} {
		t.Run(string(mode), func(t *testing.T) {
			repo := objtest.NewRepo(t, mode)
			id := commitTree(t, repo, ostreeTestTree(t), canonical)
			var img bytes.Buffer
			d, err := composefs.WriteCommit(t.Context(), repo, id, &img)
			if err != nil {
				t.Fatalf("WriteCommit: %v", err)
			}
			if got := d.String(); got != ostreeComposefsDigest {
				t.Errorf("composefs digest = %s, want %s (ostree test-composefs.sh)", got, ostreeComposefsDigest)
			}
			if got := fsverity.Sum(img.Bytes()).String(); got != d.String() {
				t.Errorf("fsverity.Sum(image) = %s, returned digest %s", got, d)
			}
			sum := sha256.Sum256(img.Bytes())
			if got := hex.EncodeToString(sum[:]); got != ostreeImageSHA256 {
				t.Errorf("sha256(image) = %s, want %s", got, ostreeImageSHA256)
			}
			var dump strings.Builder
			if err := composefs.Dump(&dump, bytes.NewReader(img.Bytes()), int64(img.Len())); err != nil {
				t.Fatalf("Dump: %v", err)
			}
			if !strings.Contains(dump.String(), ostreeDumpLine+"\n") {
				t.Errorf("dump lacks %q:\n%s", ostreeDumpLine, dump.String())
			}

			img.Reset()
			if _, err := composefs.WriteCommitOpts(t.Context(), repo, id, &img, &composefs.CommitOptions{NoDigests: true}); err != nil {
				t.Fatalf("WriteCommitOpts(NoDigests): %v", err)
			}
			sum = sha256.Sum256(img.Bytes())
			if got := hex.EncodeToString(sum[:]); got != ostreeNoVeritySHA256 {
				t.Errorf("sha256(image without digests) = %s, want %s", got, ostreeNoVeritySHA256)
			}
		})
	}
}
