//go:build linux

package fsverity

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unsupported reports whether errno means "this kernel or filesystem has no
// fs-verity": ENOTTY (no such ioctl, e.g. tmpfs), EOPNOTSUPP (the filesystem
// lacks the feature or the kernel lacks CONFIG_FS_VERITY), ENOSYS.
func unsupported(err error) bool {
	return errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)
}

// enableRetries is how often Enable retries after ETXTBSY, and
// enableBackoff the first wait (doubled each time).
const (
	enableRetries = 3
	enableBackoff = 20 * time.Millisecond
)

// Enable turns on fs-verity for f with FS_IOC_ENABLE_VERITY, making the file
// read-only for good; the kernel builds the Merkle tree (p nil means
// defaults, what ostree uses). f must be a regular file opened read-only,
// and no writable file descriptor to it may exist: the kernel then fails with
// ETXTBSY, which Enable retries 3 times with a short backoff in case a writer
// is just closing. Errors:
//   - wraps ErrNotSupported when the kernel or filesystem lacks fs-verity
//     (ENOTTY, EOPNOTSUPP), or rejects the (already validated) parameters
//     with EINVAL, which is how kernels report an unsupported block size or
//     algorithm;
//   - wraps the errno otherwise, e.g. EEXIST (errors.Is(err, fs.ErrExist))
//     when verity is already enabled, ETXTBSY, EROFS, EPERM.
func Enable(f *os.File, p *Params) error {
	fail := func(err error) error { return fmt.Errorf("enable verity on %s: %w", f.Name(), err) }
	c, err := resolve(p)
	if err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("not a regular file (%s)", fi.Mode().Type()))
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fail(err)
	}
	var fl int
	var flErr error
	if err := rc.Control(func(fd uintptr) { fl, flErr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil {
		return fail(err)
	}
	if flErr != nil {
		return fail(flErr)
	}
	if fl&unix.O_ACCMODE != unix.O_RDONLY {
		return fail(errors.New("file must be opened read-only"))
	}

	arg := &unix.FsverityEnableArg{
		Version:        1,
		Hash_algorithm: uint32(c.alg),
		Block_size:     uint32(c.bs),
		Salt_size:      uint32(len(c.salt)),
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(arg)
	if len(c.salt) > 0 {
		pin.Pin(&c.salt[0])
		arg.Salt_ptr = uint64(uintptr(unsafe.Pointer(&c.salt[0])))
	}
	var errno error
	for attempt := 0; ; attempt++ {
		if err := rc.Control(func(fd uintptr) {
			_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.FS_IOC_ENABLE_VERITY, uintptr(unsafe.Pointer(arg)))
			errno = nil
			if e != 0 {
				errno = e
			}
		}); err != nil {
			return fail(err)
		}
		if !errors.Is(errno, unix.ETXTBSY) || attempt == enableRetries {
			break
		}
		time.Sleep(enableBackoff << attempt)
	}
	switch {
	case errno == nil:
		return nil
	case unsupported(errno) || errors.Is(errno, unix.EINVAL):
		return fmt.Errorf("enable verity on %s: %w (%w)", f.Name(), ErrNotSupported, errno)
	}
	return fail(errno)
}

// measureArg is struct fsverity_digest with room for the largest digest.
type measureArg struct {
	hdr    unix.FsverityDigest
	digest [MaxDigestSize]byte
}

// Measure returns the algorithm and file digest the kernel reports for f
// (FS_IOC_MEASURE_VERITY); for a file enabled with default Params it equals
// DigestFile. Errors wrap ErrNotEnabled (ENODATA: the file has no fs-verity)
// or ErrNotSupported (no fs-verity in the kernel or filesystem).
func Measure(f *os.File) (Algorithm, []byte, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, nil, fmt.Errorf("measure verity of %s: %w", f.Name(), err)
	}
	arg := &measureArg{hdr: unix.FsverityDigest{Size: MaxDigestSize}}
	var errno error
	if err := rc.Control(func(fd uintptr) {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.FS_IOC_MEASURE_VERITY, uintptr(unsafe.Pointer(arg)))
		if e != 0 {
			errno = e
		}
	}); err != nil {
		return 0, nil, fmt.Errorf("measure verity of %s: %w", f.Name(), err)
	}
	switch {
	case errno == nil:
	case errors.Is(errno, unix.ENODATA):
		return 0, nil, fmt.Errorf("measure verity of %s: %w (%w)", f.Name(), ErrNotEnabled, errno)
	case unsupported(errno):
		return 0, nil, fmt.Errorf("measure verity of %s: %w (%w)", f.Name(), ErrNotSupported, errno)
	default:
		return 0, nil, fmt.Errorf("measure verity of %s: %w", f.Name(), errno)
	}
	n := int(arg.hdr.Size)
	if n > MaxDigestSize {
		return 0, nil, fmt.Errorf("measure verity of %s: kernel returned a %d-byte digest", f.Name(), n)
	}
	return Algorithm(arg.hdr.Algorithm), append([]byte(nil), arg.digest[:n]...), nil
}

// IsEnabled reports whether fs-verity is enabled on f, from statx's
// STATX_ATTR_VERITY. If the filesystem does not report that attribute (its
// attributes_mask lacks it, e.g. tmpfs) it returns false and an error
// wrapping ErrNotSupported.
func IsEnabled(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("verity status of %s: %w", f.Name(), err)
	}
	var stx unix.Statx_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_TYPE, &stx)
	}); err != nil {
		return false, fmt.Errorf("verity status of %s: %w", f.Name(), err)
	}
	if serr != nil {
		if errors.Is(serr, unix.ENOSYS) {
			return false, fmt.Errorf("verity status of %s: statx: %w (%w)", f.Name(), ErrNotSupported, serr)
		}
		return false, fmt.Errorf("verity status of %s: statx: %w", f.Name(), serr)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_VERITY == 0 {
		return false, fmt.Errorf("verity status of %s: filesystem does not report the verity attribute: %w", f.Name(), ErrNotSupported)
	}
	return stx.Attributes&unix.STATX_ATTR_VERITY != 0, nil
}
