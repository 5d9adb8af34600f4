package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// FsckProblem is one corrupt or missing object found by Fsck.
type FsckProblem struct {
	Object ObjectName
	// Commit and Path locate a use of the object ("" for a ref or commit).
	Commit ID
	Path   string
	Err    error
}

func (p FsckProblem) String() string {
	where := ""
	if p.Path != "" {
		where = fmt.Sprintf(" (%s in commit %s)", p.Path, p.Commit)
	} else if !p.Commit.IsZero() && p.Commit != p.Object.ID {
		where = fmt.Sprintf(" (commit %s)", p.Commit)
	}
	return fmt.Sprintf("%s%s: %v", p.Object, where, p.Err)
}

// FsckStats counts what Fsck checked.
type FsckStats struct {
	Commits, MetaObjects, ContentObjects int
	Problems                             int
}

// FsckOptions configure Fsck.
type FsckOptions struct {
	// Jobs is the number of content objects verified at once; 0 = 2×GOMAXPROCS.
	Jobs int
}

// Fsck re-hashes every object reachable from every commit in the repository
// (and the commits refs point to), calling report for each corrupt or
// missing one with a path that uses it. Commits marked partial
// (state/CHECKSUM.commitpartial) are not expected to have all their objects.
// It returns an error only when it could not run; problems go to report.
func (r *Repo) Fsck(ctx context.Context, opts *FsckOptions, report func(FsckProblem)) (FsckStats, error) {
	if opts == nil {
		opts = &FsckOptions{}
	}
	var stats FsckStats
	var mu sync.Mutex
	problem := func(p FsckProblem) {
		mu.Lock()
		stats.Problems++
		mu.Unlock()
		report(p)
	}
	commits := map[ID]bool{}
	err := r.ListObjects(ctx, func(n ObjectName) error {
		if n.Type == TypeCommit {
			commits[n.ID] = true
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	refs, err := r.Refs(ctx)
	if err != nil {
		return stats, err
	}
	for _, name := range SortedRefNames(refs) {
		id := refs[name]
		if !commits[id] {
			problem(FsckProblem{Object: ObjectName{id, TypeCommit}, Err: fmt.Errorf("ref %s points to a missing commit", name)})
		}
	}
	ids := make([]ID, 0, len(commits))
	for id := range commits {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })

	type contentJob struct {
		id     ID
		commit ID
		path   string
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 2 * runtime.GOMAXPROCS(0)
	}
	ch := make(chan contentJob, 1024)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if ctx.Err() != nil {
					continue
				}
				if err := r.VerifyContent(ctx, j.id); err != nil {
					problem(FsckProblem{Object: ObjectName{j.id, TypeFile}, Commit: j.commit, Path: j.path, Err: unwrapObjErr(err)})
				}
			}
		}()
	}
	seen := map[ObjectName]bool{}
	var walk func(commit ID, partial bool, tree, meta ID, path string)
	walk = func(commit ID, partial bool, tree, meta ID, path string) {
		if ctx.Err() != nil {
			return
		}
		if n := (ObjectName{meta, TypeDirMeta}); !seen[n] {
			seen[n] = true
			stats.MetaObjects++
			if _, err := r.LoadDirMeta(ctx, meta); err != nil && !(partial && errors.Is(err, fs.ErrNotExist)) {
				problem(FsckProblem{Object: n, Commit: commit, Path: path, Err: unwrapObjErr(err)})
			}
		}
		n := ObjectName{tree, TypeDirTree}
		if seen[n] {
			return
		}
		seen[n] = true
		stats.MetaObjects++
		dt, err := r.LoadDirTree(ctx, tree)
		if err != nil {
			if !(partial && errors.Is(err, fs.ErrNotExist)) {
				problem(FsckProblem{Object: n, Commit: commit, Path: path, Err: unwrapObjErr(err)})
			}
			return
		}
		base := path
		if base == "/" {
			base = ""
		}
		for _, f := range dt.Files {
			fn := ObjectName{f.Content, TypeFile}
			if seen[fn] {
				continue
			}
			seen[fn] = true
			stats.ContentObjects++
			if partial {
				if ok, _ := r.HasObject(f.Content, TypeFile); !ok {
					continue
				}
			}
			select {
			case ch <- contentJob{f.Content, commit, base + "/" + f.Name}:
			case <-ctx.Done():
				return
			}
		}
		for _, d := range dt.Dirs {
			walk(commit, partial, d.Tree, d.Meta, base+"/"+d.Name)
		}
	}
	for _, id := range ids {
		stats.Commits++
		c, err := r.LoadCommit(ctx, id)
		if err != nil {
			problem(FsckProblem{Object: ObjectName{id, TypeCommit}, Commit: id, Err: unwrapObjErr(err)})
			continue
		}
		// A missing parent is normal after `pull --depth`, so parents are
		// not required; detached metadata must parse when present.
		if _, err := r.LoadCommitMeta(ctx, id); err != nil {
			problem(FsckProblem{Object: ObjectName{id, TypeCommitMeta}, Commit: id, Err: unwrapObjErr(err)})
		}
		walk(id, r.isPulling(id), c.RootTree, c.RootMeta, "/")
	}
	close(ch)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return stats, err
	}
	return stats, nil
}

// IsPartial reports whether state/ marks the commit as partial: pulled
// incompletely, or found damaged by an fsck (ostree then writes "f" into the
// marker so the next pull repairs it).
func (r *Repo) IsPartial(commit ID) bool {
	_, err := os.Stat(filepath.Join(r.path, "state", commit.String()+".commitpartial"))
	return err == nil
}

// isPulling reports whether the commit is partial because a pull has not
// finished (missing objects are then expected), as opposed to a commit that
// an fsck marked partial because objects were found missing or corrupt.
func (r *Repo) isPulling(commit ID) bool {
	data, err := os.ReadFile(filepath.Join(r.path, "state", commit.String()+".commitpartial"))
	return err == nil && !bytes.HasPrefix(data, []byte("f"))
}

func unwrapObjErr(err error) error {
	var dm *DigestMismatchError
	if errors.As(err, &dm) {
		return fmt.Errorf("corrupted: checksum of the stored data is %s", dm.Got)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("missing")
	}
	return err
}
