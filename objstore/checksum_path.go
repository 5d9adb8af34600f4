package objstore

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ChecksumPath returns the checksum ostree gives the file at path as it
// is on disk (ostree checksum): a regular file's or symlink's content
// object checksum, or a directory's dirmeta checksum, from its mode,
// owner, group and (unless ignoreXattrs) extended attributes.
func ChecksumPath(path string, ignoreXattrs bool) (ID, error) {
	return ChecksumPathWith(path, &ChecksumOptions{IgnoreXattrs: ignoreXattrs, UID: -1, GID: -1})
}

// ChecksumOptions tune ChecksumPathWith.
type ChecksumOptions struct {
	IgnoreXattrs bool
	// UID and GID, when not negative, replace the file's owner.
	UID, GID int
}

// ChecksumPathWith is ChecksumPath with an owner override.
func ChecksumPathWith(path string, o *ChecksumOptions) (ID, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return ID{}, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid}
	if o.UID >= 0 {
		m.UID = uint32(o.UID)
	}
	if o.GID >= 0 {
		m.GID = uint32(o.GID)
	}
	if !o.IgnoreXattrs {
		xs, err := pathXattrs(path).readAll()
		if err != nil {
			return ID{}, fmt.Errorf("checksum %s: %w", path, err)
		}
		m.Xattrs = xs
	}
	switch {
	case m.IsDir():
		return Hash(encodeDirMeta(m)), nil
	case m.IsSymlink():
		target, err := os.Readlink(path)
		if err != nil {
			return ID{}, err
		}
		m.Target, m.Size = target, int64(len(target))
		return ContentChecksum(m, nil)
	case m.IsRegular():
		f, err := os.Open(path)
		if err != nil {
			return ID{}, err
		}
		defer f.Close()
		m.Size = st.Size
		return ContentChecksum(m, io.Reader(f))
	}
	return ID{}, fmt.Errorf("checksum %s: not a regular file, symbolic link or directory", path)
}
