package objstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"
)

// maxSymlinkHops bounds symlink resolution in a commit's fs.FS, like the
// kernel's MAXSYMLINKS.
const maxSymlinkHops = 40

// dirtreeCacheSize bounds the parsed dirtrees a CommitFS keeps.
const dirtreeCacheSize = 4096

// CommitFS is a read-only io/fs view of one commit, read straight from the
// object store without a checkout. It implements fs.ReadDirFS, fs.StatFS and
// fs.ReadLinkFS; FileInfo.Sys returns *Meta. Symlinks are followed by Open,
// Stat and ReadDir, with absolute targets resolved against the commit's root
// and ".." never leaving it. Modification times are the Unix epoch, as in an
// ostree checkout.
//
// A CommitFS is safe for concurrent use. Parsed dirtrees are cached (bounded).
type CommitFS struct {
	r      *Repo
	commit ID
	root   node

	mu    sync.Mutex
	trees map[ID]*DirTree
	metas map[ID]*Meta
}

var (
	_ fs.ReadDirFS  = (*CommitFS)(nil)
	_ fs.StatFS     = (*CommitFS)(nil)
	_ fs.ReadLinkFS = (*CommitFS)(nil)
)

// node is a resolved entry: a directory (tree+meta) or a file (content).
type node struct {
	name    string
	dir     bool
	tree    ID
	meta    ID
	content ID
}

// CommitFS opens the tree of a commit as an fs.FS.
func (r *Repo) CommitFS(ctx context.Context, commit ID) (*CommitFS, error) {
	c, err := r.LoadCommit(ctx, commit)
	if err != nil {
		return nil, err
	}
	return r.TreeFS(c.RootTree, c.RootMeta, commit), nil
}

// TreeFS opens any dirtree/dirmeta pair as an fs.FS; commit is informational.
func (r *Repo) TreeFS(tree, meta, commit ID) *CommitFS {
	return &CommitFS{r: r, commit: commit, root: node{name: ".", dir: true, tree: tree, meta: meta},
		trees: map[ID]*DirTree{}, metas: map[ID]*Meta{}}
}

// Commit returns the commit the FS shows.
func (cfs *CommitFS) Commit() ID { return cfs.commit }

// Repo returns the repository the FS reads from.
func (cfs *CommitFS) Repo() *Repo { return cfs.r }

func (cfs *CommitFS) dirtree(id ID) (*DirTree, error) {
	cfs.mu.Lock()
	dt, ok := cfs.trees[id]
	cfs.mu.Unlock()
	if ok {
		return dt, nil
	}
	dt, err := cfs.r.LoadDirTree(context.Background(), id)
	if err != nil {
		return nil, err
	}
	cfs.mu.Lock()
	if len(cfs.trees) >= dirtreeCacheSize {
		for k := range cfs.trees { // drop an arbitrary entry
			delete(cfs.trees, k)
			break
		}
	}
	cfs.trees[id] = dt
	cfs.mu.Unlock()
	return dt, nil
}

func (cfs *CommitFS) dirmeta(id ID) (*Meta, error) {
	cfs.mu.Lock()
	m, ok := cfs.metas[id]
	cfs.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := cfs.r.LoadDirMeta(context.Background(), id)
	if err != nil {
		return nil, err
	}
	cfs.mu.Lock()
	cfs.metas[id] = m
	cfs.mu.Unlock()
	return m, nil
}

// lookupChild finds name in directory n.
func (cfs *CommitFS) lookupChild(n node, name string) (node, error) {
	dt, err := cfs.dirtree(n.tree)
	if err != nil {
		return node{}, err
	}
	if d, ok := dt.LookupDir(name); ok {
		return node{name: name, dir: true, tree: d.Tree, meta: d.Meta}, nil
	}
	if f, ok := dt.LookupFile(name); ok {
		return node{name: name, content: f.Content}, nil
	}
	return node{}, fs.ErrNotExist
}

// resolve walks a valid fs path, following symlinks in intermediate
// components, and in the last one when follow is set.
func (cfs *CommitFS) resolve(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	hops := 0
	n, err := cfs.walk(name, follow, &hops)
	if err != nil {
		return node{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if name != "." {
		n.name = path.Base(name)
	}
	return n, nil
}

func (cfs *CommitFS) walk(name string, follow bool, hops *int) (node, error) {
	// stack holds the directories from the root to the current one.
	stack := []node{cfs.root}
	parts := splitPath(name)
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		cur := stack[len(stack)-1]
		switch p {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if !cur.dir {
			return node{}, errors.New("not a directory")
		}
		child, err := cfs.lookupChild(cur, p)
		if err != nil {
			return node{}, err
		}
		last := i == len(parts)-1
		if !child.dir && (!last || follow) {
			m, err := cfs.r.ContentMeta(context.Background(), child.content)
			if err != nil {
				return node{}, err
			}
			if m.IsSymlink() {
				*hops++
				if *hops > maxSymlinkHops {
					return node{}, errors.New("too many levels of symbolic links")
				}
				target := m.Target
				rest := parts[i+1:]
				if strings.HasPrefix(target, "/") {
					stack = stack[:1]
				}
				parts = append(splitPath(target), rest...)
				i = -1
				continue
			}
		}
		stack = append(stack, child)
	}
	return stack[len(stack)-1], nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

func (cfs *CommitFS) info(n node) (*fileInfo, error) {
	if n.dir {
		m, err := cfs.dirmeta(n.meta)
		if err != nil {
			return nil, err
		}
		return &fileInfo{name: n.name, meta: m}, nil
	}
	m, err := cfs.r.ContentMeta(context.Background(), n.content)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: n.name, meta: m}, nil
}

// Stat returns the metadata of name, following symlinks.
func (cfs *CommitFS) Stat(name string) (fs.FileInfo, error) {
	n, err := cfs.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := cfs.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

// Lstat returns the metadata of name without following a final symlink.
func (cfs *CommitFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := cfs.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	fi, err := cfs.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// ReadLink returns the target of the symlink name.
func (cfs *CommitFS) ReadLink(name string) (string, error) {
	fi, err := cfs.Lstat(name)
	if err != nil {
		return "", err
	}
	m := fi.Sys().(*Meta)
	if !m.IsSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return m.Target, nil
}

// ReadDir lists a directory in name order.
func (cfs *CommitFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := cfs.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return cfs.entries(n, name)
}

func (cfs *CommitFS) entries(n node, name string) ([]fs.DirEntry, error) {
	dt, err := cfs.dirtree(n.tree)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(dt.Files)+len(dt.Dirs))
	fi, di := 0, 0
	for fi < len(dt.Files) || di < len(dt.Dirs) {
		if di == len(dt.Dirs) || fi < len(dt.Files) && dt.Files[fi].Name < dt.Dirs[di].Name {
			f := dt.Files[fi]
			out = append(out, &dirEntry{fs: cfs, n: node{name: f.Name, content: f.Content}})
			fi++
		} else {
			d := dt.Dirs[di]
			out = append(out, &dirEntry{fs: cfs, n: node{name: d.Name, dir: true, tree: d.Tree, meta: d.Meta}})
			di++
		}
	}
	return out, nil
}

// Open opens name for reading, following symlinks. Directories implement
// fs.ReadDirFile; regular files from bare repositories implement io.ReaderAt
// and io.Seeker.
func (cfs *CommitFS) Open(name string) (fs.File, error) {
	n, err := cfs.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := cfs.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.dir {
		return &dirFile{fs: cfs, n: n, fi: fi, name: name}, nil
	}
	_, rc, err := cfs.r.OpenContent(context.Background(), n.content)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if rc == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	if ra, ok := rc.(readAtSeeker); ok {
		return &seekFile{file: file{fi: fi, rc: rc}, ra: ra}, nil
	}
	return &file{fi: fi, rc: rc}, nil
}

type readAtSeeker interface {
	io.ReaderAt
	io.Seeker
}

// ContentID returns the content object behind a regular file or symlink.
func (cfs *CommitFS) ContentID(name string) (ID, error) {
	n, err := cfs.resolve("lstat", name, false)
	if err != nil {
		return ID{}, err
	}
	if n.dir {
		return ID{}, &fs.PathError{Op: "lstat", Path: name, Err: errors.New("is a directory")}
	}
	return n.content, nil
}

type fileInfo struct {
	name string
	meta *Meta
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.meta.Size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.meta.FileMode() }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(0, 0).UTC() }
func (fi *fileInfo) IsDir() bool        { return fi.meta.IsDir() }
func (fi *fileInfo) Sys() any           { return fi.meta }

type dirEntry struct {
	fs *CommitFS
	n  node
}

func (d *dirEntry) Name() string { return d.n.name }
func (d *dirEntry) IsDir() bool  { return d.n.dir }
func (d *dirEntry) Type() fs.FileMode {
	if d.n.dir {
		return fs.ModeDir
	}
	fi, err := d.Info()
	if err != nil {
		return 0
	}
	return fi.Mode().Type()
}
func (d *dirEntry) Info() (fs.FileInfo, error) { return d.fs.info(d.n) }

type file struct {
	fi *fileInfo
	rc io.ReadCloser
}

func (f *file) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *file) Read(b []byte) (int, error) { return f.rc.Read(b) }
func (f *file) Close() error               { return f.rc.Close() }

type seekFile struct {
	file
	ra readAtSeeker
}

func (f *seekFile) ReadAt(b []byte, off int64) (int, error) { return f.ra.ReadAt(b, off) }
func (f *seekFile) Seek(off int64, whence int) (int64, error) {
	return f.ra.Seek(off, whence)
}

type dirFile struct {
	fs   *CommitFS
	n    node
	fi   *fileInfo
	name string
	ents []fs.DirEntry
	pos  int
	read bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.entries(d.n, d.name)
		if err != nil {
			return nil, err
		}
		d.ents, d.read = ents, true
	}
	rest := d.ents[d.pos:]
	if count <= 0 {
		d.pos = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if count > len(rest) {
		count = len(rest)
	}
	d.pos += count
	return rest[:count], nil
}

// DirChecksums returns the dirtree and dirmeta checksums of a directory.
func (cfs *CommitFS) DirChecksums(name string) (tree, meta ID, err error) {
	n, err := cfs.resolve("lstat", name, false)
	if err != nil {
		return ID{}, ID{}, err
	}
	if !n.dir {
		return ID{}, ID{}, &fs.PathError{Op: "lstat", Path: name, Err: errors.New("not a directory")}
	}
	return n.tree, n.meta, nil
}
