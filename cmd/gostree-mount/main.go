//go:build !initramfs

// Command gostree-mount mounts an OSTree commit or a whole repository:
// with --fuse through FUSE (no root needed where fusermount3 works), with
// --composefs as a kernel composefs (EROFS + overlayfs) mount. It is small
// on purpose, so it can live in an initramfs: stdlib flag, no cobra.
//
//	gostree-mount --fuse [OPTION...] --repo=REPO REV MOUNTPOINT
//	gostree-mount --fuse --all [OPTION...] --repo=REPO MOUNTPOINT
//	gostree-mount --composefs ...
//	gostree-mount prepare-root [OPTION...] [SYSROOT]
//
// Built with -tags initramfs it is only the initramfs helper (prepare-root,
// and /init when run as PID 1); see main_initramfs.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitCancelled = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: gostree-mount --fuse [OPTION...] [--repo=REPO] REV MOUNTPOINT
       gostree-mount --fuse --all [OPTION...] [--repo=REPO] MOUNTPOINT
       gostree-mount --composefs [OPTION...] ...
       gostree-mount prepare-root [OPTION...] [SYSROOT]
Run with --fuse --help or --composefs --help for the options.
`

// run picks the mount kind: the first --fuse or --composefs argument.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "prepare-root" {
		return runPrepareRoot(ctx, args[1:], stdout, stderr)
	}
	for i, a := range args {
		if a == "--" {
			break
		}
		rest := append(append([]string{}, args[:i]...), args[i+1:]...)
		switch a {
		case "--fuse", "-fuse":
			return runFuse(ctx, rest, stdout, stderr)
		case "--composefs", "-composefs":
			return runComposefs(ctx, rest, stdout, stderr)
		}
	}
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
	}
	fmt.Fprint(stderr, "gostree-mount: choose --fuse or --composefs\n"+usage)
	return exitUsage
}

// fuseFlags are the options of a FUSE mount, shared in spirit with
// `gostree mount`.
type fuseFlags struct {
	repo, logFile, treeCache, verify string
	all, foreground, verbose         bool
	allowOther, suid, debugFuse      bool
}

func runFuse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f fuseFlags
	fl := flag.NewFlagSet("gostree-mount --fuse", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&f.repo, "repo", "", "path to the OSTree repository (default $OSTREE_REPO or .)")
	fl.BoolVar(&f.all, "all", false, "mount the whole repository: refs/<ref> and commits/<checksum>")
	fl.StringVar(&f.verify, "verify", "on", "verify every byte read (on), or serve object files unchecked (off: trusted disks only)")
	fl.BoolVar(&f.foreground, "foreground", false, "stay in the foreground until unmounted or interrupted")
	fl.BoolVar(&f.foreground, "f", false, "short for --foreground")
	fl.StringVar(&f.logFile, "log-file", "", "where the background daemon logs (default: nowhere)")
	fl.BoolVar(&f.verbose, "verbose", false, "log debug messages")
	fl.BoolVar(&f.verbose, "v", false, "short for --verbose")
	fl.BoolVar(&f.allowOther, "allow-other", false, "let other users use the mount")
	fl.BoolVar(&f.suid, "suid", false, "honour setuid/setgid bits (default nosuid)")
	fl.StringVar(&f.treeCache, "tree-cache", fusefs.DefaultTreeCacheDir(), "directory keeping fs-verity Merkle trees of big objects across mounts (empty: none)")
	fl.BoolVar(&f.debugFuse, "debug-fuse", false, "log every FUSE request (with -v)")
	fl.Usage = func() {
		fmt.Fprint(stderr, "usage: gostree-mount --fuse [OPTION...] [--repo=REPO] REV MOUNTPOINT\n"+
			"       gostree-mount --fuse --all [OPTION...] [--repo=REPO] MOUNTPOINT\n\n"+
			"Mounts a commit (or the repository) read-only through FUSE. Without -f it\n"+
			"returns once the mount is ready and keeps serving in the background;\n"+
			"unmount with fusermount3 -u MOUNTPOINT (or umount as root).\n\nOptions:\n")
		fl.PrintDefaults()
	}
	// Options may come before or after the arguments.
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fl.NArg() == 0 {
			break
		}
		pos, args = append(pos, fl.Arg(0)), fl.Args()[1:]
	}
	want := 2
	if f.all {
		want = 1
	}
	if len(pos) != want {
		fmt.Fprintf(stderr, "gostree-mount: expected %d argument(s), got %d\n", want, len(pos))
		fl.Usage()
		return exitUsage
	}
	var verify fusefs.Verify
	switch f.verify {
	case "on":
	case "off":
		verify = fusefs.VerifyOff
	default:
		fmt.Fprintf(stderr, "gostree-mount: --verify=%q: want on or off\n", f.verify)
		return exitUsage
	}
	rev, mountpoint := "", pos[len(pos)-1]
	if !f.all {
		rev = pos[0]
	}

	daemon := fusefs.DaemonFromEnv(os.Getenv)
	if verify == fusefs.VerifyOff && daemon == nil {
		fmt.Fprintln(stderr, "gostree-mount: --verify=off: file contents are served unchecked")
	}
	if !f.foreground && daemon == nil {
		exe, err := os.Executable()
		if err == nil {
			_, err = fusefs.SpawnDaemon(ctx, exe, os.Args[1:], os.Environ(), f.logFile)
		}
		return exitCode(ctx, err, stderr)
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	err := func() error {
		path := f.repo
		if path == "" {
			path = os.Getenv("OSTREE_REPO")
		}
		if path == "" {
			path = "."
		}
		repo, err := objstore.Open(path, &objstore.Options{Logger: log})
		if err != nil {
			return err
		}
		opts := &fusefs.Options{Logger: log, Verify: verify, TreeCacheDir: f.treeCache}
		fsys, source, err := fusefs.OpenRev(ctx, repo, rev, f.all, opts)
		if err != nil {
			return err
		}
		mopts := &fusefs.MountOptions{Source: source, AllowOther: f.allowOther, Suid: f.suid, Debug: f.debugFuse}
		return fsys.MountAndServe(ctx, mountpoint, mopts, func(err error) {
			if err == nil && daemon != nil {
				os.Chdir("/") // hold no directory busy
			}
			daemon.Ready(err)
		})
	}()
	daemon.Ready(err) // reports errors from before the mount; no-op after
	if err == nil {
		return exitOK // unmounted, by us on a signal or by someone else
	}
	return exitCode(ctx, err, stderr)
}

func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(stderr, "gostree-mount: cancelled")
		return exitCancelled
	}
	fmt.Fprintf(stderr, "gostree-mount: %v\n", err)
	return exitError
}
