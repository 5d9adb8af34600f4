package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/gostree/gostree/objstore"
)

// Whole-repository mode:
//
//	/                    repoRoot
//	/commits/            commitsDir
//	/commits/<checksum>/ commitDir of that commit's root
//	/commits/<prefix>    symlink to <checksum>
//	/refs/               refsDir{prefix: ""}
//	/refs/<a>/           refsDir{prefix: "a/"} when refs a/... exist
//	/refs/<ref>          refLink to ../commits/<checksum>, read at each readlink

// repoDirMeta is the metadata of the synthetic directories: read-only,
// owned by the repository's owner.
func repoDirMeta(repo *objstore.Repo) (*objstore.Meta, error) {
	fi, err := os.Stat(repo.Path())
	if err != nil {
		return nil, fmt.Errorf("serve repository: %w", err)
	}
	m := *objstore.MetaOf(fi)
	m.Mode = syscall.S_IFDIR | m.Mode&0o555
	m.Xattrs, m.Size = nil, 0
	return &m, nil
}

// refTimeout is the kernel cache time for names that change.
func (f *FS) refTimeout() time.Duration { return f.opts.RefTimeout }

// noNegativeCache marks a failed lookup as not cacheable: go-fuse applies
// the global negative timeout only when the entry timeout is unset.
func noNegativeCache(out *fuse.EntryOut) { out.SetEntryTimeout(time.Nanosecond) }

type repoRoot struct {
	node
}

var (
	_ gofs.NodeLookuper  = (*repoRoot)(nil)
	_ gofs.NodeReaddirer = (*repoRoot)(nil)
)

// Lookup implements gofs.NodeLookuper.
func (r *repoRoot) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	var ops gofs.InodeEmbedder
	switch name {
	case "commits":
		ops = &commitsDir{node: node{fs: r.fs, meta: r.meta}}
	case "refs":
		ops = &refsDir{node: node{fs: r.fs, meta: r.meta}}
	default:
		return nil, syscall.ENOENT
	}
	st := pathStable(syscall.S_IFDIR, r.StableAttr().Ino, name)
	r.fs.entryOut(out, r.meta, st, r.fs.opts.CacheTimeout)
	return r.NewInode(ctx, ops, st), 0
}

// Readdir implements gofs.NodeReaddirer.
func (r *repoRoot) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ino := r.StableAttr().Ino
	out := dotEntries(&r.Inode)
	for _, name := range []string{"commits", "refs"} {
		out = append(out, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: pathStable(syscall.S_IFDIR, ino, name).Ino})
	}
	return gofs.NewListDirStream(out), 0
}

// commitsDir resolves any commit of the repository by its checksum.
type commitsDir struct {
	node
}

var (
	_ gofs.NodeLookuper  = (*commitsDir)(nil)
	_ gofs.NodeReaddirer = (*commitsDir)(nil)
)

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Lookup implements gofs.NodeLookuper: a full checksum is the commit's root
// directory; a unique prefix of at least 4 hex digits is a symlink to it.
func (c *commitsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if len(name) < 4 || len(name) > 64 || !isHex(name) {
		noNegativeCache(out)
		return nil, syscall.ENOENT
	}
	if len(name) < 64 {
		id, err := c.fs.repo.ResolveRev(ctx, name)
		if err != nil || !strings.HasPrefix(id.String(), name) {
			c.fs.log.Debug("commits: no unique commit", "prefix", name, "err", err)
			noNegativeCache(out)
			return nil, syscall.ENOENT
		}
		return c.fs.newLink(ctx, &c.Inode, name, func() (string, error) { return id.String(), nil }, c.meta, out)
	}
	id, err := objstore.ParseID(name)
	if err != nil {
		noNegativeCache(out)
		return nil, syscall.ENOENT
	}
	if ch := reuseChild(&c.Inode, name, out); ch != nil {
		out.SetEntryTimeout(c.fs.opts.CacheTimeout)
		out.SetAttrTimeout(c.fs.opts.CacheTimeout)
		return ch, 0
	}
	commit, err := c.fs.repo.LoadCommit(ctx, id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			noNegativeCache(out)
			return nil, syscall.ENOENT
		}
		return nil, c.fs.errno("lookup", "/commits/"+name, err)
	}
	m, err := c.fs.dirMeta(ctx, commit.RootMeta)
	if err != nil {
		return nil, c.fs.errno("lookup", "/commits/"+name, err)
	}
	st := pathStable(syscall.S_IFDIR, c.StableAttr().Ino, name)
	c.fs.entryOut(out, m, st, c.fs.opts.CacheTimeout)
	return c.NewInode(ctx, &commitDir{node: node{fs: c.fs, meta: m}, tree: commit.RootTree}, st), 0
}

// Readdir implements gofs.NodeReaddirer: the commits refs point at (any
// other commit is there too, but only found by name).
func (c *commitsDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	refs, err := c.fs.repo.Refs(ctx)
	if err != nil {
		return nil, c.fs.errno("readdir", "/commits", err)
	}
	var names []string
	for _, id := range refs {
		names = append(names, id.String())
	}
	slices.Sort(names)
	names = slices.Compact(names)
	ino := c.StableAttr().Ino
	out := dotEntries(&c.Inode)
	for _, n := range names {
		out = append(out, fuse.DirEntry{Name: n, Mode: syscall.S_IFDIR, Ino: pathStable(syscall.S_IFDIR, ino, n).Ino})
	}
	return gofs.NewListDirStream(out), 0
}

// refsDir lists the refs whose names start with prefix.
type refsDir struct {
	node
	prefix string // "" or ending in "/"
}

var (
	_ gofs.NodeLookuper  = (*refsDir)(nil)
	_ gofs.NodeReaddirer = (*refsDir)(nil)
)

// Lookup implements gofs.NodeLookuper.
func (d *refsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	full := d.prefix + name
	refs, err := d.fs.repo.Refs(ctx)
	if err != nil {
		return nil, d.fs.errno("lookup", "/refs/"+full, err)
	}
	if _, ok := refs[full]; ok {
		// "refs/a/b" is two levels below the root, plus one per "/" in the ref.
		up := strings.Repeat("../", 1+strings.Count(full, "/"))
		target := func() (string, error) {
			id, err := d.fs.repo.ResolveRef(full)
			if err != nil {
				return "", err
			}
			return up + "commits/" + id.String(), nil
		}
		return d.fs.newLink(ctx, &d.Inode, name, target, d.meta, out)
	}
	for ref := range refs {
		if strings.HasPrefix(ref, full+"/") {
			st := pathStable(syscall.S_IFDIR, d.StableAttr().Ino, name)
			d.fs.entryOut(out, d.meta, st, d.fs.refTimeout())
			return d.NewInode(ctx, &refsDir{node: node{fs: d.fs, meta: d.meta}, prefix: full + "/"}, st), 0
		}
	}
	noNegativeCache(out)
	return nil, syscall.ENOENT
}

// Readdir implements gofs.NodeReaddirer.
func (d *refsDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	refs, err := d.fs.repo.Refs(ctx)
	if err != nil {
		return nil, d.fs.errno("readdir", "/refs/"+d.prefix, err)
	}
	kinds := map[string]uint32{}
	for ref := range refs {
		rest, ok := strings.CutPrefix(ref, d.prefix)
		if !ok {
			continue
		}
		if first, _, more := strings.Cut(rest, "/"); more {
			kinds[first] = syscall.S_IFDIR
		} else {
			kinds[first] = syscall.S_IFLNK
		}
	}
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	ino := d.StableAttr().Ino
	out := dotEntries(&d.Inode)
	for _, n := range names {
		out = append(out, fuse.DirEntry{Name: n, Mode: kinds[n], Ino: pathStable(kinds[n], ino, n).Ino})
	}
	return gofs.NewListDirStream(out), 0
}

// link is a symlink whose target may change (a ref) and is computed at
// each readlink.
type link struct {
	gofs.Inode
	fs     *FS
	owner  *objstore.Meta
	target func() (string, error)
}

var (
	_ gofs.NodeReadlinker = (*link)(nil)
	_ gofs.NodeGetattrer  = (*link)(nil)
)

func (f *FS) newLink(ctx context.Context, parent *gofs.Inode, name string, target func() (string, error), owner *objstore.Meta, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	l := &link{fs: f, owner: owner, target: target}
	st := pathStable(syscall.S_IFLNK, parent.StableAttr().Ino, name)
	if errno := l.attr(&out.Attr, st.Ino); errno != 0 {
		noNegativeCache(out)
		return nil, errno
	}
	out.SetEntryTimeout(f.refTimeout())
	out.SetAttrTimeout(f.refTimeout())
	return parent.NewInode(ctx, l, st), 0
}

func (l *link) attr(out *fuse.Attr, ino uint64) syscall.Errno {
	t, err := l.target()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return syscall.ENOENT
		}
		return l.fs.errno("readlink", "/"+l.Path(nil), err)
	}
	m := objstore.Meta{Mode: syscall.S_IFLNK | 0o777, UID: l.owner.UID, GID: l.owner.GID, Size: int64(len(t))}
	fillAttr(out, &m, ino)
	return 0
}

// Getattr implements gofs.NodeGetattrer.
func (l *link) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.SetTimeout(l.fs.refTimeout())
	return l.attr(&out.Attr, l.StableAttr().Ino)
}

// Readlink implements gofs.NodeReadlinker.
func (l *link) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, err := l.target()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, syscall.ENOENT
		}
		return nil, l.fs.errno("readlink", "/"+l.Path(nil), err)
	}
	return []byte(t), 0
}
