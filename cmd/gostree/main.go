// Command gostree reads and writes OSTree repositories: init, commit, log,
// show, ls, cat, refs, rev-parse, checkout and fsck, with ostree's flag names.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
