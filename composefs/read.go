package composefs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
)

// MaxImageSize is the largest image the reader loads (it reads the whole
// image into memory). Composefs images hold metadata only: a 100k-file
// tree gives about 20 MiB.
const MaxImageSize = 1 << 30

// maxReadDepth bounds directory nesting when reading an image; a real tree
// cannot be deeper than PATH_MAX allows.
const maxReadDepth = 2048

// ErrInvalidImage is wrapped by every error about a malformed image.
var ErrInvalidImage = errors.New("invalid composefs image")

// Entry is one file of an image as libcomposefs reads it back: the overlay
// xattrs are turned back into Payload and Digest, escaped
// trusted.overlay.overlay.* names are unescaped, xattr whiteouts become
// character devices 0/0 again, and the 256 whiteouts at the root are left
// out. Hardlink entries (a second name of an inode seen before, including
// any directory reached twice) have Hardlink set and repeat the inode's
// fields.
type Entry struct {
	// Path is absolute: "/" for the root, "/a/b" below it.
	Path      string
	Mode      uint32 // st_mode with file type bits
	Nlink     uint32
	UID, GID  uint32
	Size      uint64
	Rdev      uint64
	MtimeSec  int64
	MtimeNsec uint32
	// Payload is the redirect (without its leading '/') of a regular file
	// or the target of a symlink; HasPayload tells "" from unset.
	Payload    string
	HasPayload bool
	// Content is a regular file's inline data.
	Content []byte
	// Digest is the fs-verity digest from trusted.overlay.metacopy.
	Digest *fsverity.Digest
	// Xattrs in libcomposefs's read order (inline, then shared).
	Xattrs []objstore.Xattr
	// Hardlink is the Path of the inode's first entry, for later entries.
	Hardlink string
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidImage, fmt.Sprintf(format, args...))
}

// imageReader holds a loaded image.
type imageReader struct {
	data      []byte
	meta      uint64
	xattrs    uint64
	buildSec  int64
	buildNsec uint32
	seen      map[uint64]*Entry
}

// Walk reads the image of size bytes from r and calls fn for each entry,
// depth first, directories before their children, children in name order:
// the order of `composefs-info dump`. It never panics on a malformed image;
// it returns an error wrapping ErrInvalidImage.
func Walk(r io.ReaderAt, size int64, fn func(*Entry) error) error {
	if size < blockSize {
		return invalid("%d bytes is too small", size)
	}
	if size > MaxImageSize {
		return fmt.Errorf("composefs image of %d bytes is larger than %d", size, MaxImageSize)
	}
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && !(err == io.EOF && len(data) == int(size)) {
		return fmt.Errorf("read composefs image: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(data[0:]) != composefsMagic {
		return invalid("bad composefs magic %#x", le.Uint32(data[0:]))
	}
	if v := le.Uint32(data[4:]); v != composefsHdrVer {
		return invalid("unsupported composefs header version %d", v)
	}
	sb := data[superOffset : superOffset+superSize]
	if le.Uint32(sb[0:]) != erofsMagic {
		return invalid("bad EROFS magic %#x", le.Uint32(sb[0:]))
	}
	if sb[12] != blockBits {
		return invalid("block size 2^%d is not supported", sb[12])
	}
	ir := &imageReader{
		data:      data,
		meta:      uint64(le.Uint32(sb[40:])) * blockSize,
		xattrs:    uint64(le.Uint32(sb[44:])) * blockSize,
		buildSec:  int64(le.Uint64(sb[24:])),
		buildNsec: le.Uint32(sb[32:]),
		seen:      map[uint64]*Entry{},
	}
	if ir.meta >= uint64(len(data)) || ir.xattrs >= uint64(len(data)) {
		return invalid("metadata or xattr area beyond the end")
	}
	rootNid := uint64(le.Uint16(sb[14:]))
	e, children, err := ir.inode(rootNid, "/")
	if err != nil {
		return err
	}
	if e == nil {
		return invalid("root is a whiteout")
	}
	if e.Mode&sIFMT != sIFDIR {
		return invalid("root is not a directory")
	}
	return ir.walk(e, children, fn, 0)
}

type dirent struct {
	name string
	nid  uint64
}

func (ir *imageReader) walk(e *Entry, children []dirent, fn func(*Entry) error, depth int) error {
	if err := fn(e); err != nil {
		return err
	}
	if depth > maxReadDepth {
		return invalid("directories nested deeper than %d", maxReadDepth)
	}
	for _, c := range children {
		p := e.Path + "/" + c.name
		if e.Path == "/" {
			p = "/" + c.name
		}
		if first, ok := ir.seen[c.nid]; ok {
			link := *first
			link.Path, link.Hardlink = p, first.Path
			if err := fn(&link); err != nil {
				return err
			}
			continue
		}
		ce, grand, err := ir.inode(c.nid, p)
		if err != nil {
			return err
		}
		if ce == nil {
			continue // a whiteout (one of the 256 at the root)
		}
		if err := ir.walk(ce, grand, fn, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (ir *imageReader) slice(off, n uint64, what string) ([]byte, error) {
	if off > uint64(len(ir.data)) || n > uint64(len(ir.data))-off {
		return nil, invalid("%s at %d+%d beyond the end of the image", what, off, n)
	}
	return ir.data[off : off+n], nil
}

// inode parses the inode nid. It returns nil for a whiteout, and for a
// directory its entries (without "." and ".."), sorted by name.
func (ir *imageReader) inode(nid uint64, path string) (*Entry, []dirent, error) {
	le := binary.LittleEndian
	if nid > (uint64(len(ir.data))-ir.meta)/slotSize {
		return nil, nil, invalid("%s: inode %d beyond the end", path, nid)
	}
	off := ir.meta + nid*slotSize
	b, err := ir.slice(off, compactSize, "inode")
	if err != nil {
		return nil, nil, err
	}
	format := le.Uint16(b[0:])
	extended := format&1 == 1
	layout := (format >> 1) & 7
	e := &Entry{Path: path}
	var raw uint32
	var isize uint64
	if !extended {
		e.Mode = uint32(le.Uint16(b[4:]))
		e.Nlink = uint32(le.Uint16(b[6:]))
		e.Size = uint64(le.Uint32(b[8:]))
		raw = le.Uint32(b[16:])
		e.UID, e.GID = uint32(le.Uint16(b[24:])), uint32(le.Uint16(b[26:]))
		e.MtimeSec, e.MtimeNsec = ir.buildSec, ir.buildNsec
		isize = compactSize
	} else {
		if b, err = ir.slice(off, extSize, "inode"); err != nil {
			return nil, nil, err
		}
		e.Mode = uint32(le.Uint16(b[4:]))
		e.Size = le.Uint64(b[8:])
		raw = le.Uint32(b[16:])
		e.UID, e.GID = le.Uint32(b[24:]), le.Uint32(b[28:])
		e.MtimeSec, e.MtimeNsec = int64(le.Uint64(b[32:])), le.Uint32(b[40:])
		e.Nlink = le.Uint32(b[44:])
		isize = extSize
	}
	icount := uint64(le.Uint16(b[2:]))
	typ := e.Mode & sIFMT
	if err := validMode(e.Mode); err != nil {
		return nil, nil, invalid("%s: %v", path, err)
	}
	if typ == sIFCHR || typ == sIFBLK {
		e.Rdev = uint64(raw)
	}
	if typ == sIFCHR && e.Rdev == 0 {
		return nil, nil, nil
	}
	ir.seen[nid] = e
	var xsize uint64
	if icount > 0 {
		xsize = xattrHdrLen + (icount-1)*4
	}
	tailpacked := layout == layoutFlatInline
	var tailSize uint64
	if tailpacked {
		tailSize = e.Size % blockSize
	}
	tailOff := off + isize + xsize
	var children []dirent
	switch typ {
	case sIFDIR:
		if layout != layoutFlatPlain && layout != layoutFlatInline {
			return nil, nil, invalid("%s: directory data layout %d", path, layout)
		}
		nblocks := (e.Size + blockSize - 1) / blockSize
		if nblocks > uint64(len(ir.data))/blockSize+1 {
			return nil, nil, invalid("%s: directory size %d", path, e.Size)
		}
		lastOOB := nblocks
		if tailpacked && nblocks > 0 {
			lastOOB--
		}
		for blk := uint64(0); blk < lastOOB; blk++ {
			bs := uint64(blockSize)
			if !tailpacked && blk+1 == lastOOB && e.Size%blockSize != 0 {
				bs = e.Size % blockSize
			}
			block, err := ir.slice((uint64(raw)+blk)*blockSize, bs, "directory block")
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			if children, err = readDirBlock(block, children, path); err != nil {
				return nil, nil, err
			}
		}
		if tailpacked && tailSize > 0 {
			block, err := ir.slice(tailOff, tailSize, "directory tail")
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			if children, err = readDirBlock(block, children, path); err != nil {
				return nil, nil, err
			}
		}
		slices.SortFunc(children, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
		for i := 1; i < len(children); i++ {
			if children[i].name == children[i-1].name {
				return nil, nil, invalid("%s: duplicate entry %q", path, children[i].name)
			}
		}
	case sIFLNK:
		if e.Size == 0 || e.Size >= maxPayloadLen+1 {
			return nil, nil, invalid("%s: symlink target of %d bytes", path, e.Size)
		}
		src := tailOff
		if !tailpacked {
			src = uint64(raw) * blockSize
		}
		t, err := ir.slice(src, e.Size, "symlink target")
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if i := bytes.IndexByte(t, 0); i >= 0 {
			t = t[:i]
		}
		if len(t) == 0 {
			return nil, nil, invalid("%s: empty symlink target", path)
		}
		e.Payload, e.HasPayload = string(t), true
	case sIFREG:
		if e.Size == 0 {
			break
		}
		switch layout {
		case layoutFlatPlain, layoutFlatInline:
			if e.Size > MaxInlineContent {
				return nil, nil, invalid("%s: inline file of %d bytes", path, e.Size)
			}
			oob := e.Size
			if tailpacked {
				oob = e.Size - tailSize
			}
			content := make([]byte, 0, e.Size)
			part, err := ir.slice(uint64(raw)*blockSize, oob, "file data")
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			content = append(content, part...)
			if tailpacked {
				if part, err = ir.slice(tailOff, tailSize, "file tail"); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", path, err)
				}
				content = append(content, part...)
			}
			e.Content = content
		case layoutChunkBased:
		default:
			return nil, nil, invalid("%s: file data layout %d", path, layout)
		}
	}
	if icount > 0 {
		if err := ir.readXattrs(e, off+isize, xsize); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return e, children, nil
}

func readDirBlock(block []byte, out []dirent, path string) ([]dirent, error) {
	le := binary.LittleEndian
	if len(block) < direntSize {
		return nil, invalid("%s: directory block of %d bytes", path, len(block))
	}
	first := int(le.Uint16(block[8:]))
	if first%direntSize != 0 || first == 0 || first > len(block) {
		return nil, invalid("%s: bad first name offset %d", path, first)
	}
	n := first / direntSize
	for i := range n {
		d := block[i*direntSize:]
		nid := le.Uint64(d[0:])
		start := int(le.Uint16(d[8:]))
		end := len(block)
		if i+1 < n {
			end = int(le.Uint16(block[(i+1)*direntSize+8:]))
		}
		if start < first || end > len(block) || start > end {
			return nil, invalid("%s: bad name offsets %d..%d", path, start, end)
		}
		name := block[start:end]
		if i+1 == n {
			if j := bytes.IndexByte(name, 0); j >= 0 {
				name = name[:j]
			}
		}
		s := string(name)
		if s == "." || s == ".." {
			continue
		}
		if err := validName(s); err != nil {
			return nil, invalid("%s: %v", path, err)
		}
		out = append(out, dirent{s, nid})
	}
	return out, nil
}

// xattrReadPrefixes is EROFS's name index table for reading.
var xattrReadPrefixes = [...]string{"", "user.", "system.posix_acl_access", "system.posix_acl_default", "trusted.", "lustre.", "security."}

func (ir *imageReader) readXattrs(e *Entry, off, size uint64) error {
	area, err := ir.slice(off, size, "xattrs")
	if err != nil {
		return err
	}
	shared := uint64(area[4])
	p := xattrHdrLen + shared*4
	if p > size {
		return invalid("%d shared xattrs do not fit", shared)
	}
	for p+xattrEntLen < size {
		name, value, n, err := xattrEntry(area[p:])
		if err != nil {
			return err
		}
		if err := setEntryXattr(e, name, value); err != nil {
			return err
		}
		p += n
	}
	le := binary.LittleEndian
	for i := range shared {
		id := uint64(le.Uint32(area[xattrHdrLen+i*4:]))
		ent, err := ir.slice(ir.xattrs+id*4, xattrEntLen, "shared xattr")
		if err != nil {
			return err
		}
		full := ir.data[ir.xattrs+id*4:]
		_ = ent
		name, value, _, err := xattrEntry(full)
		if err != nil {
			return err
		}
		if err := setEntryXattr(e, name, value); err != nil {
			return err
		}
	}
	return nil
}

// xattrEntry decodes one xattr entry and returns its padded size.
func xattrEntry(b []byte) (string, []byte, uint64, error) {
	if len(b) < xattrEntLen {
		return "", nil, 0, invalid("truncated xattr entry")
	}
	nl, idx := int(b[0]), int(b[1])
	vs := int(binary.LittleEndian.Uint16(b[2:]))
	if idx >= len(xattrReadPrefixes) {
		return "", nil, 0, invalid("xattr name index %d", idx)
	}
	if xattrEntLen+nl+vs > len(b) {
		return "", nil, 0, invalid("xattr entry beyond its area")
	}
	name := xattrReadPrefixes[idx] + string(b[xattrEntLen:xattrEntLen+nl])
	value := b[xattrEntLen+nl : xattrEntLen+nl+vs]
	return name, value, roundUp(uint64(xattrEntLen+nl+vs), 4), nil
}

// setEntryXattr applies libcomposefs's read-side overlay translation.
func setEntryXattr(e *Entry, name string, value []byte) error {
	typ := e.Mode & sIFMT
	switch name {
	case xattrRedirect:
		if typ == sIFREG {
			v := value
			if len(v) > 1 && v[0] == '/' {
				v = v[1:]
			}
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			e.Payload, e.HasPayload = string(v), true
		}
		return nil
	case xattrMetacopy:
		if typ == sIFREG && len(value) == metacopyLen {
			var d fsverity.Digest
			copy(d[:], value[4:])
			e.Digest = &d
		}
		return nil
	case xattrEscWhiteout:
		if typ == sIFREG {
			e.Mode = e.Mode&^sIFMT | sIFCHR
			e.Rdev, e.Size = 0, 0
			return nil
		}
	case xattrEscWhiteouts, xattrUserWhiteout, xattrUserWhiteouts:
		return nil
	}
	if strings.HasPrefix(name, xattrOverlay) {
		rest, ok := strings.CutPrefix(name, xattrOverlayEscaped)
		if !ok {
			return nil
		}
		name = xattrOverlay + rest
	}
	if name == "" || len(name) > maxXattrNameLen || strings.IndexByte(name, 0) >= 0 {
		return invalid("bad xattr name %q", name)
	}
	e.Xattrs = slices.DeleteFunc(e.Xattrs, func(x objstore.Xattr) bool { return x.Name == name })
	e.Xattrs = append(e.Xattrs, objstore.Xattr{Name: name, Value: bytes.Clone(value)})
	return nil
}
