package pull

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gostree/gostree/objstore"
)

// stager shares one transaction among all the goroutines of a pull and
// commits it at checkpoints without stopping them: a checkpoint puts a new
// transaction in place for new writes, waits for the writes still going to
// the old one, and commits it. Every commit costs a syncfs and an fsync of
// each objects/XX directory it touched, so a pull commits a few times, not
// once per worker or object.
type stager struct {
	repo     *objstore.Repo
	log      *slog.Logger
	now      func() time.Time
	maxObjs  int
	interval time.Duration

	mu            sync.Mutex
	cur           *generation
	since         time.Time
	checkpointing bool
	written       int64
}

// generation is one transaction and the writes in flight into it.
type generation struct {
	tx      *objstore.Transaction
	writers sync.WaitGroup
	objects int
}

func newStager(ctx context.Context, repo *objstore.Repo, log *slog.Logger, now func() time.Time, maxObjs int, interval time.Duration) (*stager, error) {
	tx, err := repo.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &stager{repo: repo, log: log, now: now, maxObjs: maxObjs, interval: interval,
		cur: &generation{tx: tx}, since: now()}, nil
}

// with runs fn with the current transaction; the transaction is not
// committed before fn returns.
func (s *stager) with(fn func(tx *objstore.Transaction) error) error {
	s.mu.Lock()
	g := s.cur
	g.writers.Add(1)
	g.objects++
	s.mu.Unlock()
	defer g.writers.Done()
	return fn(g.tx)
}

// has reports whether the repository or the current transaction holds an
// object.
func (s *stager) has(n objstore.ObjectName) (bool, error) {
	s.mu.Lock()
	tx := s.cur.tx
	s.mu.Unlock()
	return tx.Has(n.ID, n.Type)
}

// maybeCheckpoint commits the current transaction when it holds maxObjs
// objects or is interval old. One checkpoint runs at a time, on the
// calling goroutine; the others carry on into the new transaction.
func (s *stager) maybeCheckpoint(ctx context.Context) error {
	s.mu.Lock()
	due := !s.checkpointing && (s.cur.objects >= s.maxObjs || s.now().Sub(s.since) >= s.interval)
	if !due {
		s.mu.Unlock()
		return nil
	}
	s.checkpointing = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.checkpointing = false
		s.mu.Unlock()
	}()
	tx, err := s.repo.Begin(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.cur
	s.cur, s.since = &generation{tx: tx}, s.now()
	s.mu.Unlock()
	// Everything in old is verified: a cancelled pull still keeps it.
	return s.commit(context.WithoutCancel(ctx), old)
}

func (s *stager) commit(ctx context.Context, g *generation) error {
	g.writers.Wait()
	st := g.tx.Stats()
	start := s.now()
	if err := g.tx.Commit(ctx); err != nil {
		return fmt.Errorf("store objects: %w", err)
	}
	s.mu.Lock()
	s.written += st.ContentBytesWritten
	s.mu.Unlock()
	s.log.Debug("checkpoint", "objects", st.MetaWritten+st.ContentWritten, "bytes", st.ContentBytesWritten, "took", s.now().Sub(start))
	return nil
}

// close commits what the current transaction holds, whether the pull
// succeeded or not: everything in it was verified. It returns the content
// bytes written by all commits.
func (s *stager) close(ctx context.Context) (int64, error) {
	s.mu.Lock()
	g := s.cur
	s.mu.Unlock()
	err := s.commit(ctx, g)
	if err != nil {
		g.tx.Abort()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written, err
}
