package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/initramfs/prepareroot"
)

const prepareRootUsage = `usage: gostree-mount prepare-root [OPTION...] [SYSROOT]

Makes the deployment named by the kernel's ostree= argument the tree at
SYSROOT (default /sysroot), where the physical root is mounted; the
physical root moves to SYSROOT/sysroot. This is ostree-prepare-root, for
an initramfs that mounts the root itself (dracut, systemd). Built with
-tags initramfs and run as /init (PID 1), the same binary does the whole
initramfs: modules, root device, prepare-root, switch_root.

Options:
`

// runPrepareRoot implements `gostree-mount prepare-root`.
func runPrepareRoot(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("gostree-mount prepare-root", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cmdline := fl.String("cmdline", "", "kernel command line to use instead of /proc/cmdline (for testing)")
	config := fl.String("config", "", "prepare-root.conf to use instead of the initramfs's /etc/ostree or /usr/lib/ostree one")
	runDir := fl.String("run-dir", "/run", "where ostree-booted is written (for testing)")
	checkInit := fl.String("check-init", "", "read this file of the deployment in full before finishing (e.g. /sbin/init)")
	mountVar := fl.Bool("mount-var", false, "bind-mount the stateroot's var on /var (when systemd does not)")
	verbose := fl.Bool("verbose", false, "print debug messages")
	fl.Usage = func() {
		fmt.Fprint(stderr, prepareRootUsage)
		fl.PrintDefaults()
	}
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fl.NArg() == 0 {
			break
		}
		pos, args = append(pos, fl.Arg(0)), fl.Args()[1:]
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "gostree-mount prepare-root: expected at most one SYSROOT, got %d arguments\n", len(pos))
		return 2
	}
	opts := &prepareroot.Options{Cmdline: *cmdline, RunDir: *runDir, CheckInit: *checkInit, MountVar: *mountVar,
		Logger: consoleLogger(stdout, *verbose)}
	if len(pos) == 1 {
		opts.Sysroot = pos[0]
	}
	if *config != "" {
		data, err := os.ReadFile(*config)
		if err != nil {
			fmt.Fprintf(stderr, "gostree-prepare-root: %v\n", err)
			return 1
		}
		if opts.Config, err = prepareroot.ParseConfig(string(data)); err != nil {
			fmt.Fprintf(stderr, "gostree-prepare-root: %s: %v\n", *config, err)
			return 1
		}
	}
	res, err := prepareroot.Prepare(ctx, opts)
	if err != nil {
		reportFailure(stderr, err)
		return 1
	}
	opts.Logger.Info("prepared", append([]any{"deployment", "/" + res.Deployment.RelDir}, res.LogAttrs()...)...)
	return 0
}

// runInit is PID 1 of the initramfs. It returns only on failure, after
// printing why; the caller exits, and the kernel panics ("Attempted to
// kill init"), which honours panic=N.
func runInit(ctx context.Context, console io.Writer) int {
	level := &slog.LevelVar{}
	log := slog.New(&lineHandler{w: console, level: level, mu: &sync.Mutex{}})
	err := prepareroot.Init(ctx, &prepareroot.InitOptions{Logger: log, LogLevel: level})
	reportFailure(console, err)
	unix.Sync()
	return 1
}

// reportFailure prints one line naming what failed, then the kernel's
// related messages (overlayfs and fs-verity name the file they refused).
func reportFailure(w io.Writer, err error) {
	fmt.Fprintf(w, "gostree-prepare-root: FAILED: %v\n", err)
	for _, m := range prepareroot.KernelMessages([]string{"overlayfs:", "fs-verity", "erofs", "EXT4-fs error"}, 8) {
		if !strings.Contains(m, "mounted with root inode") { // EROFS's success message
			fmt.Fprintf(w, "gostree-prepare-root: kernel: %s\n", m)
		}
	}
}

// consoleLogger prints "gostree-prepare-root: MESSAGE key=value…" lines,
// readable on a serial console.
func consoleLogger(w io.Writer, verbose bool) *slog.Logger {
	level := &slog.LevelVar{}
	if verbose {
		level.Set(slog.LevelDebug)
	}
	return slog.New(&lineHandler{w: w, level: level, mu: &sync.Mutex{}})
}

type lineHandler struct {
	w     io.Writer
	level slog.Leveler
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("gostree-prepare-root: ")
	if r.Level >= slog.LevelWarn {
		b.WriteString(strings.ToLower(r.Level.String()) + ": ")
	}
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if v := a.Value.String(); v != "" {
			fmt.Fprintf(&b, " %s=%s", a.Key, v)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
