package composefs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Mount mounts a composefs image read-only at opts.Target, as
// libcomposefs's lcfs_mount does: the image is mounted as EROFS straight
// from the file (Linux ≥ 6.12), or through a read-only auto-clearing loop
// device where the kernel refuses a regular file (ENOTBLK); then overlayfs
// is mounted with metacopy=on, redirect_dir=on and
// lowerdir=EROFS::OBJECTS (the objects directory as a data-only layer,
// Linux ≥ 6.5; verity= needs ≥ 6.6). The EROFS mount is then detached and
// its temporary mountpoint removed, so the overlay is the only trace:
// Unmount(opts.Target) releases everything.
func Mount(ctx context.Context, opts *MountOptions) error {
	if opts == nil || opts.Image == "" || opts.ObjectsDir == "" || opts.Target == "" {
		return errors.New("composefs mount: image, objects directory and target are required")
	}
	log := opts.logger()
	objdir, err := filepath.Abs(opts.ObjectsDir)
	if err != nil {
		return fmt.Errorf("composefs mount: %w", err)
	}
	if fi, err := os.Stat(objdir); err != nil || !fi.IsDir() {
		return fmt.Errorf("composefs mount: objects directory %s is not a directory", objdir)
	}
	verity := ""
	switch opts.Verity {
	case VerityOff:
	case VerityRequire:
		if _, err := checkVerity(opts.Image, objdir, VerityRequire); err != nil {
			return fmt.Errorf("composefs mount with verity=require: %w", err)
		}
		verity = "require"
	case VerityAuto:
		ok, err := checkVerity(opts.Image, objdir, VerityAuto)
		switch {
		case ok:
			verity = "on"
		case err != nil && !errors.Is(err, ErrVerityUnavailable):
			return fmt.Errorf("composefs mount: %w", err)
		default:
			log.Debug("composefs mount without verity", "reason", err)
		}
	default:
		return fmt.Errorf("composefs mount: invalid verity mode %d", opts.Verity)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mnt, err := os.MkdirTemp(opts.TempDir, "gostree-erofs-")
	if err != nil {
		return fmt.Errorf("composefs mount: %w", err)
	}
	defer os.Remove(mnt)
	if err := mountErofs(opts.Image, mnt, log); err != nil {
		return err
	}
	// The overlay keeps the EROFS superblock alive; the EROFS mount itself
	// is detached whatever happens.
	defer func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			log.Debug("detach erofs mount", "path", mnt, "err", err)
		}
	}()
	mopts, err := overlayOptions(mnt, objdir, verity)
	if err != nil {
		return fmt.Errorf("composefs mount: %w", err)
	}
	if err := unix.Mount("composefs", opts.Target, "overlay", unix.MS_RDONLY, mopts); err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			hint = " (overlayfs needs Linux ≥ 6.5 for data-only lower layers and ≥ 6.6 for verity=)"
		}
		return fmt.Errorf("composefs mount: mount overlay at %s with %q: %w%s", opts.Target, mopts, err, hint)
	}
	log.Debug("composefs mounted", "target", opts.Target, "options", mopts)
	return nil
}

// mountErofs mounts image at mnt, from the file or through a loop device.
func mountErofs(image, mnt string, log *slog.Logger) error {
	const flags = unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOSUID
	err := unix.Mount(image, mnt, "erofs", flags, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOTBLK) {
		return fmt.Errorf("composefs mount: mount erofs image %s: %w", image, err)
	}
	log.Debug("file-backed erofs refused, using a loop device", "image", image)
	lf, err := attachLoop(image)
	if err != nil {
		return fmt.Errorf("composefs mount: %w", err)
	}
	// Closing our handle after the mount leaves the mount as the loop
	// device's only user; auto-clear releases it at unmount. Closed before
	// a successful mount, it releases the device at once.
	defer lf.Close()
	if err := unix.Mount(lf.Name(), mnt, "erofs", flags, ""); err != nil {
		return fmt.Errorf("composefs mount: mount erofs image %s via %s: %w", image, lf.Name(), err)
	}
	return nil
}

// attachLoop binds image to a free loop device, read-only and
// auto-clearing (released when its last user goes away), and returns the
// open device.
func attachLoop(image string) (*os.File, error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("loop device: %w", err)
	}
	defer ctl.Close()
	for range 8 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("loop device: LOOP_CTL_GET_FREE: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		lf, err := os.OpenFile(dev, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("loop device: %w", err)
		}
		cfg := &unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:], image)
		err = unix.IoctlLoopConfigure(int(lf.Fd()), cfg)
		if err != nil {
			lf.Close()
			if errors.Is(err, unix.EBUSY) {
				continue // raced with another user of the same device
			}
			return nil, fmt.Errorf("loop device %s: LOOP_CONFIGURE: %w", dev, err)
		}
		return lf, nil
	}
	return nil, errors.New("loop device: no free device")
}

// Unmount unmounts a composefs mount made by Mount or MountCommit.
func Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmount composefs at %s: %w", target, err)
	}
	return nil
}
