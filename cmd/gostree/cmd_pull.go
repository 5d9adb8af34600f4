package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/pull"
)

// pullFlags are the options pull and pull-local share.
type pullFlags struct {
	depth      int
	quiet      bool
	jobs       int
	timeout    time.Duration
	retries    int
	remotesDir string
}

func (f *pullFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.depth, "depth", 0, "also pull this many parent commits (-1: the whole history)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print nothing but errors")
	fl.IntVar(&f.jobs, "jobs", pull.DefaultJobs, "number of requests in flight at once")
	fl.DurationVar(&f.timeout, "timeout", pull.DefaultTimeout, "give up on a connection, response or stalled transfer after this long")
	fl.IntVar(&f.retries, "network-retries", pull.DefaultRetries, "retry failed requests this many times, with back-off")
}

func (f *pullFlags) options(a *app) *pull.Options {
	retries := f.retries
	if retries == 0 {
		retries = -1 // pull.Options: 0 means the default, negative none
	}
	return &pull.Options{Logger: a.logger(), Depth: f.depth, Jobs: f.jobs, Timeout: f.timeout, Retries: retries}
}

func newPullCmd(a *app) *cobra.Command {
	var f pullFlags
	var o pull.Options
	cmd := &cobra.Command{
		Use:   "pull [--depth=N] [--mirror] [--commit-metadata-only] [--dry-run] [--subpath=P]... REMOTE [REF...]",
		Short: "Download refs from a remote repository",
		Long: "Download refs (branch names or commit checksums) from a remote repository into this one, " +
			"verifying every object. Pulled refs are written as REMOTE:REF; with --mirror as local refs. " +
			"An interrupted pull resumes where it stopped. REMOTE:REF is accepted as the first argument.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("pull: REMOTE must be specified")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			remote, refs := args[0], args[1:]
			if r, ref, ok := strings.Cut(remote, ":"); ok {
				remote, refs = r, append([]string{ref}, refs...)
			}
			if err := objstore.ValidateRemoteName(remote); err != nil {
				return usagef("%v", err)
			}
			opts := f.options(a)
			opts.Mirror, opts.CommitOnly, opts.DryRun, opts.Subpaths = o.Mirror, o.CommitOnly, o.DryRun, o.Subpaths
			opts.Remotes = a.remotesOptions(repo, f.remotesDir)
			prog := a.newProgress(f.quiet)
			opts.Progress = prog.update
			res, err := pull.Pull(cmd.Context(), repo, remote, refs, opts)
			prog.finish()
			if err != nil {
				return err
			}
			a.printResult(res, opts.DryRun, f.quiet, false)
			return nil
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&o.Mirror, "mirror", false, "write refs as local branches; without REFs, pull every ref in the summary and copy it")
	fl.BoolVar(&o.CommitOnly, "commit-metadata-only", false, "fetch only the commit objects (they stay marked partial)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "only report what would be fetched (metadata is fetched to find out)")
	fl.StringArrayVar(&o.Subpaths, "subpath", nil, "only pull this absolute path of the tree (repeatable); the commit stays partial")
	fl.StringVar(&f.remotesDir, "remotes-dir", "", "also read remotes from this remotes.d directory")
	return cmd
}

func newPullLocalCmd(a *app) *cobra.Command {
	var f pullFlags
	var remote string
	var gpgVerify, gpgVerifySummary bool
	cmd := &cobra.Command{
		Use:   "pull-local [--remote=REMOTE [--gpg-verify] [--gpg-verify-summary]] [--depth=N] SRC_REPO [REF...]",
		Short: "Copy refs from another local repository, verifying every object",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("pull-local: SRC_REPO must be specified")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			opts := f.options(a)
			opts.RefPrefix = remote
			opts.LocalGPGVerify, opts.LocalGPGVerifySummary = gpgVerify, gpgVerifySummary
			prog := a.newProgress(f.quiet)
			opts.Progress = prog.update
			res, err := pull.PullLocal(cmd.Context(), repo, args[0], args[1:], opts)
			prog.finish()
			if err != nil {
				return err
			}
			a.printResult(res, false, f.quiet, true)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&remote, "remote", "", "write refs as REMOTE:REF instead of local branches")
	cmd.Flags().BoolVar(&gpgVerify, "gpg-verify", false, "GPG verify commits with the keys of --remote")
	cmd.Flags().BoolVar(&gpgVerifySummary, "gpg-verify-summary", false, "GPG verify the source's summary with the keys of --remote")
	return cmd
}

// printResult prints the closing line, as ostree does.
func (a *app) printResult(res *pull.Result, dryRun, quiet, local bool) {
	if quiet {
		return
	}
	if dryRun {
		size := "size unknown (no ostree.sizes in the commits)"
		if res.ContentBytesTotal > 0 {
			size = formatSize(uint64(res.ContentBytesTotal))
		}
		fmt.Fprintf(a.stdout, "Dry run: %d content objects to fetch, %s; %d metadata objects fetched to find out.\n",
			res.ContentMissing, size, res.MetaFetched)
		return
	}
	verb := "fetched"
	if local {
		verb = "imported"
	}
	line := fmt.Sprintf("%d metadata, %d content objects %s", res.MetaFetched, res.ContentFetched, verb)
	if res.Bytes > 0 {
		line += fmt.Sprintf("; %s transferred in %d seconds", formatSize(uint64(res.Bytes)), int(res.Elapsed.Seconds()))
	}
	line += fmt.Sprintf("; %s content written", formatSize(uint64(res.ContentBytesWritten)))
	fmt.Fprintln(a.stdout, line)
}

// progress shows a pull's progress: a progress bar on a terminal, a plain
// line every few seconds otherwise, nothing with --quiet.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	phase pull.Phase
	last  time.Time
	// byBytes says the bar counts bytes (when the size is known);
	// spinner that it is the metadata phase's spinner.
	byBytes, spinner bool
}

// plainEvery is how often progress lines are printed when output is not a
// terminal.
const plainEvery = 5 * time.Second

func (a *app) newProgress(quiet bool) *progress {
	p := &progress{w: a.stdout, quiet: quiet, phase: -1}
	if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// update receives a snapshot from the puller (never concurrently).
func (p *progress) update(s pull.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := s.Phase != p.phase
	p.phase = s.Phase
	if p.tty {
		p.updateBar(s, changed)
		return
	}
	now := time.Now()
	if changed {
		p.last = now
		if s.Phase == pull.PhaseContent && s.ContentTotal > 0 {
			size := ""
			if s.ContentBytesTotal > 0 {
				size = " (" + formatSize(uint64(s.ContentBytesTotal)) + ")"
			}
			fmt.Fprintf(p.w, "Received %d metadata objects (%d examined); receiving %d content objects%s\n",
				s.MetaFetched, s.MetaScanned, s.ContentTotal, size)
		}
		return
	}
	if now.Sub(p.last) < plainEvery {
		return
	}
	p.last = now
	switch s.Phase {
	case pull.PhaseMetadata:
		fmt.Fprintf(p.w, "Receiving metadata objects: %d fetched, %d examined\n", s.MetaFetched, s.MetaScanned)
	case pull.PhaseContent:
		fmt.Fprintf(p.w, "Receiving objects: %d%% (%d/%d), %s\n", percent(s.ContentFetched, s.ContentTotal),
			s.ContentFetched, s.ContentTotal, formatSize(uint64(s.Bytes)))
	}
}

func percent(n, total int64) int64 {
	if total <= 0 {
		return 100
	}
	return n * 100 / total
}

func (p *progress) updateBar(s pull.Progress, changed bool) {
	if changed && p.bar != nil {
		if p.spinner {
			p.bar.Describe(fmt.Sprintf("Received %d metadata objects (%d examined)", s.MetaFetched, s.MetaScanned))
		}
		p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
	switch s.Phase {
	case pull.PhaseMetadata:
		if p.bar == nil {
			p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionSpinnerType(14),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetElapsedTime(false))
			p.spinner = true
		}
		p.bar.Describe(fmt.Sprintf("Receiving metadata: %d objects fetched, %d examined", s.MetaFetched, s.MetaScanned))
		p.bar.Set64(s.MetaFetched)
	case pull.PhaseContent:
		if s.ContentTotal == 0 {
			return
		}
		if p.bar == nil {
			p.byBytes = s.ContentBytesTotal > 0
			p.spinner = false
			opts := []progressbar.Option{progressbar.OptionSetWriter(p.w), progressbar.OptionSetPredictTime(true),
				progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionThrottle(100 * time.Millisecond),
				progressbar.OptionFullWidth(), progressbar.OptionSetRenderBlankState(true)}
			max := s.ContentTotal
			if p.byBytes {
				max = s.ContentBytesTotal
				opts = append(opts, progressbar.OptionShowBytes(true))
			} else {
				opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetItsString("objects"), progressbar.OptionShowIts())
			}
			p.bar = progressbar.NewOptions64(max, opts...)
		}
		if p.byBytes {
			p.bar.Describe(fmt.Sprintf("Receiving objects %d/%d", s.ContentFetched, s.ContentTotal))
			p.bar.Set64(min(s.ContentBytes, s.ContentBytesTotal))
		} else {
			p.bar.Describe(fmt.Sprintf("Receiving objects (%s)", formatSize(uint64(s.Bytes))))
			p.bar.Set64(s.ContentFetched)
		}
	case pull.PhaseDone:
		if p.bar != nil {
			p.bar.Finish()
			fmt.Fprintln(p.w)
			p.bar = nil
		}
	}
}

// finish ends the bar, after a success or a failure.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}
