//go:build !initramfs

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/objstore"
)

const composefsUsage = `usage: gostree-mount --composefs --repo=REPO [--verity=require|auto|off] REV MOUNTPOINT
       gostree-mount --composefs --unmount MOUNTPOINT

Mounts the commit REV of the bare repository REPO read-only at MOUNTPOINT as
a composefs: an EROFS image of the commit's metadata (written to a temporary
file and removed once mounted) plus overlayfs over REPO/objects.
  --verity=require  every object must have kernel fs-verity matching the image
  --verity=auto     use fs-verity where the objects have it (default)
  --verity=off      do not check object data
`

// runComposefs implements `gostree-mount --composefs ARGS`: args are the
// arguments after --composefs. Flags may come before or after the
// positional arguments. It returns the process exit code: 0 ok, 1 error,
// 2 usage, 130 cancelled.
func runComposefs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gostree-mount --composefs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	repoPath := fs.String("repo", "", "path to the OSTree repository")
	verityFlag := fs.String("verity", "auto", "require, auto or off")
	unmount := fs.Bool("unmount", false, "unmount MOUNTPOINT")
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gostree-mount: "+format+"\n%s", append(a, composefsUsage)...)
		return 2
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, composefsUsage)
				return 0
			}
			return usage("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *unmount {
		if len(pos) != 1 {
			return usage("--unmount takes exactly one MOUNTPOINT")
		}
		if err := composefs.Unmount(pos[0]); err != nil {
			fmt.Fprintf(stderr, "gostree-mount: %v\n", err)
			return 1
		}
		return 0
	}
	if len(pos) != 2 {
		return usage("expected REV and MOUNTPOINT, got %d argument(s)", len(pos))
	}
	if *repoPath == "" {
		return usage("--repo is required")
	}
	verity, err := composefs.ParseVerity(*verityFlag)
	if err != nil {
		return usage("%v", err)
	}
	err = mountComposefs(ctx, *repoPath, pos[0], pos[1], verity)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(stderr, "gostree-mount: cancelled")
		return 130
	}
	fmt.Fprintf(stderr, "gostree-mount: %v\n", err)
	return 1
}

func mountComposefs(ctx context.Context, repoPath, rev, target string, verity composefs.Verity) error {
	repo, err := objstore.Open(repoPath, nil)
	if err != nil {
		return err
	}
	id, err := repo.ResolveRev(ctx, rev)
	if err != nil {
		return err
	}
	return composefs.MountCommit(ctx, repo, id, target, &composefs.CommitMountOptions{Verity: verity})
}
