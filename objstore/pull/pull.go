package pull

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gostree/gostree/objstore"
)

// Defaults of Options.
const (
	DefaultJobs               = 8
	DefaultTimeout            = 30 * time.Second
	DefaultRetries            = 5
	DefaultBackoff            = 500 * time.Millisecond
	DefaultCheckpointObjects  = 20000
	DefaultCheckpointInterval = 15 * time.Second
	DefaultProgressInterval   = 200 * time.Millisecond
)

// Options configure Pull and PullLocal. The zero value and nil are defaults.
type Options struct {
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Remotes says where Pull looks up remotes besides the repository
	// config.
	Remotes objstore.RemotesOptions

	// Depth is how many parent commits to pull as well; -1 pulls the whole
	// history (ostree pull --depth).
	Depth int
	// Mirror writes refs as local branches (not REMOTE:REF) and, when no
	// refs are named, pulls every ref in the summary and copies the
	// summary too.
	Mirror bool
	// CommitOnly fetches commit objects (and detached metadata) only; the
	// commits stay marked partial.
	CommitOnly bool
	// DryRun fetches metadata to find out what a pull would fetch, and
	// stores nothing.
	DryRun bool
	// Subpaths restricts the pull to these absolute paths of the tree
	// (ostree pull --subpath); the commits stay marked partial.
	Subpaths []string
	// RefPrefix overrides where PullLocal writes refs: "" writes local
	// branches, "NAME" writes NAME:REF.
	RefPrefix string

	// Jobs is how many requests run at once; 0 means DefaultJobs.
	Jobs int
	// Timeout bounds connecting, waiting for a response header, and any
	// pause in a response body; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries is how often a failed request (network error, stall, 5xx)
	// is retried, with exponential back-off from Backoff; 0 means
	// DefaultRetries, negative means none.
	Retries int
	Backoff time.Duration
	// Client replaces the HTTP client; nil builds one with Timeout.
	Client *http.Client

	// CheckpointObjects and CheckpointInterval bound how much verified
	// content a fetch worker holds in its transaction before it commits,
	// which is what an interrupted pull keeps; 0 means the defaults.
	CheckpointObjects  int
	CheckpointInterval time.Duration

	// Progress, when set, is called every ProgressInterval and on each
	// phase change, from one goroutine at a time.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TrustDirs hold trusted.ed25519 and revoked.ed25519 key lists (and
	// their .d directories) for remotes with sign-verify but no key of
	// their own; nil means /etc/ostree and /usr/share/ostree.
	TrustDirs []string
	// GPGKeyringDirs hold keyrings (*.gpg) trusted for every remote with
	// gpg-verify; nil means /usr/share/ostree/trusted.gpg.d.
	GPGKeyringDirs []string
	// LocalGPGVerify and LocalGPGVerifySummary make PullLocal check the
	// commits' (and the source's summary's) GPG signatures against the
	// keys of the remote named by RefPrefix, as ostree pull-local
	// --gpg-verify --remote=REMOTE does.
	LocalGPGVerify, LocalGPGVerifySummary bool
}

// RefUpdate is a ref a pull wrote (or found already up to date).
type RefUpdate struct {
	// Name is the refspec: "REMOTE:REF", or "REF" for local branches.
	Name     string
	Old, New objstore.ID
}

// Result reports what a pull did.
type Result struct {
	Refs []RefUpdate
	// Commits are the commits examined, targets and parents.
	Commits []objstore.ID
	// MetaFetched and ContentFetched count objects received and stored;
	// ContentMissing counts the content objects that were missing (what a
	// dry run would fetch).
	MetaFetched, ContentFetched, ContentMissing int64
	// Bytes counts bytes received; ContentBytesTotal is the estimated
	// transfer size of the missing content (from ostree.sizes; 0 when
	// unknown).
	Bytes, ContentBytesTotal int64
	// ContentBytesWritten is the size of the content written to disk.
	ContentBytesWritten int64
	Elapsed             time.Duration
}

// Pull fetches refs (branch names or commit checksums) from the named
// remote into repo. With no refs it pulls the remote's configured branches
// (or, with Mirror, everything in its summary).
//
// Metadata is fetched first, then the content objects repo lacks, with
// Jobs requests in flight. Every object is verified against its checksum
// and format before it is stored; a ref moves only after all objects of its
// commit are stored and synced. While a commit is incomplete it is marked
// with state/COMMIT.commitpartial, and a pull that stops early keeps every
// object it verified, so running it again fetches only what is missing.
//
// Remotes with gpg-verify (the default) or sign-verify get every new
// commit's OpenPGP or Ed25519 signatures checked before it is stored.
func Pull(ctx context.Context, repo *objstore.Repo, remote string, refs []string, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	rm, err := repo.Remote(remote, &opts.Remotes)
	if err != nil {
		return nil, err
	}
	if err := checkVerification(rm); err != nil {
		return nil, err
	}
	p := newPuller(repo, opts)
	defer p.close()
	if err := p.setVerifiers(rm); err != nil {
		return nil, err
	}
	if p.src, err = p.openSource(rm); err != nil {
		return nil, err
	}
	p.branches = rm.Branches
	p.collectionID = rm.CollectionID
	p.remote = remote
	if !opts.Mirror {
		p.refPrefix = remote + ":"
	}
	return p.run(ctx, refs)
}

// PullLocal fetches refs from the repository at srcPath into repo, as
// `ostree pull-local` does; with no refs it pulls all of the source's
// branches. Refs are written as local branches unless Options.RefPrefix is
// set. Objects are verified exactly as in Pull.
func PullLocal(ctx context.Context, repo *objstore.Repo, srcPath string, refs []string, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	src, err := objstore.Open(srcPath, &objstore.Options{Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	if src.Path() == repo.Path() {
		return nil, fmt.Errorf("pull-local: %s is the destination repository", srcPath)
	}
	p := newPuller(repo, opts)
	defer p.close()
	p.src = &localSource{r: src}
	if opts.RefPrefix != "" {
		if err := objstore.ValidateRemoteName(opts.RefPrefix); err != nil {
			return nil, err
		}
		p.refPrefix = opts.RefPrefix + ":"
	}
	if opts.LocalGPGVerify || opts.LocalGPGVerifySummary {
		if opts.RefPrefix == "" {
			return nil, errors.New("pull-local: GPG verification needs --remote, whose keys it uses")
		}
		rm, err := repo.Remote(opts.RefPrefix, &opts.Remotes)
		if err != nil {
			return nil, err
		}
		commit, summary, err := p.gpgChecks(rm, opts.LocalGPGVerify, opts.LocalGPGVerifySummary)
		if err != nil {
			return nil, err
		}
		if len(commit) > 0 {
			p.commitVerifier = commit
		}
		if len(summary) > 0 {
			// A local pull reads no summary of its own: check it here.
			p.summaryVerifier = summary
			data, err := p.src.summary(ctx)
			if err != nil {
				return nil, err
			}
			if err := p.verifySummary(ctx, data); err != nil {
				return nil, err
			}
		}
	}
	if len(refs) == 0 {
		all, err := src.Refs(ctx)
		if err != nil {
			return nil, err
		}
		for _, name := range objstore.SortedRefNames(all) {
			if !strings.Contains(name, ":") {
				refs = append(refs, name)
			}
		}
		if len(refs) == 0 {
			return nil, fmt.Errorf("pull-local: %s has no branches", srcPath)
		}
	}
	return p.run(ctx, refs)
}

// checkVerification refuses remotes whose signature settings gostree
// cannot honour, rather than pulling unverified content.
func checkVerification(rm *objstore.Remote) error {
	for _, k := range []string{"sign-verify", "sign-verify-summary"} {
		if _, err := signTypes(rm.Options[k]); err != nil {
			return fmt.Errorf("remote %q: %s: %w", rm.Name, k, err)
		}
	}
	return nil
}

// setVerifiers sets up the checks the remote's gpg-verify,
// gpg-verify-summary, sign-verify and sign-verify-summary options ask for.
func (p *puller) setVerifiers(rm *objstore.Remote) error {
	dirs := p.opts.TrustDirs
	if dirs == nil {
		dirs = defaultTrustDirs()
	}
	commit, summary, err := p.gpgChecks(rm, rm.GPGVerify, rm.GPGVerifySummary)
	if err != nil {
		return err
	}
	v, err := newVerifier(rm, "sign-verify", dirs)
	if err != nil {
		return err
	}
	if v != nil {
		commit = append(commit, v)
	}
	if v, err = newVerifier(rm, "sign-verify-summary", dirs); err != nil {
		return err
	}
	if v != nil {
		summary = append(summary, v)
	}
	if len(commit) > 0 {
		p.commitVerifier = commit
	}
	if len(summary) > 0 {
		p.summaryVerifier = summary
	}
	return nil
}

// puller holds the state of one pull.
type puller struct {
	repo *objstore.Repo
	src  source
	opts Options
	log  *slog.Logger
	now  func() time.Time
	c    counters
	f    *fetcher
	// transport is closed at the end when the puller built it.
	transport *http.Transport

	remote, refPrefix, collectionID string
	branches                        []string
	// commitVerifier and summaryVerifier check Ed25519 signatures when
	// the remote asks for them (nil otherwise).
	commitVerifier, summaryVerifier sigCheck

	// sem bounds concurrent metadata requests.
	sem chan struct{}
	// stage receives the verified objects (nil in a dry run).
	stage *stager

	mu sync.Mutex
	// commits maps each examined commit to whether it is partial.
	commits map[objstore.ID]bool
	// commitDepth is the depth each commit was examined with.
	commitDepth map[objstore.ID]int
	// scanned holds metadata objects already examined (by path too
	// when pulling subpaths).
	scanned map[string]bool
	// trees caches dirtrees received in this pull, for subpath pulls that
	// meet a tree again at another path.
	trees map[objstore.ID]*objstore.DirTree
	// wanted are the missing content objects, in discovery order.
	wanted   []objstore.ID
	wantedOK map[objstore.ID]bool
	// sizes holds archived sizes from ostree.sizes.
	sizes map[objstore.ID]int64
}

func newPuller(repo *objstore.Repo, o *Options) *puller {
	opts := *o
	opts.Subpaths = slices.Clone(opts.Subpaths)
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = DefaultRetries
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.CheckpointObjects <= 0 {
		opts.CheckpointObjects = DefaultCheckpointObjects
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p := &puller{
		repo: repo, opts: opts, log: log, now: now,
		sem:         make(chan struct{}, opts.Jobs),
		commits:     map[objstore.ID]bool{},
		commitDepth: map[objstore.ID]int{},
		scanned:     map[string]bool{},
		trees:       map[objstore.ID]*objstore.DirTree{},
		wantedOK:    map[objstore.ID]bool{},
		sizes:       map[objstore.ID]int64{},
	}
	client := opts.Client
	if client == nil {
		p.transport = newTransport(opts.Timeout, opts.Jobs)
		client = &http.Client{Transport: p.transport}
	}
	p.f = &fetcher{client: client, log: log, timeout: opts.Timeout, retries: opts.Retries, backoff: opts.Backoff, bytes: &p.c.bytes}
	return p
}

func (p *puller) close() {
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
}

// openSource picks the source for a remote's URL.
func (p *puller) openSource(rm *objstore.Remote) (source, error) {
	u, err := url.Parse(rm.URL)
	if err != nil {
		return nil, fmt.Errorf("remote %s: invalid url %q: %w", rm.Name, rm.URL, err)
	}
	switch u.Scheme {
	case "file":
		r, err := objstore.Open(u.Path, &objstore.Options{Logger: p.opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", rm.Name, err)
		}
		return &localSource{r: r}, nil
	case "http", "https":
		if err := p.configureTransport(rm); err != nil {
			return nil, fmt.Errorf("remote %s: %w", rm.Name, err)
		}
		return &httpSource{
			url: rm.URL, contentURL: rm.ObjectsURL(), f: p.f,
			cache: filepath.Join(p.repo.Path(), "tmp", "cache", "summaries", rm.Name),
		}, nil
	}
	return nil, fmt.Errorf("remote %s: unsupported url %q (want http, https or file)", rm.Name, rm.URL)
}

// configureTransport applies the remote's transport options as ostree
// names them: proxy, tls-permissive, tls-ca-path, tls-client-cert-path and
// tls-client-key-path. A caller-supplied Options.Client is left alone.
func (p *puller) configureTransport(rm *objstore.Remote) error {
	if p.transport == nil {
		return nil
	}
	if v := rm.Options["proxy"]; v != "" {
		u, err := url.Parse(v)
		if err != nil {
			return fmt.Errorf("invalid proxy %q: %w", v, err)
		}
		p.transport.Proxy = http.ProxyURL(u)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	changed := false
	if v := rm.Options["tls-permissive"]; v == "true" || v == "1" {
		p.log.Debug("tls-permissive: not verifying the server's certificate", "remote", rm.Name)
		cfg.InsecureSkipVerify = true
		changed = true
	}
	if path := rm.Options["tls-ca-path"]; path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("tls-ca-path: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls-ca-path %s: no PEM certificates", path)
		}
		cfg.RootCAs = pool
		changed = true
	}
	cert, key := rm.Options["tls-client-cert-path"], rm.Options["tls-client-key-path"]
	if cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("tls-client-cert-path/tls-client-key-path: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
		changed = true
	}
	if changed {
		p.transport.TLSClientConfig = cfg
	}
	return nil
}

// target is a commit to pull, and the ref it was asked for ("" when given
// by checksum).
type target struct {
	ref    string
	commit objstore.ID
}

func (p *puller) run(ctx context.Context, refs []string) (res *Result, err error) {
	start := p.now()
	rep := startReporter(p.opts.Progress, &p.c, start, p.now, p.opts.ProgressInterval)
	defer rep.close()
	for i, sp := range p.opts.Subpaths {
		if !strings.HasPrefix(sp, "/") {
			return nil, fmt.Errorf("subpath %q must be absolute", sp)
		}
		if sp != "/" {
			p.opts.Subpaths[i] = strings.TrimSuffix(sp, "/")
		}
	}
	if slices.Contains(p.opts.Subpaths, "/") {
		p.opts.Subpaths = nil
	}

	rep.phase(PhaseResolve)
	targets, summary, pullAll, err := p.resolve(ctx, refs)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if pullAll && p.opts.Mirror && !p.opts.DryRun {
		if sig, err = p.src.summarySig(ctx); err != nil {
			return nil, err
		}
	}

	rep.phase(PhaseMetadata)
	if !p.opts.DryRun {
		if p.stage, err = newStager(ctx, p.repo, p.log, p.now, p.opts.CheckpointObjects, p.opts.CheckpointInterval); err != nil {
			return nil, err
		}
	}
	res = &Result{}
	err = p.scanAll(ctx, targets)
	if err == nil && !p.opts.DryRun {
		p.c.contentTotal.Store(int64(len(p.wanted)))
		p.c.contentBytesTotal.Store(p.estimate())
		rep.phase(PhaseContent)
		err = p.fetchContent(ctx)
	}
	if p.stage != nil {
		// Verified objects are kept even when the pull failed, so that the
		// next attempt does not fetch them again.
		written, cerr := p.stage.close(context.WithoutCancel(ctx))
		res.ContentBytesWritten = written
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}

	for id := range p.commits {
		res.Commits = append(res.Commits, id)
	}
	slices.SortFunc(res.Commits, func(a, b objstore.ID) int { return strings.Compare(a.String(), b.String()) })
	res.ContentMissing = int64(len(p.wanted))
	res.ContentBytesTotal = p.estimate()

	if !p.opts.DryRun {
		if err := p.finish(ctx, targets, res); err != nil {
			return nil, err
		}
		if pullAll && p.opts.Mirror && summary != nil {
			if err := p.writeMirrorSummary(summary, sig); err != nil {
				return nil, err
			}
		}
	}
	res.MetaFetched = p.c.metaFetched.Load()
	res.ContentFetched = p.c.contentFetched.Load()
	res.Bytes = p.c.bytes.Load()
	res.Elapsed = p.now().Sub(start)
	rep.phase(PhaseDone)
	return res, nil
}

// resolve turns the requested refs into commits, using the summary when
// the source has one. pullAll reports that no refs were named and Mirror
// took every ref of the summary.
func (p *puller) resolve(ctx context.Context, refs []string) (targets []target, summaryData []byte, pullAll bool, err error) {
	var summary *objstore.Summary
	if _, isHTTP := p.src.(*httpSource); isHTTP || p.opts.Mirror {
		if summaryData, err = p.src.summary(ctx); err != nil {
			return nil, nil, false, err
		}
		if err := p.verifySummary(ctx, summaryData); err != nil {
			return nil, nil, false, err
		}
		if summaryData != nil {
			if summary, err = objstore.DecodeSummary(summaryData); err != nil {
				return nil, nil, false, fmt.Errorf("summary of %s: %w: %w", p.src, objstore.ErrInvalidObject, err)
			}
		}
	}
	if _, isHTTP := p.src.(*httpSource); isHTTP {
		var mode objstore.Mode
		if summary != nil {
			if mode, err = summary.Mode(); err != nil {
				return nil, nil, false, err
			}
		}
		if mode == "" {
			if mode, err = p.src.mode(ctx); err != nil {
				return nil, nil, false, err
			}
		}
		if mode != objstore.ModeArchive {
			return nil, nil, false, fmt.Errorf("%s is a %s repository; only archive repositories can be pulled over HTTP", p.src, mode)
		}
	}

	if len(refs) == 0 {
		switch {
		case len(p.branches) > 0:
			refs = p.branches
		case p.opts.Mirror && summary != nil:
			for _, r := range summary.Refs {
				refs = append(refs, r.Name)
			}
			pullAll = true
		case p.opts.Mirror:
			return nil, nil, false, fmt.Errorf("mirroring all refs needs a summary, and %s has none", p.src)
		default:
			return nil, nil, false, fmt.Errorf("no refs given and remote %s has no configured branches", p.remote)
		}
	}
	seen := map[string]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if len(ref) == 64 {
			if id, err := objstore.ParseID(ref); err == nil {
				targets = append(targets, target{commit: id})
				continue
			}
		}
		if err := objstore.ValidateRef(ref); err != nil {
			return nil, nil, false, err
		}
		var id objstore.ID
		if summary != nil {
			e, ok := summary.Lookup(ref)
			if !ok {
				return nil, nil, false, fmt.Errorf("no such branch %q in the summary of %s: %w", ref, p.src, fs.ErrNotExist)
			}
			id = e.Commit
		} else if id, err = p.src.ref(ctx, ref); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, false, fmt.Errorf("no such branch %q in %s: %w", ref, p.src, err)
			}
			return nil, nil, false, err
		}
		targets = append(targets, target{ref: ref, commit: id})
	}
	return targets, summaryData, pullAll, nil
}

// verifySummary checks summary.sig when the remote has sign-verify-summary.
func (p *puller) verifySummary(ctx context.Context, summary []byte) error {
	if p.summaryVerifier == nil {
		return nil
	}
	if summary == nil {
		return fmt.Errorf("%w: %s has no summary, and remote %s requires a signed one (sign-verify-summary)", ErrSignature, p.src, p.remote)
	}
	sig, err := p.src.summarySig(ctx)
	if err != nil {
		return err
	}
	var md objstore.Metadata
	if sig != nil {
		if md, err = objstore.DecodeMetadata(sig); err != nil {
			return fmt.Errorf("summary.sig of %s: %w: %w", p.src, objstore.ErrInvalidObject, err)
		}
	}
	return p.summaryVerifier.verify("the summary of "+p.src.String(), summary, md)
}

// estimate sums the archived sizes of the missing content, or returns 0
// when any is unknown.
func (p *puller) estimate() int64 {
	var total int64
	for _, id := range p.wanted {
		n, ok := p.sizes[id]
		if !ok {
			return 0
		}
		total += n
	}
	return total
}

// finish writes the refs, then clears the partial marks of the commits that
// are now complete.
func (p *puller) finish(ctx context.Context, targets []target, res *Result) error {
	tx, err := p.repo.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Abort()
	for _, t := range targets {
		if t.ref == "" {
			continue
		}
		spec := p.refPrefix + t.ref
		old, err := p.repo.ResolveRef(spec)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if old != t.commit {
			tx.SetRef(spec, t.commit)
		}
		res.Refs = append(res.Refs, RefUpdate{Name: spec, Old: old, New: t.commit})
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if p.opts.CommitOnly || len(p.opts.Subpaths) > 0 {
		return nil
	}
	for id, partial := range p.commits {
		if partial {
			if err := p.repo.MarkCommitPartial(id, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeMirrorSummary copies the source's summary (and signature) into the
// repository after a mirror of all its refs, as ostree does.
func (p *puller) writeMirrorSummary(summary, sig []byte) error {
	if err := objstore.WriteFileAtomic(filepath.Join(p.repo.Path(), objstore.SummaryPath), summary, 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	sigPath := filepath.Join(p.repo.Path(), objstore.SummarySigPath)
	if sig == nil {
		if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove summary.sig: %w", err)
		}
		return nil
	}
	if err := objstore.WriteFileAtomic(sigPath, sig, 0o644); err != nil {
		return fmt.Errorf("write summary.sig: %w", err)
	}
	return nil
}

// ErrNoSummary is wrapped by FetchSummary when the remote has no summary
// file; it matches fs.ErrNotExist too.
var ErrNoSummary = fmt.Errorf("remote has no summary file: %w", fs.ErrNotExist)

// FetchSummary fetches and parses the summary of the named remote (ostree
// remote refs and remote summary). It returns the raw bytes too, for
// display. The summary is cached like a pull's.
func FetchSummary(ctx context.Context, repo *objstore.Repo, remote string, opts *Options) (*objstore.Summary, []byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	rm, err := repo.Remote(remote, &opts.Remotes)
	if err != nil {
		return nil, nil, err
	}
	p := newPuller(repo, opts)
	defer p.close()
	if err := p.setVerifiers(rm); err != nil {
		return nil, nil, err
	}
	src, err := p.openSource(rm)
	if err != nil {
		return nil, nil, err
	}
	p.src, p.remote = src, remote
	data, err := src.summary(ctx)
	if err != nil {
		return nil, nil, err
	}
	if data == nil {
		return nil, nil, fmt.Errorf("remote %s: %w", remote, ErrNoSummary)
	}
	if err := p.verifySummary(ctx, data); err != nil {
		return nil, nil, err
	}
	s, err := objstore.DecodeSummary(data)
	if err != nil {
		return nil, nil, fmt.Errorf("summary of remote %s: %w: %w", remote, objstore.ErrInvalidObject, err)
	}
	return s, data, nil
}
