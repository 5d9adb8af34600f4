//go:build !linux

package composefs

import (
	"context"
	"errors"
)

// errNoMount is returned where composefs mounts do not exist.
var errNoMount = errors.New("composefs mounts need Linux (EROFS and overlayfs)")

// Mount mounts a composefs image; it is only implemented on Linux.
func Mount(ctx context.Context, opts *MountOptions) error { return errNoMount }

// Unmount unmounts a composefs mount; it is only implemented on Linux.
func Unmount(target string) error { return errNoMount }
