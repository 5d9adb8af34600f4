package prepareroot

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// mountErofs mounts the composefs image open as img read-only at target:
// straight from the file (Linux ≥ 6.12, CONFIG_EROFS_FS_BACKED_BY_FILE),
// or through a read-only, auto-clearing loop device where the kernel
// refuses a regular file with ENOTBLK. Both use the open descriptor
// (through /proc/self/fd when /proc is mounted), so what is mounted is the
// file that was checked. It reports whether a loop device was used.
func mountErofs(img *os.File, target string) (loop bool, err error) {
	src := img.Name()
	if fd := "/proc/self/fd/" + strconv.Itoa(int(img.Fd())); exists(fd) {
		src = fd
	}
	err = sysMount(src, target, "erofs", unix.MS_RDONLY, "")
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, unix.ENOTBLK) {
		hint := ""
		if errors.Is(err, unix.ENODEV) {
			hint = " (no erofs filesystem: is the erofs module loaded?)"
		}
		return false, fmt.Errorf("mount EROFS image %s: %w%s", img.Name(), err, hint)
	}
	dev, err := attachLoop(img)
	if err != nil {
		return true, fmt.Errorf("mount EROFS image %s: the kernel cannot mount it from the file, and %w", img.Name(), err)
	}
	// Our descriptor is closed once the mount holds the device; with
	// auto-clear the device is released when the mount goes.
	defer dev.Close()
	if err := sysMount(dev.Name(), target, "erofs", unix.MS_RDONLY, ""); err != nil {
		return true, fmt.Errorf("mount EROFS image %s through %s: %w", img.Name(), dev.Name(), err)
	}
	return true, nil
}

// attachLoop binds img to a free loop device (LOOP_CTL_GET_FREE, then
// LOOP_CONFIGURE read-only and auto-clearing) and returns the open device.
func attachLoop(img *os.File) (*os.File, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("no loop device: %w (is the loop module loaded?)", err)
	}
	defer ctl.Close()
	for range 8 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		name := fmt.Sprintf("/dev/loop%d", n)
		dev, err := openWhenPresent(name)
		if err != nil {
			return nil, err
		}
		cfg := &unix.LoopConfig{Fd: uint32(img.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:], img.Name())
		if err := unix.IoctlLoopConfigure(int(dev.Fd()), cfg); err != nil {
			dev.Close()
			if errors.Is(err, unix.EBUSY) {
				continue // another user took it first
			}
			return nil, fmt.Errorf("LOOP_CONFIGURE %s: %w", name, err)
		}
		return dev, nil
	}
	return nil, errors.New("no free loop device")
}

// openWhenPresent opens a device node devtmpfs may not have created yet.
func openWhenPresent(name string) (*os.File, error) {
	var err error
	for range 100 {
		var f *os.File
		if f, err = os.OpenFile(name, os.O_RDONLY, 0); err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, err
}

// overlayOptions is the mount(2) option string of a composefs overlay:
// the EROFS mount as the metadata layer and the objects directory as a
// data-only layer ("::", Linux ≥ 6.5), metacopy and redirects on, and
// verity=require (Linux ≥ 6.6) when asked.
func overlayOptions(lower, objects string, verity bool) (string, error) {
	for _, p := range []string{lower, objects} {
		if strings.ContainsAny(p, ",:\\") {
			return "", fmt.Errorf("path %q contains ',', ':' or '\\', which overlayfs options cannot carry", p)
		}
	}
	o := "metacopy=on,redirect_dir=on,lowerdir=" + lower + "::" + objects
	if verity {
		o += ",verity=require"
	}
	return o, nil
}

// mountOverlay mounts the composefs overlay read-only at target. It never
// retries without verity: a kernel that does not know verity= fails the
// boot instead of mounting an unchecked root.
func mountOverlay(lower, objects, target string, verity bool) error {
	opts, err := overlayOptions(lower, objects, verity)
	if err != nil {
		return err
	}
	if err := sysMount("composefs", target, "overlay", unix.MS_RDONLY, opts); err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			hint = " (overlayfs needs Linux ≥ 6.5 for data-only layers and ≥ 6.6 for verity=; see the kernel log)"
		}
		if errors.Is(err, unix.ENODEV) {
			hint = " (no overlay filesystem: is the overlay module loaded?)"
		}
		return fmt.Errorf("mount overlay at %s with %s: %w%s", target, opts, err, hint)
	}
	return nil
}

func bindMount(src, dst string) error {
	if err := sysMount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, dst, err)
	}
	return nil
}

func moveMount(src, dst string) error {
	if err := sysMount(src, dst, "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move mount %s to %s: %w", src, dst, err)
	}
	return nil
}

// remountReadOnly makes one mount (not its filesystem) read-only.
func remountReadOnly(p string) error {
	if err := sysMount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}
