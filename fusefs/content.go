package fusefs

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
)

// content is a content object ready for reading: every byte ReadAt returns
// has been verified, unless direct is set, in which case the kernel verifies
// it (fs-verity) or the user chose VerifyOff.
type content struct {
	size int64
	ra   io.ReaderAt
	// file is the object file in bare modes; nil for inflated content.
	file *os.File
	// direct means ra is file itself, so reads may be spliced and passed through.
	direct bool
	// passthrough allows FUSE passthrough to file.
	passthrough bool
	// inMemory means ra needs no file: the object was read and checked whole.
	inMemory bool
	// memBytes and spillBytes are what the object holds while cached:
	// Merkle tree and small inflated data in memory, inflated data on disk.
	memBytes, spillBytes int64
	closers              []io.Closer
}

func (c *content) close() {
	for _, cl := range c.closers {
		cl.Close()
	}
}

// contentCache shares prepared contents between opens of the same object
// and keeps the idle ones (nobody has them open) within the configured
// bounds, least recently used first out. Objects in use are never evicted.
type contentCache struct {
	f    *FS
	mu   sync.Mutex
	m    map[objstore.ID]*contentEntry
	idle *list.List // of *contentEntry; front = most recently released
	mem  int64      // memBytes of idle entries
	disk int64      // spillBytes of idle entries
}

type contentEntry struct {
	id    objstore.ID
	ready chan struct{} // closed once c or err is set
	c     *content
	err   error
	refs  int
	elem  *list.Element // in idle while refs == 0
}

func newContentCache(f *FS) *contentCache {
	return &contentCache{f: f, m: map[objstore.ID]*contentEntry{}, idle: list.New()}
}

// acquire returns the prepared content of id, loading it once however many
// callers ask at the same time. Failures are not cached: the next open
// tries again. The caller releases the entry.
func (cc *contentCache) acquire(id objstore.ID, load func() (*content, error)) (*contentEntry, error) {
	cc.mu.Lock()
	if e, ok := cc.m[id]; ok {
		e.refs++
		if e.elem != nil {
			cc.idle.Remove(e.elem)
			e.elem = nil
			cc.mem -= e.c.memBytes
			cc.disk -= e.c.spillBytes
		}
		cc.mu.Unlock()
		<-e.ready
		if e.err != nil {
			cc.release(e)
			return nil, e.err
		}
		return e, nil
	}
	e := &contentEntry{id: id, ready: make(chan struct{}), refs: 1}
	cc.m[id] = e
	cc.mu.Unlock()

	c, err := load()
	cc.mu.Lock()
	e.c, e.err = c, err
	if err != nil {
		delete(cc.m, id)
	}
	close(e.ready)
	cc.mu.Unlock()
	if err != nil {
		cc.release(e)
		return nil, err
	}
	return e, nil
}

// release drops one reference; an unreferenced content becomes idle and may
// be evicted.
func (cc *contentCache) release(e *contentEntry) {
	var evicted []*content
	cc.mu.Lock()
	e.refs--
	if e.refs == 0 && e.err == nil {
		e.elem = cc.idle.PushFront(e)
		cc.mem += e.c.memBytes
		cc.disk += e.c.spillBytes
		o := &cc.f.opts
		// The entry just released stays even if it alone is over the
		// bounds: without opens (see objectFile.Open) every READ releases
		// its object, and the next READ of a big file must not redo it.
		for cc.idle.Len() > 1 && (cc.idle.Len() > o.MaxIdleObjects || cc.mem > o.MemoryCacheBytes || cc.disk > o.SpillCacheBytes) {
			old := cc.idle.Remove(cc.idle.Back()).(*contentEntry)
			old.elem = nil
			cc.mem -= old.c.memBytes
			cc.disk -= old.c.spillBytes
			delete(cc.m, old.id)
			evicted = append(evicted, old.c)
		}
	}
	cc.mu.Unlock()
	for _, c := range evicted {
		c.close()
	}
}

func (cc *contentCache) usage() (idle int, mem, disk int64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.idle.Len(), cc.mem, cc.disk
}

// closeAll closes every idle content (at unmount).
func (cc *contentCache) closeAll() {
	cc.mu.Lock()
	var all []*content
	for cc.idle.Len() > 0 {
		e := cc.idle.Remove(cc.idle.Front()).(*contentEntry)
		e.elem = nil
		delete(cc.m, e.id)
		all = append(all, e.c)
	}
	cc.mem, cc.disk = 0, 0
	cc.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// isIntegrityError reports whether err says that data did not match its
// checksum or digest.
func isIntegrityError(err error) bool {
	if _, ok := errors.AsType[*fsverity.MismatchError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*corruptError](err); ok {
		return true
	}
	_, ok := errors.AsType[*objstore.DigestMismatchError](err)
	return ok
}

// corruptError is a content stream that could not be read to its end (a
// compressed archive object that does not inflate to its size), so it
// cannot be verified.
type corruptError struct {
	id  objstore.ID
	err error
}

func (e *corruptError) Error() string { return fmt.Sprintf("corrupt object %s.file: %v", e.id, e.err) }
func (e *corruptError) Unwrap() error { return e.err }

// readRecorder remembers the error of the reader it wraps.
type readRecorder struct {
	r   io.Reader
	err error
}

func (r *readRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func mismatch(id, got objstore.ID) error {
	return &objstore.DigestMismatchError{Object: objstore.ObjectName{ID: id, Type: objstore.TypeFile}, Got: got}
}

// loadObject prepares a content object of the repository for reading.
func (f *FS) loadObject(ctx context.Context, id objstore.ID, m *objstore.Meta) (*content, error) {
	f.stats.contentLoads.Add(1)
	if f.repo.Mode().IsBare() {
		return f.loadBare(ctx, id, m)
	}
	_, rc, err := f.repo.OpenContent(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		return nil, fmt.Errorf("object %s is not a regular file", id)
	}
	defer rc.Close()
	return f.loadStream(id, m, rc, f.opts.Verify == VerifyOn)
}

// loadBare prepares a bare object file, in order of preference:
//
//  1. VerifyOff: the file as it is (FUSE passthrough may hand it to the kernel).
//  2. Objects up to maxSmallObject: read whole and checked once (prepareSmall).
//  3. Kernel fs-verity is enabled on the file and measures the expected
//     digest: the kernel checks every read, so reads go straight to the file.
//  4. The repository recorded the object's fs-verity digest: reads are
//     verified block by block against the Merkle tree, which is built by
//     reading the file once or taken from the tree cache and checked lazily.
//  5. Otherwise the file is read once to check its content checksum while
//     its Merkle tree is built; reads are then verified against that tree,
//     so a later change to the file is still caught.
func (f *FS) loadBare(ctx context.Context, id objstore.ID, m *objstore.Meta) (*content, error) {
	path := f.repo.ContentPath(id)
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s.file: %w", id, objstore.ErrObjectNotFound)
		}
		return nil, fmt.Errorf("open %s.file: %w", id, err)
	}
	c, err := f.prepareBare(ctx, id, m, file)
	if err != nil || c.inMemory {
		file.Close()
		return c, err
	}
	c.file = file
	c.closers = append(c.closers, file)
	return c, nil
}

func (f *FS) prepareBare(ctx context.Context, id objstore.ID, m *objstore.Meta, file *os.File) (*content, error) {
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s.file: %w", id, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("object %s.file is not a regular file", id)
	}
	size := fi.Size()
	name := id.String() + ".file"
	direct := &content{size: size, ra: file, direct: true, passthrough: !f.opts.NoPassthrough}
	if f.opts.Verify == VerifyOff {
		return direct, nil
	}
	want, recErr := f.repo.RecordedVerity(id)
	if size <= maxSmallObject {
		return f.prepareSmall(id, m, file, size, want, recErr)
	}
	if kd, ok := f.kernelVerity(file); ok && len(kd) == len(want) {
		if recErr == nil && string(kd) == string(want[:]) {
			return direct, nil
		}
		// Kernel verity protects the file, but nothing binds its digest to
		// the object id yet: check the checksum once, through the kernel.
		got, err := objstore.ContentChecksum(m, io.NewSectionReader(file, 0, size))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if got != id {
			return nil, mismatch(id, got)
		}
		return direct, nil
	}
	if recErr == nil {
		tree := f.cachedTree(id, size)
		v, err := fsverity.NewReaderAt(file, size, want[:], tree, nil, name)
		if err != nil && tree != nil {
			f.log.Debug("cached fs-verity tree rejected; rebuilding", "object", id, "err", err)
			tree = nil
			v, err = fsverity.NewReaderAt(file, size, want[:], nil, nil, name)
		}
		if err != nil {
			return nil, err
		}
		if tree == nil {
			f.saveTree(id, v.Tree())
		}
		return &content{size: size, ra: v, memBytes: treeBytes(size)}, nil
	}
	f.log.Debug("verifying content checksum", "object", id, "reason", recErr)
	tree, err := checksumTree(id, m, io.NewSectionReader(file, 0, size), io.Discard)
	if err != nil {
		return nil, err
	}
	v, err := fsverity.NewReaderAt(file, size, tree.Digest(), tree, nil, name)
	if err != nil {
		return nil, err
	}
	return &content{size: size, ra: v, memBytes: treeBytes(size)}, nil
}

// maxSmallObject is the largest bare object read whole into memory and
// verified at once, instead of block by block from its file: one read, one
// hash, and no file kept open.
const maxSmallObject = 256 << 10

// prepareSmall verifies a small object in memory: against its recorded
// fs-verity digest, or else its content checksum.
func (f *FS) prepareSmall(id objstore.ID, m *objstore.Meta, file *os.File, size int64, want fsverity.Digest, recErr error) (*content, error) {
	data := make([]byte, size)
	if n, err := file.ReadAt(data, 0); int64(n) != size {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %s.file: %w", id, err)
	}
	if recErr == nil {
		if got := fsverity.Sum(data); got != want {
			return nil, &fsverity.MismatchError{Name: id.String() + ".file", Offset: -1, Level: -1, Want: want[:], Got: got[:]}
		}
	} else if got, err := objstore.ContentChecksum(m, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("read %s.file: %w", id, err)
	} else if got != id {
		return nil, mismatch(id, got)
	}
	return &content{size: size, ra: bytes.NewReader(data), memBytes: size, inMemory: true}, nil
}

// kernelVerity returns the fs-verity digest the kernel measures for file,
// if verity is enabled on it. Once the file system says it has no
// fs-verity, it is not asked again.
func (f *FS) kernelVerity(file *os.File) ([]byte, bool) {
	if f.noKernelVerity.Load() {
		return nil, false
	}
	_, kd, err := fsverity.Measure(file)
	if errors.Is(err, fsverity.ErrNotSupported) {
		f.noKernelVerity.Store(true)
	}
	return kd, err == nil
}

// checksumTree reads r (the content of a file with metadata m) to the end,
// copying it to w, and returns its fs-verity Merkle tree if its content
// checksum is id. The checksum and the tree are computed concurrently.
func checksumTree(id objstore.ID, m *objstore.Meta, r io.Reader, w io.Writer) (*fsverity.Tree, error) {
	pr, pw := io.Pipe()
	type result struct {
		t   *fsverity.Tree
		err error
	}
	done := make(chan result, 1)
	go func() {
		t, err := fsverity.BuildTree(pr, nil)
		pr.CloseWithError(err) // unblocks the writer if the tree failed
		done <- result{t, err}
	}()
	got, err := objstore.ContentChecksum(m, io.TeeReader(r, io.MultiWriter(w, pw)))
	pw.CloseWithError(err)
	res := <-done
	if err != nil {
		return nil, fmt.Errorf("read %s.file: %w", id, err)
	}
	if res.err != nil {
		return nil, fmt.Errorf("read %s.file: %w", id, res.err)
	}
	if got != id {
		return nil, mismatch(id, got)
	}
	return res.t, nil
}

// treeBytes estimates the memory of the Merkle tree of a file of size bytes:
// 32 bytes per 4 KiB block, and a little more for the upper levels.
func treeBytes(size int64) int64 { return (size/4096+1)*32*129/128 + 256 }

// minCachedTree is the smallest file whose Merkle tree goes to TreeCacheDir:
// smaller files are read whole faster than a tree file is.
const minCachedTree = 1 << 20

func (f *FS) treePath(id objstore.ID) string {
	return filepath.Join(f.opts.TreeCacheDir, id.String()[:2], id.String()[2:]+".tree")
}

// cachedTree returns the tree cached for id, or nil. The tree is untrusted.
func (f *FS) cachedTree(id objstore.ID, size int64) *fsverity.Tree {
	if f.opts.TreeCacheDir == "" || size < minCachedTree {
		return nil
	}
	b, err := os.ReadFile(f.treePath(id))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.log.Debug("tree cache: read failed", "object", id, "err", err)
		}
		return nil
	}
	t := new(fsverity.Tree)
	if err := t.UnmarshalBinary(b); err != nil {
		f.log.Debug("tree cache: ignoring bad tree", "object", id, "err", err)
		return nil
	}
	return t
}

// saveTree writes a verified tree to TreeCacheDir; failures only cost speed.
func (f *FS) saveTree(id objstore.ID, t *fsverity.Tree) {
	if f.opts.TreeCacheDir == "" || t.Size() < minCachedTree {
		return
	}
	b, err := t.MarshalBinary()
	if err == nil {
		path := f.treePath(id)
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = objstore.WriteFileAtomic(path, b, 0o600)
		}
	}
	if err != nil {
		f.log.Debug("tree cache: write failed", "object", id, "err", err)
	}
}

// loadStream prepares content that can only be read from the start (an
// archive object, or a file of an fs.FS without io.ReaderAt): it is copied
// to memory or to an unlinked spill file. With verify, the content checksum
// must be id before anything is served, and reads of the copy are verified
// against the Merkle tree built on the way, so the copy is protected too.
func (f *FS) loadStream(id objstore.ID, m *objstore.Meta, r io.Reader, verify bool) (*content, error) {
	sp, err := newSpill(f.opts.SpillDir, m.Size)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*content, error) {
		sp.Close()
		return nil, err
	}
	var tree *fsverity.Tree
	src := &readRecorder{r: r}
	if verify {
		tree, err = checksumTree(id, m, src, sp)
	} else {
		_, err = io.Copy(sp, src)
	}
	if src.err != nil {
		return fail(&corruptError{id, src.err})
	}
	if err != nil {
		return fail(fmt.Errorf("read %s.file: %w", id, err))
	}
	if err := sp.finish(); err != nil {
		return fail(err)
	}
	c := &content{size: sp.size(), ra: sp, closers: []io.Closer{sp}}
	c.memBytes, c.spillBytes = sp.cost()
	if verify {
		v, err := fsverity.NewReaderAt(sp, sp.size(), tree.Digest(), tree, nil, id.String()+".file")
		if err != nil {
			return fail(err)
		}
		c.ra = v
		c.memBytes += treeBytes(c.size)
	}
	return c, nil
}
