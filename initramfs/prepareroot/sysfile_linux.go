package prepareroot

import (
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The helper's boot path reads and writes its few small files, and tests
// paths, with plain system calls rather than *os.File and os.Stat: under
// emulation (TCG), where the boot test runs, every piece of Go code runs
// for the first time at boot and costs its translation, and os's file
// machinery (poller registration, FileInfo, sorting) is a few milliseconds
// of that. The calls are raw ones (rawsys_linux.go says why). Errors are
// *fs.PathError, so errors.Is(err, fs.ErrNotExist) works as with os.

// readFile returns the contents of the file at p.
func readFile(p string) ([]byte, error) {
	fd, err := openRetry(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer sysClose(fd)
	size := 512
	if st, err := sysStat(fd, "", 0); err == nil && st.size > 0 && st.size < 1<<30 {
		size = int(st.size) + 1 // one more, to see the end in one read
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := sysRead(fd, buf[len(buf):cap(buf)])
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
		n, err := sysWrite(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			sysClose(fd)
			return &fs.PathError{Op: "write", Path: p, Err: err}
		}
		data = data[n:]
	}
	if err := sysClose(fd); err != nil {
		return &fs.PathError{Op: "close", Path: p, Err: err}
	}
	return nil
}

func openRetry(p string, flags int, perm uint32) (int, error) {
	for {
		fd, err := sysOpen(p, flags, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// mkdir creates the directory p (one level) unless it exists.
func mkdir(p string, perm uint32) error {
	if err := sysMkdir(p, perm); err != nil && !(err == unix.EEXIST && isDir(p)) {
		return &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return nil
}

// exists reports whether p names anything (a dangling symlink counts).
func exists(p string) bool {
	_, err := sysStat(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil
}

// isDir reports whether p is a directory, symlinks followed.
func isDir(p string) bool {
	st, err := sysStat(unix.AT_FDCWD, p, 0)
	return err == nil && st.isDir()
}

// isSymlink reports whether p itself is a symbolic link.
func isSymlink(p string) bool {
	link, err := lstatSymlink(p)
	return err == nil && link
}

// openFile opens p read-only as an *os.File without os.Open's poller
// registration (os.NewFile of a blocking descriptor), which would set up
// epoll just for a regular file.
func openFile(p string) (*os.File, error) {
	fd, err := openRetry(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// mkdirAll creates p and its missing parents.
func mkdirAll(p string, perm uint32) error {
	if isDir(p) {
		return nil
	}
	if i := strings.LastIndexByte(strings.TrimRight(p, "/"), '/'); i > 0 {
		if err := mkdirAll(p[:i], perm); err != nil {
			return err
		}
	}
	return mkdir(p, perm)
}

// readDirNames returns the names in directory dir, but "." and "..", in
// the order the filesystem gives them.
func readDirNames(dir string) ([]string, error) {
	fd, err := openRetry(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer sysClose(fd)
	return readDirNamesFd(fd, dir)
}

func readDirNamesFd(fd int, dir string) ([]string, error) {
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := sysGetdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// lstatSymlink reports whether p is a symbolic link; err is set when p
// cannot be examined.
func lstatSymlink(p string) (bool, error) {
	st, err := sysStat(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return false, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return st.isSymlink(), nil
}

// readlink returns the target of the symbolic link p.
func readlink(p string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := sysReadlink(p, buf)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: p, Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
