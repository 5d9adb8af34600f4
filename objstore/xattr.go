package objstore

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// xattrGetter abstracts fd- and path-based xattr calls.
type xattrGetter struct {
	list func(dest []byte) (int, error)
	get  func(name string, dest []byte) (int, error)
}

func fdXattrs(fd int) xattrGetter {
	return xattrGetter{
		list: func(d []byte) (int, error) { return unix.Flistxattr(fd, d) },
		get:  func(n string, d []byte) (int, error) { return unix.Fgetxattr(fd, n, d) },
	}
}

func pathXattrs(path string) xattrGetter {
	return xattrGetter{
		list: func(d []byte) (int, error) { return unix.Llistxattr(path, d) },
		get:  func(n string, d []byte) (int, error) { return unix.Lgetxattr(path, n, d) },
	}
}

// readAll returns all xattrs, sorted by name. Filesystems without xattr
// support give none.
func (g xattrGetter) readAll() ([]Xattr, error) {
	var names []byte
	for {
		n, err := g.list(nil)
		if err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				return nil, nil
			}
			return nil, fmt.Errorf("listxattr: %w", err)
		}
		if n == 0 {
			return nil, nil
		}
		names = make([]byte, n)
		n, err = g.list(names)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listxattr: %w", err)
		}
		names = names[:n]
		break
	}
	var xs []Xattr
	for _, name := range bytes.Split(names, []byte{0}) {
		if len(name) == 0 {
			continue
		}
		v, err := g.value(string(name))
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue // removed meanwhile
			}
			return nil, err
		}
		if len(v) == 0 {
			// ostree (libglnx) skips xattrs with empty values when reading
			// them, so they are not part of any checksum.
			continue
		}
		xs = append(xs, Xattr{Name: string(name), Value: v})
	}
	SortXattrs(xs)
	return xs, nil
}

func (g xattrGetter) value(name string) ([]byte, error) {
	for {
		n, err := g.get(name, nil)
		if err != nil {
			return nil, fmt.Errorf("getxattr %s: %w", name, err)
		}
		v := make([]byte, n)
		if n == 0 {
			return v, nil
		}
		n, err = g.get(name, v)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getxattr %s: %w", name, err)
		}
		return v[:n], nil
	}
}

// ReadXattrs returns the xattrs of path (not following a final symlink), sorted.
func ReadXattrs(path string) ([]Xattr, error) { return pathXattrs(path).readAll() }

// ReadXattrsFd returns the xattrs of an open file, sorted.
func ReadXattrsFd(fd int) ([]Xattr, error) { return fdXattrs(fd).readAll() }
