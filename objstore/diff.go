package objstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
)

// TreeDiff is how one tree differs from another, as ostree diff lists it:
// paths in the order ostree_diff_dirs finds them, absolute ("/a/b") for a
// commit's files and relative to the directory given ("a/b") for files on
// disk.
type TreeDiff struct {
	// Modified are paths (of the first tree) in both trees whose content
	// (files), metadata (directories) or kind (file or directory) differ.
	Modified []string
	// Removed are paths only in the first tree; a removed directory is
	// listed, not what it held.
	Removed []string
	// Added are paths only in the second tree; an added directory is
	// listed with everything below it.
	Added []string
}

// DiffSide is one side of a diff: a commit of a repository, or a directory
// on disk (Dir set).
type DiffSide struct {
	Repo   *Repo
	Commit ID
	Dir    string
}

// DiffOptions tune DiffTrees as ostree diff's options do.
type DiffOptions struct {
	// NoXattrs leaves extended attributes out of the checksums of files
	// on disk (also implied when a side's repository is bare-user-only
	// or has core.disable-xattrs).
	NoXattrs bool
	// OwnerUID and OwnerGID, when not negative, stand for the owner of
	// every file on disk in the second tree.
	OwnerUID, OwnerGID int
}

// DiffCommits compares the trees of commits a and b (see DiffTrees).
func (r *Repo) DiffCommits(ctx context.Context, a, b ID) (*TreeDiff, error) {
	return DiffTrees(ctx, DiffSide{Repo: r, Commit: a}, DiffSide{Repo: r, Commit: b}, &DiffOptions{OwnerUID: -1, OwnerGID: -1})
}

// DiffTrees compares two trees as ostree diff does: the first tree's
// entries in its order (a commit's files by name, then its directories;
// a directory on disk in readdir order), each looked up by name in the
// second tree; a name that is a directory on one side and not on the other
// is modified, files are modified when their checksums differ (content
// object checksums, computed for files on disk), directories when their
// dirmeta checksums differ, and directories present on both sides are
// compared further (unless both are the same dirtree). Then the second
// tree's names missing from the first are added.
func DiffTrees(ctx context.Context, a, b DiffSide, opts *DiffOptions) (*TreeDiff, error) {
	if opts == nil {
		opts = &DiffOptions{OwnerUID: -1, OwnerGID: -1}
	}
	noXattrs := opts.NoXattrs
	for _, s := range []DiffSide{a, b} {
		if s.Dir == "" && s.Repo != nil {
			if dis, _ := s.Repo.config.Bool("core", "disable-xattrs", false); dis || s.Repo.mode == ModeBareUserOnly {
				noXattrs = true
			}
		}
	}
	na, err := rootNode(ctx, a)
	if err != nil {
		return nil, err
	}
	nb, err := rootNode(ctx, b)
	if err != nil {
		return nil, err
	}
	nb.owner = &ownerOverride{uid: opts.OwnerUID, gid: opts.OwnerGID}
	na.noXattrs, nb.noXattrs = noXattrs, noXattrs
	d := &TreeDiff{}
	if err := diffDirs(ctx, d, na, nb); err != nil {
		return nil, err
	}
	return d, nil
}

type ownerOverride struct{ uid, gid int }

// diffNode is a directory of either side.
type diffNode struct {
	repo     *Repo
	tree     ID       // a commit's dirtree; zero on disk
	dt       *DirTree // tree, once loaded
	dir      string
	printed  string // how its paths print: "/x" in a commit, "x" on disk
	owner    *ownerOverride
	noXattrs bool
}

type diffEntry struct {
	name        string
	dir         bool
	content     ID // a commit's file
	tree, dmeta ID // a commit's directory
}

func rootNode(ctx context.Context, s DiffSide) (*diffNode, error) {
	if s.Dir != "" {
		fi, err := os.Stat(s.Dir)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("diff %s: not a directory", s.Dir)
		}
		return &diffNode{dir: s.Dir, printed: ""}, nil
	}
	c, err := s.Repo.LoadCommit(ctx, s.Commit)
	if err != nil {
		return nil, err
	}
	return &diffNode{repo: s.Repo, tree: c.RootTree, printed: "/"}, nil
}

func (n *diffNode) onDisk() bool { return n.dir != "" }

func (n *diffNode) path(name string) string {
	if n.printed == "" {
		return name
	}
	return path.Join(n.printed, name)
}

// dirTree loads a commit directory's dirtree once.
func (n *diffNode) dirTree(ctx context.Context) (*DirTree, error) {
	if n.dt == nil {
		dt, err := n.repo.LoadDirTree(ctx, n.tree)
		if err != nil {
			return nil, fmt.Errorf("diff %s: %w", n.printed, err)
		}
		n.dt = dt
	}
	return n.dt, nil
}

// entries lists the directory in its enumeration order.
func (n *diffNode) entries(ctx context.Context) ([]diffEntry, error) {
	if !n.onDisk() {
		dt, err := n.dirTree(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]diffEntry, 0, len(dt.Files)+len(dt.Dirs))
		for _, f := range dt.Files {
			out = append(out, diffEntry{name: f.Name, content: f.Content})
		}
		for _, d := range dt.Dirs {
			out = append(out, diffEntry{name: d.Name, dir: true, tree: d.Tree, dmeta: d.Meta})
		}
		return out, nil
	}
	// GLib's enumerator reads a directory 1000 entries at a time and
	// sorts each batch by inode number; ostree lists in that order.
	f, err := os.Open(n.dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []diffEntry
	for {
		ents, err := f.ReadDir(1000)
		type ent struct {
			e   diffEntry
			ino uint64
		}
		batch := make([]ent, 0, len(ents))
		for _, e := range ents {
			var ino uint64
			if fi, err := e.Info(); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					ino = st.Ino
				}
			}
			batch = append(batch, ent{diffEntry{name: e.Name(), dir: e.Type()&fs.ModeType == fs.ModeDir}, ino})
		}
		slices.SortStableFunc(batch, func(a, b ent) int { return cmp.Compare(a.ino, b.ino) })
		for _, b := range batch {
			out = append(out, b.e)
		}
		if errors.Is(err, io.EOF) || len(ents) == 0 {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// lookup finds name in the directory.
func (n *diffNode) lookup(ctx context.Context, name string) (diffEntry, bool, error) {
	if !n.onDisk() {
		dt, err := n.dirTree(ctx)
		if err != nil {
			return diffEntry{}, false, err
		}
		if f, ok := dt.LookupFile(name); ok {
			return diffEntry{name: name, content: f.Content}, true, nil
		}
		if d, ok := dt.LookupDir(name); ok {
			return diffEntry{name: name, dir: true, tree: d.Tree, dmeta: d.Meta}, true, nil
		}
		return diffEntry{}, false, nil
	}
	fi, err := os.Lstat(filepath.Join(n.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return diffEntry{}, false, nil
	}
	if err != nil {
		return diffEntry{}, false, err
	}
	return diffEntry{name: name, dir: fi.IsDir()}, true, nil
}

// checksum is an entry's content (file) or dirmeta (directory) checksum.
func (n *diffNode) checksum(e diffEntry) (ID, error) {
	if !n.onDisk() {
		if e.dir {
			return e.dmeta, nil
		}
		return e.content, nil
	}
	o := ChecksumOptions{IgnoreXattrs: n.noXattrs, UID: -1, GID: -1}
	if n.owner != nil {
		o.UID, o.GID = n.owner.uid, n.owner.gid
	}
	return ChecksumPathWith(filepath.Join(n.dir, e.name), &o)
}

func (n *diffNode) child(e diffEntry) *diffNode {
	c := *n
	c.dt = nil
	c.printed = n.path(e.name)
	if n.onDisk() {
		c.dir = filepath.Join(n.dir, e.name)
	} else {
		c.tree = e.tree
	}
	return &c
}

func diffDirs(ctx context.Context, d *TreeDiff, a, b *diffNode) error {
	if !a.onDisk() && !b.onDisk() && a.tree == b.tree {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ea, err := a.entries(ctx)
	if err != nil {
		return err
	}
	for _, e := range ea {
		g, ok, err := b.lookup(ctx, e.name)
		if err != nil {
			return err
		}
		if !ok {
			d.Removed = append(d.Removed, a.path(e.name))
			continue
		}
		if e.dir != g.dir {
			d.Modified = append(d.Modified, a.path(e.name))
			continue
		}
		ca, err := a.checksum(e)
		if err != nil {
			return err
		}
		cb, err := b.checksum(g)
		if err != nil {
			return err
		}
		if ca != cb {
			d.Modified = append(d.Modified, a.path(e.name))
		}
		if e.dir {
			if err := diffDirs(ctx, d, a.child(e), b.child(g)); err != nil {
				return err
			}
		}
	}
	eb, err := b.entries(ctx)
	if err != nil {
		return err
	}
	for _, e := range eb {
		if _, ok, err := a.lookup(ctx, e.name); err != nil {
			return err
		} else if ok {
			continue
		}
		d.Added = append(d.Added, b.path(e.name))
		if e.dir {
			if err := addAll(ctx, d, b.child(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// addAll lists everything below an added directory: each entry, and a
// directory's own entries right after it.
func addAll(ctx context.Context, d *TreeDiff, n *diffNode) error {
	ents, err := n.entries(ctx)
	if err != nil {
		return err
	}
	for _, e := range ents {
		d.Added = append(d.Added, n.path(e.name))
		if e.dir {
			if err := addAll(ctx, d, n.child(e)); err != nil {
				return err
			}
		}
	}
	return nil
}
