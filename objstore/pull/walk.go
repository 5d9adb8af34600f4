package pull

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/gostree/gostree/objstore"
)

// group runs tasks on goroutines and keeps the first error; a failure
// cancels the context the other tasks see.
type group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

func newGroup(ctx context.Context) *group {
	ctx, cancel := context.WithCancelCause(ctx)
	return &group{ctx: ctx, cancel: cancel}
}

func (g *group) go_(fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if g.ctx.Err() != nil {
			return
		}
		if err := fn(g.ctx); err != nil {
			g.cancel(err)
		}
	}()
}

// wait waits for every task and returns the first error, or the parent
// context's error.
func (g *group) wait() error {
	g.wg.Wait()
	err := context.Cause(g.ctx)
	g.cancel(nil)
	return err
}

// scanAll examines the target commits, their parents down to Depth and,
// for partial commits, their trees, fetching and storing the metadata the
// repository lacks and collecting the content objects it lacks.
func (p *puller) scanAll(ctx context.Context, targets []target) error {
	g := newGroup(ctx)
	byCommit := map[objstore.ID][]string{}
	var order []objstore.ID
	for _, t := range targets {
		if _, ok := byCommit[t.commit]; !ok {
			order = append(order, t.commit)
			byCommit[t.commit] = nil
		}
		if t.ref != "" {
			byCommit[t.commit] = append(byCommit[t.commit], t.ref)
		}
	}
	for _, id := range order {
		g.go_(func(ctx context.Context) error { return p.scanCommit(ctx, g, id, byCommit[id], p.opts.Depth, false) })
	}
	return g.wait()
}

// fetchMeta fetches a metadata object, holding a request slot.
func (p *puller) fetchMeta(ctx context.Context, n objstore.ObjectName) ([]byte, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	data, err := p.src.meta(ctx, n)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%s: %w", n, objstore.ErrObjectNotFound)
	}
	if n.Type != objstore.TypeCommitMeta {
		p.c.metaFetched.Add(1)
	}
	return data, nil
}

// store stages a verified metadata object (not in a dry run).
func (p *puller) store(ctx context.Context, n objstore.ObjectName, data []byte) error {
	if p.stage == nil {
		return nil
	}
	return p.stage.with(func(tx *objstore.Transaction) error {
		if n.Type == objstore.TypeCommitMeta {
			return tx.ImportMeta(ctx, n, data)
		}
		_, err := tx.WriteMeta(ctx, n.Type, data)
		return err
	})
}

// has reports whether the repository (or this pull) already holds an
// object.
func (p *puller) has(n objstore.ObjectName) (bool, error) {
	if p.stage != nil {
		return p.stage.has(n)
	}
	return p.repo.HasObject(n.ID, n.Type)
}

// firstScan reports whether key is examined for the first time.
func (p *puller) firstScan(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.scanned[key] {
		return false
	}
	p.scanned[key] = true
	return true
}

// scanCommit examines one commit, requested under refs (none for parents
// and commits named by checksum).
func (p *puller) scanCommit(ctx context.Context, g *group, id objstore.ID, refs []string, depth int, isParent bool) error {
	p.mu.Lock()
	if d, seen := p.commitDepth[id]; seen && (d < 0 || depth >= 0 && d >= depth) {
		p.mu.Unlock()
		return nil
	}
	p.commitDepth[id] = depth
	p.mu.Unlock()

	n := objstore.ObjectName{ID: id, Type: objstore.TypeCommit}
	stored, err := p.repo.HasObject(id, objstore.TypeCommit)
	if err != nil {
		return err
	}
	partial := p.repo.IsPartial(id)
	var c *objstore.Commit
	if stored {
		if c, err = p.repo.LoadCommit(ctx, id); err != nil {
			return err
		}
	} else {
		// Detached metadata first, as ostree does; most commits have none.
		cmName := objstore.ObjectName{ID: id, Type: objstore.TypeCommitMeta}
		cm, err := p.fetchMeta(ctx, cmName)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fetch detached metadata of commit %s: %w", id, err)
		}
		data, err := p.fetchMeta(ctx, n)
		if err != nil {
			if isParent && errors.Is(err, fs.ErrNotExist) {
				// History often ends in a pruned parent; ostree stops there too.
				p.log.Debug("parent commit not on the remote; history ends here", "commit", id)
				return nil
			}
			return fmt.Errorf("fetch commit %s: %w", id, err)
		}
		if err := objstore.VerifyMeta(n, data); err != nil {
			return fmt.Errorf("commit %s from %s: %w", id, p.src, err)
		}
		if cm != nil {
			if err := objstore.VerifyMeta(cmName, cm); err != nil {
				return fmt.Errorf("detached metadata of commit %s from %s: %w", id, p.src, err)
			}
		}
		if c, err = objstore.DecodeCommit(data); err != nil {
			return err
		}
		if p.commitVerifier != nil {
			var md objstore.Metadata
			if cm != nil {
				if md, err = objstore.DecodeMetadata(cm); err != nil {
					return err
				}
			}
			if err := p.commitVerifier.verify("commit "+id.String(), data, md); err != nil {
				return err
			}
		}
		for _, ref := range refs {
			if err := p.verifyBindings(c, ref); err != nil {
				return fmt.Errorf("commit %s: %w", id, err)
			}
		}
		if !p.opts.DryRun {
			// The mark is durable before the commit can become visible, so
			// an incomplete commit is never mistaken for a complete one.
			if err := p.repo.MarkCommitPartial(id, true); err != nil {
				return err
			}
			if cm != nil {
				if err := p.store(ctx, cmName, cm); err != nil {
					return err
				}
			}
			if err := p.store(ctx, n, data); err != nil {
				return err
			}
		}
		partial = true
	}
	if stored {
		for _, ref := range refs {
			if err := p.verifyBindings(c, ref); err != nil {
				return fmt.Errorf("commit %s: %w", id, err)
			}
		}
	}
	p.c.metaScanned.Add(1)
	p.mu.Lock()
	p.commits[id] = partial
	p.mu.Unlock()
	p.recordSizes(c)

	if c.HasParent() && depth != 0 {
		next := depth - 1
		if depth < 0 {
			next = -1
		}
		g.go_(func(ctx context.Context) error { return p.scanCommit(ctx, g, c.Parent, nil, next, true) })
	}
	if partial && !p.opts.CommitOnly {
		g.go_(func(ctx context.Context) error { return p.scanDirMeta(ctx, c.RootMeta) })
		g.go_(func(ctx context.Context) error { return p.scanTree(ctx, g, c.RootTree, "/") })
	}
	return nil
}

// verifyBindings checks ostree.ref-binding and ostree.collection-binding:
// a commit that names the refs it may be published under must name the one
// being pulled, so a server cannot pass off one branch as another.
func (p *puller) verifyBindings(c *objstore.Commit, ref string) error {
	v, ok := c.Metadata.Lookup("ostree.ref-binding")
	if !ok {
		if p.collectionID != "" {
			return errors.New("expected commit metadata to have ref binding information, found none")
		}
		return nil
	}
	list, _ := v.Value.([]any)
	if v.Type.String() != "as" {
		return fmt.Errorf("ostree.ref-binding has type %s, want as", v.Type)
	}
	var refs []string
	for _, e := range list {
		refs = append(refs, e.(string))
	}
	if !slices.Contains(refs, ref) {
		return fmt.Errorf("commit has no requested ref %q in its ref binding metadata (%s)", ref, strings.Join(refs, ", "))
	}
	if p.collectionID != "" {
		cid, ok := c.Metadata.String("ostree.collection-binding")
		if !ok {
			return errors.New("expected commit metadata to have collection ID binding information, found none")
		}
		if cid != p.collectionID {
			return fmt.Errorf("commit has collection ID %q in its collection binding, while the remote has %q", cid, p.collectionID)
		}
	}
	return nil
}

// recordSizes remembers the archived object sizes of ostree.sizes
// (checksum, varint archived size, varint unpacked size[, type]).
func (p *puller) recordSizes(c *objstore.Commit) {
	v, ok := c.Metadata.Lookup("ostree.sizes")
	if !ok || v.Type.String() != "aay" {
		return
	}
	list, _ := v.Value.([]any)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range list {
		b, _ := e.([]byte)
		if len(b) < 34 {
			continue
		}
		id, _ := objstore.IDFromBytes(b[:32])
		archived, n := uvarint(b[32:])
		if n <= 0 {
			continue
		}
		if _, m := uvarint(b[32+n:]); m <= 0 {
			continue
		}
		p.sizes[id] = int64(archived)
	}
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, -1
}

func (p *puller) scanDirMeta(ctx context.Context, id objstore.ID) error {
	n := objstore.ObjectName{ID: id, Type: objstore.TypeDirMeta}
	if !p.firstScan(n.String()) {
		return nil
	}
	p.c.metaScanned.Add(1)
	if ok, err := p.has(n); err != nil || ok {
		return err
	}
	data, err := p.fetchMeta(ctx, n)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", n, err)
	}
	if err := objstore.VerifyMeta(n, data); err != nil {
		return fmt.Errorf("%s: %w", p.src, err)
	}
	return p.store(ctx, n, data)
}

func (p *puller) scanTree(ctx context.Context, g *group, id objstore.ID, path string) error {
	n := objstore.ObjectName{ID: id, Type: objstore.TypeDirTree}
	key := n.String()
	subpaths := len(p.opts.Subpaths) > 0
	if subpaths {
		key += path
	}
	if !p.firstScan(key) {
		return nil
	}
	p.c.metaScanned.Add(1)
	t, err := p.loadTree(ctx, n, subpaths)
	if err != nil {
		return err
	}
	for _, f := range t.Files {
		if subpaths && !p.matchesSubpath(path+f.Name, false) {
			continue
		}
		if err := p.want(f.Content); err != nil {
			return err
		}
	}
	for _, d := range t.Dirs {
		if subpaths && !p.matchesSubpath(path+d.Name, true) {
			continue
		}
		sub := path + d.Name + "/"
		g.go_(func(ctx context.Context) error { return p.scanDirMeta(ctx, d.Meta) })
		g.go_(func(ctx context.Context) error { return p.scanTree(ctx, g, d.Tree, sub) })
	}
	return nil
}

// loadTree returns a dirtree from the repository, or fetches, verifies and
// stores it.
func (p *puller) loadTree(ctx context.Context, n objstore.ObjectName, cache bool) (*objstore.DirTree, error) {
	if cache {
		p.mu.Lock()
		t := p.trees[n.ID]
		p.mu.Unlock()
		if t != nil {
			return t, nil
		}
	}
	stored, err := p.repo.HasObject(n.ID, n.Type)
	if err != nil {
		return nil, err
	}
	if stored {
		return p.repo.LoadDirTree(ctx, n.ID)
	}
	data, err := p.fetchMeta(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", n, err)
	}
	if got := objstore.Hash(data); got != n.ID {
		return nil, fmt.Errorf("%s: %w", p.src, &objstore.DigestMismatchError{Object: n, Got: got})
	}
	t, err := objstore.DecodeDirTree(data)
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w: %w", n, p.src, objstore.ErrInvalidObject, err)
	}
	if err := p.store(ctx, n, data); err != nil {
		return nil, err
	}
	if cache {
		p.mu.Lock()
		p.trees[n.ID] = t
		p.mu.Unlock()
	}
	return t, nil
}

// matchesSubpath is ostree's matches_pull_dir for every requested subpath:
// a file matches when it is a requested path, lies below one, or is a
// directory on the way to one.
func (p *puller) matchesSubpath(file string, isDir bool) bool {
	for _, dir := range p.opts.Subpaths {
		if rest, ok := strings.CutPrefix(dir, file); ok {
			if rest == "" || rest[0] == '/' && isDir {
				return true
			}
			continue
		}
		if rest, ok := strings.CutPrefix(file, dir); ok && strings.HasPrefix(rest, "/") {
			return true
		}
	}
	return false
}

// want records a content object to fetch unless the repository has it.
func (p *puller) want(id objstore.ID) error {
	p.mu.Lock()
	seen := p.wantedOK[id]
	p.wantedOK[id] = true
	p.mu.Unlock()
	if seen {
		return nil
	}
	ok, err := p.repo.HasObject(id, objstore.TypeFile)
	if err != nil || ok {
		return err
	}
	p.mu.Lock()
	p.wanted = append(p.wanted, id)
	p.mu.Unlock()
	return nil
}

// fetchContent fetches the missing content objects with Jobs workers,
// into the shared transaction, which is committed at checkpoints.
func (p *puller) fetchContent(ctx context.Context) error {
	if len(p.wanted) == 0 {
		return nil
	}
	jobs := make(chan objstore.ID)
	g := newGroup(ctx)
	for range min(p.opts.Jobs, len(p.wanted)) {
		g.go_(func(ctx context.Context) error {
			for id := range jobs {
				if err := p.fetchOne(ctx, id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	go func() {
		defer close(jobs)
		for _, id := range p.wanted {
			select {
			case jobs <- id:
			case <-g.ctx.Done():
				return
			}
		}
	}()
	return g.wait()
}

// fetchOne fetches and stores one content object, then checkpoints if due.
func (p *puller) fetchOne(ctx context.Context, id objstore.ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var n int64
	err := p.stage.with(func(tx *objstore.Transaction) error {
		var err error
		n, err = p.src.content(ctx, tx, id)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("fetch content object %s from %s: %w", id, p.src, err)
	}
	p.c.contentFetched.Add(1)
	p.c.contentBytes.Add(n)
	return p.stage.maybeCheckpoint(ctx)
}
