//go:build !linux

package fsverity

import (
	"fmt"
	"os"
)

// Enable turns on fs-verity for f. fs-verity exists only on Linux; here it
// returns an error wrapping ErrNotSupported.
func Enable(f *os.File, p *Params) error {
	return fmt.Errorf("enable verity on %s: %w", f.Name(), ErrNotSupported)
}

// Measure returns the kernel's fs-verity digest of f. fs-verity exists only
// on Linux; here it returns an error wrapping ErrNotSupported.
func Measure(f *os.File) (Algorithm, []byte, error) {
	return 0, nil, fmt.Errorf("measure verity of %s: %w", f.Name(), ErrNotSupported)
}

// IsEnabled reports whether fs-verity is enabled on f. fs-verity exists only
// on Linux; here it returns false and an error wrapping ErrNotSupported.
func IsEnabled(f *os.File) (bool, error) {
	return false, fmt.Errorf("verity status of %s: %w", f.Name(), ErrNotSupported)
}
