package fusefs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gostree/gostree/objstore"
)

// FS is a read-only file system ready to be mounted: one commit, any
// fs.FS, or a whole repository. Its methods are safe for concurrent use.
type FS struct {
	opts Options
	log  *slog.Logger
	repo *objstore.Repo // nil when serving a generic fs.FS
	// noOpen makes object files answer OPEN with ENOSYS (see objectFile.Open).
	noOpen bool
	// noKernelVerity is set once the object store says it has no fs-verity.
	noKernelVerity atomic.Bool

	trees    *lru[objstore.ID, *objstore.DirTree]
	dirMetas *lru[objstore.ID, *objstore.Meta]
	metas    *lru[objstore.ID, *objstore.Meta]
	contents *contentCache

	root     gofs.InodeEmbedder
	rootMeta *objstore.Meta

	stats struct {
		dirTreeLoads, metaLoads, contentLoads, verifyFailures, passthrough atomic.Int64
	}
}

// Stats are counters of the work an FS did, for tests and diagnostics.
type Stats struct {
	// DirTreeLoads counts dirtree objects read (and verified) from the repository.
	DirTreeLoads int64
	// MetaLoads counts content object headers read for their metadata.
	MetaLoads int64
	// ContentLoads counts content objects prepared for reading (cache misses).
	ContentLoads int64
	// VerifyFailures counts objects or blocks that failed verification.
	VerifyFailures int64
	// Passthrough counts opens handed to the kernel with FUSE passthrough.
	Passthrough int64
	// IdleObjects, MemoryBytes and SpillBytes describe the content cache:
	// objects nobody has open, and the memory and disk they hold.
	IdleObjects             int
	MemoryBytes, SpillBytes int64
}

// Stats returns the current counters.
func (f *FS) Stats() Stats {
	s := Stats{
		DirTreeLoads:   f.stats.dirTreeLoads.Load(),
		MetaLoads:      f.stats.metaLoads.Load(),
		ContentLoads:   f.stats.contentLoads.Load(),
		VerifyFailures: f.stats.verifyFailures.Load(),
		Passthrough:    f.stats.passthrough.Load(),
	}
	s.IdleObjects, s.MemoryBytes, s.SpillBytes = f.contents.usage()
	return s
}

// Root returns the root node, for go-fuse's fs.Mount or fs.NewNodeFS.
func (f *FS) Root() gofs.InodeEmbedder { return f.root }

func newFS(repo *objstore.Repo, opts *Options) *FS {
	o := opts.resolved()
	f := &FS{
		opts:     o,
		log:      o.Logger,
		repo:     repo,
		trees:    newLRU[objstore.ID, *objstore.DirTree](o.DirTreeCacheEntries),
		dirMetas: newLRU[objstore.ID, *objstore.Meta](o.DirTreeCacheEntries),
		metas:    newLRU[objstore.ID, *objstore.Meta](o.MetaCacheEntries),
		noOpen:   o.Verify == VerifyOn,
	}
	f.contents = newContentCache(f)
	return f
}

// New returns a file system serving fsys read-only. A commit's FS (from
// objstore.Repo.CommitFS) is served straight from the object store: each
// directory reads only its own dirtree, and contents are verified. Any other
// fs.FS is served through its ReadDir, Lstat and ReadLink; its contents are
// verified only where FileInfo.Sys is an *objstore.Meta with a Content id.
func New(fsys fs.FS, opts *Options) (*FS, error) {
	if cfs, ok := fsys.(*objstore.CommitFS); ok {
		tree, meta, err := cfs.DirChecksums(".")
		if err != nil {
			return nil, fmt.Errorf("serve commit %s: %w", cfs.Commit(), err)
		}
		return NewTree(cfs.Repo(), tree, meta, opts)
	}
	f := newFS(nil, opts)
	fi, err := fs.Stat(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("serve file system: %w", err)
	}
	m := objstore.MetaOf(fi)
	if !m.IsDir() {
		return nil, fmt.Errorf("serve file system: root is not a directory (mode %v)", fi.Mode())
	}
	f.rootMeta = m
	f.root = &fsDir{node: node{fs: f, meta: m}, fsys: fsys, path: "."}
	return f, nil
}

// NewTree returns a file system serving the directory tree (dirtree and
// dirmeta object ids) of a commit, straight from the object store.
func NewTree(repo *objstore.Repo, tree, meta objstore.ID, opts *Options) (*FS, error) {
	f := newFS(repo, opts)
	m, err := f.dirMeta(context.Background(), meta)
	if err != nil {
		return nil, fmt.Errorf("serve tree %s: %w", tree, err)
	}
	f.rootMeta = m
	f.root = &commitDir{node: node{fs: f, meta: m}, tree: tree}
	return f, nil
}

// NewRepo returns a file system showing a whole repository:
//
//	refs/<ref>          symlink to ../commits/<checksum>, re-read at each lookup
//	commits/<checksum>  the tree of any commit, resolved on first lookup;
//	                    an abbreviated checksum is a symlink to the full one
func NewRepo(repo *objstore.Repo, opts *Options) (*FS, error) {
	f := newFS(repo, opts)
	m, err := repoDirMeta(repo)
	if err != nil {
		return nil, err
	}
	f.rootMeta = m
	f.root = &repoRoot{node: node{fs: f, meta: m}}
	return f, nil
}

// dirTree loads a dirtree through the bounded cache.
func (f *FS) dirTree(ctx context.Context, id objstore.ID) (*objstore.DirTree, error) {
	if dt, ok := f.trees.get(id); ok {
		return dt, nil
	}
	f.stats.dirTreeLoads.Add(1)
	dt, err := f.repo.LoadDirTree(ctx, id)
	if err != nil {
		return nil, err
	}
	f.trees.add(id, dt)
	return dt, nil
}

func (f *FS) dirMeta(ctx context.Context, id objstore.ID) (*objstore.Meta, error) {
	if m, ok := f.dirMetas.get(id); ok {
		return m, nil
	}
	m, err := f.repo.LoadDirMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	f.dirMetas.add(id, m)
	return m, nil
}

// contentMeta returns the metadata of a content object. The result is
// shared and must not be modified.
func (f *FS) contentMeta(ctx context.Context, id objstore.ID) (*objstore.Meta, error) {
	if m, ok := f.metas.get(id); ok {
		return m, nil
	}
	f.stats.metaLoads.Add(1)
	m, err := f.repo.ContentMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	f.metas.add(id, m)
	return m, nil
}

// Inode numbers. The kernel sees StableAttr.Ino as st_ino; go-fuse
// deduplicates nodes on the whole StableAttr, so Gen carries 64 more bits of
// the same hash and two different objects never share a node.
//
//   - a file or symlink of a commit: the first 128 bits of its content
//     checksum, so identical objects are hard links, as in a checkout;
//   - a directory (and anything without an object id): a hash of the parent's
//     inode number and the name, so every path has its own directory inode
//     and the number is the same on every lookup and every mount.

func objectStable(mode uint32, id objstore.ID) gofs.StableAttr {
	return gofs.StableAttr{
		Mode: mode & syscall.S_IFMT,
		Ino:  fixIno(binary.LittleEndian.Uint64(id[0:8])),
		Gen:  binary.LittleEndian.Uint64(id[8:16]),
	}
}

func pathStable(mode uint32, parent uint64, name string) gofs.StableAttr {
	h := sha256.New()
	var p [8]byte
	binary.LittleEndian.PutUint64(p[:], parent)
	h.Write(p[:])
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return gofs.StableAttr{
		Mode: mode & syscall.S_IFMT,
		Ino:  fixIno(binary.LittleEndian.Uint64(sum[0:8])),
		Gen:  binary.LittleEndian.Uint64(sum[8:16]),
	}
}

// fixIno avoids the numbers go-fuse reserves (0, the root's 1, and ^0).
func fixIno(ino uint64) uint64 {
	if ino <= 1 || ino == ^uint64(0) {
		ino ^= 0x9e3779b97f4a7c15
	}
	return ino
}

// fillAttr sets out from m as ostree's checkout would show it: times are
// the epoch, directories have size 0.
func fillAttr(out *fuse.Attr, m *objstore.Meta, ino uint64) {
	*out = fuse.Attr{}
	out.Ino = ino
	out.Mode = m.Mode
	out.Uid, out.Gid = m.UID, m.GID
	out.Nlink = 1
	if !m.IsDir() {
		out.Size = uint64(m.Size)
		out.Blocks = (out.Size + 511) / 512
	}
	out.Blksize = 4096
}

func (f *FS) entryOut(out *fuse.EntryOut, m *objstore.Meta, st gofs.StableAttr, timeout time.Duration) {
	fillAttr(&out.Attr, m, st.Ino)
	out.SetEntryTimeout(timeout)
	out.SetAttrTimeout(timeout)
}

// errno converts err to the errno a reader sees, logging what the errno
// cannot say. A missing object or a corrupt one is EIO: the name exists, its
// data does not.
func (f *FS) errno(op, path string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case isIntegrityError(err):
		f.stats.verifyFailures.Add(1)
		f.log.Error("integrity check failed", "op", op, "path", path, "err", err)
		return syscall.EIO
	case errors.Is(err, objstore.ErrObjectNotFound):
		f.log.Warn("object missing", "op", op, "path", path, "err", err)
		return syscall.EIO
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		f.log.Debug("fuse op failed", "op", op, "path", path, "err", err)
		return errno
	}
	f.log.Warn("fuse op failed", "op", op, "path", path, "err", err)
	return syscall.EIO
}
