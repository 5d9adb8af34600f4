package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/fusefs"
)

func newMountCmd(a *app) *cobra.Command {
	var (
		all, foreground, allowOther, suid, debugFuse bool
		verify, logFile, treeCache                   string
	)
	cmd := &cobra.Command{
		Use:   "mount [OPTION...] [--all] [REV] MOUNTPOINT",
		Short: "Mount a commit, or the whole repository, read-only through FUSE",
		Long: `Mount REV read-only at MOUNTPOINT through FUSE, straight from the object
store: no checkout, no image. With --all, mount the whole repository:
refs/<ref> (following the ref as it moves) and commits/<checksum>.

Every byte read is verified against the repository's checksums unless
--verify=off. Without -f the command returns once the mount is ready and
serves in the background; unmount with fusermount3 -u MOUNTPOINT.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all {
				return exactArgs(1)(cmd, args)
			}
			return exactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var v fusefs.Verify
			switch verify {
			case "on":
			case "off":
				v = fusefs.VerifyOff
			default:
				return usagef("--verify=%q: want on or off", verify)
			}
			rev, mountpoint := "", args[len(args)-1]
			if !all {
				rev = args[0]
			}
			daemon := fusefs.DaemonFromEnv(os.Getenv)
			if v == fusefs.VerifyOff && daemon == nil {
				fmt.Fprintln(a.stderr, "gostree mount: --verify=off: file contents are served unchecked")
			}
			if !foreground && daemon == nil {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				_, err = fusefs.SpawnDaemon(ctx, exe, os.Args[1:], os.Environ(), logFile)
				return err
			}
			level := slog.LevelInfo
			if a.verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			err := func() error {
				repo, err := a.openRepo()
				if err != nil {
					return err
				}
				fsys, source, err := fusefs.OpenRev(ctx, repo, rev, all, &fusefs.Options{Logger: log, Verify: v, TreeCacheDir: treeCache})
				if err != nil {
					return err
				}
				mopts := &fusefs.MountOptions{Source: source, AllowOther: allowOther, Suid: suid, Debug: debugFuse}
				return fsys.MountAndServe(ctx, mountpoint, mopts, func(err error) {
					if err == nil && daemon != nil {
						os.Chdir("/") // hold no directory busy
					}
					daemon.Ready(err)
				})
			}()
			daemon.Ready(err) // errors from before the mount; no-op after
			if err != nil && ctx.Err() != nil && daemon == nil {
				return ctx.Err()
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "mount the whole repository: refs/<ref> and commits/<checksum>")
	f.StringVar(&verify, "verify", "on", "verify every byte read (on), or serve object files unchecked (off: trusted disks only)")
	f.BoolVarP(&foreground, "foreground", "f", false, "stay in the foreground until unmounted or interrupted")
	f.StringVar(&logFile, "log-file", "", "where the background daemon logs (default: nowhere)")
	f.BoolVar(&allowOther, "allow-other", false, "let other users use the mount")
	f.BoolVar(&suid, "suid", false, "honour setuid/setgid bits (default nosuid)")
	f.StringVar(&treeCache, "tree-cache", fusefs.DefaultTreeCacheDir(), "directory keeping fs-verity Merkle trees of big objects across mounts (empty: none)")
	f.BoolVar(&debugFuse, "debug-fuse", false, "log every FUSE request (with -v)")
	return cmd
}
