package prepareroot

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WaitRootDevice waits until the device named by a root= value exists
// and returns its path: /dev/NAME, or UUID=… / LABEL=… of an ext2/3/4
// filesystem (read from the superblock of each block device in
// /sys/class/block). It polls every 10 ms until ctx is done.
func WaitRootDevice(ctx context.Context, spec string) (string, error) {
	kind, val, _ := strings.Cut(spec, "=")
	switch {
	case strings.HasPrefix(spec, "/dev/"):
	case kind == "UUID" || kind == "LABEL":
	default:
		return "", fmt.Errorf("root=%s: unsupported (use /dev/NAME, UUID= or LABEL= of an ext4 filesystem)", spec)
	}
	for {
		if strings.HasPrefix(spec, "/dev/") {
			if exists(spec) {
				return spec, nil
			}
		} else if dev := findExt4(kind, val); dev != "" {
			return dev, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("root device %s did not appear: %w", spec, context.Cause(ctx))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// findExt4 returns the block device whose ext2/3/4 superblock has the
// given UUID or LABEL.
func findExt4(kind, val string) string {
	names, err := readDirNames("/sys/class/block")
	if err != nil {
		return ""
	}
	for _, name := range names {
		dev := "/dev/" + name
		uuid, label, ok := readExt4(dev)
		if !ok {
			continue
		}
		if kind == "UUID" && strings.EqualFold(uuid, val) || kind == "LABEL" && label == val {
			return dev
		}
	}
	return ""
}

// readExt4 reads the UUID and label of an ext2/3/4 superblock (at byte
// 1024: magic 0xEF53 at +56, UUID at +104, volume name at +120).
func readExt4(dev string) (uuid, label string, ok bool) {
	fd, err := openRetry(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", "", false
	}
	defer sysClose(fd)
	// Bytes 1024-1279, read from the start (no pread: its system call
	// differs between architectures).
	buf := make([]byte, 1024+256)
	for n := 0; n < len(buf); {
		m, err := sysRead(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return "", "", false
		}
		n += m
	}
	sb := buf[1024:]
	if sb[56] != 0x53 || sb[57] != 0xef {
		return "", "", false
	}
	u := hex.EncodeToString(sb[104:120])
	uuid = u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
	label = string(bytes.TrimRight(sb[120:136], "\x00"))
	return uuid, label, true
}

// MountRoot mounts the root device at target as the kernel would: read-only
// unless rw is set, with rootfstype= (or each filesystem of
// /proc/filesystems that needs a device, ext4 first) and rootflags=.
func MountRoot(dev, target, fstype, flags string, rw bool) (string, error) {
	var mflags uintptr
	if !rw {
		mflags |= unix.MS_RDONLY
	}
	if err := mkdirAll(target, 0o755); err != nil {
		return "", err
	}
	types := []string{fstype}
	if fstype == "" {
		types = blockFilesystems()
	}
	var errs []error
	for _, t := range types {
		err := sysMount(dev, target, t, mflags, flags)
		if err == nil {
			return t, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("mount root %s: no filesystem type to try (are the filesystem modules loaded?)", dev)
	}
	return "", fmt.Errorf("mount root %s at %s: %w", dev, target, errors.Join(errs...))
}

// blockFilesystems lists the filesystems of /proc/filesystems that need a
// device, ext4 first.
func blockFilesystems() []string {
	data, err := readFile("/proc/filesystems")
	if err != nil {
		return []string{"ext4"}
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "nodev") {
			continue
		}
		t := strings.TrimSpace(line)
		if t == "ext4" {
			out = append([]string{t}, out...)
		} else if t != "erofs" && t != "squashfs" && t != "iso9660" {
			out = append(out, t)
		}
	}
	return out
}
