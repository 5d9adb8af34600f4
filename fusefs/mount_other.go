//go:build !linux

package fusefs

import (
	"context"
	"errors"
)

var errNotLinux = errors.New("fusefs: mounting is only supported on Linux")

// Server is a mounted FS.
type Server struct{}

// Mount is only supported on Linux.
func (f *FS) Mount(mountpoint string, opts *MountOptions) (*Server, error) {
	return nil, errNotLinux
}

// Mountpoint returns the absolute mount point.
func (s *Server) Mountpoint() string { return "" }

// Wait blocks until the file system is unmounted.
func (s *Server) Wait() {}

// Unmount unmounts the file system.
func (s *Server) Unmount() error { return errNotLinux }

// Serve waits until ctx is done, then unmounts.
func (s *Server) Serve(ctx context.Context) error { return errNotLinux }
