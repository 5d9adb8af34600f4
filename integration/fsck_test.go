package integration_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fsckRepo is a gostree-made repo of the shared tree that one test may damage and repair.
type fsckRepo struct {
	path, commit string
}

// corruption damages one object and returns a function that undoes it.
type corruption struct {
	name   string
	target func(t *testing.T, r fsckRepo) (object, path string) // "sum.type", a path using it ("" = any)
	damage func(t *testing.T, r fsckRepo, object string) (undo func())
}

// flipByte xors one byte in the middle of an object file.
func flipByte(t *testing.T, r fsckRepo, object string) func() {
	t.Helper()
	p := objectFile(t, r.path, object)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig) == 0 {
		t.Fatalf("%s is empty", p)
	}
	bad := bytes.Clone(orig)
	bad[len(bad)/2] ^= 0x55
	replaceFile(t, p, bad)
	return func() { replaceFile(t, p, orig) }
}

// replaceFile rewrites p through a new inode, so hardlinked checkouts are not affected.
func replaceFile(t *testing.T, p string, data []byte) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	xattrs := getXattrs(t, p)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	setXattrs(t, tmp, xattrs)
	if err := os.Chmod(tmp, fi.Mode()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

func removeObject(t *testing.T, r fsckRepo, object string) func() {
	t.Helper()
	p := objectFile(t, r.path, object)
	hidden := filepath.Join(r.path, "hidden-"+filepath.Base(p))
	if err := os.Rename(p, hidden); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Rename(hidden, p); err != nil {
			t.Fatal(err)
		}
	}
}

// objectFile maps "sum.type" to its file; content objects of archive repos end in "filez".
func objectFile(t *testing.T, repo, object string) string {
	t.Helper()
	sum, typ, _ := strings.Cut(object, ".")
	if typ == "file" {
		return fileObjectPath(t, repo, sum)
	}
	return objectPath(repo, sum, typ)
}

func fileTarget(path string) func(t *testing.T, r fsckRepo) (string, string) {
	return func(t *testing.T, r fsckRepo) (string, string) {
		sum, _, _ := lsChecksums(t, r.path, r.commit, path)
		return sum + ".file", path
	}
}

func dirtreeTarget(path string) func(t *testing.T, r fsckRepo) (string, string) {
	return func(t *testing.T, r fsckRepo) (string, string) {
		_, tree, _ := lsChecksums(t, r.path, r.commit, path)
		return tree + ".dirtree", path
	}
}

func dirmetaTarget(path string) func(t *testing.T, r fsckRepo) (string, string) {
	return func(t *testing.T, r fsckRepo) (string, string) {
		_, _, meta := lsChecksums(t, r.path, r.commit, path)
		return meta + ".dirmeta", "" // shared by many directories: any path will do
	}
}

func commitTarget(t *testing.T, r fsckRepo) (string, string) { return r.commit + ".commit", "" }

// TestFsckReportsCorruption: gostree fsck names each damaged or missing object of a
// gostree-made repo, exits non-zero and never panics; ostree fsck agrees the repo is damaged
// (issue case d).
func TestFsckReportsCorruption(t *testing.T) {
	cases := []corruption{
		{"file object flipped", fileTarget("/sizes/size-65537"), flipByte},
		{"small file object flipped", fileTarget("/nested/a/b/c/d/e/leaf"), flipByte},
		{"file object with xattrs flipped", fileTarget("/xattrs/file"), flipByte},
		{"dirtree flipped", dirtreeTarget("/nested/a"), flipByte},
		{"root dirtree flipped", dirtreeTarget("/"), flipByte},
		{"dirmeta flipped", dirmetaTarget("/xattrs/dir"), flipByte},
		{"commit flipped", commitTarget, flipByte},
		{"file object missing", fileTarget("/names/日本語"), removeObject},
		{"dirtree missing", dirtreeTarget("/nested/a/b"), removeObject},
		{"dirmeta missing", dirmetaTarget("/modes/sticky"), removeObject},
		{"commit missing", commitTarget, removeObject},
	}
	for _, mode := range []string{"archive", "bare-user"} {
		t.Run(mode, func(t *testing.T) {
			requireGostree(t)
			requireOstree(t)
			r := fsckRepo{path: newRepo(t, "gostree", mode)}
			r.commit = checksumOf(t, gostree(t, append(append([]string{"commit", "--repo=" + r.path}, commitArgs("main")...), theTree(t).dir)...))
			if res := gostreeRun(t, "fsck", "--repo="+r.path); res.code != 0 {
				t.Fatalf("gostree fsck of an intact repo failed: %v", res)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					object, path := c.target(t, r)
					undo := c.damage(t, r, object)
					defer undo()
					if o := ostreeRun(t, "fsck", "--repo="+r.path); o.code == 0 {
						t.Fatalf("test bug: ostree fsck does not notice the damage either: %v", o)
					}
					res := gostreeRun(t, "fsck", "--repo="+r.path)
					noPanic(t, res)
					if res.code == 0 {
						t.Fatalf("gostree fsck exit 0 on a damaged repo: %v", res)
					}
					out := res.stdout + res.stderr
					if !strings.Contains(out, object) {
						t.Errorf("gostree fsck output does not name %s: %v", object, res)
					}
					if path != "" && !strings.Contains(out, strings.TrimPrefix(path, "/")) {
						t.Errorf("gostree fsck output does not name a path using %s (%s): %v", object, path, res)
					}
				})
			}
			if res := gostreeRun(t, "fsck", "--repo="+r.path); res.code != 0 {
				t.Errorf("gostree fsck after undoing every damage failed: %v", res)
			}
		})
	}
}

// TestFsckMalformedObjects: objects that are hash-consistent or truncated but not valid
// GVariants give a clear error, not a panic.
func TestFsckMalformedObjects(t *testing.T) {
	for _, mode := range []string{"archive", "bare-user"} {
		t.Run(mode, func(t *testing.T) {
			requireGostree(t)
			requireOstree(t)
			repo := newRepo(t, "gostree", mode)
			small := t.TempDir()
			for _, d := range []string{"a/b", "c"} {
				if err := os.MkdirAll(filepath.Join(small, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for i, f := range []string{"a/b/x", "c/y", "z"} {
				if err := os.WriteFile(filepath.Join(small, f), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			commit := checksumOf(t, gostree(t, append(append([]string{"commit", "--repo=" + repo}, commitArgs("main")...), small)...))

			t.Run("truncated commit", func(t *testing.T) {
				p := objectPath(repo, commit, "commit")
				orig, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				defer replaceFile(t, p, orig)
				replaceFile(t, p, orig[:len(orig)/2])
				for _, args := range [][]string{{"fsck"}, {"log", "main"}, {"ls", "-R", "main"}, {"checkout", "main", filepath.Join(t.TempDir(), "co")}} {
					res := gostreeRun(t, append(args, "--repo="+repo)...)
					noPanic(t, res)
					if res.code == 0 {
						t.Errorf("gostree %s on a truncated commit exit 0: %v", args[0], res)
					}
					if args[0] == "fsck" && !strings.Contains(res.stdout+res.stderr, commit) {
						t.Errorf("gostree fsck does not name the truncated commit %s: %v", commit, res)
					}
				}
			})

			// A dirtree with one byte appended, stored under its new SHA-256 and referenced by a
			// re-hashed commit: every checksum matches, but the GVariant is not in normal form
			// (the appended byte is read as a framing offset).
			for _, tc := range []struct {
				name   string
				dir    string
				mutate func([]byte) []byte
			}{
				{"non-normal leaf dirtree", "/a/b", func(b []byte) []byte { return append(bytes.Clone(b), 0) }},
				{"non-normal root dirtree", "/", func(b []byte) []byte { return append(bytes.Clone(b), 0xff) }},
				{"empty dirtree bytes", "/c", func(b []byte) []byte { return []byte{} }},
				{"garbage dirtree", "/a", func(b []byte) []byte { return bytes.Repeat([]byte{0xff}, 77) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					branch := "evil/" + strings.ReplaceAll(tc.name, " ", "-")
					bad := rewriteTree(t, repo, commit, tc.dir, branch, tc.mutate)
					if o := ostreeRun(t, "fsck", "--repo="+repo); o.code == 0 {
						t.Logf("note: ostree fsck accepts %s: %v", tc.name, o)
					}
					res := gostreeRun(t, "fsck", "--repo="+repo)
					noPanic(t, res)
					if res.code == 0 {
						t.Errorf("gostree fsck exit 0 with a %s: %v", tc.name, res)
					}
					// ostree 2022.7 ls and checkout read such dirtrees leniently (GVariant's
					// default value for invalid data); gostree may refuse, but must not crash.
					for _, args := range [][]string{{"ls", "-R", bad}, {"checkout", bad, filepath.Join(t.TempDir(), "co")}} {
						noPanic(t, gostreeRun(t, append(args, "--repo="+repo)...))
					}
					if err := os.Remove(filepath.Join(repo, "refs", "heads", filepath.FromSlash(branch))); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}
