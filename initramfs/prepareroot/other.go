//go:build !linux

package prepareroot

import (
	"context"
	"errors"
	"os"
)

var errNotLinux = errors.New("prepare-root runs on Linux only")

// Prepare is only implemented on Linux.
func Prepare(ctx context.Context, opts *Options) (*Result, error) { return nil, errNotLinux }

// InitOptions configure Init (Linux only).
type InitOptions struct{}

// Init is only implemented on Linux.
func Init(ctx context.Context, opts *InitOptions) error { return errNotLinux }

// KernelMessages is only implemented on Linux.
func KernelMessages(substrings []string, max int) []string { return nil }

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func lstatSymlink(p string) (bool, error) {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&os.ModeSymlink != 0, err
}

func readlink(p string) (string, error) { return os.Readlink(p) }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
