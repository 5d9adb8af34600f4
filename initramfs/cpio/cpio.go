// Package cpio reads and writes the "newc" cpio format (SVR4 with no CRC,
// magic 070701): the format the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst).
//
// # Format
//
// Each entry is a 110-byte ASCII header: the magic "070701" and 13 fields of
// 8 hex digits (ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
// devminor, rdevmajor, rdevminor, namesize, check), then the name with its
// NUL (namesize counts it), padded to a multiple of 4 bytes from the start
// of the header, then the data, padded to a multiple of 4. A symlink's data
// is its target. The archive ends with an entry named "TRAILER!!!"; Writer
// then pads the archive to a multiple of 512 bytes, as GNU cpio does.
//
// # Invariants
//
// Writer output depends only on the headers and data given: no clocks, no
// host uids, no random inode numbers, so the same input yields the same
// bytes. Inode numbers are assigned 1, 2, 3… in write order unless a header
// sets one. The kernel treats regular files sharing (devmajor, devminor, ino)
// with nlink ≥ 2 as hard links, so distinct files must keep distinct inodes,
// which the automatic numbering guarantees.
//
// Reader accepts what Writer writes and what GNU cpio -H newc writes
// ("070702", the CRC variant, too, without checking the sum), and refuses
// malformed headers, names without their NUL and truncated data with an
// error, never a panic.
//
// # Concurrency
//
// A Writer or Reader is not safe for concurrent use.
package cpio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
)

// Mode type bits (the st_mode S_IF* values the format carries).
const (
	TypeMask    = 0o170000
	TypeSocket  = 0o140000
	TypeSymlink = 0o120000
	TypeReg     = 0o100000
	TypeBlock   = 0o060000
	TypeDir     = 0o040000
	TypeChar    = 0o020000
	TypeFIFO    = 0o010000
)

// Trailer is the name of the entry that ends an archive.
const Trailer = "TRAILER!!!"

// headerSize is the fixed part of a newc header: 6 bytes of magic plus 13
// fields of 8 hex digits.
const headerSize = 6 + 13*8

// maxNameSize bounds names in Reader (the kernel's limit is PATH_MAX).
const maxNameSize = 4096

// Header is one archive entry.
type Header struct {
	// Name is the path inside the archive, without a leading "/".
	Name string
	// Mode is the full st_mode: type bits (TypeDir, TypeReg…) and
	// permissions.
	Mode uint32
	UID  uint32
	GID  uint32
	// NLink is the link count; 0 means 2 for directories and 1 otherwise.
	NLink uint32
	// MTime is the modification time in seconds since the epoch.
	MTime uint32
	// Size is the data length: the file size, or the symlink target's
	// length. Directories and devices have none.
	Size int64
	// Ino is the inode number; 0 means the next automatic one (Writer).
	Ino                  uint32
	DevMajor, DevMinor   uint32
	RDevMajor, RDevMinor uint32
}

// FileMode returns the mode as an fs.FileMode.
func (h *Header) FileMode() fs.FileMode {
	m := fs.FileMode(h.Mode & 0o777)
	if h.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if h.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if h.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch h.Mode & TypeMask {
	case TypeDir:
		m |= fs.ModeDir
	case TypeSymlink:
		m |= fs.ModeSymlink
	case TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case TypeBlock:
		m |= fs.ModeDevice
	case TypeFIFO:
		m |= fs.ModeNamedPipe
	case TypeSocket:
		m |= fs.ModeSocket
	}
	return m
}

// ErrWriteTooLong is returned by Writer.Write past the header's Size.
var ErrWriteTooLong = errors.New("cpio: write past the entry's size")

// Writer writes a newc archive.
type Writer struct {
	w       io.Writer
	n       int64 // bytes written so far
	remain  int64 // data bytes the current entry still expects
	nextIno uint32
	err     error
	closed  bool
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, nextIno: 1} }

func (w *Writer) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.w.Write(b)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return err
}

func (w *Writer) pad(align int64) error {
	var zeros [512]byte
	if r := w.n % align; r != 0 {
		return w.write(zeros[:align-r])
	}
	return nil
}

// finish checks that the previous entry got all its data and pads it.
func (w *Writer) finish() error {
	if w.err != nil {
		return w.err
	}
	if w.remain != 0 {
		w.err = fmt.Errorf("cpio: entry is missing %d bytes of data", w.remain)
		return w.err
	}
	return w.pad(4)
}

// WriteHeader starts a new entry; its Size bytes of data must follow
// through Write before the next WriteHeader or Close.
func (w *Writer) WriteHeader(h *Header) error {
	if w.closed {
		return errors.New("cpio: write after Close")
	}
	if err := w.finish(); err != nil {
		return err
	}
	if h.Name == "" || len(h.Name)+1 > maxNameSize {
		return fmt.Errorf("cpio: invalid name %q", h.Name)
	}
	for i := 0; i < len(h.Name); i++ {
		if h.Name[i] == 0 {
			return fmt.Errorf("cpio: name %q contains NUL", h.Name)
		}
	}
	if h.Size < 0 || h.Size > 0xffffffff {
		return fmt.Errorf("cpio: %s: size %d does not fit the format", h.Name, h.Size)
	}
	t := h.Mode & TypeMask
	if h.Size != 0 && t != TypeReg && t != TypeSymlink {
		return fmt.Errorf("cpio: %s: only regular files and symlinks carry data", h.Name)
	}
	ino := h.Ino
	if ino == 0 {
		ino = w.nextIno
		w.nextIno++
	}
	nlink := h.NLink
	if nlink == 0 {
		nlink = 1
		if t == TypeDir {
			nlink = 2
		}
	}
	buf := make([]byte, 0, headerSize+len(h.Name)+1)
	buf = append(buf, "070701"...)
	for _, v := range []uint32{ino, h.Mode, h.UID, h.GID, nlink, h.MTime, uint32(h.Size),
		h.DevMajor, h.DevMinor, h.RDevMajor, h.RDevMinor, uint32(len(h.Name) + 1), 0} {
		buf = appendHex8(buf, v)
	}
	buf = append(buf, h.Name...)
	buf = append(buf, 0)
	if err := w.write(buf); err != nil {
		return err
	}
	w.remain = h.Size
	return w.pad(4)
}

func appendHex8(b []byte, v uint32) []byte {
	const digits = "0123456789ABCDEF"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>uint(shift))&0xf])
	}
	return b
}

// Write writes data of the current entry.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.remain {
		return 0, ErrWriteTooLong
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	w.remain -= int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Close writes the trailer and pads the archive to a multiple of 512
// bytes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if err := w.WriteHeader(&Header{Name: Trailer, Ino: 0xffffffff, NLink: 1}); err != nil {
		return err
	}
	w.closed = true
	return w.pad(512)
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// WriteFile writes a regular file entry with data.
func (w *Writer) WriteFile(name string, perm uint32, data []byte) error {
	if err := w.WriteHeader(&Header{Name: name, Mode: TypeReg | perm&0o7777, Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// WriteDir writes a directory entry.
func (w *Writer) WriteDir(name string, perm uint32) error {
	return w.WriteHeader(&Header{Name: name, Mode: TypeDir | perm&0o7777})
}

// WriteSymlink writes a symbolic link entry.
func (w *Writer) WriteSymlink(name, target string) error {
	if err := w.WriteHeader(&Header{Name: name, Mode: TypeSymlink | 0o777, Size: int64(len(target))}); err != nil {
		return err
	}
	_, err := w.Write([]byte(target))
	return err
}

// WriteCharDev writes a character device node, such as dev/console
// (major 5, minor 1), which the archive can carry without the writer
// being able to mknod.
func (w *Writer) WriteCharDev(name string, perm, major, minor uint32) error {
	return w.WriteHeader(&Header{Name: name, Mode: TypeChar | perm&0o7777, RDevMajor: major, RDevMinor: minor})
}

// Reader reads a newc archive.
type Reader struct {
	r      io.Reader
	n      int64 // bytes consumed
	remain int64 // data bytes of the current entry not yet read
	pad    int64 // padding after the current entry's data
	err    error
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

func (r *Reader) readFull(b []byte) error {
	n, err := io.ReadFull(r.r, b)
	r.n += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, r.r, n)
	r.n += m
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Next advances to the next entry and returns its header. At the trailer
// it returns io.EOF.
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := r.skip(r.remain + r.pad); err != nil {
		r.err = fmt.Errorf("cpio: %w", err)
		return nil, r.err
	}
	r.remain, r.pad = 0, 0
	h, err := r.next()
	if err != nil {
		r.err = err
	}
	return h, err
}

func (r *Reader) next() (*Header, error) {
	start := r.n
	var raw [headerSize]byte
	if err := r.readFull(raw[:]); err != nil {
		return nil, fmt.Errorf("cpio: header at offset %d: %w", start, err)
	}
	if m := string(raw[:6]); m != "070701" && m != "070702" {
		return nil, fmt.Errorf("cpio: bad magic %q at offset %d (want newc 070701)", m, start)
	}
	var f [13]uint32
	for i := range f {
		v, err := strconv.ParseUint(string(raw[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("cpio: header at offset %d: field %d is not hex", start, i)
		}
		f[i] = uint32(v)
	}
	h := &Header{Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], NLink: f[4], MTime: f[5], Size: int64(f[6]),
		DevMajor: f[7], DevMinor: f[8], RDevMajor: f[9], RDevMinor: f[10]}
	nameSize := int(f[11])
	if nameSize < 1 || nameSize > maxNameSize {
		return nil, fmt.Errorf("cpio: header at offset %d: name size %d", start, nameSize)
	}
	name := make([]byte, nameSize)
	if err := r.readFull(name); err != nil {
		return nil, fmt.Errorf("cpio: name at offset %d: %w", start, err)
	}
	if name[nameSize-1] != 0 {
		return nil, fmt.Errorf("cpio: name at offset %d is not NUL-terminated", start)
	}
	for _, c := range name[:nameSize-1] {
		if c == 0 {
			return nil, fmt.Errorf("cpio: name at offset %d contains NUL", start)
		}
	}
	h.Name = string(name[:nameSize-1])
	if err := r.skip(pad4(r.n - start)); err != nil {
		return nil, fmt.Errorf("cpio: %s: %w", h.Name, err)
	}
	if h.Name == Trailer {
		return nil, io.EOF
	}
	r.remain = h.Size
	r.pad = pad4(h.Size)
	return h, nil
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

// Read reads data of the current entry.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	r.remain -= int64(n)
	if errors.Is(err, io.EOF) && r.remain > 0 {
		r.err = fmt.Errorf("cpio: %w", io.ErrUnexpectedEOF)
		return n, r.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
		return n, err
	}
	return n, nil
}
