package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/keyfile"
)

// PruneStats counts what a prune considered and removed.
type PruneStats struct {
	// Total is the number of objects considered: content, dirtree,
	// dirmeta and commit objects (commits only, with CommitOnly), as
	// ostree counts them (detached metadata and tombstones are not).
	Total int
	// Objects and Bytes are what was deleted (with NoPrune, what would
	// be): the objects and the sizes of their files.
	Objects int
	Bytes   int64
	// VerityRecords are the digest log's records dropped with their
	// objects (and older records of objects recorded again).
	VerityRecords int
}

// PruneOptions choose what a prune keeps, as ostree prune's options do.
// The zero value keeps every commit in the repository and what it reaches.
type PruneOptions struct {
	// RefsOnly keeps what the refs (local and remote) reach, Depth parents
	// deep; without it every commit present is kept.
	RefsOnly bool
	// Depth is how many parents of each ref's commit are kept: -1 all,
	// 0 none (other negative values count as 0, as in ostree).
	Depth int
	// BranchDepth gives refs (named as Refs names them: "main",
	// "origin:main") their own depth.
	BranchDepth map[string]int
	// OnlyBranches, when set, limits Depth and KeepYoungerThan to these
	// refs; the others keep all their history.
	OnlyBranches []string
	// KeepYoungerThan, when set, keeps each ref's commit and its parents
	// back to the first one older than this (for refs without their own
	// BranchDepth, instead of Depth).
	KeepYoungerThan time.Time
	// Keep are more commits to keep, with all their history.
	Keep []ID
	// CommitOnly considers commit objects only: their trees are neither
	// walked nor deleted.
	CommitOnly bool
	// NoPrune counts what would be deleted and deletes nothing.
	NoPrune bool
}

// byRefs reports whether the roots are the refs (RefsOnly or one of the
// per-ref rules, which imply it as in ostree).
func (o *PruneOptions) byRefs() bool {
	return o.RefsOnly || len(o.BranchDepth) > 0 || len(o.OnlyBranches) > 0 || !o.KeepYoungerThan.IsZero()
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

// Prune deletes every object not reachable from a ref (following all
// commit history) or from the extra commits given (e.g. deployments): the
// prune `ostree admin` runs. See PruneWith.
func (r *Repo) Prune(ctx context.Context, keep []ID) (PruneStats, error) {
	return r.PruneWith(ctx, &PruneOptions{RefsOnly: true, Depth: -1, Keep: keep})
}

// PruneWith deletes the objects opts does not keep, as ostree prune does: an
// unreachable commit goes with its detached metadata and partial-commit
// marker, leaving a tombstone when [core] tombstone-commits is set;
// detached metadata of a commit that is kept, tombstones and objects of
// other types stay. Commits go first, so an interrupted prune never leaves
// a commit whose objects are gone. A missing commit ends a history walk
// (shallow pulls); a missing dirtree of a commit that is not marked
// partial is an error. Without NoPrune the fs-verity digest log is
// compacted afterwards. It takes the repository's exclusive lock.
func (r *Repo) PruneWith(ctx context.Context, opts *PruneOptions) (PruneStats, error) {
	var st PruneStats
	if opts == nil {
		opts = &PruneOptions{}
	}
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return st, err
	}
	defer unlock()
	considered := func(t ObjectType) bool {
		if opts.CommitOnly {
			return t == TypeCommit
		}
		return t == TypeCommit || t == TypeDirTree || t == TypeDirMeta || t == TypeFile
	}
	var objects []ObjectName
	if err := r.ListObjects(ctx, func(n ObjectName) error {
		if considered(n.Type) {
			objects = append(objects, n)
		}
		return nil
	}); err != nil {
		return st, err
	}
	st.Total = len(objects)

	w := &pruneWalk{r: r, ctx: ctx, commitOnly: opts.CommitOnly, live: map[ObjectName]bool{}, kept: map[ID]int{}}
	if err := w.roots(opts, objects); err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	var dead []ObjectName
	for _, n := range objects {
		if !w.live[n] {
			dead = append(dead, n)
		}
	}
	rank := map[ObjectType]int{TypeCommit: 0, TypeDirTree: 1, TypeDirMeta: 2, TypeFile: 3}
	slices.SortStableFunc(dead, func(a, b ObjectName) int { return rank[a.Type] - rank[b.Type] })
	tombstones, err := r.config.Bool("core", "tombstone-commits", false)
	if err != nil {
		return st, fmt.Errorf("config [core] tombstone-commits: %w", err)
	}
	for _, n := range dead {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		p := filepath.Join(r.path, r.ObjectPath(n.ID, n.Type))
		if fi, err := os.Lstat(p); err == nil {
			st.Bytes += fi.Size()
		}
		st.Objects++
		if opts.NoPrune {
			continue
		}
		if n.Type == TypeCommit {
			if err := r.removeCommit(n.ID, tombstones, true); err != nil {
				return st, fmt.Errorf("prune: %w", err)
			}
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("prune %s: %w", n, err)
		}
	}
	if r.recordsVerity() && !opts.NoPrune && st.Objects > 0 {
		n, err := r.compactVerityLog(func(id ID) bool { return w.live[ObjectName{id, TypeFile}] })
		if err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		st.VerityRecords = n
	}
	return st, nil
}

// removeCommit deletes a commit object: its partial-commit marker (when
// partialToo), its detached metadata, the object, then a tombstone when
// asked. A missing commit object is an error; the rest may be absent.
func (r *Repo) removeCommit(id ID, tombstone, partialToo bool) error {
	if partialToo {
		if err := os.Remove(filepath.Join(r.path, "state", id.String()+".commitpartial")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(filepath.Join(r.path, r.ObjectPath(id, TypeCommitMeta))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(filepath.Join(r.path, r.ObjectPath(id, TypeCommit))); err != nil {
		return fmt.Errorf("delete commit %s: %w", id, err)
	}
	if !tombstone {
		return nil
	}
	// ostree's tombstone: {'commit': <b'CHECKSUM'>}.
	data, err := gvariant.Encode(gvariant.MustParseType("a{sv}"), []any{
		gvariant.DictEntry{Key: "commit", Value: gvariant.NewVariant("ay", append([]byte(id.String()), 0))},
	})
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(r.path, r.ObjectPath(id, TypeTombstoneCommit)), data, 0o644); err != nil {
		return fmt.Errorf("write tombstone of %s: %w", id, err)
	}
	return nil
}

// ErrCommitReferenced is returned by DeleteCommit for a commit a ref
// points at.
var ErrCommitReferenced = errors.New("commit is referenced")

// DeleteCommit deletes a commit object and its detached metadata and
// leaves a tombstone, turning on [core] tombstone-commits first as ostree
// prune --delete-commit does. It refuses (ErrCommitReferenced, naming the
// ref) a commit a ref points at. Its objects stay until a prune.
func (r *Repo) DeleteCommit(ctx context.Context, id ID) error {
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	refs, err := r.Refs(ctx)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(refs))
	for _, name := range names {
		if refs[name] == id {
			return fmt.Errorf("commit '%s' is referenced by '%s': %w", id, name, ErrCommitReferenced)
		}
	}
	if on, _ := r.config.Bool("core", "tombstone-commits", false); !on {
		if err := r.UpdateConfig(func(cfg *keyfile.File) error {
			cfg.Set("core", "tombstone-commits", "true")
			return nil
		}); err != nil {
			return err
		}
	}
	return r.removeCommit(id, true, false)
}

// pruneWalk marks what a prune keeps. kept holds, per commit, the most
// parents still to keep below it that any walk reached it with (-1: all),
// so a commit reached again with more depth is walked again (the union of
// the roots' histories, whatever the order).
type pruneWalk struct {
	r          *Repo
	ctx        context.Context
	commitOnly bool
	live       map[ObjectName]bool
	kept       map[ID]int
}

func (w *pruneWalk) roots(opts *PruneOptions, objects []ObjectName) error {
	for _, id := range opts.Keep {
		if err := w.commit(id, -1); err != nil {
			return err
		}
	}
	if !opts.byRefs() {
		for _, n := range objects {
			if n.Type == TypeCommit {
				if err := w.commit(n.ID, -1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	refs, err := w.r.Refs(w.ctx)
	if err != nil {
		return err
	}
	depth := func(d int) int {
		if d < -1 {
			return 0
		}
		return d
	}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		id := refs[name]
		var err error
		if d, ok := opts.BranchDepth[name]; ok {
			err = w.commit(id, depth(d))
		} else if len(opts.OnlyBranches) > 0 && !slices.Contains(opts.OnlyBranches, name) {
			err = w.commit(id, -1)
		} else if !opts.KeepYoungerThan.IsZero() {
			err = w.younger(id, opts.KeepYoungerThan.Unix())
		} else {
			err = w.commit(id, depth(opts.Depth))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// commit keeps id and rem of its parents (-1: all).
func (w *pruneWalk) commit(id ID, rem int) error {
	for {
		if k, ok := w.kept[id]; ok && (k == -1 || rem != -1 && k >= rem) {
			return nil
		}
		c, err := w.keep(id, rem)
		if err != nil || c == nil || rem == 0 || !c.HasParent() {
			return err
		}
		id = c.Parent
		if rem > 0 {
			rem--
		}
	}
}

// younger keeps id and its parents back to the first older than since
// (seconds); id itself is kept however old.
func (w *pruneWalk) younger(id ID, since int64) error {
	for first := true; ; first = false {
		c, err := w.r.LoadCommit(w.ctx, id)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !first && c.Timestamp.Unix() < since {
			return nil
		}
		if _, ok := w.kept[id]; !ok {
			if err := w.keepLoaded(id, c, 0); err != nil {
				return err
			}
		}
		if !c.HasParent() {
			return nil
		}
		id = c.Parent
	}
}

// keep marks commit id (noting rem) and, the first time, its tree. It
// returns nil for a missing commit.
func (w *pruneWalk) keep(id ID, rem int) (*Commit, error) {
	c, err := w.r.LoadCommit(w.ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // history beyond a shallow pull, or a dangling ref
	}
	if err != nil {
		return nil, err
	}
	return c, w.keepLoaded(id, c, rem)
}

// keepLoaded is keep for a commit already loaded.
func (w *pruneWalk) keepLoaded(id ID, c *Commit, rem int) error {
	_, seen := w.kept[id]
	w.kept[id] = rem
	w.live[ObjectName{id, TypeCommit}] = true
	if seen || w.commitOnly {
		return nil
	}
	partial := false
	if _, err := os.Stat(filepath.Join(w.r.path, "state", id.String()+".commitpartial")); err == nil {
		partial = true
	}
	if err := w.tree(c.RootTree, c.RootMeta, partial); err != nil {
		return fmt.Errorf("commit %s: %w", id, err)
	}
	return nil
}

// tree marks a dirtree, its dirmeta and everything below; files and
// dirmetas are marked without being read. A missing dirtree is an error
// unless the commit is partial.
func (w *pruneWalk) tree(tree, meta ID, partial bool) error {
	w.live[ObjectName{meta, TypeDirMeta}] = true
	n := ObjectName{tree, TypeDirTree}
	if w.live[n] {
		return nil
	}
	dt, err := w.r.LoadDirTree(w.ctx, tree)
	if err != nil {
		if partial && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	w.live[n] = true
	for _, f := range dt.Files {
		w.live[ObjectName{f.Content, TypeFile}] = true
	}
	for _, d := range dt.Dirs {
		if err := w.tree(d.Tree, d.Meta, partial); err != nil {
			return err
		}
	}
	return nil
}
