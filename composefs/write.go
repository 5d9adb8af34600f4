package composefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
)

// Options configure Write. The zero value and nil write what ostree writes:
// format version 0, raised to 1 only when the tree has whiteouts.
type Options struct {
	// File tells the writer where the data of a regular file of non-zero
	// size lives. name is the file's path in the fs.FS. It is called once
	// per such file, in tree order, on the caller's goroutine. nil leaves
	// every file without payload and digest (an empty metacopy xattr).
	File func(name string, fi fs.FileInfo) (FileData, error)

	// Version is the minimum composefs format version (0 or 1).
	Version int
	// FixedVersion writes exactly Version; otherwise a tree with whiteouts
	// (character devices 0/0) is written as version 1, as libcomposefs
	// does with max_version 1.
	FixedVersion bool

	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// FileData is what an image records about a regular file's data.
type FileData struct {
	// Payload is the path of the data file relative to the data directory
	// (the overlayfs data-only layer), without a leading slash, e.g.
	// "ab/cdef….file". It becomes trusted.overlay.redirect = "/" + Payload.
	// Empty means no redirect.
	Payload string
	// Digest is the data file's fs-verity digest, recorded in
	// trusted.overlay.metacopy for overlayfs verity=require. nil means none.
	Digest *fsverity.Digest
	// Content, when non-nil, stores the file inline in the image instead
	// (at most MaxInlineContent bytes, exactly the file's size).
	Content []byte
}

func (o *Options) version() (uint32, uint32) {
	if o == nil {
		return 0, 1
	}
	v := uint32(max(o.Version, 0))
	if o.FixedVersion {
		return v, v
	}
	return v, FormatVersionMax
}

func (o *Options) logger() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Write writes the composefs image of fsys to w: an EROFS image, byte for
// byte what libcomposefs writes for the same tree (see the package doc). It
// walks fsys in sorted order and reads metadata only: objstore.MetaOf of
// each entry's FileInfo (mode, uid, gid, xattrs, size), symlink targets, and
// mtimes (FileInfo.ModTime; the zero time counts as the epoch). Regular
// file data is described by opts.File. Every entry is its own inode with
// link count 1, as in ostree's mapping; fifos, sockets and devices are kept
// (rdev from a *syscall.Stat_t Sys).
//
// Names and attributes an image cannot hold are refused with an error naming
// the path: empty names, "." or "..", names with '/' or NUL or longer than
// 255 bytes, xattr names longer than 255 bytes, values over 64 KiB or more
// than 32 KiB of xattrs on one inode, and targets or payloads of 4096 bytes
// or more.
func Write(w io.Writer, fsys fs.FS, opts *Options) error {
	root, err := buildTree(fsys, opts, 1)
	if err != nil {
		return err
	}
	return (&Tree{root: root}).write(w, opts)
}

// builder allocates the nodes of a tree and their xattr lists from slabs.
type builder struct {
	nodes  slab[node]
	xattrs slab[xattr]
}

func newBuilder() *builder {
	return &builder{nodes: slab[node]{chunk: 256}, xattrs: slab[xattr]{chunk: 1024}}
}

func (b *builder) newNode(mode uint32) *node {
	n := &b.nodes.make(1)[0]
	n.mode, n.nlink = mode, 1
	return n
}

// dirJob is a directory whose entries are still to be read.
type dirJob struct {
	n    *node
	name string
}

// buildTree reads fsys into a tree, breadth-first. With jobs <= 1 it runs
// on the caller's goroutine, calling opts.File in breadth-first order.
// Otherwise jobs goroutines read directories at once (each directory's
// entries by one goroutine, in order), opts.File must be safe for
// concurrent use, and the error returned is the first one seen. The tree is
// the same either way.
func buildTree(fsys fs.FS, opts *Options, jobs int) (*node, error) {
	fi, err := fs.Stat(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("composefs: %w", err)
	}
	b := newBuilder()
	root, err := b.nodeFromInfo(fsys, ".", fi, opts)
	if err != nil {
		return nil, err
	}
	if !root.isDir() {
		return nil, errors.New("composefs: root is not a directory")
	}
	var count int
	if jobs <= 1 {
		count, err = b.readTree(fsys, root, opts)
	} else {
		count, err = readTreeParallel(fsys, root, opts, jobs)
	}
	if err != nil {
		return nil, err
	}
	opts.logger().Debug("composefs tree built", "inodes", count+1)
	return root, nil
}

// readTree adds everything under root, breadth-first, and returns the
// number of entries added.
func (b *builder) readTree(fsys fs.FS, root *node, opts *Options) (int, error) {
	// Breadth-first keeps at most one directory level of entries pending.
	queue := []dirJob{{root, "."}}
	count := 0
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		var (
			n   int
			err error
		)
		queue, n, err = b.readDir(fsys, d, opts, queue)
		count += n
		if err != nil {
			return count, err
		}
	}
	return count, nil
}

// readTreeParallel is readTree on jobs goroutines, each with its own
// builder. Directories are handed out in the order they are found.
func readTreeParallel(fsys fs.FS, root *node, opts *Options, jobs int) (int, error) {
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		queue    = []dirJob{{root, "."}}
		busy     int // directories being read
		count    int
		firstErr error
		wg       sync.WaitGroup
	)
	for range jobs {
		wg.Go(func() {
			b := newBuilder()
			var found []dirJob
			mu.Lock()
			defer mu.Unlock()
			for {
				for len(queue) == 0 && busy > 0 && firstErr == nil {
					cond.Wait()
				}
				if firstErr != nil || len(queue) == 0 {
					cond.Broadcast()
					return
				}
				d := queue[0]
				queue = queue[1:]
				busy++
				mu.Unlock()
				var (
					n   int
					err error
				)
				found, n, err = b.readDir(fsys, d, opts, found[:0])
				mu.Lock()
				busy--
				count += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				queue = append(queue, found...)
				cond.Broadcast()
			}
		})
	}
	wg.Wait()
	return count, firstErr
}

// readDir adds the entries of directory d to d.n, appends its
// subdirectories to subdirs, and returns them with the number of entries
// added.
func (b *builder) readDir(fsys fs.FS, d dirJob, opts *Options, subdirs []dirJob) ([]dirJob, int, error) {
	ents, err := fs.ReadDir(fsys, d.name)
	if err != nil {
		return subdirs, 0, fmt.Errorf("composefs: %w", err)
	}
	for i, e := range ents {
		name := e.Name()
		if err := validName(name); err != nil {
			return subdirs, i, fmt.Errorf("composefs: %s: %w", displayPath(d.name), err)
		}
		p := name // path.Join(d.name, name): both are clean
		if d.name != "." {
			p = d.name + "/" + name
		}
		info, err := e.Info()
		if err != nil {
			return subdirs, i, fmt.Errorf("composefs: %w", err)
		}
		n, err := b.nodeFromInfo(fsys, p, info, opts)
		if err != nil {
			return subdirs, i, err
		}
		if err := d.n.addChild(n, name); err != nil {
			return subdirs, i, fmt.Errorf("composefs: %s: %w", p, err)
		}
		if n.isDir() {
			subdirs = append(subdirs, dirJob{n, p})
		}
	}
	return subdirs, len(ents), nil
}

func (b *builder) nodeFromInfo(fsys fs.FS, name string, fi fs.FileInfo, opts *Options) (*node, error) {
	m := objstore.MetaOf(fi)
	if err := validMode(m.Mode); err != nil {
		return nil, fmt.Errorf("composefs: %s: %w", name, err)
	}
	n := b.newNode(m.Mode)
	n.uid, n.gid = m.UID, m.GID
	if mt := fi.ModTime(); !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		n.mtimeSec, n.mtimeNsec = mt.Unix(), uint32(mt.Nanosecond())
	}
	// Room for the metacopy and redirect xattrs prepare adds to a file.
	room := len(m.Xattrs)
	if n.typ() == sIFREG && m.Size > 0 {
		room += 2
	}
	if room > 0 {
		n.xattrs = b.xattrs.make(room)[:0]
	}
	for _, x := range m.Xattrs {
		if err := n.setXattr(x.Name, x.Value); err != nil {
			return nil, fmt.Errorf("composefs: %s: %w", name, err)
		}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if t := n.typ(); t == sIFCHR || t == sIFBLK {
			n.rdev = uint64(st.Rdev)
		}
	}
	switch n.typ() {
	case sIFLNK:
		target := m.Target
		if target == "" {
			t, err := fs.ReadLink(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("composefs: %w", err)
			}
			target = t
		}
		if err := n.setPayload(target); err != nil {
			return nil, fmt.Errorf("composefs: %s: symlink target: %w", name, err)
		}
		n.size = uint64(len(target))
	case sIFREG:
		if m.Size < 0 {
			return nil, fmt.Errorf("composefs: %s: negative size", name)
		}
		n.size = uint64(m.Size)
		if n.size == 0 || opts == nil || opts.File == nil {
			break
		}
		fd, err := opts.File(name, fi)
		if err != nil {
			return nil, fmt.Errorf("composefs: %s: %w", name, err)
		}
		if fd.Content != nil {
			if uint64(len(fd.Content)) != n.size {
				return nil, fmt.Errorf("composefs: %s: inline content is %d bytes, file size %d", name, len(fd.Content), n.size)
			}
			n.content = fd.Content
		}
		if fd.Payload != "" {
			if err := n.setPayload(fd.Payload); err != nil {
				return nil, fmt.Errorf("composefs: %s: %w", name, err)
			}
		}
		if fd.Digest != nil {
			n.digest, n.hasDigest = *fd.Digest, true
		}
	}
	return n, nil
}
