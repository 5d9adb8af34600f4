package pull

import (
	"sync"
	"sync/atomic"
	"time"
)

// Phase is the stage a pull is in.
type Phase int

// The phases of a pull, in order.
const (
	// PhaseResolve fetches the summary and resolves refs.
	PhaseResolve Phase = iota
	// PhaseMetadata fetches commits, dirtrees and dirmetas.
	PhaseMetadata
	// PhaseContent fetches the content objects the repository lacks.
	PhaseContent
	// PhaseDone is reported once, after refs are written.
	PhaseDone
)

func (p Phase) String() string {
	switch p {
	case PhaseResolve:
		return "resolving refs"
	case PhaseMetadata:
		return "receiving metadata"
	case PhaseContent:
		return "receiving content"
	case PhaseDone:
		return "done"
	}
	return "unknown phase"
}

// Progress is a snapshot of a running pull, passed to Options.Progress.
type Progress struct {
	Phase Phase
	// MetaFetched counts metadata objects received, MetaScanned the
	// metadata objects examined (received or already stored).
	MetaFetched, MetaScanned int64
	// ContentFetched counts content objects stored so far; ContentTotal is
	// how many are missing, known once PhaseContent starts.
	ContentFetched, ContentTotal int64
	// Bytes counts bytes received, retried requests included.
	Bytes int64
	// ContentBytes counts compressed content bytes received for stored
	// objects; ContentBytesTotal estimates the total when the commits
	// carry ostree.sizes (0 when unknown).
	ContentBytes, ContentBytesTotal int64
	// Elapsed is the time since the pull started.
	Elapsed time.Duration
}

// counters are the live values behind Progress.
type counters struct {
	phase                           atomic.Int64
	metaFetched, metaScanned        atomic.Int64
	contentFetched, contentTotal    atomic.Int64
	bytes                           atomic.Int64
	contentBytes, contentBytesTotal atomic.Int64
}

func (c *counters) snapshot(start, now time.Time) Progress {
	return Progress{
		Phase:             Phase(c.phase.Load()),
		MetaFetched:       c.metaFetched.Load(),
		MetaScanned:       c.metaScanned.Load(),
		ContentFetched:    c.contentFetched.Load(),
		ContentTotal:      c.contentTotal.Load(),
		Bytes:             c.bytes.Load(),
		ContentBytes:      c.contentBytes.Load(),
		ContentBytesTotal: c.contentBytesTotal.Load(),
		Elapsed:           now.Sub(start),
	}
}

// reporter calls the progress callback every interval from its own
// goroutine, and on demand; calls never overlap.
type reporter struct {
	fn    func(Progress)
	c     *counters
	start time.Time
	now   func() time.Time
	mu    sync.Mutex
	stop  chan struct{}
	done  chan struct{}
}

func startReporter(fn func(Progress), c *counters, start time.Time, now func() time.Time, every time.Duration) *reporter {
	r := &reporter{fn: fn, c: c, start: start, now: now, stop: make(chan struct{}), done: make(chan struct{})}
	if fn == nil {
		close(r.done)
		return r
	}
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.report()
			}
		}
	}()
	return r
}

func (r *reporter) report() {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(r.c.snapshot(r.start, r.now()))
}

// phase switches phases and reports at once.
func (r *reporter) phase(p Phase) {
	r.c.phase.Store(int64(p))
	r.report()
}

// close stops the ticker; it reports nothing more.
func (r *reporter) close() {
	if r.fn != nil {
		select {
		case <-r.stop:
		default:
			close(r.stop)
		}
	}
	<-r.done
}
