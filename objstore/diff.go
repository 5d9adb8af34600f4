package objstore

import (
	"context"
	"fmt"
	"path"
)

// TreeDiff is how one tree differs from another, as ostree diff lists it:
// paths (absolute within the tree) in the order ostree_diff_dirs finds
// them.
type TreeDiff struct {
	// Modified are paths in both trees whose content (files), metadata
	// (directories) or type differ.
	Modified []string
	// Removed are paths only in the first tree; a removed directory is
	// listed, not what it held.
	Removed []string
	// Added are paths only in the second tree; an added directory is
	// listed with everything below it.
	Added []string
}

// DiffCommits compares the trees of commits a and b as ostree diff does:
// each directory's files (by name) then subdirectories; a file whose type
// (regular file or symlink) or content object differs is modified, a
// directory whose dirmeta differs is modified and is compared further (an
// unchanged dirtree is skipped), a name that is a file on one side and a
// directory on the other is modified.
func (r *Repo) DiffCommits(ctx context.Context, a, b ID) (*TreeDiff, error) {
	ca, err := r.LoadCommit(ctx, a)
	if err != nil {
		return nil, err
	}
	cb, err := r.LoadCommit(ctx, b)
	if err != nil {
		return nil, err
	}
	d := &TreeDiff{}
	if err := r.diffTrees(ctx, d, "/", ca.RootTree, cb.RootTree); err != nil {
		return nil, err
	}
	return d, nil
}

func (r *Repo) diffTrees(ctx context.Context, d *TreeDiff, dir string, a, b ID) error {
	if a == b {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ta, err := r.LoadDirTree(ctx, a)
	if err != nil {
		return fmt.Errorf("diff %s: %w", dir, err)
	}
	tb, err := r.LoadDirTree(ctx, b)
	if err != nil {
		return fmt.Errorf("diff %s: %w", dir, err)
	}
	for _, f := range ta.Files {
		p := path.Join(dir, f.Name)
		if g, ok := tb.LookupFile(f.Name); ok {
			if g.Content == f.Content {
				continue
			}
			d.Modified = append(d.Modified, p) // a different object, whatever its type
		} else if _, ok := tb.LookupDir(f.Name); ok {
			d.Modified = append(d.Modified, p)
		} else {
			d.Removed = append(d.Removed, p)
		}
	}
	for _, sd := range ta.Dirs {
		p := path.Join(dir, sd.Name)
		if g, ok := tb.LookupDir(sd.Name); ok {
			if g.Meta != sd.Meta {
				d.Modified = append(d.Modified, p)
			}
			if err := r.diffTrees(ctx, d, p, sd.Tree, g.Tree); err != nil {
				return err
			}
		} else if _, ok := tb.LookupFile(sd.Name); ok {
			d.Modified = append(d.Modified, p)
		} else {
			d.Removed = append(d.Removed, p)
		}
	}
	for _, f := range tb.Files {
		if _, ok := ta.LookupFile(f.Name); ok {
			continue
		}
		if _, ok := ta.LookupDir(f.Name); !ok {
			d.Added = append(d.Added, path.Join(dir, f.Name))
		}
	}
	for _, sd := range tb.Dirs {
		if _, ok := ta.LookupDir(sd.Name); ok {
			continue
		}
		if _, ok := ta.LookupFile(sd.Name); ok {
			continue
		}
		p := path.Join(dir, sd.Name)
		d.Added = append(d.Added, p)
		if err := r.addAll(ctx, d, p, sd.Tree); err != nil {
			return err
		}
	}
	return nil
}

// addAll lists everything below an added directory: each entry, and a
// directory's own entries right after it.
func (r *Repo) addAll(ctx context.Context, d *TreeDiff, dir string, tree ID) error {
	t, err := r.LoadDirTree(ctx, tree)
	if err != nil {
		return fmt.Errorf("diff %s: %w", dir, err)
	}
	for _, f := range t.Files {
		d.Added = append(d.Added, path.Join(dir, f.Name))
	}
	for _, sd := range t.Dirs {
		p := path.Join(dir, sd.Name)
		d.Added = append(d.Added, p)
		if err := r.addAll(ctx, d, p, sd.Tree); err != nil {
			return err
		}
	}
	return nil
}
