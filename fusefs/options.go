package fusefs

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Verify selects how file contents are checked before they reach a reader.
type Verify int

const (
	// VerifyOn (the default) returns only bytes verified against the
	// content object's checksum or its fs-verity Merkle tree; a mismatch is
	// EIO and an Error log naming the path and the object.
	VerifyOn Verify = iota
	// VerifyOff serves the object files as they are on disk: faster, and
	// only safe on a trusted disk. Archive objects are still inflated.
	VerifyOff
)

// String returns "on" or "off".
func (v Verify) String() string {
	if v == VerifyOff {
		return "off"
	}
	return "on"
}

// Default option values; each applies when its field is zero.
const (
	// DefaultCacheTimeout is how long the kernel keeps names, attributes and
	// negative lookups of commit contents, which never change.
	DefaultCacheTimeout = 24 * time.Hour
	// DefaultMemoryCacheBytes bounds idle Merkle trees and small inflated files.
	DefaultMemoryCacheBytes = 256 << 20
	// DefaultSpillCacheBytes bounds the disk space of idle inflated files.
	DefaultSpillCacheBytes = 2 << 30
	// DefaultMaxIdleObjects bounds object files kept open after their last close.
	DefaultMaxIdleObjects = 256
	// DefaultDirTreeCacheEntries bounds parsed dirtree objects kept in memory.
	DefaultDirTreeCacheEntries = 4096
	// DefaultMetaCacheEntries bounds the metadata of content objects kept in memory.
	DefaultMetaCacheEntries = 1 << 16
)

// Options configure a file system. The zero value (and nil) means defaults.
type Options struct {
	// Logger receives debug logs, and Error logs for integrity failures
	// (which a reader only sees as EIO). nil discards them.
	Logger *slog.Logger

	// Verify selects content verification; the zero value is VerifyOn.
	Verify Verify

	// CacheTimeout is how long the kernel may cache names, attributes and
	// failed lookups of commit contents. 0 means DefaultCacheTimeout.
	CacheTimeout time.Duration

	// RefTimeout is how long the kernel may cache the names under refs/ and
	// commits/ in whole-repository mode. 0 means every access re-reads the
	// refs, so a moved ref shows at once.
	RefTimeout time.Duration

	// MemoryCacheBytes bounds the Merkle trees and small inflated files kept
	// for objects nobody has open. 0 means DefaultMemoryCacheBytes.
	MemoryCacheBytes int64

	// SpillCacheBytes bounds the disk space of inflated archive objects that
	// nobody has open. 0 means DefaultSpillCacheBytes.
	SpillCacheBytes int64

	// SpillDir is where inflated archive objects go, as unlinked files.
	// Empty means os.TempDir().
	SpillDir string

	// TreeCacheDir, if set, keeps fs-verity Merkle trees of large bare
	// objects across mounts, so the first open of a big file does not read
	// it whole. Cached trees are untrusted: they are checked against the
	// repository's recorded digest.
	TreeCacheDir string

	// MaxIdleObjects bounds the object files kept open (with their verified
	// readers) after their last close. 0 means DefaultMaxIdleObjects.
	MaxIdleObjects int

	// DirTreeCacheEntries bounds the parsed dirtree objects kept in memory.
	// 0 means DefaultDirTreeCacheEntries.
	DirTreeCacheEntries int

	// MetaCacheEntries bounds the content object metadata kept in memory.
	// 0 means DefaultMetaCacheEntries.
	MetaCacheEntries int

	// NoPassthrough disables FUSE passthrough. Passthrough is used only
	// where it skips no check, that is with VerifyOff (with verification
	// on, files are never opened: see the package doc). Where the kernel or
	// the privileges do not allow it, reads go through this process.
	NoPassthrough bool
}

// resolved returns a copy of o with defaults filled in.
func (o *Options) resolved() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.CacheTimeout <= 0 {
		r.CacheTimeout = DefaultCacheTimeout
	}
	if r.MemoryCacheBytes <= 0 {
		r.MemoryCacheBytes = DefaultMemoryCacheBytes
	}
	if r.SpillCacheBytes <= 0 {
		r.SpillCacheBytes = DefaultSpillCacheBytes
	}
	if r.MaxIdleObjects <= 0 {
		r.MaxIdleObjects = DefaultMaxIdleObjects
	}
	if r.DirTreeCacheEntries <= 0 {
		r.DirTreeCacheEntries = DefaultDirTreeCacheEntries
	}
	if r.MetaCacheEntries <= 0 {
		r.MetaCacheEntries = DefaultMetaCacheEntries
	}
	return r
}

// DefaultTreeCacheDir is the tree cache the mount commands use unless told
// otherwise: gostree/verity-trees in the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache), or "" if there is none.
func DefaultTreeCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gostree", "verity-trees")
}
