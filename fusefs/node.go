package fusefs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gostree/gostree/objstore"
)

// node is what every file, symlink and directory of a commit has: its
// metadata, which never changes.
type node struct {
	gofs.Inode
	fs   *FS
	meta *objstore.Meta // shared with caches: never modified
}

var (
	_ gofs.NodeGetattrer   = (*node)(nil)
	_ gofs.NodeGetxattrer  = (*node)(nil)
	_ gofs.NodeListxattrer = (*node)(nil)
	_ gofs.NodeStatfser    = (*node)(nil)
)

// metaNode is implemented by nodes with fixed metadata.
type metaNode interface {
	nodeMeta() *objstore.Meta
}

func (n *node) nodeMeta() *objstore.Meta { return n.meta }

// path names the node for logs: one of its paths below the mount point.
func (n *node) path() string { return "/" + n.Path(nil) }

// Getattr implements gofs.NodeGetattrer.
func (n *node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, n.meta, n.StableAttr().Ino)
	out.SetTimeout(n.fs.opts.CacheTimeout)
	return 0
}

// Getxattr implements gofs.NodeGetxattrer: the xattrs recorded in the commit.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getxattr(n.meta, attr, dest)
}

// Listxattr implements gofs.NodeListxattrer.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(n.meta, dest)
}

// Statfs implements gofs.NodeStatfser: a read-only file system with no free space.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	*out = fuse.StatfsOut{}
	out.Bsize = 4096
	out.Frsize = 4096
	out.NameLen = 255
	return 0
}

func getxattr(m *objstore.Meta, attr string, dest []byte) (uint32, syscall.Errno) {
	v, ok := m.Xattr(attr)
	if !ok {
		return 0, errNoAttr
	}
	if len(dest) == 0 {
		return uint32(len(v)), 0
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func listxattr(m *objstore.Meta, dest []byte) (uint32, syscall.Errno) {
	size := 0
	for _, x := range m.Xattrs {
		size += len(x.Name) + 1
	}
	if len(dest) == 0 {
		return uint32(size), 0
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	o := 0
	for _, x := range m.Xattrs {
		o += copy(dest[o:], x.Name)
		dest[o] = 0
		o++
	}
	return uint32(o), 0
}

// symlink is a symbolic link with a fixed target.
type symlink struct {
	node
}

var _ gofs.NodeReadlinker = (*symlink)(nil)

// Readlink implements gofs.NodeReadlinker.
func (s *symlink) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(s.meta.Target), 0
}

// reuseChild returns the node go-fuse still has for name in parent, with
// out filled in, so a repeated lookup reads nothing.
func reuseChild(parent *gofs.Inode, name string, out *fuse.EntryOut) *gofs.Inode {
	ch := parent.GetChild(name)
	if ch == nil {
		return nil
	}
	mn, ok := ch.Operations().(metaNode)
	if !ok {
		return nil
	}
	fillAttr(&out.Attr, mn.nodeMeta(), ch.StableAttr().Ino)
	return ch
}
