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

var _ gofs.NodeOpener = (*objectFile)(nil)

// Open implements gofs.NodeOpener. The object is prepared (and verified) on
// the first open and shared by later ones; content never changes, so the
// kernel keeps its page cache across opens.
func (o *objectFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	e, err := o.fs.contents.acquire(o.id, func() (*content, error) {
		return o.fs.loadObject(context.WithoutCancel(ctx), o.id, o.meta)
	})
	if err != nil {
		return nil, 0, o.fs.errno("open", o.path(), err)
	}
	return o.fs.newHandle(&o.node, e.c, func() { o.fs.contents.release(e) }), fuse.FOPEN_KEEP_CACHE, 0
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
