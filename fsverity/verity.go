package fsverity

import "errors"

// ErrNotSupported is returned (wrapped) by Enable, Measure and IsEnabled when
// the kernel or the filesystem does not support fs-verity (or the requested
// parameters), and on systems other than Linux.
var ErrNotSupported = errors.New("fs-verity not supported")

// ErrNotEnabled is returned (wrapped) by Measure for a file without fs-verity.
var ErrNotEnabled = errors.New("fs-verity not enabled on file")
