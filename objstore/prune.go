package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// PruneStats counts what Prune removed.
type PruneStats struct {
	Objects int
	Bytes   int64
	// VerityRecords are the digest log's records dropped with their
	// objects (and older records of objects recorded again).
	VerityRecords int
}

// Reachable returns every object reachable from the given commits: the
// commits, their detached metadata, dirtrees, dirmetas and content. With
// history set, parent commits that are present are followed too.
func (r *Repo) Reachable(ctx context.Context, commits []ID, history bool) (map[ObjectName]bool, error) {
	seen := map[ObjectName]bool{}
	var walk func(tree, meta ID) error
	walk = func(tree, meta ID) error {
		seen[ObjectName{meta, TypeDirMeta}] = true
		n := ObjectName{tree, TypeDirTree}
		if seen[n] {
			return nil
		}
		seen[n] = true
		dt, err := r.LoadDirTree(ctx, tree)
		if err != nil {
			return err
		}
		for _, f := range dt.Files {
			seen[ObjectName{f.Content, TypeFile}] = true
		}
		for _, d := range dt.Dirs {
			if err := walk(d.Tree, d.Meta); err != nil {
				return err
			}
		}
		return nil
	}
	for _, id := range commits {
		for {
			n := ObjectName{id, TypeCommit}
			if seen[n] {
				break
			}
			c, err := r.LoadCommit(ctx, id)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && len(seen) > 0 {
					break // history beyond a shallow pull
				}
				return nil, err
			}
			seen[n] = true
			seen[ObjectName{id, TypeCommitMeta}] = true
			if err := walk(c.RootTree, c.RootMeta); err != nil {
				return nil, err
			}
			if !history || !c.HasParent() {
				break
			}
			id = c.Parent
		}
	}
	return seen, nil
}

// Prune deletes every object not reachable from a ref (following commit
// history) or from the extra commits given (e.g. deployments). It takes the
// repository's exclusive lock, so no transaction runs meanwhile.
func (r *Repo) Prune(ctx context.Context, keep []ID) (PruneStats, error) {
	var st PruneStats
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return st, err
	}
	defer unlock()
	refs, err := r.Refs(ctx)
	if err != nil {
		return st, err
	}
	roots := append([]ID{}, keep...)
	for _, id := range refs {
		roots = append(roots, id)
	}
	live, err := r.Reachable(ctx, roots, true)
	if err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	var dead []ObjectName
	if err := r.ListObjects(ctx, func(n ObjectName) error {
		if !live[n] && n.Type != TypeTombstoneCommit {
			dead = append(dead, n)
		}
		return nil
	}); err != nil {
		return st, err
	}
	// Commits first, so an interrupted prune never leaves a commit whose
	// objects are gone.
	rank := map[ObjectType]int{TypeCommit: 0, TypeCommitMeta: 1, TypeDirTree: 2, TypeDirMeta: 3, TypeFile: 4}
	slices.SortStableFunc(dead, func(a, b ObjectName) int { return rank[a.Type] - rank[b.Type] })
	for _, n := range dead {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		p := filepath.Join(r.path, r.ObjectPath(n.ID, n.Type))
		if fi, err := os.Lstat(p); err == nil {
			st.Bytes += fi.Size()
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("prune %s: %w", n, err)
		}
		st.Objects++
	}
	if r.recordsVerity() {
		n, err := r.compactVerityLog(func(id ID) bool { return live[ObjectName{id, TypeFile}] })
		if err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		st.VerityRecords = n
	}
	return st, nil
}
