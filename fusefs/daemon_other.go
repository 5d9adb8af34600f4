//go:build !linux

package fusefs

import (
	"context"
	"errors"
)

// DaemonEnv marks a process started by SpawnDaemon.
const DaemonEnv = "GOSTREE_MOUNT_READY_FD"

// SpawnDaemon is only supported on Linux.
func SpawnDaemon(ctx context.Context, exe string, args, env []string, logFile string) (int, error) {
	return 0, errors.New("fusefs: daemon mode is only supported on Linux")
}

// Daemon is the daemon side of SpawnDaemon.
type Daemon struct{}

// DaemonFromEnv returns nil: there are no daemons off Linux.
func DaemonFromEnv(getenv func(string) string) *Daemon { return nil }

// Ready does nothing.
func (d *Daemon) Ready(err error) {}
