package fusefs_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// TestLazyLoading checks that a lookup reads only the dirtrees on its path
// and the header of its target, and that nothing is read at mount time.
func TestLazyLoading(t *testing.T) {
	requireFUSE(t)
	files := map[string]string{"a/b/c/d/file": "deep\n"}
	for i := range 20 {
		files[fmt.Sprintf("wide%02d/f", i)] = fmt.Sprintf("wide %d\n", i)
		files[fmt.Sprintf("a/side%02d/f", i)] = fmt.Sprintf("side %d\n", i)
	}
	repo := objtest.NewRepo(t, objstore.ModeBare)
	id := commitDir(t, repo, writeTree(t, files), "main")
	f, mnt := mountCommit(t, repo, id, nil)

	if s := f.Stats(); s.DirTreeLoads != 0 || s.MetaLoads != 0 {
		t.Errorf("after mount: %+v, want nothing loaded", s)
	}
	if _, err := os.Stat(filepath.Join(mnt, "a/b/c/d/file")); err != nil {
		t.Fatal(err)
	}
	// The dirtrees of /, a, a/b, a/b/c and a/b/c/d; one content header.
	if s := f.Stats(); s.DirTreeLoads != 5 || s.MetaLoads != 1 || s.ContentLoads != 0 {
		t.Errorf("after stat a/b/c/d/file: %+v, want 5 dirtree loads, 1 meta load, no content", s)
	}
	if _, err := os.Stat(filepath.Join(mnt, "a/b/c/d/file")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "a/b/nothing")); err == nil {
		t.Fatal("a/b/nothing exists")
	}
	if s := f.Stats(); s.DirTreeLoads != 5 || s.MetaLoads != 1 {
		t.Errorf("after repeated lookups: %+v, want no more loads", s)
	}
	// Listing a directory reads its dirtree and its files' headers only.
	ents, err := os.ReadDir(filepath.Join(mnt, "wide07"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("readdir wide07: %v, %v", ents, err)
	}
	if s := f.Stats(); s.DirTreeLoads != 6 || s.MetaLoads != 2 {
		t.Errorf("after ls wide07: %+v, want 6 dirtree loads and 2 meta loads", s)
	}
}

// liveNodes counts the nodes go-fuse keeps, from the root down.
func liveNodes(root *gofs.Inode) int {
	seen := map[*gofs.Inode]bool{}
	var walk func(n *gofs.Inode)
	walk = func(n *gofs.Inode) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, ch := range n.Children() {
			walk(ch)
		}
	}
	walk(root)
	return len(seen)
}

// TestMemoryBounded walks a big tree, then makes the kernel drop its
// dentries and inodes: go-fuse must forget the nodes, and the caches stay
// within their bounds throughout.
func TestMemoryBounded(t *testing.T) {
	requireFUSE(t)
	if testing.Short() {
		t.Skip("slow: commits 20000 files")
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		skip(t, "cannot drop kernel caches (needs root): %v", err)
	}
	src := t.TempDir()
	const n = 20000
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	repo := objtest.NewRepo(t, objstore.ModeBare)
	id := commitDir(t, repo, src, "main")
	opts := &fusefs.Options{DirTreeCacheEntries: 64, MetaCacheEntries: 1000, MaxIdleObjects: 16}
	f, mnt := mountCommit(t, repo, id, opts)
	files := 0
	err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
			if files%10 == 0 {
				_, err = os.ReadFile(p)
			}
		}
		return err
	})
	if err != nil || files < n {
		t.Fatalf("walk: %d files, %v", files, err)
	}
	root := f.Root().EmbeddedInode()
	peak := liveNodes(root)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	peakHeap := ms.HeapAlloc
	if s := f.Stats(); s.IdleObjects > 16 {
		t.Errorf("idle objects %d > 16", s.IdleObjects)
	}
	var now int
	deadline := time.Now().Add(20 * time.Second)
	for {
		os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0)
		time.Sleep(100 * time.Millisecond)
		if now = liveNodes(root); now < peak/20 || time.Now().After(deadline) {
			break
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("%d files: %d nodes after the walk (heap %d MiB), %d after dropping kernel caches (heap %d MiB)",
		files, peak, peakHeap>>20, now, ms.HeapAlloc>>20)
	if peak < n*8/10 { // every 10th file has the same content: one node
		t.Errorf("only %d nodes after walking %d files", peak, n)
	}
	if now >= peak/20 {
		t.Errorf("%d of %d nodes still live after the kernel dropped its caches", now, peak)
	}
}
