package fusefs

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gostree/gostree/objstore"
)

// objectFile is a regular file of a commit, backed by a content object.
type objectFile struct {
	node
	id objstore.ID
}

var (
	_ gofs.NodeOpener  = (*objectFile)(nil)
	_ gofs.NodeReader  = (*objectFile)(nil)
	_ gofs.NodeFlusher = (*objectFile)(nil)
)

// Open implements gofs.NodeOpener.
//
// With verification on, it answers ENOSYS: the kernel then stops sending
// OPEN (and RELEASE) for every file of the mount and treats them all as
// FOPEN_KEEP_CACHE, so reading a cached file costs no request at all. Each
// READ then takes the object from the content cache itself. With
// verification off, opens are real, so that FUSE passthrough can hand the
// object file to the kernel.
//
// The object is prepared (and verified) on first use and shared by later
// ones; content never changes, so the kernel keeps its page cache.
func (o *objectFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	if o.fs.noOpen {
		return nil, 0, syscall.ENOSYS
	}
	e, err := o.acquire(ctx)
	if err != nil {
		return nil, 0, o.fs.errno("open", o.path(), err)
	}
	return o.fs.newHandle(&o.node, e.c, func() { o.fs.contents.release(e) }), fuse.FOPEN_KEEP_CACHE, 0
}

func (o *objectFile) acquire(ctx context.Context) (*contentEntry, error) {
	return o.fs.contents.acquire(o.id, func() (*content, error) {
		return o.fs.loadObject(context.WithoutCancel(ctx), o.id, o.meta)
	})
}

// Read implements gofs.NodeReader, for reads without an open (see Open).
func (o *objectFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h, ok := fh.(*handle); ok {
		return h.Read(ctx, dest, off)
	}
	e, err := o.acquire(ctx)
	if err != nil {
		return nil, o.fs.errno("read", o.path(), err)
	}
	defer o.fs.contents.release(e)
	// Read synchronously: once released, the object file may be closed.
	n, err := e.c.ra.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, o.fs.errno("read", o.path(), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Flush implements gofs.NodeFlusher: ENOSYS tells the kernel never to send
// FLUSH again, which saves a round trip on every close.
func (o *objectFile) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// handle is an open regular file.
type handle struct {
	fs      *FS
	n       *node
	c       *content
	release func()
	once    sync.Once
}

var (
	_ gofs.FileReader          = (*handle)(nil)
	_ gofs.FileReleaser        = (*handle)(nil)
	_ gofs.FilePassthroughFder = (*handle)(nil)
)

func (f *FS) newHandle(n *node, c *content, release func()) *handle {
	return &handle{fs: f, n: n, c: c, release: release}
}

// Read implements gofs.FileReader.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.c.direct && h.c.file != nil {
		return fuse.ReadResultFd(h.c.file.Fd(), off, len(dest)), 0
	}
	n, err := h.c.ra.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.fs.errno("read", h.n.path(), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Release implements gofs.FileReleaser.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.once.Do(h.release)
	return 0
}

// PassthroughFd implements gofs.FilePassthroughFder: only for objects whose
// reads need no check here (kernel fs-verity, or VerifyOff). go-fuse falls
// back to Read for good if the kernel refuses.
func (h *handle) PassthroughFd() (int, bool) {
	if !h.c.passthrough || h.c.file == nil {
		return -1, false
	}
	h.fs.stats.passthrough.Add(1)
	return int(h.c.file.Fd()), true
}
