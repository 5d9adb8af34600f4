//go:build initramfs

// Built with -tags initramfs, gostree-mount is only the initramfs helper:
// prepare-root, linking the standard library, x/sys, gvariant, fsverity and
// initramfs/prepareroot and nothing else (no FUSE, no object store), so it
// stays small and static (CGO_ENABLED=0). Run as PID 1 it is /init.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() == 1 {
		os.Exit(runInit(context.Background(), os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "prepare-root" {
		return runPrepareRoot(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, "gostree-mount (initramfs build): usage: gostree-mount prepare-root [OPTION...] [SYSROOT]\n"+
		"As PID 1 (the initramfs's /init) it mounts the root and switches to the deployment.\n")
	return 2
}
