package fsverity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Tree holds every level of one file's Merkle tree, so that reads of single
// blocks can be verified without rehashing the file. Levels are stored as
// the kernel stores them: each level is a whole number of blocks of hashes,
// zero-padded. A Tree is immutable once built or unmarshaled and may be
// shared between goroutines.
type Tree struct {
	c      config
	size   int64
	root   []byte   // root hash
	levels [][]byte // levels[0] = hashes of the data blocks; the last level is one block
	digest []byte   // file digest implied by root (not checked against anything)
}

// BuildTree reads r to io.EOF once and returns its Merkle tree.
func BuildTree(r io.Reader, p *Params) (*Tree, error) {
	c, err := resolve(p)
	if err != nil {
		return nil, err
	}
	t := &Tree{c: c}
	bh := newBlockHasher(&t.c)
	bs, ds := c.bs, c.ds
	buf := make([]byte, max(readBufSize, bs))
	var hashes []byte
	var sum [MaxDigestSize]byte
	for {
		n, err := io.ReadFull(r, buf)
		t.size += int64(n)
		full := n - n%bs
		for o := 0; o < full; o += bs {
			bh.sum(sum[:ds], buf[o:o+bs])
			hashes = append(hashes, sum[:ds]...)
		}
		if full < n {
			clear(buf[n : full+bs])
			bh.sum(sum[:ds], buf[full:full+bs])
			hashes = append(hashes, sum[:ds]...)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("build fs-verity tree: %w", err)
		}
	}
	t.root = make([]byte, ds)
	switch len(hashes) / ds {
	case 0: // empty file: root is zeros
	case 1: // one block: no tree, the root is the block's hash
		copy(t.root, hashes)
	default:
		cur := hashes
		for {
			if r := len(cur) % bs; r != 0 {
				cur = append(cur, make([]byte, bs-r)...)
			}
			t.levels = append(t.levels, cur)
			next := make([]byte, 0, len(cur)/bs*ds)
			for o := 0; o < len(cur); o += bs {
				bh.sum(sum[:ds], cur[o:o+bs])
				next = append(next, sum[:ds]...)
			}
			if len(cur) == bs {
				copy(t.root, next)
				break
			}
			cur = next
		}
	}
	t.digest = make([]byte, ds)
	c.fileDigest(t.digest, t.root, t.size)
	return t, nil
}

// Digest returns the file digest this tree implies (a copy). For a tree from
// UnmarshalBinary it is not trusted until checked by NewReaderAt.
func (t *Tree) Digest() []byte { return bytes.Clone(t.digest) }

// RootHash returns the Merkle tree root hash (a copy).
func (t *Tree) RootHash() []byte { return bytes.Clone(t.root) }

// Size returns the size of the file the tree describes.
func (t *Tree) Size() int64 { return t.size }

// Params returns the tree's parameters, with defaults filled in.
func (t *Tree) Params() Params { return t.c.params() }

// Levels returns the number of Merkle tree levels (0 for files of at most
// one block).
func (t *Tree) Levels() int { return len(t.levels) }

// KernelBytes returns the tree in the kernel's on-disk layout, root level
// first, as `fsverity digest --out-merkle-tree` writes it and
// FS_IOC_READ_VERITY_METADATA returns it.
func (t *Tree) KernelBytes() []byte {
	var b []byte
	for i := len(t.levels) - 1; i >= 0; i-- {
		b = append(b, t.levels[i]...)
	}
	return b
}

// Serialized form, all integers little-endian:
//
//	[0:4]   magic "GSVT"
//	[4]     format version (1)
//	[5]     hash algorithm
//	[6]     log2(block size)
//	[7]     salt size
//	[8:16]  data size
//	        root hash (digest size bytes)
//	        salt (salt size bytes)
//	        the tree levels in the kernel's layout (KernelBytes)
const (
	treeMagic      = "GSVT"
	treeVersion    = 1
	treeHeaderSize = 16
)

// MarshalBinary implements encoding.BinaryMarshaler, so that callers can
// cache the tree beside an object.
func (t *Tree) MarshalBinary() ([]byte, error) {
	if t.c.ds == 0 {
		return nil, errors.New("marshal fs-verity tree: empty Tree")
	}
	n := treeHeaderSize + len(t.root) + len(t.c.salt)
	for _, l := range t.levels {
		n += len(l)
	}
	b := make([]byte, treeHeaderSize, n)
	copy(b, treeMagic)
	b[4] = treeVersion
	b[5] = uint8(t.c.alg)
	b[6] = t.c.logBS
	b[7] = uint8(len(t.c.salt))
	binary.LittleEndian.PutUint64(b[8:16], uint64(t.size))
	b = append(b, t.root...)
	b = append(b, t.c.salt...)
	for i := len(t.levels) - 1; i >= 0; i-- {
		b = append(b, t.levels[i]...)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It checks that the
// bytes are well formed and self-consistent (sizes, parameters, and that the
// root hash is the hash of the top level), but the tree is still untrusted:
// NewReaderAt checks its top against the expected digest and its interior
// blocks lazily. On error t is unchanged. b is not retained.
func (t *Tree) UnmarshalBinary(b []byte) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("unmarshal fs-verity tree: "+format, a...)
	}
	if len(b) < treeHeaderSize || string(b[:4]) != treeMagic {
		return fail("bad magic")
	}
	if b[4] != treeVersion {
		return fail("unknown format version %d", b[4])
	}
	if b[6] < 10 || b[6] > 16 {
		return fail("invalid log2 block size %d", b[6])
	}
	if int(b[7]) > MaxSaltSize {
		return fail("salt size %d too large", b[7])
	}
	size := binary.LittleEndian.Uint64(b[8:16])
	if size > 1<<62 {
		return fail("data size %d too large", size)
	}
	rest := b[treeHeaderSize:]
	ds := Algorithm(b[5]).Size()
	if ds == 0 {
		return fail("invalid hash algorithm %d", b[5])
	}
	if len(rest) < ds+int(b[7]) {
		return fail("truncated header")
	}
	p := Params{Algorithm: Algorithm(b[5]), BlockSize: 1 << b[6], Salt: rest[ds : ds+int(b[7])]}
	c, err := resolve(&p)
	if err != nil {
		return fail("%w", err)
	}
	nt := Tree{c: c, size: int64(size), root: bytes.Clone(rest[:ds])}
	rest = rest[ds+len(c.salt):]
	geo := c.geometry(nt.size)
	var total uint64
	for _, n := range geo {
		total += uint64(n) * uint64(c.bs)
	}
	if total != uint64(len(rest)) {
		return fail("tree is %d bytes, want %d for %d data bytes", len(rest), total, size)
	}
	nt.levels = make([][]byte, len(geo))
	for i := len(geo) - 1; i >= 0; i-- {
		n := int(geo[i]) * c.bs
		nt.levels[i] = bytes.Clone(rest[:n])
		rest = rest[n:]
	}
	if len(geo) > 0 {
		bh := newBlockHasher(&nt.c)
		var sum [MaxDigestSize]byte
		bh.sum(sum[:ds], nt.levels[len(geo)-1])
		if !bytes.Equal(sum[:ds], nt.root) {
			return fail("root hash does not match the top tree level")
		}
	} else if size == 0 && !bytes.Equal(nt.root, make([]byte, ds)) {
		return fail("non-zero root hash for an empty file")
	}
	nt.digest = make([]byte, ds)
	c.fileDigest(nt.digest, nt.root, nt.size)
	*t = nt
	return nil
}
