package prepareroot

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// The helper's boot path reads and writes its few small files, and tests
// paths, with plain system calls rather than *os.File and os.Stat: under
// emulation (TCG), where the boot test runs, every piece of Go code runs
// for the first time at boot and costs its translation, and os's file
// machinery (poller registration, FileInfo, sorting) is a few milliseconds
// of that. Errors are *fs.PathError, so errors.Is(err, fs.ErrNotExist)
// works as with os.

// readFile returns the contents of the file at p.
func readFile(p string) ([]byte, error) {
	fd, err := openRetry(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	size := 512
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > 0 && st.Size < 1<<30 {
		size = int(st.Size) + 1 // one more, to see the end in one read
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// writeFile creates or truncates the file at p and writes data to it.
func writeFile(p string, data []byte, perm uint32) error {
	fd, err := openRetry(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, perm)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: err}
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return &fs.PathError{Op: "write", Path: p, Err: err}
		}
		data = data[n:]
	}
	if err := unix.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: p, Err: err}
	}
	return nil
}

func openRetry(p string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Open(p, flags, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// mkdir creates the directory p (one level) unless it exists.
func mkdir(p string, perm uint32) error {
	if err := unix.Mkdir(p, perm); err != nil && !(err == unix.EEXIST && isDir(p)) {
		return &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return nil
}

// exists reports whether p names anything (a dangling symlink counts).
func exists(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil
}

// isDir reports whether p is a directory, symlinks followed.
func isDir(p string) bool {
	var st unix.Stat_t
	return unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// isSymlink reports whether p itself is a symbolic link.
func isSymlink(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}
