package objstore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gostree/gostree/gvariant"
)

var typeDirTree = gvariant.MustParseType("(a(say)a(sayay))")

// TreeFile is a non-directory entry of a dirtree: a name and its content object.
type TreeFile struct {
	Name    string
	Content ID
}

// TreeDir is a subdirectory entry of a dirtree.
type TreeDir struct {
	Name string
	Tree ID
	Meta ID
}

// DirTree is a DIR_TREE object: the entries of one directory, each list sorted
// by name in strcmp order.
type DirTree struct {
	Files []TreeFile
	Dirs  []TreeDir
}

// LookupFile returns the file entry called name.
func (t *DirTree) LookupFile(name string) (TreeFile, bool) {
	i, ok := slices.BinarySearchFunc(t.Files, name, func(e TreeFile, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return TreeFile{}, false
	}
	return t.Files[i], true
}

// LookupDir returns the subdirectory entry called name.
func (t *DirTree) LookupDir(name string) (TreeDir, bool) {
	i, ok := slices.BinarySearchFunc(t.Dirs, name, func(e TreeDir, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return TreeDir{}, false
	}
	return t.Dirs[i], true
}

// Encode serializes the dirtree; entries must already be sorted.
func (t *DirTree) Encode() []byte {
	files := make([]any, len(t.Files))
	for i, f := range t.Files {
		files[i] = []any{f.Name, f.Content[:]}
	}
	dirs := make([]any, len(t.Dirs))
	for i, d := range t.Dirs {
		dirs[i] = []any{d.Name, d.Tree[:], d.Meta[:]}
	}
	b, err := gvariant.Encode(typeDirTree, []any{files, dirs})
	if err != nil {
		panic(fmt.Sprintf("encode dirtree: %v", err))
	}
	return b
}

// Sort orders both entry lists by name.
func (t *DirTree) Sort() {
	slices.SortFunc(t.Files, func(a, b TreeFile) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Dirs, func(a, b TreeDir) int { return strings.Compare(a.Name, b.Name) })
}

// DecodeDirTree parses and validates a DIR_TREE object: normal form, valid
// names, 32-byte checksums, sorted unique entries, and no name used both as a
// file and as a directory.
func DecodeDirTree(data []byte) (*DirTree, error) {
	v, err := gvariant.Decode(typeDirTree, data)
	if err != nil {
		return nil, fmt.Errorf("parse dirtree: %w", err)
	}
	top := v.([]any)
	files, dirs := top[0].([]any), top[1].([]any)
	t := &DirTree{Files: make([]TreeFile, len(files)), Dirs: make([]TreeDir, len(dirs))}
	for i, e := range files {
		f := e.([]any)
		name := f[0].(string)
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("parse dirtree: %w", err)
		}
		if i > 0 && t.Files[i-1].Name >= name {
			return nil, fmt.Errorf("parse dirtree: files not sorted at %q", name)
		}
		id, err := IDFromBytes(f[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("parse dirtree: file %q: %w", name, err)
		}
		t.Files[i] = TreeFile{Name: name, Content: id}
	}
	for i, e := range dirs {
		d := e.([]any)
		name := d[0].(string)
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("parse dirtree: %w", err)
		}
		if i > 0 && t.Dirs[i-1].Name >= name {
			return nil, fmt.Errorf("parse dirtree: dirs not sorted at %q", name)
		}
		tree, err := IDFromBytes(d[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("parse dirtree: dir %q: %w", name, err)
		}
		meta, err := IDFromBytes(d[2].([]byte))
		if err != nil {
			return nil, fmt.Errorf("parse dirtree: dir %q: %w", name, err)
		}
		if _, dup := t.LookupFile(name); dup {
			return nil, fmt.Errorf("parse dirtree: %q is both a file and a directory", name)
		}
		t.Dirs[i] = TreeDir{Name: name, Tree: tree, Meta: meta}
	}
	return t, nil
}
