package fsverity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// MismatchError reports data (or a cached Merkle tree) that does not match
// the expected fs-verity digest.
type MismatchError struct {
	// Name identifies the file (as given to NewReaderAt).
	Name string
	// Offset is the file offset of the data block whose verification failed,
	// or -1 when the whole-file digest did not match (in NewReaderAt).
	Offset int64
	// Level says what failed to verify: 0 the data block itself; n > 0 a
	// block of Merkle tree level n-1 on the path of that data block (so the
	// cached tree is corrupt); -1 the file digest.
	Level int
	// Want is the expected hash, Got the hash computed from what was read.
	Want, Got []byte
}

// Error returns "fs-verity mismatch in NAME at offset N: ...".
func (e *MismatchError) Error() string {
	what := "data block"
	switch {
	case e.Level < 0:
		what = "file digest"
	case e.Level > 0:
		what = fmt.Sprintf("Merkle tree level %d block", e.Level-1)
	}
	return fmt.Sprintf("fs-verity mismatch in %s at offset %d: %s hash is %s, want %s",
		e.Name, e.Offset, what, hex.EncodeToString(e.Got), hex.EncodeToString(e.Want))
}

// ReaderAt is an io.ReaderAt that returns only data verified against an
// expected fs-verity digest. It is safe for concurrent use.
type ReaderAt struct {
	r       io.ReaderAt
	size    int64
	name    string
	t       *Tree
	trusted bool              // t was built here from r and matched want
	ok      [][]atomic.Uint64 // ok[j]: bitmap of verified blocks of t.levels[j] (top level excluded)
	pool    sync.Pool         // *readScratch
	chunk   int               // bytes read from r at a time (a multiple of the block size)
}

// readScratch is per-call scratch space, pooled.
type readScratch struct {
	buf  []byte
	bh   blockHasher
	sums []byte // the hashes of buf's blocks
}

// readChunk is how much ReadAt reads from the backing ReaderAt at once.
const readChunk = 256 << 10

// NewReaderAt returns a ReaderAt over the size bytes of r, verified against
// want, the expected file digest for parameters p (nil means defaults); name
// is used in errors.
//
// tree may be nil: then r is read once to build the tree, and an error is
// returned (a *MismatchError with Offset -1) unless its digest is want. Or
// tree may be a cached tree, which is not trusted: its root is checked
// against want here, and its interior blocks are checked lazily along the
// path of each read, so reading block k costs O(log n) hashes the first time
// and one hash once its path is verified (verified tree blocks are
// remembered). Either way every data block is hashed on every read, so data
// changed in r after NewReaderAt is still caught.
func NewReaderAt(r io.ReaderAt, size int64, want []byte, tree *Tree, p *Params, name string) (*ReaderAt, error) {
	c, err := resolve(p)
	if err != nil {
		return nil, fmt.Errorf("verified reader for %s: %w", name, err)
	}
	if len(want) != c.ds {
		return nil, fmt.Errorf("verified reader for %s: want is %d bytes, %s digests are %d", name, len(want), c.alg, c.ds)
	}
	if size < 0 {
		return nil, fmt.Errorf("verified reader for %s: negative size %d", name, size)
	}
	v := &ReaderAt{r: r, size: size, name: name}
	if tree == nil {
		t, err := BuildTree(io.NewSectionReader(r, 0, size), p)
		if err != nil {
			return nil, fmt.Errorf("verified reader for %s: %w", name, err)
		}
		if t.size != size {
			return nil, fmt.Errorf("verified reader for %s: read %d of %d bytes: %w", name, t.size, size, io.ErrUnexpectedEOF)
		}
		tree, v.trusted = t, true
	} else {
		if tree.c.ds == 0 || !tree.c.equal(&c) {
			return nil, fmt.Errorf("verified reader for %s: tree parameters do not match", name)
		}
		if tree.size != size {
			return nil, fmt.Errorf("verified reader for %s: tree is for %d bytes, file has %d", name, tree.size, size)
		}
		if geo := c.geometry(size); len(geo) != len(tree.levels) {
			return nil, fmt.Errorf("verified reader for %s: malformed tree", name)
		}
	}
	// Keep a private copy of the Tree header: a later UnmarshalBinary into
	// the caller's *Tree must not swap the levels under the verified bits.
	// The level slices themselves are never written after construction.
	tc := *tree
	v.t = &tc
	tree = v.t
	// Recompute the root from the top level rather than trusting tree.root.
	root := tree.root
	if n := len(tree.levels); n > 0 {
		bh := newBlockHasher(&tree.c)
		root = make([]byte, c.ds)
		bh.sum(root, tree.levels[n-1])
	}
	got := make([]byte, c.ds)
	c.fileDigest(got, root, size)
	if !bytes.Equal(got, want) {
		return nil, &MismatchError{Name: name, Offset: -1, Level: -1, Want: bytes.Clone(want), Got: got}
	}
	if !v.trusted && len(tree.levels) > 1 {
		v.ok = make([][]atomic.Uint64, len(tree.levels)-1)
		for j := range v.ok {
			blocks := len(tree.levels[j]) / c.bs
			v.ok[j] = make([]atomic.Uint64, (blocks+63)/64)
		}
	}
	v.chunk = max(readChunk, c.bs)
	v.pool.New = func() any {
		return &readScratch{buf: make([]byte, v.chunk), bh: newBlockHasher(&v.t.c), sums: make([]byte, v.chunk/v.t.c.bs*v.t.c.ds)}
	}
	return v, nil
}

// Tree returns the Merkle tree the reader verifies against (built or
// cached). Once ReaderAt has verified it, it may be cached for reuse.
func (v *ReaderAt) Tree() *Tree { return v.t }

// Size returns the size of the verified file.
func (v *ReaderAt) Size() int64 { return v.size }

// ReadAt implements io.ReaderAt. It reads whole blocks from the underlying
// reader, verifies each data block it touches, and copies out only the
// requested bytes. It never returns an unverified byte: when a block fails
// verification it returns a *MismatchError and n counts only the bytes
// before that block (b beyond n is not written with unverified data).
// Reads reaching the end of the file return io.EOF with the bytes before it.
func (v *ReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", v.name, off)
	}
	if off >= v.size {
		if len(b) == 0 && off == v.size {
			return 0, nil
		}
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	end := off + int64(len(b))
	var atEOF bool
	if end > v.size || end < off {
		end, atEOF = v.size, true
	}
	s := v.pool.Get().(*readScratch)
	defer v.pool.Put(s)
	bs := int64(v.t.c.bs)
	n := 0
	for pos := off - off%bs; pos < end; {
		// Read up to one chunk of whole blocks, starting at the block boundary pos.
		want := min(int64(v.chunk), end-pos)
		if r := want % bs; r != 0 {
			want += bs - r
		}
		want = min(want, v.size-pos) // the file's last block may be partial
		padded := want               // whole blocks: the last one is zero-padded for hashing
		if r := want % bs; r != 0 {
			padded += bs - r
		}
		// Read straight into b when the chunk lies within the request at
		// its next byte and b has room for the padding; else into scratch.
		direct := pos == off+int64(n) && pos+want <= end && int64(len(b)-n) >= padded
		var buf []byte
		if direct {
			buf = b[n : int64(n)+padded]
		} else {
			buf = s.buf[:padded]
		}
		m, err := v.r.ReadAt(buf[:want], pos)
		if m < int(want) {
			if direct {
				clear(buf) // nothing unverified stays in b
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("read %s at %d: %w", v.name, pos+int64(m), err)
		}
		clear(buf[want:padded])
		// Hash the chunk's blocks in one batch (several at a time where
		// the CPU allows).
		ds := int64(v.t.c.ds)
		s.bh.sumBlocks(s.sums, buf, nil)
		for o := int64(0); o < want; o += bs {
			blk := buf[o:min(o+bs, want)]
			if err := v.verifyData(s, pos+o, s.sums[o/bs*ds:(o/bs+1)*ds]); err != nil {
				if direct {
					clear(buf[o:]) // nothing unverified stays in b
				}
				return n, err
			}
			if direct {
				n += len(blk)
				continue
			}
			lo := max(off, pos+o)
			hi := min(end, pos+o+int64(len(blk)))
			n += copy(b[n:], blk[lo-pos-o:hi-pos-o])
		}
		pos += want
	}
	if atEOF {
		return n, io.EOF
	}
	return n, nil
}

// verifyData checks the hash sum of the data block at file offset pos
// against the tree.
func (v *ReaderAt) verifyData(s *readScratch, pos int64, sum []byte) error {
	c := &v.t.c
	ds := c.ds
	k := pos / int64(c.bs)
	var want []byte
	if len(v.t.levels) == 0 {
		want = v.t.root // verified against the digest in NewReaderAt
	} else {
		idx := k * int64(ds) / int64(c.bs)
		if err := v.verifyTree(s, 0, idx, pos); err != nil {
			return err
		}
		o := k * int64(ds)
		want = v.t.levels[0][o : o+int64(ds)]
	}
	if !bytes.Equal(sum, want) {
		return &MismatchError{Name: v.name, Offset: pos, Level: 0, Want: bytes.Clone(want), Got: bytes.Clone(sum)}
	}
	return nil
}

// verifyTree makes sure block idx of tree level j is verified, verifying the
// path above it first. pos is the data offset being read, for errors.
func (v *ReaderAt) verifyTree(s *readScratch, j int, idx int64, pos int64) error {
	top := len(v.t.levels) - 1
	if v.trusted || j == top {
		return nil // built here, or covered by the digest check in NewReaderAt
	}
	word, bit := &v.ok[j][idx/64], uint64(1)<<(idx%64)
	if word.Load()&bit != 0 {
		return nil
	}
	c := &v.t.c
	bs, ds := int64(c.bs), int64(c.ds)
	if err := v.verifyTree(s, j+1, idx*ds/bs, pos); err != nil {
		return err
	}
	// Hash into a local array: s.sums holds the data blocks' hashes.
	var sum [MaxDigestSize]byte
	s.bh.sum(sum[:ds], v.t.levels[j][idx*bs:(idx+1)*bs])
	want := v.t.levels[j+1][idx*ds : (idx+1)*ds]
	if !bytes.Equal(sum[:ds], want) {
		return &MismatchError{Name: v.name, Offset: pos, Level: j + 1, Want: bytes.Clone(want), Got: bytes.Clone(sum[:ds])}
	}
	word.Or(bit)
	return nil
}
