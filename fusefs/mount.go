package fusefs

import "errors"

// Mount errors callers act on.
var (
	// ErrBusy means the mount point is in use: already mounted, or files
	// are still open below it at unmount.
	ErrBusy = errors.New("mount point is busy")
	// ErrStale means the mount point is a FUSE mount whose server is gone.
	ErrStale = errors.New("mount point is a stale FUSE mount (transport endpoint is not connected)")
)

// MountOptions configure Mount. The zero value (and nil) means defaults.
type MountOptions struct {
	// Source is shown as the mounted device in /proc/mounts; empty means "gostree".
	Source string
	// AllowOther lets users other than the mounting one use the mount (for a
	// non-root user it needs user_allow_other in /etc/fuse.conf).
	AllowOther bool
	// Suid honours setuid and setgid bits (a deployment needs them); the
	// default mounts nosuid. fusermount3 allows it only for root.
	Suid bool
	// ReadAheadKB sets the kernel read-ahead of the mount when the process
	// may (root); 0 means 4096.
	ReadAheadKB int
	// Debug logs every FUSE request to the FS's logger at Debug level.
	Debug bool
	// Fusermount forces mounting with fusermount3 even as root, instead of
	// mount(2).
	Fusermount bool
}
