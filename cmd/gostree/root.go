package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitCancelled = 130
)

// usageError marks errors in how the command was called (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitCodeError carries a specific exit code with an already-printed message.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// app holds what every subcommand shares: output streams and global flags.
type app struct {
	stdout, stderr io.Writer
	repoPath       string
	verbose        bool
	cpuProfile     string
	stopProfile    func()
}

func (a *app) logger() *slog.Logger {
	if !a.verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openRepo opens --repo (or $OSTREE_REPO, or the current directory).
func (a *app) openRepo() (*objstore.Repo, error) {
	path := a.repoPath
	if path == "" {
		path = os.Getenv("OSTREE_REPO")
	}
	if path == "" {
		path = "."
	}
	return objstore.Open(path, &objstore.Options{Logger: a.logger()})
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "gostree",
		Short:         "Read and write OSTree repositories, and mount their commits",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.repoPath, "repo", "", "path to the OSTree repository (default $OSTREE_REPO or .)")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "print debug logs")
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (for performance work)")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if a.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return err
		}
		a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return pprof.StartCPUProfile(f)
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.AddCommand(
		newInitCmd(a), newCommitCmd(a), newLogCmd(a), newShowCmd(a), newLsCmd(a), newCatCmd(a),
		newRefsCmd(a), newRevParseCmd(a), newCheckoutCmd(a), newFsckCmd(a), newPruneCmd(a), newDiffCmd(a), newConfigCmd(a), newResetCmd(a), newChecksumCmd(a), newExportCmd(a), newGPGSignCmd(a), newFsverityCmd(a),
		newComposefsCmd(a),
		newMountCmd(a),
		newRemoteCmd(a), newPullCmd(a), newPullLocalCmd(a), newSummaryCmd(a), newServeCmd(a),
		newAdminCmd(a),
		newInitramfsCmd(a),
	)
	return root
}

// run executes the CLI and maps errors to exit codes in one place.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if a.stopProfile != nil {
		a.stopProfile()
	}
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ce *exitCodeError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(stderr, "error: cancelled")
		return exitCancelled
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error: %v\nTry '%s --help'.\n", err, root.Name())
		return exitUsage
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	return exitError
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: expected %d argument(s), got %d", cmd.Name(), n, len(args))
		}
		return nil
	}
}

// minArgs requires at least n arguments, with ostree's message when fewer.
func minArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s", msg)
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usagef("%s: expected %d to %d arguments, got %d", cmd.Name(), lo, hi, len(args))
		}
		return nil
	}
}
