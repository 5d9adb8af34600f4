package objstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/gostree/gostree/gvariant"
)

// Unix file type and permission bits as stored in OSTree objects (st_mode).
const (
	sIFMT   = 0o170000
	sIFDIR  = 0o040000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sISUID  = 0o4000
	sISGID  = 0o2000
	sISVTX  = 0o1000
	permAll = 0o7777
)

// Xattr is one extended attribute. Name has no trailing NUL.
type Xattr struct {
	Name  string
	Value []byte
}

// Meta is the metadata OSTree records for a file, symlink or directory: the
// part of a stat that survives a commit, plus xattrs. It is what
// fs.FileInfo.Sys returns for files of a commit's fs.FS.
type Meta struct {
	// Mode is the full st_mode, file type bits included (0100644, 0120777, 040755).
	Mode uint32
	UID  uint32
	GID  uint32
	// Xattrs are sorted by name, without duplicates.
	Xattrs []Xattr
	// Size is the content size of a regular file, the target length of a symlink.
	Size int64
	// Target is a symlink's target; empty for other types.
	Target string
	// Content is the content object of a file or symlink; zero for directories.
	Content ID
}

// IsDir, IsRegular and IsSymlink report the file type.
func (m *Meta) IsDir() bool { return m.Mode&sIFMT == sIFDIR }

// IsRegular reports whether m describes a regular file.
func (m *Meta) IsRegular() bool { return m.Mode&sIFMT == sIFREG }

// IsSymlink reports whether m describes a symbolic link.
func (m *Meta) IsSymlink() bool { return m.Mode&sIFMT == sIFLNK }

// FileMode converts st_mode to an io/fs FileMode.
func (m *Meta) FileMode() fs.FileMode { return UnixToFileMode(m.Mode) }

// Xattr returns the value of the named attribute.
func (m *Meta) Xattr(name string) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(m.Xattrs, name, func(x Xattr, n string) int { return strings.Compare(x.Name, n) })
	if !ok {
		return nil, false
	}
	return m.Xattrs[i].Value, true
}

// UnixToFileMode converts a Unix st_mode to an io/fs FileMode.
func UnixToFileMode(mode uint32) fs.FileMode {
	fm := fs.FileMode(mode & 0o777)
	switch mode & sIFMT {
	case sIFDIR:
		fm |= fs.ModeDir
	case sIFLNK:
		fm |= fs.ModeSymlink
	case sIFREG:
	case syscall.S_IFIFO:
		fm |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		fm |= fs.ModeSocket
	case syscall.S_IFCHR:
		fm |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		fm |= fs.ModeDevice
	default:
		fm |= fs.ModeIrregular
	}
	if mode&sISUID != 0 {
		fm |= fs.ModeSetuid
	}
	if mode&sISGID != 0 {
		fm |= fs.ModeSetgid
	}
	if mode&sISVTX != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// FileModeToUnix converts an io/fs FileMode to a Unix st_mode.
func FileModeToUnix(fm fs.FileMode) uint32 {
	mode := uint32(fm.Perm())
	switch {
	case fm&fs.ModeDir != 0:
		mode |= sIFDIR
	case fm&fs.ModeSymlink != 0:
		mode |= sIFLNK
	case fm&fs.ModeNamedPipe != 0:
		mode |= syscall.S_IFIFO
	case fm&fs.ModeSocket != 0:
		mode |= syscall.S_IFSOCK
	case fm&fs.ModeCharDevice != 0:
		mode |= syscall.S_IFCHR
	case fm&fs.ModeDevice != 0:
		mode |= syscall.S_IFBLK
	case fm&fs.ModeType == 0:
		mode |= sIFREG
	}
	if fm&fs.ModeSetuid != 0 {
		mode |= sISUID
	}
	if fm&fs.ModeSetgid != 0 {
		mode |= sISGID
	}
	if fm&fs.ModeSticky != 0 {
		mode |= sISVTX
	}
	return mode
}

// MetaOf extracts the metadata of fi: from a *Meta in Sys (a commit's fs.FS),
// from a *syscall.Stat_t (os.DirFS, os.Root), or from the mode alone (uid/gid
// 0). Xattrs and symlink targets are only known in the first case.
func MetaOf(fi fs.FileInfo) *Meta {
	switch s := fi.Sys().(type) {
	case *Meta:
		return s
	case *syscall.Stat_t:
		return &Meta{Mode: s.Mode, UID: s.Uid, GID: s.Gid, Size: s.Size}
	}
	return &Meta{Mode: FileModeToUnix(fi.Mode()), Size: fi.Size()}
}

var (
	typeDirMeta       = gvariant.MustParseType("(uuua(ayay))")
	typeFileHeader    = gvariant.MustParseType("(uuuusa(ayay))")
	typeArchiveHeader = gvariant.MustParseType("(tuuuusa(ayay))")
	typeXattrs        = gvariant.MustParseType("a(ayay)")
)

func be32(v uint32) uint32 { return bits.ReverseBytes32(v) }
func be64(v uint64) uint64 { return bits.ReverseBytes64(v) }

func xattrsValue(xs []Xattr) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		name := make([]byte, len(x.Name)+1)
		copy(name, x.Name)
		val := x.Value
		if val == nil {
			val = []byte{}
		}
		out[i] = []any{name, val}
	}
	return out
}

// SortXattrs sorts xs by name in place (strcmp order, as ostree canonicalizes).
func SortXattrs(xs []Xattr) {
	slices.SortFunc(xs, func(a, b Xattr) int { return strings.Compare(a.Name, b.Name) })
}

func parseXattrs(v any) ([]Xattr, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("xattrs: not an array")
	}
	if len(arr) == 0 {
		return nil, nil
	}
	xs := make([]Xattr, 0, len(arr))
	for _, e := range arr {
		t, ok := e.([]any)
		if !ok || len(t) != 2 {
			return nil, errors.New("xattrs: bad entry")
		}
		name, _ := t[0].([]byte)
		val, _ := t[1].([]byte)
		if len(name) < 2 || name[len(name)-1] != 0 || bytes.IndexByte(name[:len(name)-1], 0) >= 0 {
			return nil, fmt.Errorf("xattrs: invalid name %q", name)
		}
		xs = append(xs, Xattr{Name: string(name[:len(name)-1]), Value: val})
	}
	for i := 1; i < len(xs); i++ {
		if xs[i-1].Name >= xs[i].Name {
			// ostree tolerates unsorted xattrs from old writers; we keep
			// them but look them up linearly if so. Duplicates are errors.
			if xs[i-1].Name == xs[i].Name {
				return nil, fmt.Errorf("xattrs: duplicate name %q", xs[i].Name)
			}
			SortXattrs(xs)
			break
		}
	}
	return xs, nil
}

// encodeDirMeta serializes a DIR_META object (uuua(ayay)) for m.
func encodeDirMeta(m *Meta) []byte {
	b, err := gvariant.Encode(typeDirMeta, []any{be32(m.UID), be32(m.GID), be32(m.Mode), xattrsValue(m.Xattrs)})
	if err != nil {
		panic(fmt.Sprintf("encode dirmeta: %v", err)) // inputs are always well-typed
	}
	return b
}

// decodeDirMeta parses and validates a DIR_META object.
func decodeDirMeta(data []byte) (*Meta, error) {
	v, err := gvariant.Decode(typeDirMeta, data)
	if err != nil {
		return nil, fmt.Errorf("parse dirmeta: %w", err)
	}
	t := v.([]any)
	m := &Meta{UID: be32(t[0].(uint32)), GID: be32(t[1].(uint32)), Mode: be32(t[2].(uint32))}
	if m.Mode&sIFMT != sIFDIR || m.Mode&^(sIFMT|permAll) != 0 {
		return nil, fmt.Errorf("parse dirmeta: invalid directory mode 0%o", m.Mode)
	}
	if m.Xattrs, err = parseXattrs(t[3]); err != nil {
		return nil, fmt.Errorf("parse dirmeta: %w", err)
	}
	return m, nil
}

// encodeFileHeader serializes the content header (uuuusa(ayay)) used in the
// content checksum.
func encodeFileHeader(m *Meta) []byte {
	b, err := gvariant.Encode(typeFileHeader, []any{be32(m.UID), be32(m.GID), be32(m.Mode), uint32(0), m.Target, xattrsValue(m.Xattrs)})
	if err != nil {
		panic(fmt.Sprintf("encode file header: %v", err))
	}
	return b
}

// encodeArchiveHeader serializes the archive-z2 header (tuuuusa(ayay)).
func encodeArchiveHeader(m *Meta) []byte {
	size := uint64(0)
	if m.IsRegular() {
		size = uint64(m.Size)
	}
	b, err := gvariant.Encode(typeArchiveHeader, []any{be64(size), be32(m.UID), be32(m.GID), be32(m.Mode), uint32(0), m.Target, xattrsValue(m.Xattrs)})
	if err != nil {
		panic(fmt.Sprintf("encode archive header: %v", err))
	}
	return b
}

// lengthPrefix returns the 8-byte prefix ostree puts before a header: a
// big-endian u32 length and four zero bytes.
func lengthPrefix(n int) [8]byte {
	var p [8]byte
	binary.BigEndian.PutUint32(p[:4], uint32(n))
	return p
}

// validateFileMeta checks that m can be a content object.
func validateFileMeta(m *Meta) error {
	switch m.Mode & sIFMT {
	case sIFREG:
		if m.Target != "" {
			return errors.New("regular file with a symlink target")
		}
	case sIFLNK:
		if m.Target == "" {
			return errors.New("symlink with an empty target")
		}
		if strings.IndexByte(m.Target, 0) >= 0 {
			return errors.New("symlink target contains NUL")
		}
	default:
		return fmt.Errorf("unsupported file type in mode 0%o", m.Mode)
	}
	if m.Mode&^(sIFMT|permAll) != 0 {
		return fmt.Errorf("invalid mode 0%o", m.Mode)
	}
	return nil
}

func decodeHeaderFields(t []any, m *Meta, what string) error {
	m.UID, m.GID, m.Mode = be32(t[0].(uint32)), be32(t[1].(uint32)), be32(t[2].(uint32))
	if rdev := t[3].(uint32); rdev != 0 {
		return fmt.Errorf("parse %s: nonzero rdev", what)
	}
	m.Target = t[4].(string)
	var err error
	if m.Xattrs, err = parseXattrs(t[5]); err != nil {
		return fmt.Errorf("parse %s: %w", what, err)
	}
	if err := validateFileMeta(m); err != nil {
		return fmt.Errorf("parse %s: %w", what, err)
	}
	if m.IsSymlink() {
		m.Size = int64(len(m.Target))
	}
	return nil
}

// decodeArchiveHeader parses the archive-z2 header.
func decodeArchiveHeader(data []byte) (*Meta, error) {
	v, err := gvariant.Decode(typeArchiveHeader, data)
	if err != nil {
		return nil, fmt.Errorf("parse archive header: %w", err)
	}
	t := v.([]any)
	m := &Meta{}
	size := be64(t[0].(uint64))
	if err := decodeHeaderFields(t[1:], m, "archive header"); err != nil {
		return nil, err
	}
	if m.IsRegular() {
		if size > 1<<62 {
			return nil, fmt.Errorf("parse archive header: size %d out of range", size)
		}
		m.Size = int64(size)
	}
	return m, nil
}

// decodeFileHeader parses a content header (uuuusa(ayay)).
func decodeFileHeader(data []byte) (*Meta, error) {
	v, err := gvariant.Decode(typeFileHeader, data)
	if err != nil {
		return nil, fmt.Errorf("parse file header: %w", err)
	}
	m := &Meta{}
	if err := decodeHeaderFields(v.([]any), m, "file header"); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeUserMeta parses the user.ostreemeta xattr of bare-user objects.
func decodeUserMeta(data []byte) (*Meta, error) {
	v, err := gvariant.Decode(typeDirMeta, data)
	if err != nil {
		return nil, fmt.Errorf("parse user.ostreemeta: %w", err)
	}
	t := v.([]any)
	m := &Meta{UID: be32(t[0].(uint32)), GID: be32(t[1].(uint32)), Mode: be32(t[2].(uint32))}
	if m.Xattrs, err = parseXattrs(t[3]); err != nil {
		return nil, fmt.Errorf("parse user.ostreemeta: %w", err)
	}
	return m, nil
}

// ValidName reports whether name may be a directory entry in a commit:
// non-empty, not "." or "..", no "/" or NUL, valid UTF-8 (ostree's rules).
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty file name")
	case name == "." || name == "..":
		return fmt.Errorf("invalid file name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("invalid file name %q: contains '/' or NUL", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("invalid file name %q: not UTF-8", name)
	}
	return nil
}
