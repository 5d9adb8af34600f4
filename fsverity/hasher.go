package fsverity

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/gostree/gostree/internal/sha256x2"
)

// Hasher computes an fs-verity file digest from a stream. It is an
// io.Writer whose memory use is constant: one partial data block plus one
// partial block of hashes per Merkle tree level (at most a few levels), never
// the whole tree. A Hasher is not safe for concurrent use.
type Hasher struct {
	c      config
	bh     blockHasher
	data   []byte  // partial data block; len < c.bs
	levels []level // pending hash blocks, levels[0] = hashes of data blocks
	size   int64
	sum    [MaxDigestSize]byte // scratch for a block hash
	carry  [MaxDigestSize]byte // scratch for Sum
	batch  [sumBatch * MaxDigestSize]byte
	along  hash.Hash // see NewWithSHA256
}

// sumBatch is how many data blocks Write hashes in one call.
const sumBatch = 64

// level is one Merkle tree level under construction.
type level struct {
	buf   []byte // hashes of the current, incomplete block; len < bs
	count int64  // hashes appended to this level so far
	last  [MaxDigestSize]byte
}

// New returns a Hasher for the given parameters (nil means defaults). It
// fails if the parameters are invalid: unknown algorithm, block size not a
// power of two from 1024 to 65536, or a salt longer than 32 bytes.
func New(p *Params) (*Hasher, error) {
	c, err := resolve(p)
	if err != nil {
		return nil, err
	}
	h := &Hasher{c: c}
	h.bh = newBlockHasher(&h.c)
	h.data = make([]byte, 0, c.bs)
	return h, nil
}

// Write hashes p. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	n := len(p)
	h.size += int64(n)
	bs := h.c.bs
	if len(h.data) > 0 {
		k := copy(h.data[len(h.data):bs], p)
		if h.along != nil {
			h.along.Write(p[:k])
		}
		h.data = h.data[:len(h.data)+k]
		p = p[k:]
		if len(h.data) < bs {
			return n, nil
		}
		h.dataBlock(h.data)
		h.data = h.data[:0]
	}
	if n := len(p) / bs; n > 0 {
		// Hash up to sumBatch blocks at a time, then push their hashes. A
		// sha256x2 along stream shares the passes; another is fed apart.
		ds := h.c.ds
		ax, _ := h.along.(*sha256x2.Digest)
		for n > 0 {
			k := min(n, sumBatch)
			if h.along != nil && ax == nil {
				h.along.Write(p[:k*bs])
			}
			h.bh.sumBlocks(h.batch[:k*ds], p[:k*bs], ax)
			for i := range k {
				h.push(h.batch[i*ds : (i+1)*ds])
			}
			p, n = p[k*bs:], n-k
		}
	}
	if h.along != nil {
		h.along.Write(p)
	}
	h.data = append(h.data, p...)
	return n, nil
}

// NewWithSHA256 returns a Hasher with the default parameters that also
// computes the plain SHA-256 of prefix followed by everything written
// (SHA256 returns it), hashing both in the same passes over the data. An
// object store that names files by a SHA-256 of their content gets the
// fs-verity digest for much less than a second pass.
func NewWithSHA256(prefix []byte) *Hasher {
	h, _ := New(nil)
	if sha256x2.Fast() {
		h.along = sha256x2.New()
	} else {
		h.along = sha256.New() // faster than sha256x2 without the SHA extensions
	}
	h.along.Write(prefix)
	return h
}

// SHA256 returns the SHA-256 of the prefix and the data written, for a
// Hasher made by NewWithSHA256 (zero otherwise).
func (h *Hasher) SHA256() [32]byte {
	var s [32]byte
	if h.along != nil {
		h.along.Sum(s[:0])
	}
	return s
}

// dataBlock hashes one full data block into level 0.
func (h *Hasher) dataBlock(b []byte) {
	ds := h.c.ds
	h.bh.sum(h.sum[:ds], b)
	h.push(h.sum[:ds])
}

// push appends the hash s to level 0, carrying completed blocks upward.
func (h *Hasher) push(s []byte) {
	bs, ds := h.c.bs, h.c.ds
	for j := 0; ; j++ {
		if j == len(h.levels) {
			h.levels = append(h.levels, level{buf: make([]byte, 0, bs)})
		}
		l := &h.levels[j]
		l.buf = append(l.buf, s...)
		l.count++
		copy(l.last[:], s)
		if len(l.buf) < bs {
			return
		}
		h.bh.sum(h.sum[:ds], l.buf)
		l.buf = l.buf[:0]
		s = h.sum[:ds]
	}
}

// rootHash writes the Merkle tree root hash of the data written so far into
// dst[:ds] without changing the Hasher's state.
func (h *Hasher) rootHash(dst []byte) {
	ds := h.c.ds
	if h.size == 0 {
		clear(dst[:ds])
		return
	}
	// Partial blocks are completed in the spare capacity of their buffers,
	// beyond len: that changes no state, as later writes overwrite it.
	var carry []byte // hash of the flushed partial block from the level below
	if len(h.data) > 0 {
		blk := h.data[:h.c.bs]
		clear(blk[len(h.data):])
		h.bh.sum(h.carry[:ds], blk)
		carry = h.carry[:ds]
	}
	for j := 0; ; j++ {
		var l *level
		if j < len(h.levels) {
			l = &h.levels[j]
		} else {
			l = &level{}
		}
		items := l.count
		if carry != nil {
			items++
		}
		switch {
		case items == 1: // a single hash: it is the root
			if carry != nil {
				copy(dst, carry)
			} else {
				copy(dst, l.last[:ds])
			}
			return
		case items == 0: // unreachable: a level of >1 hashes always feeds the next
			clear(dst[:ds])
			return
		}
		if len(l.buf) == 0 && carry == nil {
			continue // every block of this level has already gone up
		}
		blk := l.buf[:h.c.bs] // l.buf has capacity bs and len < bs
		n := len(l.buf)
		if carry != nil {
			n += copy(blk[n:], carry)
		}
		clear(blk[n:])
		h.bh.sum(h.carry[:ds], blk)
		carry = h.carry[:ds]
	}
}

// sumInto writes the file digest into dst[:ds].
func (h *Hasher) sumInto(dst []byte) {
	var root [MaxDigestSize]byte
	h.rootHash(root[:h.c.ds])
	h.c.fileDigest(dst, root[:h.c.ds], h.size)
}

// Sum returns the fs-verity file digest (32 bytes for SHA256, 64 for SHA512)
// of the data written so far. It does not change the Hasher: it may be called
// at any time, more than once, and writing may continue afterwards.
func (h *Hasher) Sum() []byte {
	d := make([]byte, h.c.ds)
	h.sumInto(d)
	return d
}

// Digest returns Sum as a Digest. Digest is defined only for the default
// parameters (SHA-256, 4096-byte blocks, no salt); for any other parameters
// it returns the zero Digest (use Sum).
func (h *Hasher) Digest() Digest {
	var d Digest
	if h.c.isDefault() {
		h.sumInto(d[:])
	}
	return d
}

// Size returns the number of bytes written since New or Reset.
func (h *Hasher) Size() int64 { return h.size }

// Params returns the Hasher's parameters, with defaults filled in.
func (h *Hasher) Params() Params { return h.c.params() }

// Reset discards all data written, keeping the parameters and buffers; it
// also ends the SHA-256 of NewWithSHA256.
func (h *Hasher) Reset() {
	h.along = nil
	h.size = 0
	h.data = h.data[:0]
	for i := range h.levels {
		h.levels[i].buf = h.levels[i].buf[:0]
		h.levels[i].count = 0
	}
}

// readBufSize is the read size of DigestReader: large enough to make system
// calls cheap, small enough to stay in the L2 cache between read and hash.
const readBufSize = 256 << 10

// DigestReader returns the fs-verity file digest of everything r yields
// until io.EOF, with the given parameters (nil means defaults).
func DigestReader(r io.Reader, p *Params) ([]byte, error) {
	return digestReader(r, p, -1)
}

// digestReader is DigestReader with a hint of the input size (-1 if
// unknown), used to avoid large buffers for small files.
func digestReader(r io.Reader, p *Params, hint int64) ([]byte, error) {
	h, err := New(p)
	if err != nil {
		return nil, err
	}
	n := readBufSize
	if hint >= 0 && hint < readBufSize {
		n = (int(hint) + 4096) &^ 4095 // room for the data and the read seeing EOF
	}
	buf := make([]byte, n)
	for {
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("fs-verity digest: %w", err)
		}
	}
	return h.Sum(), nil
}

// DigestFile returns the fs-verity file digest of the file at path, as
// `fsverity digest` computes it (in user space, without the kernel).
func DigestFile(path string, p *Params) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hint int64 = -1
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		hint = fi.Size()
	}
	d, err := digestReader(f, p, hint)
	if err != nil {
		return nil, fmt.Errorf("fs-verity digest of %s: %w", path, err)
	}
	return d, nil
}
