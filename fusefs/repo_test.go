package fusefs_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// TestWholeRepository mounts a repository with --all: refs follow their
// branch as it moves, any commit resolves by checksum or unique prefix, and
// unknown names fail without being cached.
func TestWholeRepository(t *testing.T) {
	requireFUSE(t)
	repo := objtest.NewRepo(t, objstore.ModeBare)
	c1 := commitDir(t, repo, writeTree(t, map[string]string{"f": "one\n", "d/g": "deep\n"}), "main")
	c2 := commitDir(t, repo, writeTree(t, map[string]string{"f": "other\n"}), "os/x86_64/stable")
	ctx := context.Background()
	if err := repo.SetRef(ctx, "origin:main", &c2); err != nil {
		t.Fatal(err)
	}
	f, err := fusefs.NewRepo(repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	mnt := mount(t, f)

	if got := readString(t, filepath.Join(mnt, "refs/main/f")); got != "one\n" {
		t.Errorf("refs/main/f = %q", got)
	}
	if got := readString(t, filepath.Join(mnt, "refs/main/d/g")); got != "deep\n" {
		t.Errorf("refs/main/d/g = %q", got)
	}
	if got := readString(t, filepath.Join(mnt, "refs/os/x86_64/stable/f")); got != "other\n" {
		t.Errorf("nested ref: %q", got)
	}
	if got := readString(t, filepath.Join(mnt, "refs/origin:main/f")); got != "other\n" {
		t.Errorf("remote ref: %q", got)
	}
	if target, err := os.Readlink(filepath.Join(mnt, "refs/os/x86_64/stable")); err != nil || target != "../../../commits/"+c2.String() {
		t.Errorf("readlink refs/os/x86_64/stable = %q, %v", target, err)
	}
	if got := readString(t, filepath.Join(mnt, "commits", c1.String(), "f")); got != "one\n" {
		t.Errorf("commits/<c1>/f = %q", got)
	}
	short := c1.String()[:8]
	if got := readString(t, filepath.Join(mnt, "commits", short, "f")); got != "one\n" {
		t.Errorf("commits/<prefix>/f = %q", got)
	}
	if target, err := os.Readlink(filepath.Join(mnt, "commits", short)); err != nil || target != c1.String() {
		t.Errorf("readlink commits/%s = %q, %v", short, target, err)
	}

	// Listings.
	names := func(dir string) []string {
		ents, err := os.ReadDir(filepath.Join(mnt, dir))
		if err != nil {
			t.Fatalf("readdir %s: %v", dir, err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got, want := names("."), []string{"commits", "refs"}; !slices.Equal(got, want) {
		t.Errorf("ls / = %q, want %q", got, want)
	}
	if got, want := names("refs"), []string{"main", "origin:main", "os"}; !slices.Equal(got, want) {
		t.Errorf("ls refs = %q, want %q", got, want)
	}
	want := []string{c1.String(), c2.String()}
	slices.Sort(want)
	if got := names("commits"); !slices.Equal(got, want) {
		t.Errorf("ls commits = %q, want %q", got, want)
	}

	// Unknown names fail, and are not cached: they may appear later.
	missing := strings.Repeat("0", 64)
	for _, p := range []string{"refs/nope", "commits/" + missing, "commits/zzzz", "commits/abc", "nope"} {
		if _, err := os.Stat(filepath.Join(mnt, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: %v, want ENOENT", p, err)
		}
	}

	// Move main: the same path now shows the new commit, at once.
	c3 := commitDir(t, repo, writeTree(t, map[string]string{"f": "three\n"}), "main")
	if got := readString(t, filepath.Join(mnt, "refs/main/f")); got != "three\n" {
		t.Errorf("after moving main: refs/main/f = %q, want three", got)
	}
	if _, err := os.Stat(filepath.Join(mnt, "refs/main/d")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after moving main: refs/main/d: %v, want ENOENT", err)
	}
	// The old commit is still there by checksum.
	if got := readString(t, filepath.Join(mnt, "commits", c1.String(), "d/g")); got != "deep\n" {
		t.Errorf("old commit: %q", got)
	}
	// A new ref appears, a deleted one disappears.
	if err := repo.SetRef(ctx, "new", &c3); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, filepath.Join(mnt, "refs/new/f")); got != "three\n" {
		t.Errorf("new ref: %q", got)
	}
	if err := repo.SetRef(ctx, "new", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "refs/new")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("deleted ref: %v, want ENOENT", err)
	}
}
