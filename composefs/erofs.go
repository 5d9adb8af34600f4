package composefs

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
)

// On-disk constants of EROFS and of the composefs header. Each one is part of
// the format: changing any of them changes every image's bytes and digest.
const (
	blockBits   = 12
	blockSize   = 1 << blockBits // EROFS_BLKSIZ as composefs uses it
	slotSize    = 32             // EROFS_SLOTSIZE: inodes are 32-byte aligned, nid = offset/32
	superOffset = 1024           // EROFS_SUPER_OFFSET
	superSize   = 128
	compactSize = 32 // struct erofs_inode_compact
	extSize     = 64 // struct erofs_inode_extended
	direntSize  = 12 // struct erofs_dirent
	xattrHdrLen = 12 // struct erofs_xattr_ibody_header
	xattrEntLen = 4  // struct erofs_xattr_entry

	erofsMagic      = 0xE0F5E1E2
	composefsMagic  = 0xd078629a
	composefsHdrVer = 1 // LCFS_EROFS_VERSION
	flagHasACL      = 1 // LCFS_EROFS_FLAGS_HAS_ACL

	featureCompatMtime       = 2
	featureCompatXattrFilter = 4

	layoutFlatPlain  = 0
	layoutFlatInline = 2
	layoutChunkBased = 4

	xattrFilterSeed = 0x25BBE08F
	maxSharedRefs   = 128 // EROFS_XATTR_LONG_PREFIX: shared references per inode
	nullAddr        = 0xFFFFFFFF
	chunkBitsMask   = 0x1F // EROFS_CHUNK_FORMAT_BLKBITS_MASK

	// FormatVersionMax is the highest composefs format version written.
	FormatVersionMax = 1
)

// The overlayfs xattrs composefs images carry (kernel Documentation/filesystems/overlayfs.rst).
const (
	xattrOverlay          = "trusted.overlay."
	xattrOverlayEscaped   = "trusted.overlay.overlay."
	xattrMetacopy         = "trusted.overlay.metacopy"
	xattrRedirect         = "trusted.overlay.redirect"
	xattrOpaque           = "trusted.overlay.opaque"
	xattrEscWhiteout      = "trusted.overlay.overlay.whiteout"
	xattrEscWhiteouts     = "trusted.overlay.overlay.whiteouts"
	xattrEscOpaque        = "trusted.overlay.overlay.opaque"
	xattrUserWhiteout     = "user.overlay.whiteout"
	xattrUserWhiteouts    = "user.overlay.whiteouts"
	xattrUserOpaque       = "user.overlay.opaque"
	xattrSelinux          = "security.selinux"
	xattrACLAccess        = "system.posix_acl_access"
	xattrACLDefault       = "system.posix_acl_default"
	metacopyDigestVersion = 0
	metacopyLen           = 4 + 32
	verityAlgSHA256       = 1
)

// xattrPrefixes is the writer's EROFS name index table; anything else is
// stored with index 0 and its full name.
var xattrPrefixes = [...]struct {
	prefix string
	index  uint8
}{
	{"user.", 1},
	{"system.posix_acl_access", 2},
	{"system.posix_acl_default", 3},
	{"trusted.", 4},
	{"security.", 6},
}

// splitXattrName returns the EROFS name index and the stored suffix.
func splitXattrName(name string) (uint8, string) {
	for _, p := range xattrPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.index, name[len(p.prefix):]
		}
	}
	return 0, name
}

func xattrEntrySize(x *xattr) uint64 {
	_, suffix := splitXattrName(x.name)
	return roundUp(xattrEntLen+uint64(len(suffix))+uint64(len(x.value)), 4)
}

func roundUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// chunking returns the chunk size bits and chunk count EROFS uses for an
// external file of the given size (size > 0).
func chunking(size uint64) (chunkBits uint32, count uint64) {
	chunkBits = uint32(bits.Len64(size - 1)) // ilog2(size-1)+1; size 1 ends up at blockBits below
	if chunkBits < blockBits {
		chunkBits = blockBits
	}
	if chunkBits-blockBits > chunkBitsMask {
		chunkBits = chunkBitsMask + blockBits
	}
	chunk := uint64(1) << chunkBits
	return chunkBits, (size + chunk - 1) / chunk
}

// image is the tree being written, with its layout.
type image struct {
	root    *node
	order   []*node // inodes in breadth-first order; order[i].ino == i
	version uint32
	hasACL  bool

	minSec  int64
	minNsec uint32

	shared     []*xattr // shared xattr table, in table order
	sharedOff  []uint64 // byte offset of each entry within the table
	sharedSize uint64

	inodesEnd  uint64
	dataStart  uint64
	dataBlocks uint64

	// Backing store for the xattrs prepare adds and the per-inode lists.
	xattrs slab[xattr]
	bytes  slab[byte]
	refs   slab[int]
}

// prepare rewrites the tree for overlayfs and lays it out (§7.2 steps 1-7).
func prepare(root *node, version, maxVersion uint32) (*image, error) {
	if maxVersion < version {
		maxVersion = version
	}
	if version > FormatVersionMax || maxVersion > FormatVersionMax {
		return nil, fmt.Errorf("composefs format version %d is not supported (max %d)", maxVersion, FormatVersionMax)
	}
	if !root.isDir() {
		return nil, fmt.Errorf("root is not a directory (mode %#o)", root.mode)
	}
	if version < 1 && maxVersion >= 1 && hasWhiteout(root) {
		version = 1
	}
	img := &image{root: root, version: version,
		xattrs: slab[xattr]{chunk: 1024}, bytes: slab[byte]{chunk: 64 << 10}, refs: slab[int]{chunk: 1024}}
	if err := img.rewrite(root, root); err != nil {
		return nil, err
	}
	if err := root.setXattr(xattrOpaque, []byte("y")); err != nil {
		return nil, err
	}
	sel, hasSel := root.xattrs, false
	var selValue []byte
	for _, x := range sel {
		if x.name == xattrSelinux {
			selValue, hasSel = x.value, true
		}
	}
	const hex = "0123456789abcdef"
	for i := range 256 {
		name := string([]byte{hex[i>>4], hex[i&15]})
		if root.lookup(name) != nil {
			continue
		}
		c := newNode(sIFCHR | 0o644)
		c.uid, c.gid, c.mtimeSec, c.mtimeNsec = root.uid, root.gid, root.mtimeSec, root.mtimeNsec
		if hasSel {
			c.xattrs = []xattr{{xattrSelinux, selValue}}
		}
		if err := root.addChild(c, name); err != nil {
			return nil, err
		}
	}
	if err := img.computeTree(); err != nil {
		return nil, err
	}
	img.computeShared()
	img.computeInodes()
	for _, n := range img.order {
		if n.typ() == sIFREG && n.content != nil && n.nblocks > 1 {
			// libcomposefs writes only the first block of inline content
			// and then fails its own size check: refuse the same inputs.
			return nil, fmt.Errorf("inode %d: inline content of %d bytes does not fit the composefs layout", n.ino, n.size)
		}
	}
	return img, nil
}

func hasWhiteout(n *node) bool {
	if n.typ() == sIFCHR && n.rdev == 0 {
		return true
	}
	for _, c := range n.children {
		if c.link == nil && hasWhiteout(c) {
			return true
		}
	}
	return false
}

// rewrite is libcomposefs's rewrite_tree_node_for_erofs: escape overlay
// xattrs, add metacopy/redirect, turn whiteouts into xattr whiteouts, and
// add "." and "..". Pre-order, children in name order.
func (img *image) rewrite(n, parent *node) error {
	if err := n.validate(); err != nil {
		return fmt.Errorf("%s: %w", nodePath(n), err)
	}
	if err := img.addOverlayXattrs(n); err != nil {
		return fmt.Errorf("%s: %w", nodePath(n), err)
	}
	if !n.isDir() {
		return nil
	}
	if n.lookup(".") == nil {
		n.addDotChild(&node{link: n}, ".")
	}
	if n.lookup("..") == nil {
		n.addDotChild(&node{link: parent}, "..")
	}
	for _, c := range n.children {
		if c.link != nil {
			continue
		}
		if err := img.rewrite(c, n); err != nil {
			return err
		}
	}
	return nil
}

// nodePath is the absolute path of n in its tree, "/" for the root; only
// error messages need it.
func nodePath(n *node) string {
	var names []string
	for ; n.parent != nil; n = n.parent {
		names = append(names, n.name)
	}
	if len(names) == 0 {
		return "/"
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/")
}

func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (img *image) addOverlayXattrs(n *node) error {
	for i := range n.xattrs {
		if rest, ok := strings.CutPrefix(n.xattrs[i].name, xattrOverlay); ok {
			n.xattrs[i].name = xattrOverlayEscaped + rest
		}
	}
	if n.typ() == sIFREG && n.size > 0 && n.content == nil {
		// Both values come from one slab allocation.
		mcLen, rdLen := 0, 0
		if n.hasDigest {
			mcLen = metacopyLen
		}
		if n.payload != "" {
			rdLen = 1 + len(n.payload)
		}
		buf := img.bytes.make(mcLen + rdLen)
		mc := []byte{} // without a digest, the metacopy xattr is empty
		if n.hasDigest {
			mc = append(buf[:0:mcLen], metacopyDigestVersion, metacopyLen, 0, verityAlgSHA256)
			mc = append(mc, n.digest[:]...)
		}
		n.xattrs = img.xattrs.grow(n.xattrs, 2)
		if err := n.setXattr(xattrMetacopy, mc); err != nil {
			return err
		}
		if n.payload != "" {
			rd := append(buf[mcLen:mcLen:mcLen+rdLen], '/')
			rd = append(rd, n.payload...)
			if err := n.setXattr(xattrRedirect, rd); err != nil {
				return err
			}
		}
	}
	if n.typ() == sIFCHR && n.rdev == 0 {
		p := n.parent
		n.size = 0
		n.mode = sIFREG | n.mode&^sIFMT
		for _, name := range []string{xattrEscWhiteout, xattrUserWhiteout} {
			if err := n.setXattr(name, []byte{}); err != nil {
				return err
			}
		}
		if p == nil {
			return fmt.Errorf("whiteout without a parent directory")
		}
		for _, name := range []string{xattrEscWhiteouts, xattrUserWhiteouts} {
			if err := p.setXattr(name, []byte{}); err != nil {
				return err
			}
		}
		if img.version >= 1 {
			for _, name := range []string{xattrEscOpaque, xattrUserOpaque} {
				if err := p.setXattr(name, []byte("x")); err != nil {
					return err
				}
			}
		}
	}
	if b := n.xattrBudget(); b > maxInodeXattrs {
		return fmt.Errorf("xattrs take %d bytes, more than the %d an inode may have", b, maxInodeXattrs)
	}
	return nil
}

// computeTree is lcfs_compute_tree: breadth-first order, inode numbers,
// directory link counts, sorted xattrs, minimum mtime and the ACL flag.
func (img *image) computeTree() error {
	root := img.root
	img.minSec, img.minNsec = root.mtimeSec, root.mtimeNsec
	img.order = append(img.order[:0], root)
	for i := 0; i < len(img.order); i++ {
		n := img.order[i]
		if n.isDir() {
			nl := uint32(2)
			for _, c := range n.children {
				if c.isDir() {
					nl++
				}
			}
			n.nlink = nl
		}
		if len(n.xattrs) > 1 {
			slices.SortFunc(n.xattrs, func(a, b xattr) int { return strings.Compare(a.name, b.name) })
		}
		if n.mtimeSec < img.minSec || n.mtimeSec == img.minSec && n.mtimeNsec < img.minNsec {
			img.minSec, img.minNsec = n.mtimeSec, n.mtimeNsec
		}
		if i > 1<<32-1 {
			return fmt.Errorf("too many inodes")
		}
		n.ino = uint32(i)
		for _, x := range n.xattrs {
			if x.name == xattrACLAccess || x.name == xattrACLDefault {
				img.hasACL = true
			}
		}
		for _, c := range n.children {
			if c.link != nil {
				if t := c.target(); t.isDir() && c.name != "." && c.name != ".." {
					return fmt.Errorf("%s: directories cannot be hardlinked", c.name)
				}
				continue
			}
			img.order = append(img.order, c)
		}
	}
	return nil
}

// dirBlocks splits a directory's entries into blocks: it calls fn(first,
// end) for each full block and returns the start of the trailing part and
// its byte size.
func dirBlocks(n *node, fn func(first, end int)) (tailFirst int, tailBytes uint64) {
	var size uint64
	first := 0
	for i, c := range n.children {
		l := uint64(direntSize + len(c.name))
		if size+l > blockSize {
			if fn != nil {
				fn(first, i)
			}
			size, first = 0, i
		}
		size += l
	}
	return first, size
}

func (img *image) inodeSizes(n *node) {
	n.nblocks, n.tail = 0, 0
	switch n.typ() {
	case sIFDIR:
		var nb uint64
		_, tail := dirBlocks(n, func(int, int) { nb++ })
		if tail > blockSize/2 {
			nb++
			tail = 0
		}
		n.nblocks, n.tail = nb, tail
	case sIFLNK:
		n.tail = uint64(len(n.payload))
	case sIFREG:
		if n.size == 0 {
			break
		}
		if n.content != nil {
			n.nblocks, n.tail = n.size/blockSize, n.size%blockSize
			if n.tail > blockSize/2 {
				n.nblocks++
				n.tail = 0
			}
		} else {
			_, count := chunking(n.size)
			n.tail = 4 * count
		}
	}
}

func (img *image) fitsCompact(n *node) bool {
	if n.mtimeSec != img.minSec || n.mtimeNsec != img.minNsec {
		return false
	}
	if n.nlink > 0xFFFF || n.uid > 0xFFFF || n.gid > 0xFFFF {
		return false
	}
	size := n.size
	if n.isDir() {
		size = n.nblocks*blockSize + n.tail
	}
	return size <= 0xFFFFFFFF
}

func (n *node) inodeSize() uint64 {
	if n.compact {
		return compactSize
	}
	return extSize
}

// computeInodes places the inodes (compute_erofs_inodes).
func (img *image) computeInodes() {
	pos := uint64(superOffset + superSize)
	for _, n := range img.order {
		img.inodeSizes(n)
		n.compact = img.fitsCompact(n)
		isize := n.inodeSize()
		var inl uint64
		for i := range n.inline {
			inl += xattrEntrySize(&n.inline[i])
		}
		n.xattrSize = 0
		if n.nshared > 0 || inl > 0 {
			n.xattrSize = roundUp(xattrHdrLen+uint64(n.nshared)*4+inl, 4)
		}
		ppos := pos
		pos = roundUp(pos, slotSize)
		pad := img.tailPadding(n, pos, isize, n.xattrSize)
		n.ipad = pos - ppos + pad
		pos += pad
		img.dataBlocks += n.nblocks
		n.nid = pos / slotSize
		pos += isize + n.xattrSize + n.tail
	}
	img.inodesEnd = roundUp(pos, slotSize)
	img.dataStart = roundUp(img.inodesEnd+img.sharedSize, blockSize)
}

// tailPadding keeps inline tails inside one block
// (compute_erofs_inode_padding_for_tail), moving the tail to a data block
// when even padding cannot make it fit.
func (img *image) tailPadding(n *node, pos, isize, xsize uint64) uint64 {
	nonTail := isize + xsize
	total := nonTail + n.tail
	if n.typ() == sIFLNK {
		if total/blockSize > 0 {
			n.nblocks++
			n.tail = 0
		}
		if pos/blockSize != (pos+total-1)/blockSize {
			return roundUp(pos, blockSize) - pos
		}
		return 0
	}
	rem := blockSize - (pos+nonTail)%blockSize
	if rem < n.tail {
		pad := roundUp(rem, slotSize)
		rem = blockSize - (pos+nonTail+pad)%blockSize
		if n.tail <= rem {
			return pad
		}
		n.nblocks++
		n.tail = 0
		return roundUp(pos, blockSize) - pos
	}
	return 0
}

// emit writes the laid-out image (§7.2 step 8).
func (img *image) emit(w io.Writer) error {
	s := newSink(w)
	img.emitTo(s)
	return s.close()
}

// emitTo produces the image into s, recording a layout error in s.err.
func (img *image) emitTo(s *sink) {
	le := binary.LittleEndian

	// composefs header, then zeros up to the superblock.
	var hdr [32]byte
	le.PutUint32(hdr[0:], composefsMagic)
	le.PutUint32(hdr[4:], composefsHdrVer)
	if img.hasACL {
		le.PutUint32(hdr[8:], flagHasACL)
	}
	le.PutUint32(hdr[12:], img.version)
	s.write(hdr[:])
	s.pad(superOffset - 32)

	var sb [superSize]byte
	le.PutUint32(sb[0:], erofsMagic)
	le.PutUint32(sb[8:], featureCompatMtime|featureCompatXattrFilter)
	sb[12] = blockBits
	le.PutUint16(sb[14:], uint16(img.root.nid))
	le.PutUint64(sb[16:], uint64(len(img.order)))
	le.PutUint64(sb[24:], uint64(img.minSec))
	le.PutUint32(sb[32:], img.minNsec)
	le.PutUint32(sb[36:], uint32(img.dataStart/blockSize+img.dataBlocks))
	le.PutUint32(sb[40:], 0)
	le.PutUint32(sb[44:], uint32(img.inodesEnd/blockSize))
	s.write(sb[:])

	next := img.dataStart / blockSize // next data block
	for _, n := range img.order {
		img.emitInode(s, n, &next)
		if s.err != nil || !s.flushIfFull() {
			return
		}
	}
	s.align(slotSize)
	if s.off() != img.inodesEnd {
		s.err = fmt.Errorf("composefs: internal error: inodes end at %d, want %d", s.off(), img.inodesEnd)
		return
	}
	for _, x := range img.shared {
		writeXattrEntry(s, x)
		if !s.flushIfFull() {
			return
		}
	}
	s.align(blockSize)
	if s.off() != img.dataStart {
		s.err = fmt.Errorf("composefs: internal error: data starts at %d, want %d", s.off(), img.dataStart)
		return
	}
	for _, n := range img.order {
		img.emitData(s, n)
		if !s.flushIfFull() {
			return
		}
	}
	if s.off() != img.dataStart+img.dataBlocks*blockSize {
		s.err = fmt.Errorf("composefs: internal error: image is %d bytes, want %d", s.off(), img.dataStart+img.dataBlocks*blockSize)
	}
}

func writeXattrEntry(s *sink, x *xattr) {
	idx, suffix := splitXattrName(x.name)
	var e [xattrEntLen]byte
	e[0] = uint8(len(suffix))
	e[1] = idx
	binary.LittleEndian.PutUint16(e[2:], uint16(len(x.value)))
	s.write(e[:])
	s.writeString(suffix)
	s.write(x.value)
	s.align(4)
}

func (img *image) nameFilter(n *node) uint32 {
	var f uint32
	for _, x := range n.xattrs {
		idx, suffix := splitXattrName(x.name)
		f |= 1 << (xxh32([]byte(suffix), xattrFilterSeed+uint32(idx)) & 31)
	}
	return ^f
}

func (img *image) emitInode(s *sink, n *node, next *uint64) {
	le := binary.LittleEndian
	s.pad(n.ipad)
	start := s.off()
	typ := n.typ()
	layout := uint16(layoutFlatPlain)
	if n.tail > 0 {
		layout = layoutFlatInline
	}
	var size uint64
	var chunkFormat uint16
	var chunkCount uint64
	isChunked := false
	switch typ {
	case sIFDIR:
		size = n.nblocks*blockSize + n.tail
	case sIFREG:
		size = n.size
		if size > 0 && n.content == nil {
			cb, count := chunking(size)
			layout, chunkFormat, chunkCount, isChunked = layoutChunkBased, uint16(cb-blockBits), count, true
		}
	case sIFLNK:
		if n.nblocks == 0 {
			size = n.tail
		} else {
			size = uint64(len(n.payload))
		}
	}
	var iu uint32
	switch typ {
	case sIFDIR, sIFREG, sIFLNK:
		if n.nblocks > 0 {
			iu = uint32(*next)
			*next += n.nblocks
		}
		if isChunked {
			iu = iu&^0xFFFF | uint32(chunkFormat)
		}
	case sIFCHR, sIFBLK:
		iu = uint32(n.rdev)
	}
	icount := uint16(0)
	if n.xattrSize > 0 {
		icount = uint16((n.xattrSize-xattrHdrLen)/4 + 1)
	}
	b := s.tmp[:n.inodeSize()]
	clear(b)
	if n.compact {
		le.PutUint16(b[0:], layout<<1)
		le.PutUint16(b[2:], icount)
		le.PutUint16(b[4:], uint16(n.mode))
		le.PutUint16(b[6:], uint16(n.nlink))
		le.PutUint32(b[8:], uint32(size))
		le.PutUint32(b[16:], iu)
		le.PutUint32(b[20:], n.ino)
		le.PutUint16(b[24:], uint16(n.uid))
		le.PutUint16(b[26:], uint16(n.gid))
	} else {
		le.PutUint16(b[0:], layout<<1|1)
		le.PutUint16(b[2:], icount)
		le.PutUint16(b[4:], uint16(n.mode))
		le.PutUint64(b[8:], size)
		le.PutUint32(b[16:], iu)
		le.PutUint32(b[20:], n.ino)
		le.PutUint32(b[24:], n.uid)
		le.PutUint32(b[28:], n.gid)
		le.PutUint64(b[32:], uint64(n.mtimeSec))
		le.PutUint32(b[40:], n.mtimeNsec)
		le.PutUint32(b[44:], n.nlink)
	}
	s.write(b)
	if n.xattrSize > 0 {
		var h [xattrHdrLen]byte
		le.PutUint32(h[0:], img.nameFilter(n))
		h[4] = uint8(n.nshared)
		s.write(h[:])
		var v [4]byte
		for _, idx := range n.shared {
			le.PutUint32(v[:], uint32((img.inodesEnd%blockSize+img.sharedOff[idx])/4))
			s.write(v[:])
		}
		for i := range n.inline {
			writeXattrEntry(s, &n.inline[i])
		}
	}
	switch {
	case typ == sIFDIR:
		first, tailBytes := dirBlocks(n, nil)
		if n.tail > 0 && tailBytes > 0 {
			writeDirents(s, n, first, len(n.children))
		}
	case typ == sIFLNK:
		if n.nblocks == 0 {
			s.writeString(n.payload)
		}
	case typ == sIFREG && n.tail > 0:
		if n.content != nil {
			s.write(n.content[n.size-n.tail:])
		} else {
			var v [4]byte
			le.PutUint32(v[:], nullAddr)
			for range chunkCount {
				s.write(v[:])
			}
		}
	}
	if s.off()-start != n.inodeSize()+n.xattrSize+n.tail {
		s.err = fmt.Errorf("composefs: internal error: inode %d is %d bytes, want %d", n.ino, s.off()-start, n.inodeSize()+n.xattrSize+n.tail)
	}
}

// writeDirents writes the entries children[first:end] as one dirent block
// (or tail): the dirents, then the names.
func writeDirents(s *sink, n *node, first, end int) {
	le := binary.LittleEndian
	nameoff := uint16((end - first) * direntSize)
	var d [direntSize]byte
	for _, c := range n.children[first:end] {
		t := c.target()
		le.PutUint64(d[0:], t.nid)
		le.PutUint16(d[8:], nameoff)
		d[10] = fileType(t.mode)
		d[11] = 0
		s.write(d[:])
		nameoff += uint16(len(c.name))
	}
	for _, c := range n.children[first:end] {
		s.writeString(c.name)
	}
}

// fileType maps st_mode to an EROFS dirent file type.
func fileType(mode uint32) uint8 {
	switch mode & sIFMT {
	case sIFREG:
		return 1
	case sIFDIR:
		return 2
	case sIFCHR:
		return 3
	case sIFBLK:
		return 4
	case sIFIFO:
		return 5
	case sIFSOCK:
		return 6
	case sIFLNK:
		return 7
	}
	return 0
}

// emitData writes a node's out-of-inode blocks.
func (img *image) emitData(s *sink, n *node) {
	switch n.typ() {
	case sIFDIR:
		written := uint64(0)
		first, _ := dirBlocks(n, func(first, end int) {
			writeDirents(s, n, first, end)
			s.align(blockSize)
			written++
		})
		if written < n.nblocks {
			writeDirents(s, n, first, len(n.children))
			s.align(blockSize)
		}
	case sIFREG:
		if n.nblocks == 0 {
			return
		}
		if n.content == nil {
			var v [4]byte
			binary.LittleEndian.PutUint32(v[:], nullAddr)
			for range blockSize / 4 {
				s.write(v[:])
			}
			return
		}
		s.write(n.content[:min(n.size, blockSize)])
		s.align(blockSize)
	case sIFLNK:
		if n.nblocks > 0 {
			s.writeString(n.payload[:min(len(n.payload), blockSize)])
			s.align(blockSize)
		}
	}
}
