package objstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MutableTree is a directory being assembled for a commit: its dirmeta and
// entries, before dirtree objects are written. Sources (directories, tar
// files, other commits) are layered into one MutableTree, later ones
// overriding earlier ones, as `ostree commit --tree=... --tree=...` does.
//
// A MutableTree is not safe for concurrent mutation; the content checksums
// of its files may be filled in concurrently through the *ID slots returned
// by SetFileSlot before WriteTree is called.
type MutableTree struct {
	// Meta is the checksum of this directory's dirmeta; zero until set.
	Meta  ID
	files map[string]*ID
	dirs  map[string]*MutableTree
	// tree is set when the directory is unchanged from an existing dirtree
	// (lazy import from a commit); it is expanded on first modification.
	tree ID
	repo *Repo
}

// NewMutableTree returns an empty tree.
func NewMutableTree() *MutableTree {
	return &MutableTree{files: map[string]*ID{}, dirs: map[string]*MutableTree{}}
}

// HasMeta reports whether the directory's dirmeta is set.
func (t *MutableTree) HasMeta() bool { return !t.Meta.IsZero() }

// ensureExpanded loads a lazily imported dirtree's entries.
func (t *MutableTree) ensureExpanded(ctx context.Context) error {
	if t.tree.IsZero() {
		return nil
	}
	dt, err := t.repo.LoadDirTree(ctx, t.tree)
	if err != nil {
		return err
	}
	for _, f := range dt.Files {
		id := f.Content
		t.files[f.Name] = &id
	}
	for _, d := range dt.Dirs {
		sub := NewMutableTree()
		sub.Meta, sub.tree, sub.repo = d.Meta, d.Tree, t.repo
		t.dirs[d.Name] = sub
	}
	t.tree = ID{}
	return nil
}

// EnsureDir returns the subdirectory called name, creating it if needed. A
// file of that name is replaced, as a later layer overrides an earlier one.
func (t *MutableTree) EnsureDir(ctx context.Context, name string) (*MutableTree, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := t.ensureExpanded(ctx); err != nil {
		return nil, err
	}
	if d, ok := t.dirs[name]; ok {
		return d, nil
	}
	delete(t.files, name)
	d := NewMutableTree()
	t.dirs[name] = d
	return d, nil
}

// Lookup returns the subdirectory at a '/'-separated relative path.
func (t *MutableTree) Lookup(ctx context.Context, path string) (*MutableTree, error) {
	cur := t
	for _, c := range strings.Split(path, "/") {
		if c == "" || c == "." {
			continue
		}
		if err := cur.ensureExpanded(ctx); err != nil {
			return nil, err
		}
		d, ok := cur.dirs[c]
		if !ok {
			return nil, fmt.Errorf("no such directory %q", path)
		}
		cur = d
	}
	return cur, nil
}

// SetFileSlot adds or replaces a file entry and returns the slot its content
// checksum is stored in (may be filled later, before WriteTree).
func (t *MutableTree) SetFileSlot(ctx context.Context, name string) (*ID, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := t.ensureExpanded(ctx); err != nil {
		return nil, err
	}
	delete(t.dirs, name)
	id := new(ID)
	t.files[name] = id
	return id, nil
}

// SetFile adds or replaces a file entry with a known content checksum.
func (t *MutableTree) SetFile(ctx context.Context, name string, id ID) error {
	slot, err := t.SetFileSlot(ctx, name)
	if err != nil {
		return err
	}
	*slot = id
	return nil
}

// File returns the content checksum of the file entry name.
func (t *MutableTree) File(ctx context.Context, name string) (ID, bool, error) {
	if err := t.ensureExpanded(ctx); err != nil {
		return ID{}, false, err
	}
	id, ok := t.files[name]
	if !ok {
		return ID{}, false, nil
	}
	return *id, true, nil
}

// Remove deletes an entry of either kind.
func (t *MutableTree) Remove(ctx context.Context, name string) error {
	if err := t.ensureExpanded(ctx); err != nil {
		return err
	}
	delete(t.files, name)
	delete(t.dirs, name)
	return nil
}

// ReplaceWithTree makes t an unexpanded copy of an existing dirtree.
func (t *MutableTree) ReplaceWithTree(r *Repo, tree, meta ID) {
	t.files, t.dirs = map[string]*ID{}, map[string]*MutableTree{}
	t.tree, t.Meta, t.repo = tree, meta, r
}

// ErrNoMeta is returned by WriteTree for a directory that never got metadata.
var ErrNoMeta = errors.New("directory has no metadata")

// WriteTree writes the dirtree objects of t and its subdirectories (children
// first) and returns the root's dirtree checksum.
func (t *MutableTree) WriteTree(ctx context.Context, tx *Transaction) (ID, error) {
	return t.writeTree(ctx, tx, "/")
}

func (t *MutableTree) writeTree(ctx context.Context, tx *Transaction, path string) (ID, error) {
	if !t.HasMeta() {
		return ID{}, fmt.Errorf("write tree %s: %w", path, ErrNoMeta)
	}
	if !t.tree.IsZero() {
		return t.tree, nil
	}
	dt := &DirTree{Files: make([]TreeFile, 0, len(t.files)), Dirs: make([]TreeDir, 0, len(t.dirs))}
	for name, id := range t.files {
		if id.IsZero() {
			return ID{}, fmt.Errorf("write tree %s: file %q has no content", path, name)
		}
		dt.Files = append(dt.Files, TreeFile{Name: name, Content: *id})
	}
	names := make([]string, 0, len(t.dirs))
	for name := range t.dirs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sub := t.dirs[name]
		id, err := sub.writeTree(ctx, tx, strings.TrimSuffix(path, "/")+"/"+name)
		if err != nil {
			return ID{}, err
		}
		dt.Dirs = append(dt.Dirs, TreeDir{Name: name, Tree: id, Meta: sub.Meta})
	}
	dt.Sort()
	return tx.WriteMeta(ctx, TypeDirTree, dt.Encode())
}
