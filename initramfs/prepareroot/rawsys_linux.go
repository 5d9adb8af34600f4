package prepareroot

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The helper's boot path makes its system calls with RawSyscall, so the Go
// scheduler never sees them.
//
// An ordinary system call (syscall.Syscall, and every wrapper in x/sys/unix
// and os) tells the runtime the goroutine is in a system call. When the
// runtime's monitor thread (sysmon) finds one still there on two of its
// ticks (at least 20 µs), it takes the goroutine's P away, and when the call
// returns it wakes sysmon, which then resets to polling every 20 µs for its
// next 50 rounds. Under TCG, where the boot test runs, a mount or a disk
// read takes milliseconds, so every one of them did this: with one virtual
// CPU, sysmon's polling took 24-163 ms of CPU time away from the helper
// between the root device's arrival and the exec of the OS's init, and the
// helper's own time (own_ms: all but module loading and the root device
// wait) went from a median of 142 ms to 120 without it (bench/RESULTS.md,
// "sysmon"). With raw calls sysmon finds the goroutine running, backs off to
// 10 ms sleeps and stays there.
//
// Blocking the thread in a raw call costs nothing here: the helper is one
// goroutine doing one thing at a time. Go's signal handlers are installed
// with SA_RESTART, so a preemption signal arriving during a long call
// restarts it rather than failing it; callers still retry EINTR.
//
// Paths are passed as NUL-terminated copies (unix.BytePtrFromString), and
// pointers are converted to uintptr in the call expression itself, as
// unsafe.Pointer's rules require.

// fdArg passes a descriptor (AT_FDCWD included, a negative constant) as a
// system call argument.
func fdArg(fd int) uintptr { return uintptr(fd) }

func errno(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func sysOpen(p string, flags int, perm uint32) (int, error) {
	b, err := unix.BytePtrFromString(p)
	if err != nil {
		return -1, err
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, fdArg(unix.AT_FDCWD), uintptr(unsafe.Pointer(b)), uintptr(flags|unix.O_LARGEFILE), uintptr(perm), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func sysClose(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return errno(e)
}

func sysRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysGetdents(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, unix.EINVAL
	}
	n, _, e := unix.RawSyscall(unix.SYS_GETDENTS64, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysReadlink(p string, buf []byte) (int, error) {
	b, err := unix.BytePtrFromString(p)
	if err != nil {
		return 0, err
	}
	if len(buf) == 0 {
		return 0, unix.EINVAL
	}
	n, _, e := unix.RawSyscall6(unix.SYS_READLINKAT, fdArg(unix.AT_FDCWD), uintptr(unsafe.Pointer(b)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// pathCall makes a system call whose first argument after dirfd is a path.
func pathCall(trap uintptr, dirfd int, p string, a2, a3 uintptr) error {
	b, err := unix.BytePtrFromString(p)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall6(trap, uintptr(dirfd), uintptr(unsafe.Pointer(b)), a2, a3, 0, 0)
	return errno(e)
}

func sysMkdir(p string, perm uint32) error {
	return pathCall(unix.SYS_MKDIRAT, unix.AT_FDCWD, p, uintptr(perm), 0)
}

func sysUnlinkat(dirfd int, p string, flags int) error {
	return pathCall(unix.SYS_UNLINKAT, dirfd, p, uintptr(flags), 0)
}

func sysRmdir(p string) error { return sysUnlinkat(unix.AT_FDCWD, p, unix.AT_REMOVEDIR) }

func sysChdir(p string) error {
	b, err := unix.BytePtrFromString(p)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall(unix.SYS_CHDIR, uintptr(unsafe.Pointer(b)), 0, 0)
	return errno(e)
}

func sysChroot(p string) error {
	b, err := unix.BytePtrFromString(p)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall(unix.SYS_CHROOT, uintptr(unsafe.Pointer(b)), 0, 0)
	return errno(e)
}

// sysMount is mount(2) as unix.Mount calls it: an empty data string is
// passed as NULL, which some filesystems require.
func sysMount(src, target, fstype string, flags uintptr, data string) error {
	s, err := unix.BytePtrFromString(src)
	if err != nil {
		return err
	}
	t, err := unix.BytePtrFromString(target)
	if err != nil {
		return err
	}
	f, err := unix.BytePtrFromString(fstype)
	if err != nil {
		return err
	}
	var d *byte
	if data != "" {
		if d, err = unix.BytePtrFromString(data); err != nil {
			return err
		}
	}
	_, _, e := unix.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(s)), uintptr(unsafe.Pointer(t)), uintptr(unsafe.Pointer(f)), flags, uintptr(unsafe.Pointer(d)), 0)
	return errno(e)
}

func sysUnmount(target string, flags int) error {
	b, err := unix.BytePtrFromString(target)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall(unix.SYS_UMOUNT2, uintptr(unsafe.Pointer(b)), uintptr(flags), 0)
	return errno(e)
}

func sysFinitModule(fd int, params string, flags int) error {
	b, err := unix.BytePtrFromString(params)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall(unix.SYS_FINIT_MODULE, uintptr(fd), uintptr(unsafe.Pointer(b)), uintptr(flags))
	return errno(e)
}

// fileStat is what the helper needs of a file's status.
type fileStat struct {
	mode uint32 // type (S_IFMT) and permission bits
	size int64
	dev  uint64 // encoded as stat(2)'s st_dev
	ino  uint64
}

func (s *fileStat) isDir() bool     { return s.mode&unix.S_IFMT == unix.S_IFDIR }
func (s *fileStat) isSymlink() bool { return s.mode&unix.S_IFMT == unix.S_IFLNK }

// sysStat is statx(2) (one number on every architecture, unlike fstatat):
// of p relative to dirfd, or of dirfd itself when p is "" (AT_EMPTY_PATH),
// not following a final symlink when flags has AT_SYMLINK_NOFOLLOW.
func sysStat(dirfd int, p string, flags int) (fileStat, error) {
	if p == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	b, err := unix.BytePtrFromString(p)
	if err != nil {
		return fileStat{}, err
	}
	var stx unix.Statx_t
	_, _, e := unix.RawSyscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(b)), uintptr(flags|unix.AT_STATX_SYNC_AS_STAT),
		uintptr(unix.STATX_TYPE|unix.STATX_MODE|unix.STATX_INO|unix.STATX_SIZE), uintptr(unsafe.Pointer(&stx)), 0)
	if e != 0 {
		return fileStat{}, e
	}
	return fileStat{
		mode: uint32(stx.Mode),
		size: int64(stx.Size),
		dev:  unix.Mkdev(stx.Dev_major, stx.Dev_minor),
		ino:  stx.Ino,
	}, nil
}
