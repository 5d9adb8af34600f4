package objstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"
)

// maxHeaderSize bounds a content object's header (metadata and xattrs).
const maxHeaderSize = 16 << 20

// ContentPath returns the absolute path of a content object's file. In bare
// modes this file holds the content itself (for bare-user symlinks: the
// target and a NUL); in archive mode it is compressed.
func (r *Repo) ContentPath(id ID) string {
	return filepath.Join(r.path, r.ObjectPath(id, TypeFile))
}

// OpenContent opens a content object: its metadata, and a reader of its
// content for regular files (nil for symlinks). The caller closes the reader.
// Nothing is verified; see VerifyContent.
func (r *Repo) OpenContent(ctx context.Context, id ID) (*Meta, io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	m, rc, err := r.openContent(id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("open %s.file: %w", id, ErrObjectNotFound)
		}
		return nil, nil, fmt.Errorf("open %s.file: %w", id, err)
	}
	m.Content = id
	return m, rc, nil
}

// ContentMeta returns a content object's metadata without its data. In bare
// modes it reads only the inode (and xattrs), never opening the file.
func (r *Repo) ContentMeta(ctx context.Context, id ID) (*Meta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.mode != ModeBare && r.mode != ModeBareUserOnly && r.mode != ModeBareUser {
		m, rc, err := r.OpenContent(ctx, id)
		if rc != nil {
			rc.Close()
		}
		return m, err
	}
	if m, _, ok := r.KnownContent(id); ok {
		return m, nil
	}
	m, err := r.statContent(id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s.file: %w", id, ErrObjectNotFound)
		}
		return nil, fmt.Errorf("open %s.file: %w", id, err)
	}
	m.Content = id
	return m, nil
}

// statContent reads a bare object's metadata with path-based calls only.
func (r *Repo) statContent(id ID) (*Meta, error) {
	path := r.ContentPath(id)
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	if r.mode == ModeBareUser {
		if st.Mode&sIFMT != sIFREG {
			return nil, fmt.Errorf("bare-user object is not a regular file (mode 0%o)", st.Mode)
		}
		raw, err := pathXattrs(path).value("user.ostreemeta")
		if err != nil {
			return nil, fmt.Errorf("bare-user object without valid user.ostreemeta: %w", err)
		}
		m, err := decodeUserMeta(raw)
		if err != nil {
			return nil, err
		}
		if m.IsSymlink() {
			// The target is the file's content; read it.
			mm, rc, err := r.openContent(id)
			if rc != nil {
				rc.Close()
			}
			return mm, err
		}
		if err := validateFileMeta(m); err != nil {
			return nil, err
		}
		m.Size = st.Size
		return m, nil
	}
	m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Size: st.Size}
	if r.mode == ModeBareUserOnly {
		m.UID, m.GID = 0, 0
	}
	switch {
	case m.IsSymlink():
		target, err := os.Readlink(path)
		if err != nil {
			return nil, err
		}
		m.Target, m.Size = target, int64(len(target))
	case !m.IsRegular():
		return nil, fmt.Errorf("object is not a regular file or symlink (mode 0%o)", m.Mode)
	}
	if r.mode == ModeBare {
		var err error
		if m.Xattrs, err = ReadXattrs(path); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (r *Repo) openContent(id ID) (*Meta, io.ReadCloser, error) {
	path := r.ContentPath(id)
	switch r.mode {
	case ModeArchive:
		return openArchive(path)
	case ModeBare, ModeBareUserOnly:
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return nil, nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
		}
		m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Size: st.Size}
		if r.mode == ModeBareUserOnly {
			m.UID, m.GID = 0, 0
		}
		if m.IsSymlink() {
			target, err := os.Readlink(path)
			if err != nil {
				return nil, nil, err
			}
			m.Target, m.Size = target, int64(len(target))
			if r.mode == ModeBare {
				if m.Xattrs, err = ReadXattrs(path); err != nil {
					return nil, nil, err
				}
			}
			return m, nil, nil
		}
		if !m.IsRegular() {
			return nil, nil, fmt.Errorf("object is not a regular file or symlink (mode 0%o)", m.Mode)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		if r.mode == ModeBare {
			if m.Xattrs, err = ReadXattrsFd(int(f.Fd())); err != nil {
				f.Close()
				return nil, nil, err
			}
		}
		return m, f, nil
	case ModeBareUser:
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, nil, err
		}
		raw, err := fdXattrs(int(f.Fd())).value("user.ostreemeta")
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("bare-user object without valid user.ostreemeta: %w", err)
		}
		m, err := decodeUserMeta(raw)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if m.IsSymlink() {
			defer f.Close()
			if fi.Size() > 4096 {
				return nil, nil, fmt.Errorf("bare-user symlink object of %d bytes", fi.Size())
			}
			data, err := io.ReadAll(f)
			if err != nil {
				return nil, nil, err
			}
			data = trimNUL(data)
			m.Target, m.Size = string(data), int64(len(data))
			if err := validateFileMeta(m); err != nil {
				return nil, nil, err
			}
			return m, nil, nil
		}
		if err := validateFileMeta(m); err != nil {
			f.Close()
			return nil, nil, err
		}
		m.Size = fi.Size()
		return m, f, nil
	}
	return nil, nil, fmt.Errorf("unsupported repository mode %s", r.mode)
}

type archiveReader struct {
	io.Reader
	f  *os.File
	zr io.ReadCloser
}

func (a *archiveReader) Close() error {
	a.zr.Close()
	return a.f.Close()
}

// openArchive parses an archive-z2 .filez object.
func openArchive(path string) (*Meta, io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	m, err := readArchiveHeader(br)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if m.IsSymlink() {
		f.Close()
		return m, nil, nil
	}
	zr := flate.NewReader(br)
	return m, &archiveReader{Reader: &exactReader{r: zr, left: m.Size}, f: f, zr: zr}, nil
}

func readArchiveHeader(r io.Reader) (*Meta, error) {
	var p [8]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return nil, fmt.Errorf("read archive header: %w", truncated(err))
	}
	n := binary.BigEndian.Uint32(p[:4])
	if n > maxHeaderSize {
		return nil, fmt.Errorf("archive header of %d bytes is too large", n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("read archive header: %w", truncated(err))
	}
	return decodeArchiveHeader(hdr)
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("object is truncated")
	}
	return err
}

// exactReader returns exactly left bytes from r and fails if r ends early or
// has more data: a compressed stream must inflate to the recorded size.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		var b [1]byte
		n, err := e.r.Read(b[:])
		if n > 0 {
			return 0, errors.New("archive object: content longer than its recorded size")
		}
		if err == nil || err == io.EOF {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("archive object: %w", err)
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, errors.New("archive object: content shorter than its recorded size (truncated)")
		}
		if n == 0 {
			return e.Read(p)
		}
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("archive object: %w", err)
	}
	return n, nil
}

// VerifyContent re-reads a content object and checks that its header and data
// hash to id.
func (r *Repo) VerifyContent(ctx context.Context, id ID) error {
	m, rc, err := r.OpenContent(ctx, id)
	if err != nil {
		return err
	}
	var content io.Reader
	if rc != nil {
		defer rc.Close()
		content = &ctxReader{ctx: ctx, r: rc}
	}
	got, err := ContentChecksum(m, content)
	if err != nil {
		return fmt.Errorf("read %s.file: %w", id, err)
	}
	if got != id {
		return &DigestMismatchError{Object: ObjectName{id, TypeFile}, Got: got}
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
