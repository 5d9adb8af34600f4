package fusefs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gostree/gostree/objstore"
)

// commitDir is a directory of a commit: a dirtree (its entries) and a
// dirmeta (its metadata). The dirtree is loaded on the first lookup or
// listing in the directory, never before, and kept only in the bounded cache.
type commitDir struct {
	node
	tree objstore.ID
}

var (
	_ gofs.NodeLookuper       = (*commitDir)(nil)
	_ gofs.NodeOpendirHandler = (*commitDir)(nil)
	_ gofs.NodeReaddirer      = (*commitDir)(nil)
)

// Lookup implements gofs.NodeLookuper.
func (d *commitDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	timeout := d.fs.opts.CacheTimeout
	if ch := reuseChild(&d.Inode, name, out); ch != nil {
		out.SetEntryTimeout(timeout)
		out.SetAttrTimeout(timeout)
		return ch, 0
	}
	dt, err := d.fs.dirTree(ctx, d.tree)
	if err != nil {
		return nil, d.fs.errno("lookup", d.path(), err)
	}
	ops, st, errno := d.child(ctx, dt, name)
	if errno != 0 {
		return nil, errno
	}
	d.fs.entryOut(out, ops.(metaNode).nodeMeta(), st, timeout)
	return d.NewInode(ctx, ops, st), 0
}

// child builds the node for name.
func (d *commitDir) child(ctx context.Context, dt *objstore.DirTree, name string) (gofs.InodeEmbedder, gofs.StableAttr, syscall.Errno) {
	if td, ok := dt.LookupDir(name); ok {
		m, err := d.fs.dirMeta(ctx, td.Meta)
		if err != nil {
			return nil, gofs.StableAttr{}, d.fs.errno("lookup", d.path()+"/"+name, err)
		}
		st := pathStable(syscall.S_IFDIR, d.StableAttr().Ino, name)
		return &commitDir{node: node{fs: d.fs, meta: m}, tree: td.Tree}, st, 0
	}
	if tf, ok := dt.LookupFile(name); ok {
		m, err := d.fs.contentMeta(ctx, tf.Content)
		if err != nil {
			return nil, gofs.StableAttr{}, d.fs.errno("lookup", d.path()+"/"+name, err)
		}
		return d.fs.objectNode(m, tf.Content), objectStable(m.Mode, tf.Content), 0
	}
	return nil, gofs.StableAttr{}, syscall.ENOENT
}

// objectNode returns the node of a content object.
func (f *FS) objectNode(m *objstore.Meta, id objstore.ID) gofs.InodeEmbedder {
	if m.IsSymlink() {
		return &symlink{node: node{fs: f, meta: m}}
	}
	return &objectFile{node: node{fs: f, meta: m}, id: id}
}

// OpendirHandle implements gofs.NodeOpendirHandler: the listing never
// changes, so the kernel may cache it.
func (d *commitDir) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ds, errno := d.Readdir(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	return ds, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// Readdir implements gofs.NodeReaddirer: entries in name order, after "."
// and "..". The type of a file needs its object's metadata; an object that
// cannot be read is listed with an unknown type (its lookup fails).
func (d *commitDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	dt, err := d.fs.dirTree(ctx, d.tree)
	if err != nil {
		return nil, d.fs.errno("readdir", d.path(), err)
	}
	ino := d.StableAttr().Ino
	out := make([]fuse.DirEntry, 0, len(dt.Files)+len(dt.Dirs)+2)
	out = append(out, dotEntries(&d.Inode)...)
	fi, di := 0, 0
	for fi < len(dt.Files) || di < len(dt.Dirs) {
		if di == len(dt.Dirs) || fi < len(dt.Files) && dt.Files[fi].Name < dt.Dirs[di].Name {
			f := dt.Files[fi]
			fi++
			e := fuse.DirEntry{Name: f.Name}
			if m, err := d.fs.contentMeta(ctx, f.Content); err == nil {
				st := objectStable(m.Mode, f.Content)
				e.Mode, e.Ino = st.Mode, st.Ino
			} else {
				d.fs.log.Debug("readdir: listing entry with unknown type", "path", d.path()+"/"+f.Name, "err", err)
			}
			out = append(out, e)
		} else {
			sd := dt.Dirs[di]
			di++
			st := pathStable(syscall.S_IFDIR, ino, sd.Name)
			out = append(out, fuse.DirEntry{Name: sd.Name, Mode: st.Mode, Ino: st.Ino})
		}
	}
	return gofs.NewListDirStream(out), 0
}

// dotEntries returns "." and ".." for a listing.
func dotEntries(n *gofs.Inode) []fuse.DirEntry {
	self := n.StableAttr().Ino
	parent := self
	if _, p := n.Parent(); p != nil {
		parent = p.StableAttr().Ino
	}
	return []fuse.DirEntry{
		{Name: ".", Mode: syscall.S_IFDIR, Ino: self},
		{Name: "..", Mode: syscall.S_IFDIR, Ino: parent},
	}
}
