package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// writeObject stores data as a regular file in repo and returns its id.
func writeObject(t *testing.T, repo *objstore.Repo, data []byte) (objstore.ID, *objstore.Meta) {
	t.Helper()
	ctx := context.Background()
	tx, err := repo.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	m := &objstore.Meta{Mode: 0o100644, Size: int64(len(data))}
	id, err := tx.WriteContentBytes(ctx, m, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	m, err = repo.ContentMeta(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return id, m
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>12)
	}
	return b
}

func readAll(t *testing.T, c *content) ([]byte, error) {
	t.Helper()
	buf := make([]byte, c.size)
	n, err := c.ra.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) && int64(n) == c.size {
		err = nil
	}
	return buf[:n], err
}

// flipByte corrupts one byte of path in place.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestLoadObjectVerifies prepares objects in every mode, reads them back,
// and checks that a corrupted object is refused (before first use) or
// caught on read (after).
func TestLoadObjectVerifies(t *testing.T) {
	sizes := []int{0, 1, 4096, 5000, 3 << 20}
	for _, mode := range []objstore.Mode{objstore.ModeBare, objstore.ModeBareUser, objstore.ModeBareUserOnly, objstore.ModeArchive} {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/size=%d", mode, size), func(t *testing.T) {
				repo := objtest.NewRepo(t, mode)
				data := pattern(size)
				id, m := writeObject(t, repo, data)
				f := newFS(repo, &Options{SpillDir: t.TempDir()})
				c, err := f.loadObject(context.Background(), id, m)
				if err != nil {
					t.Fatalf("loadObject: %v", err)
				}
				defer c.close()
				got, err := readAll(t, c)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes, %v; want %d bytes", len(got), err, len(data))
				}
				if size == 0 {
					return
				}
				// Corrupt the object file: a fresh load refuses it.
				path := repo.ContentPath(id)
				flipByte(t, path, fileSize(t, path)-1)
				c2, err := f.loadObject(context.Background(), id, m)
				if err == nil {
					c2.close()
					t.Fatalf("loadObject of a corrupted object succeeded")
				}
				if !isIntegrityError(err) {
					t.Errorf("loadObject error %v is not an integrity error", err)
				}
				// Big bare objects are read from their file again: the prepared
				// reader must catch the change too. Small ones and archive ones
				// were copied and verified at once: the copy stays good.
				if mode.IsBare() && size > maxSmallObject {
					if _, err := readAll(t, c); !isIntegrityError(err) {
						t.Errorf("read after corruption: %v, want an integrity error", err)
					}
				} else if got, err := readAll(t, c); err != nil || !bytes.Equal(got, data) {
					t.Errorf("verified copy changed with the object: %v", err)
				}
			})
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestLoadObjectRecordedDigest checks the recorded-digest path (the object
// file is unchanged since commit) and the tree cache.
func TestLoadObjectRecordedDigest(t *testing.T) {
	repo := objtest.NewRepo(t, objstore.ModeBare)
	data := pattern(2 << 20)
	id, m := writeObject(t, repo, data)
	if _, err := repo.RecordedVerity(id); err != nil {
		t.Skipf("repository recorded no digest: %v", err)
	}
	cache := t.TempDir()
	f := newFS(repo, &Options{TreeCacheDir: cache})
	for i := range 2 { // build and save the tree, then use the saved one
		c, err := f.loadObject(context.Background(), id, m)
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		if _, ok := c.ra.(*fsverity.ReaderAt); !ok {
			t.Errorf("load %d: reader is %T, want a verifying reader", i, c.ra)
		}
		if got, err := readAll(t, c); err != nil || !bytes.Equal(got, data) {
			t.Errorf("load %d: read %v", i, err)
		}
		c.close()
	}
	if _, err := os.Stat(f.treePath(id)); err != nil {
		t.Errorf("tree not cached: %v", err)
	}
	// A corrupt cached tree is rejected and rebuilt.
	if err := os.WriteFile(f.treePath(id), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := f.loadObject(context.Background(), id, m)
	if err != nil {
		t.Fatalf("load with a garbage tree: %v", err)
	}
	c.close()
}

// TestContentCacheBounds checks sharing, failure handling and eviction.
func TestContentCacheBounds(t *testing.T) {
	f := newFS(nil, &Options{MaxIdleObjects: 2})
	cc := f.contents
	loads := 0
	closed := 0
	load := func() (*content, error) {
		loads++
		return &content{closers: []io.Closer{closerFunc(func() error { closed++; return nil })}}, nil
	}
	ids := []objstore.ID{{1}, {2}, {3}}
	var es []*contentEntry
	for _, id := range ids {
		e, err := cc.acquire(id, load)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	e, _ := cc.acquire(ids[0], load)
	if e != es[0] || loads != 3 {
		t.Fatalf("second acquire loaded again (loads=%d)", loads)
	}
	cc.release(e)
	for _, e := range es {
		cc.release(e)
	}
	if idle, _, _ := cc.usage(); idle != 2 || closed != 1 {
		t.Errorf("after releasing 3 with MaxIdleObjects=2: idle=%d closed=%d, want 2 and 1", idle, closed)
	}
	// One object over the memory bound alone stays cached until another
	// is released.
	small := newFS(nil, &Options{MemoryCacheBytes: 10})
	big := func() (*content, error) { return &content{memBytes: 100}, nil }
	e1, _ := small.contents.acquire(objstore.ID{1}, big)
	small.contents.release(e1)
	if idle, mem, _ := small.contents.usage(); idle != 1 || mem != 100 {
		t.Errorf("oversized object: idle=%d mem=%d, want it kept", idle, mem)
	}
	e2, _ := small.contents.acquire(objstore.ID{2}, big)
	small.contents.release(e2)
	if idle, _, _ := small.contents.usage(); idle != 1 {
		t.Errorf("two oversized objects: idle=%d, want 1", idle)
	}
	boom := errors.New("boom")
	if _, err := cc.acquire(objstore.ID{9}, func() (*content, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("failed load: %v", err)
	}
	if _, err := cc.acquire(objstore.ID{9}, load); err != nil {
		t.Errorf("a failure must not be cached: %v", err)
	}
	cc.closeAll()
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func TestSpill(t *testing.T) {
	for _, n := range []int{0, 10, maxMemSpill, maxMemSpill + 1, 3 << 20} {
		sp, err := newSpill(t.TempDir(), int64(n))
		if err != nil {
			t.Fatal(err)
		}
		data := pattern(n)
		if _, err := sp.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := sp.finish(); err != nil {
			t.Fatal(err)
		}
		if sp.size() != int64(n) {
			t.Errorf("size %d, want %d", sp.size(), n)
		}
		mem, disk := sp.cost()
		if n > maxMemSpill && (mem != 0 || disk != int64(n)) || n <= maxMemSpill && (disk != 0 || mem < int64(n)) {
			t.Errorf("size %d: cost mem=%d disk=%d", n, mem, disk)
		}
		got := make([]byte, n)
		if k, err := sp.ReadAt(got, 0); k != n || (err != nil && err != io.EOF) || !bytes.Equal(got, data) {
			t.Errorf("size %d: ReadAt = %d, %v", n, k, err)
		}
		sp.Close()
	}
}
