package prepareroot

import (
	"log/slog"
	"strconv"
	"time"
)

// ModuleListPath is where the initramfs builder writes the modules to
// load, one absolute path a line, dependencies first.
const ModuleListPath = "/usr/lib/gostree/initramfs.modules"

// ImageName is a deployment's composefs image (ostree's name).
const ImageName = ".ostree.cfs"

// Options configure Prepare. Every system path is a parameter so that the
// same code runs against a fake root in tests.
type Options struct {
	// Sysroot is where the physical root filesystem is mounted; on
	// success the deployment is mounted there instead, with the physical
	// root moved to Sysroot/sysroot (what ostree-prepare-root does).
	// Default "/sysroot".
	Sysroot string
	// Cmdline is the kernel command line; empty means /proc/cmdline.
	Cmdline string
	// Config is prepare-root.conf; nil means LoadConfig(ConfigPaths()).
	Config *Config
	// RunDir is /run: ostree-booted is written there, and the image's
	// EROFS mount is made under RunDir/ostree/.private for a moment.
	// Default "/run".
	RunDir string
	// CheckInit, if set, is a path inside the deployment (such as
	// /sbin/init) that is read in full before Prepare returns, so that a
	// file failing fs-verity is reported by name here rather than as a
	// failed exec later.
	CheckInit string
	// MountVar bind-mounts the stateroot's var on the deployment's /var
	// (what ostree-prepare-root does without systemd, which otherwise
	// mounts it itself).
	MountVar bool
	// Logger receives progress at Info and details at Debug; nil discards.
	Logger *slog.Logger
}

// Result describes a prepared root.
type Result struct {
	Deployment *Deployment
	// Mode is the composefs mode in force (config, then karg).
	Mode ComposefsMode
	// Composefs reports a composefs mount; false means a bind mount of
	// an ostree checkout.
	Composefs bool
	// Verity reports overlayfs verity=require.
	Verity bool
	// ImageDigest is the image's fs-verity digest (hex), when known.
	ImageDigest string
	// ImageDigestFrom says how it was obtained: "kernel" (the file has
	// fs-verity) or "computed" (hashed here, then matched with the
	// commit).
	ImageDigestFrom string
	// Loop reports that the image needed a loop device.
	Loop bool
	// SysrootReadOnly reports that Sysroot/sysroot was made read-only.
	SysrootReadOnly bool
	// Elapsed is the time Prepare took.
	Elapsed time.Duration
	// Steps is where Elapsed went, step by step.
	Steps Steps
}

// Step is the time one step of the helper took.
type Step struct {
	Name    string
	Elapsed time.Duration
}

// Steps are a run's steps in order.
type Steps []Step

// String formats steps as "name:ms,name:ms,..." for the summary line.
func (s Steps) String() string {
	var b []byte
	for i, st := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, st.Name...)
		b = append(b, ':')
		b = strconv.AppendFloat(b, float64(st.Elapsed.Microseconds())/1000, 'f', 1, 64)
	}
	return string(b)
}

// LogAttrs are the slog attributes that describe the prepared root:
// composefs, verity and, when known, the image digest and its source.
func (r *Result) LogAttrs() []any {
	attrs := []any{"composefs", r.Composefs, "verity", r.Verity}
	if r.ImageDigest != "" {
		attrs = append(attrs, "image_digest", r.ImageDigest, "digest_from", r.ImageDigestFrom)
	}
	return attrs
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}
