package fsverity

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"math/bits"

	"github.com/gostree/gostree/internal/sha256x2"
)

// Algorithm is an fs-verity hash algorithm, numbered as the kernel's
// FS_VERITY_HASH_ALG_* constants. The zero value means SHA256 in Params.
type Algorithm uint8

// The hash algorithms fs-verity supports.
const (
	SHA256 Algorithm = 1 // FS_VERITY_HASH_ALG_SHA256, 32-byte digests
	SHA512 Algorithm = 2 // FS_VERITY_HASH_ALG_SHA512, 64-byte digests
)

// Limits and defaults of the Merkle tree parameters.
const (
	// DefaultBlockSize is the Merkle tree block size used when Params.BlockSize is 0.
	DefaultBlockSize = 4096
	// MinBlockSize and MaxBlockSize bound Params.BlockSize (which must be a power of two).
	MinBlockSize = 1024
	MaxBlockSize = 65536
	// MaxSaltSize is the largest salt fs-verity accepts.
	MaxSaltSize = 32
	// MaxDigestSize is the largest digest of any supported algorithm (SHA-512).
	MaxDigestSize = 64
	// DescriptorSize is the size of struct fsverity_descriptor, whose hash is the file digest.
	DescriptorSize = 256
)

// String returns "sha256", "sha512", or "Algorithm(N)" for unknown values.
func (a Algorithm) String() string {
	switch a {
	case SHA256:
		return "sha256"
	case SHA512:
		return "sha512"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// Size returns the digest size in bytes (32 or 64), or 0 for an unknown algorithm.
func (a Algorithm) Size() int {
	switch a {
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	}
	return 0
}

// hashBlockSize is the hash function's internal block size; the salt is
// zero-padded to it.
func (a Algorithm) hashBlockSize() int {
	if a == SHA512 {
		return sha512.BlockSize
	}
	return sha256.BlockSize
}

func (a Algorithm) newHash() hash.Hash {
	if a == SHA512 {
		return sha512.New()
	}
	return sha256.New()
}

// Params are the fs-verity Merkle tree parameters. The zero value (and a nil
// *Params wherever one is accepted) means SHA256, 4096-byte blocks and no
// salt: the parameters ostree and composefs use, and those of Digest.
type Params struct {
	// Algorithm is the hash algorithm; 0 means SHA256.
	Algorithm Algorithm
	// BlockSize is the Merkle tree block size: a power of two from
	// MinBlockSize to MaxBlockSize; 0 means DefaultBlockSize.
	BlockSize int
	// Salt is prepended (zero-padded to the hash's block size) to every
	// hashed block; at most MaxSaltSize bytes. Empty means no salt.
	Salt []byte
}

// config is a validated, defaulted copy of Params.
type config struct {
	alg    Algorithm
	bs     int    // Merkle tree block size
	logBS  uint8  // log2(bs)
	ds     int    // digest size
	salt   []byte // the salt as given (copy), nil if none
	padded []byte // salt zero-padded to the hash block size, nil if none
}

// resolve validates p and fills in defaults. p may be nil.
func resolve(p *Params) (config, error) {
	var q Params
	if p != nil {
		q = *p
	}
	if q.Algorithm == 0 {
		q.Algorithm = SHA256
	}
	if q.BlockSize == 0 {
		q.BlockSize = DefaultBlockSize
	}
	c := config{alg: q.Algorithm, bs: q.BlockSize, ds: q.Algorithm.Size()}
	if c.ds == 0 {
		return config{}, fmt.Errorf("fs-verity: unsupported hash algorithm %d", uint8(q.Algorithm))
	}
	if q.BlockSize < MinBlockSize || q.BlockSize > MaxBlockSize || q.BlockSize&(q.BlockSize-1) != 0 {
		return config{}, fmt.Errorf("fs-verity: invalid block size %d (want a power of two from %d to %d)",
			q.BlockSize, MinBlockSize, MaxBlockSize)
	}
	c.logBS = uint8(bits.TrailingZeros(uint(q.BlockSize)))
	if len(q.Salt) > MaxSaltSize {
		return config{}, fmt.Errorf("fs-verity: salt is %d bytes, at most %d allowed", len(q.Salt), MaxSaltSize)
	}
	if len(q.Salt) > 0 {
		c.salt = append([]byte(nil), q.Salt...)
		c.padded = make([]byte, q.Algorithm.hashBlockSize())
		copy(c.padded, q.Salt)
	}
	return c, nil
}

// params returns c as a Params (sharing nothing with c).
func (c *config) params() Params {
	return Params{Algorithm: c.alg, BlockSize: c.bs, Salt: append([]byte(nil), c.salt...)}
}

// equal reports whether c and d describe the same tree parameters.
func (c *config) equal(d *config) bool {
	return c.alg == d.alg && c.bs == d.bs && string(c.salt) == string(d.salt)
}

// isDefault reports whether c is SHA-256, 4096-byte blocks, no salt.
func (c *config) isDefault() bool {
	return c.alg == SHA256 && c.bs == DefaultBlockSize && len(c.salt) == 0
}

// hpb is the number of hashes per tree block.
func (c *config) hpb() int { return c.bs / c.ds }

// descriptor fills the 256-byte struct fsverity_descriptor.
func (c *config) descriptor(d *[DescriptorSize]byte, root []byte, size int64) {
	*d = [DescriptorSize]byte{}
	d[0] = 1 // version
	d[1] = uint8(c.alg)
	d[2] = c.logBS
	d[3] = uint8(len(c.salt))
	// d[4:8] reserved (formerly sig_size), zero
	binary.LittleEndian.PutUint64(d[8:16], uint64(size))
	copy(d[16:80], root)
	copy(d[80:112], c.salt)
	// d[112:256] reserved, zero
}

// fileDigest writes the file digest (the unsalted hash of the descriptor)
// for the given root hash and data size into dst[:c.ds].
func (c *config) fileDigest(dst, root []byte, size int64) {
	var d [DescriptorSize]byte
	c.descriptor(&d, root, size)
	switch c.alg {
	case SHA512:
		s := sha512.Sum512(d[:])
		copy(dst, s[:])
	default:
		s := sha256.Sum256(d[:])
		copy(dst, s[:])
	}
}

// blockHasher hashes Merkle tree blocks (data or hash blocks) with the salt
// prefix. It is not safe for concurrent use; it never allocates per block.
type blockHasher struct {
	c *config
	h hash.Hash // only used when salted
}

func newBlockHasher(c *config) blockHasher {
	b := blockHasher{c: c}
	if c.padded != nil {
		b.h = c.alg.newHash()
	}
	return b
}

// sum writes the hash of block (exactly c.bs bytes) into dst[:c.ds].
func (b *blockHasher) sum(dst, block []byte) {
	if b.h != nil {
		b.h.Reset()
		b.h.Write(b.c.padded)
		b.h.Write(block)
		b.h.Sum(dst[:0])
		return
	}
	switch b.c.alg {
	case SHA512:
		s := sha512.Sum512(block)
		copy(dst, s[:])
	default:
		s := sha256.Sum256(block)
		copy(dst, s[:])
	}
}

// sumBlocks writes the hashes of the len(data)/c.bs whole blocks of data
// into dst (c.ds bytes each). Unsalted SHA-256 hashes several blocks at a
// time (sha256x2: sixteen with AVX-512, two with the SHA extensions), which
// is faster than one by one; a non-nil along stream is fed the same bytes.
func (b *blockHasher) sumBlocks(dst, data []byte, along *sha256x2.Digest) {
	bs, ds := b.c.bs, b.c.ds
	n := len(data) / bs
	if b.h == nil && b.c.alg == SHA256 && sha256x2.Fast() && (n >= 2 || along != nil) {
		sha256x2.BlockSums(dst[:n*ds], data[:n*bs], bs, along)
		return
	}
	if along != nil {
		along.Write(data[:n*bs])
	}
	for i := range n {
		b.sum(dst[i*ds:(i+1)*ds], data[i*bs:(i+1)*bs])
	}
}

// geometry returns the number of blocks on each Merkle tree level for a file
// of size bytes, level 0 (hashes of the data blocks) first. It is empty when
// the file has at most one data block: then there is no tree and the root
// hash is the hash of the data block (or zeros for an empty file).
func (c *config) geometry(size int64) []int64 {
	bs := int64(c.bs)
	n := size / bs // hashes feeding the current level (data blocks first)
	if size%bs != 0 {
		n++
	}
	var levels []int64
	hpb := int64(c.hpb())
	for n > 1 {
		n = (n + hpb - 1) / hpb
		levels = append(levels, n)
	}
	return levels
}
