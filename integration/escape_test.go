package integration_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckoutStaysInDest: hostile commits whose dirtrees combine a symlink and a directory of
// the same name, or carry ".." and "/" in names, cannot make gostree checkout write outside
// DEST (issue case e). The commits are made by ostree from harmless trees, then one name in the
// root dirtree is renamed in place (same length, so the GVariant stays valid) and the dirtree
// and commit are re-hashed.
func TestCheckoutStaysInDest(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	sandbox := t.TempDir()
	dest := filepath.Join(sandbox, "a", "b", "dest") // dest/../../.. is the sandbox
	outside := filepath.Join(sandbox, "outside")
	for _, d := range []string{filepath.Dir(dest), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	type entry struct{ path, symlink string } // a file, a directory (trailing /) or a symlink
	cases := []struct {
		name     string
		entries  []entry
		from, to string // renamed in the root dirtree
	}{
		{"relative symlink and directory named alike",
			[]entry{{"escape", "../../.."}, {"escapf/pwned", ""}, {"escapf/sub/pwned", ""}}, "escapf", "escape"},
		{"absolute symlink and directory named alike",
			[]entry{{"absesc", outside}, {"absesd/keep", ""}, {"absesd/pwned", ""}}, "absesd", "absesc"},
		{"file named ../pwned",
			[]entry{{"zzzpwned", ""}}, "zzzpwned", "../pwned"},
		{"file name with slashes",
			[]entry{{"zzzzzzzzzzzz", ""}}, "zzzzzzzzzzzz", "../../pwned2"},
		{"directory named ..",
			[]entry{{"zz/pwned3", ""}}, "zz", ".."},
		{"directory named .",
			[]entry{{"z/pwned4", ""}}, "z", "."},
		{"symlink named .. ",
			[]entry{{"zz", outside}}, "zz", ".."},
	}
	repo := newRepo(t, "ostree", "archive")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			for _, e := range tc.entries {
				p := filepath.Join(src, e.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				var err error
				if e.symlink != "" {
					err = os.Symlink(e.symlink, p)
				} else {
					err = os.WriteFile(p, []byte("pwned "+e.path+"\n"), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			branch := "evil/" + branchName(tc.name)
			base := checksumOf(t, ostree(t, "commit", "--repo="+repo, "-b", branch, "-s", "base", "--timestamp="+fixedTimestamp, src))
			from, to := []byte(tc.from+"\x00"), []byte(tc.to+"\x00")
			evil := rewriteTree(t, repo, base, "/", branch, func(b []byte) []byte {
				if bytes.Count(b, from) != 1 {
					t.Fatalf("root dirtree has %d copies of %q", bytes.Count(b, from), tc.from)
				}
				return bytes.Replace(b, from, to, 1)
			})
			if ls := ostreeRun(t, "ls", "--repo="+repo, "-R", evil); ls.code == 0 {
				t.Logf("ostree ls of the crafted commit:\n%s", ls.stdout)
			}
			for _, args := range [][]string{{"checkout"}, {"checkout", "-U"}} {
				before := snapshot(t, sandbox, "a/b/dest")
				res := gostreeRun(t, append(args, "--repo="+repo, evil, dest)...)
				noPanic(t, res)
				after := snapshot(t, sandbox, "a/b/dest")
				if !slices.Equal(before, after) {
					t.Errorf("gostree %s wrote outside DEST (exit %d):\nbefore %q\nafter  %q\n%v", strings.Join(args, " "), res.code, before, after, res)
				}
				if err := os.RemoveAll(dest); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
