package composefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
)

// Verity is how a mount checks object data against the image's fs-verity
// digests (the overlayfs verity= option).
type Verity int

const (
	// VerityOff ignores the digests (overlayfs verity=off).
	VerityOff Verity = iota
	// VerityAuto uses verity=on when the objects have fs-verity enabled,
	// and verity=off otherwise.
	VerityAuto
	// VerityRequire mounts with verity=require after checking that every
	// object has fs-verity enabled with the digest the image records; it
	// fails with an error saying why where that cannot hold.
	VerityRequire
)

// String returns the --verity flag spelling.
func (v Verity) String() string {
	switch v {
	case VerityOff:
		return "off"
	case VerityAuto:
		return "auto"
	case VerityRequire:
		return "require"
	}
	return fmt.Sprintf("Verity(%d)", int(v))
}

// ParseVerity parses "off", "auto" or "require".
func ParseVerity(s string) (Verity, error) {
	switch s {
	case "off":
		return VerityOff, nil
	case "auto":
		return VerityAuto, nil
	case "require":
		return VerityRequire, nil
	}
	return 0, fmt.Errorf("invalid verity mode %q (want require, auto or off)", s)
}

// ErrVerityUnavailable is wrapped by Mount's error when VerityRequire cannot
// be honoured: no fs-verity in the kernel or the objects' filesystem, an
// object without fs-verity, or an image without digests.
var ErrVerityUnavailable = errors.New("fs-verity cannot be required")

// MountOptions describe a composefs mount.
type MountOptions struct {
	// Image is the composefs image file.
	Image string
	// ObjectsDir is the data directory the image's redirects are relative
	// to: a bare repository's objects/ directory.
	ObjectsDir string
	// Target is the mountpoint, an existing directory.
	Target string
	// Verity selects the overlayfs verity mode.
	Verity Verity
	// TempDir holds the transient EROFS mountpoint (removed before Mount
	// returns); empty means os.TempDir().
	TempDir string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

func (o *MountOptions) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// CommitMountOptions configure MountCommit.
type CommitMountOptions struct {
	// Verity selects the overlayfs verity mode.
	Verity Verity
	// TempDir holds the transient image and EROFS mountpoint, both gone
	// when MountCommit returns; empty means os.TempDir().
	TempDir string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// MountCommit mounts a commit of a bare repository read-only at target: it
// writes the commit's image (WriteCommit) to a temporary file, mounts it
// with Mount over the repository's objects directory, and removes the file.
// After Unmount(target) nothing of the mount remains. Archive repositories
// are refused: their objects are compressed, so overlayfs cannot redirect
// to them.
func MountCommit(ctx context.Context, repo *objstore.Repo, commit objstore.ID, target string, opts *CommitMountOptions) error {
	if opts == nil {
		opts = &CommitMountOptions{}
	}
	if !repo.Mode().IsBare() {
		return fmt.Errorf("mount %s: repository %s has mode %s, whose content objects are compressed (.filez); "+
			"composefs redirects to plain object files, so it needs a bare, bare-user or bare-user-only repository",
			commit.Short(), repo.Path(), repo.Mode())
	}
	f, err := os.CreateTemp(opts.TempDir, "gostree-composefs-*.cfs")
	if err != nil {
		return fmt.Errorf("mount %s: %w", commit.Short(), err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	if _, err := WriteCommitOpts(ctx, repo, commit, f, &CommitOptions{Logger: opts.Logger}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("mount %s: %w", commit.Short(), err)
	}
	return Mount(ctx, &MountOptions{
		Image:      f.Name(),
		ObjectsDir: filepath.Join(repo.Path(), "objects"),
		Target:     target,
		Verity:     opts.Verity,
		TempDir:    opts.TempDir,
		Logger:     opts.Logger,
	})
}

// checkVerity verifies, for VerityRequire, that every object the image
// redirects to has kernel fs-verity with the recorded digest. For
// VerityAuto it reports whether the first object has fs-verity.
func checkVerity(image, objdir string, mode Verity) (bool, error) {
	data, err := os.ReadFile(image)
	if err != nil {
		return false, err
	}
	var checked int
	errStop := errors.New("stop")
	err = Walk(bytes.NewReader(data), int64(len(data)), func(e *Entry) error {
		if e.Mode&sIFMT != sIFREG || e.Size == 0 || e.Content != nil || e.Hardlink != "" {
			return nil
		}
		if e.Digest == nil {
			return fmt.Errorf("%w: the image records no fs-verity digest for %s", ErrVerityUnavailable, e.Path)
		}
		if !e.HasPayload || e.Payload == "" || strings.Contains(e.Payload, "..") {
			return fmt.Errorf("%w: %s has no object redirect", ErrVerityUnavailable, e.Path)
		}
		f, err := os.Open(filepath.Join(objdir, e.Payload))
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		_, got, err := fsverity.Measure(f)
		f.Close()
		switch {
		case errors.Is(err, fsverity.ErrNotSupported):
			return fmt.Errorf("%w: the kernel or the filesystem of %s has no fs-verity support (%v)", ErrVerityUnavailable, objdir, err)
		case errors.Is(err, fsverity.ErrNotEnabled):
			return fmt.Errorf("%w: object %s (for %s) does not have fs-verity enabled; enable it with `gostree fsverity enable` or [ex-integrity] fsverity=yes", ErrVerityUnavailable, e.Payload, e.Path)
		case err != nil:
			return err
		case !bytes.Equal(got, e.Digest[:]):
			return fmt.Errorf("%w: object %s (for %s) has fs-verity digest %x, the image expects %s", ErrVerityUnavailable, e.Payload, e.Path, got, e.Digest)
		}
		checked++
		if mode == VerityAuto {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return checked > 0, nil
}

// overlayOptions builds the legacy mount(2) option string.
func overlayOptions(erofsMnt, objdir, verity string) (string, error) {
	for _, p := range []string{erofsMnt, objdir} {
		if strings.ContainsAny(p, ",:\\") {
			return "", fmt.Errorf("path %q contains ',', ':' or '\\', which overlayfs mount options cannot carry", p)
		}
	}
	opts := "metacopy=on,redirect_dir=on,lowerdir=" + erofsMnt + "::" + objdir
	if verity != "" {
		opts += ",verity=" + verity
	}
	return opts, nil
}
