package fusefs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gostree/gostree/objstore"
)

// fsDir is a directory of a generic fs.FS, read through its paths.
type fsDir struct {
	node
	fsys fs.FS
	path string
}

var (
	_ gofs.NodeLookuper  = (*fsDir)(nil)
	_ gofs.NodeReaddirer = (*fsDir)(nil)
)

func (d *fsDir) childPath(name string) string {
	if d.path == "." {
		return name
	}
	return d.path + "/" + name
}

// Lookup implements gofs.NodeLookuper.
func (d *fsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	timeout := d.fs.opts.CacheTimeout
	if ch := reuseChild(&d.Inode, name, out); ch != nil {
		out.SetEntryTimeout(timeout)
		out.SetAttrTimeout(timeout)
		return ch, 0
	}
	p := d.childPath(name)
	if !fs.ValidPath(p) {
		return nil, syscall.ENOENT
	}
	fi, err := fs.Lstat(d.fsys, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, syscall.ENOENT
		}
		return nil, d.fs.errno("lookup", "/"+p, err)
	}
	m := objstore.MetaOf(fi)
	if m.IsSymlink() && m.Target == "" {
		target, err := fs.ReadLink(d.fsys, p)
		if err != nil {
			return nil, d.fs.errno("readlink", "/"+p, err)
		}
		mc := *m
		mc.Target, mc.Size = target, int64(len(target))
		m = &mc
	}
	st := pathStable(m.Mode, d.StableAttr().Ino, name)
	if !m.IsDir() && !m.Content.IsZero() {
		st = objectStable(m.Mode, m.Content)
	}
	var ops gofs.InodeEmbedder
	switch {
	case m.IsDir():
		ops = &fsDir{node: node{fs: d.fs, meta: m}, fsys: d.fsys, path: p}
	case m.IsSymlink():
		ops = &symlink{node: node{fs: d.fs, meta: m}}
	default:
		ops = &fsFile{node: node{fs: d.fs, meta: m}, fsys: d.fsys, path: p}
	}
	d.fs.entryOut(out, m, st, timeout)
	return d.NewInode(ctx, ops, st), 0
}

// Readdir implements gofs.NodeReaddirer.
func (d *fsDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := fs.ReadDir(d.fsys, d.path)
	if err != nil {
		return nil, d.fs.errno("readdir", "/"+d.path, err)
	}
	ino := d.StableAttr().Ino
	out := append(make([]fuse.DirEntry, 0, len(ents)+2), dotEntries(&d.Inode)...)
	for _, e := range ents {
		mode := objstore.FileModeToUnix(e.Type())
		st := pathStable(mode, ino, e.Name())
		if !e.IsDir() { // the same number Lookup gives: by content id when known
			if fi, err := e.Info(); err == nil {
				if m := objstore.MetaOf(fi); !m.Content.IsZero() {
					st = objectStable(m.Mode, m.Content)
				}
			}
		}
		out = append(out, fuse.DirEntry{Name: e.Name(), Mode: mode &^ 0o7777, Ino: st.Ino})
	}
	return gofs.NewListDirStream(out), 0
}

// fsFile is a regular file of a generic fs.FS.
type fsFile struct {
	node
	fsys fs.FS
	path string
}

var _ gofs.NodeOpener = (*fsFile)(nil)

// Open implements gofs.NodeOpener. A file whose metadata names its content
// object is verified against it (and shared with other opens) like an
// archive object; otherwise it is read as the fs.FS serves it, unverified.
func (f *fsFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	if id := f.meta.Content; !id.IsZero() && f.fs.opts.Verify == VerifyOn {
		e, err := f.fs.contents.acquire(id, func() (*content, error) {
			f.fs.stats.contentLoads.Add(1)
			file, err := f.fsys.Open(f.path)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			return f.fs.loadStream(id, f.meta, file, true)
		})
		if err != nil {
			return nil, 0, f.fs.errno("open", f.node.path(), err)
		}
		return f.fs.newHandle(&f.node, e.c, func() { f.fs.contents.release(e) }), fuse.FOPEN_KEEP_CACHE, 0
	}
	file, err := f.fsys.Open(f.path)
	if err != nil {
		return nil, 0, f.fs.errno("open", f.node.path(), err)
	}
	c := &content{size: f.meta.Size, closers: []io.Closer{file}}
	if ra, ok := file.(io.ReaderAt); ok {
		c.ra = ra
	} else {
		seq := &seqReaderAt{open: func() (io.ReadCloser, error) { return f.fsys.Open(f.path) }, r: file}
		c.ra, c.closers = seq, []io.Closer{seq}
	}
	return f.fs.newHandle(&f.node, c, c.close), fuse.FOPEN_KEEP_CACHE, 0
}

// seqReaderAt serves ReadAt from a stream: forward reads skip ahead,
// backward reads reopen it. Good enough for the sequential reads the kernel
// mostly sends.
type seqReaderAt struct {
	open func() (io.ReadCloser, error)
	mu   sync.Mutex
	r    io.ReadCloser
	pos  int64
}

func (s *seqReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off < s.pos {
		s.r.Close()
		r, err := s.open()
		if err != nil {
			return 0, err
		}
		s.r, s.pos = r, 0
	}
	if off > s.pos {
		n, err := io.CopyN(io.Discard, s.r, off-s.pos)
		s.pos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(s.r, p)
	s.pos += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

func (s *seqReaderAt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r == nil {
		return nil
	}
	err := s.r.Close()
	s.r = nil
	return err
}
