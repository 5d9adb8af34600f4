// Package sha256x2 computes SHA-256 several messages at a time. With the x86
// SHA extensions one SHA256RNDS2 must wait for the previous, so a single
// message leaves the hashing unit mostly idle; two independent messages
// interleaved in one loop take about the time of one. Where the CPU has
// AVX-512, sixteen messages of the same length go through the rounds
// together, one per 32-bit lane of the ZMM registers, which is about twice
// as fast again. fs-verity needs exactly that: every 4 KiB block of a file
// is its own message, and an object store also hashes the whole file for
// its checksum.
//
// BlockSums hashes the blocks of a buffer sixteen or two at a time,
// optionally feeding a streaming Digest with the same bytes; Digest is plain
// streaming SHA-256. Results are those of crypto/sha256 on every CPU; only
// the speed depends on the CPU (Fast). We wrote this instead of using
// crypto/sha256 because its block function cannot be driven several
// messages at a time from outside the standard library.
package sha256x2

import (
	"encoding/binary"
	"errors"
	"hash"
)

const (
	// Size is the size of a SHA-256 digest in bytes.
	Size = 32
	// BlockSize is SHA-256's block size in bytes.
	BlockSize = 64
)

// State is the SHA-256 chaining state, the words a..h.
type State [8]uint32

var iv = State{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// Fast reports whether the two-lane SHA-NI code is in use; otherwise the
// package is correct but slower than crypto/sha256.
func Fast() bool { return fast }

// zeros supplies the zero padding of short blocks (block sizes up to
// 64 KiB, as fs-verity allows).
var zeros [65536]byte

// Digest is a streaming SHA-256 hash; it implements hash.Hash.
type Digest struct {
	s    State
	buf  [BlockSize]byte
	nbuf int
	len  uint64
}

var _ hash.Hash = (*Digest)(nil)

// New returns a new Digest.
func New() *Digest {
	d := new(Digest)
	d.Reset()
	return d
}

// Reset restarts the hash.
func (d *Digest) Reset() {
	d.s = iv
	d.nbuf = 0
	d.len = 0
}

// Size returns Size.
func (d *Digest) Size() int { return Size }

// BlockSize returns BlockSize.
func (d *Digest) BlockSize() int { return BlockSize }

// Write adds p to the hash. It never fails.
func (d *Digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.nbuf > 0 {
		k := copy(d.buf[d.nbuf:], p)
		d.nbuf += k
		p = p[k:]
		if d.nbuf < BlockSize {
			return n, nil
		}
		block1(&d.s, d.buf[:])
		d.nbuf = 0
	}
	if full := len(p) / BlockSize * BlockSize; full > 0 {
		block1(&d.s, p[:full])
		p = p[full:]
	}
	d.nbuf = copy(d.buf[:], p)
	return n, nil
}

// Sum appends the digest of what was written to b, without changing d.
func (d *Digest) Sum(b []byte) []byte {
	s := d.Sum256()
	return append(b, s[:]...)
}

// Sum256 returns the digest of what was written, without changing d.
func (d *Digest) Sum256() [Size]byte {
	c := *d
	var pad [2 * BlockSize]byte
	n := copy(pad[:], c.buf[:c.nbuf])
	pad[n] = 0x80
	end := BlockSize
	if n+1+8 > BlockSize {
		end = 2 * BlockSize
	}
	binary.BigEndian.PutUint64(pad[end-8:end], c.len*8)
	block1(&c.s, pad[:end])
	return c.s.bytes()
}

func (s *State) bytes() [Size]byte {
	var out [Size]byte
	for i, w := range s {
		binary.BigEndian.PutUint32(out[4*i:], w)
	}
	return out
}

// ErrBlockSize is returned by BlockSums for a block size that is not a
// multiple of 64 from 64 to 65536.
var ErrBlockSize = errors.New("sha256x2: block size must be a multiple of 64 from 64 to 65536")

// job is one message in a lane: the runs of whole 64-byte blocks still to
// hash, and its state (own, or the along stream's).
type job struct {
	along bool
	own   State
	runs  [4][]byte
	r     int
	out   int // index of the block whose digest this is
}

func (j *job) cur() []byte {
	for j.r < len(j.runs) && len(j.runs[j.r]) == 0 {
		j.r++
	}
	if j.r == len(j.runs) {
		return nil
	}
	return j.runs[j.r]
}

// blockJob is the job hashing block i of data (bs bytes, zero-padded),
// followed by the padding block pad; mix holds the block where data ends.
func blockJob(data []byte, i, bs int, mix, pad *[BlockSize]byte) job {
	start := i * bs
	seg := data[start:min(start+bs, len(data))]
	j := job{own: iv, out: i}
	full := len(seg) / BlockSize * BlockSize
	j.runs[0] = seg[:full]
	padded := full
	if rem := len(seg) - full; rem > 0 {
		*mix = [BlockSize]byte{}
		copy(mix[:], seg[full:])
		j.runs[1] = mix[:]
		padded += BlockSize
	}
	j.runs[2] = zeros[:bs-padded]
	j.runs[3] = pad[:]
	return j
}

// BlockSums writes to dst the SHA-256 digest of each bs-byte block of data,
// the last block zero-padded to bs bytes (fs-verity's rule), 32 bytes per
// block; dst must hold 32×⌈len(data)/bs⌉ bytes. When along is not nil,
// along.Write(data) is done as well: in the same passes as the blocks with
// the two-lane code, on its own where groups of sixteen blocks take the
// AVX-512 lanes. It returns the number of bytes written to dst. It does not
// allocate.
func BlockSums(dst, data []byte, bs int, along *Digest) (int, error) {
	if bs < BlockSize || bs > len(zeros) || bs%BlockSize != 0 {
		return 0, ErrBlockSize
	}
	nb := (len(data) + bs - 1) / bs
	if len(dst) < nb*Size {
		return 0, errors.New("sha256x2: BlockSums: dst too short")
	}
	pad := padBlock(bs)
	if groups := len(data) / bs / 16; groups > 0 && fast16 {
		// Sixteen whole blocks at a time in the ZMM lanes; the along
		// stream, which cannot be split, on its own.
		padwk := scheduleK(&pad)
		var blocks [16][]byte
		for g := range groups {
			for i := range blocks {
				o := (g*16 + i) * bs
				blocks[i] = data[o : o+bs]
			}
			sums16(dst[g*16*Size:], blocks[:], bs, &padwk)
		}
		done := groups * 16 * bs
		if along != nil {
			along.Write(data[:done])
		}
		n, err := BlockSums(dst[groups*16*Size:], data[done:], bs, along)
		return groups*16*Size + n, err
	}
	var mix [2][BlockSize]byte

	// Two lanes, each hashing one job at a time: the along stream first
	// (in lane 0), then the blocks in order as lanes fall free.
	var lanes [2]job
	var active [2]bool
	var tail []byte
	alongPending := false
	if along != nil {
		// along's buffered partial block is completed from data, then
		// data's whole blocks follow; the rest is buffered at the end.
		along.len += uint64(len(data))
		rest := data
		var first []byte
		if along.nbuf > 0 {
			k := copy(along.buf[along.nbuf:], rest)
			along.nbuf += k
			rest = rest[k:]
			if along.nbuf == BlockSize {
				first = along.buf[:]
				along.nbuf = 0
			}
		}
		full := len(rest) / BlockSize * BlockSize
		tail = rest[full:]
		lanes[0] = job{along: true}
		lanes[0].runs[0], lanes[0].runs[1] = first, rest[:full]
		alongPending = true
	}
	next := 0
	for {
		for k := range lanes {
			for !active[k] {
				if k == 0 && alongPending {
					alongPending = false
				} else if next < nb {
					lanes[k] = blockJob(data, next, bs, &mix[k], &pad)
					next++
				} else {
					break
				}
				// An along stream may have no whole block to hash.
				active[k] = lanes[k].cur() != nil
			}
		}
		var st [2]*State
		for k := range lanes {
			st[k] = &lanes[k].own
			if lanes[k].along {
				st[k] = &along.s
			}
		}
		switch {
		case active[0] && active[1]:
			a, b := lanes[0].cur(), lanes[1].cur()
			n := min(len(a), len(b))
			block2(st[0], st[1], a[:n], b[:n])
			lanes[0].runs[lanes[0].r] = a[n:]
			lanes[1].runs[lanes[1].r] = b[n:]
		case active[0] || active[1]:
			k := 0
			if active[1] {
				k = 1
			}
			c := lanes[k].cur()
			block1(st[k], c)
			lanes[k].runs[lanes[k].r] = nil
		default:
			if along != nil {
				along.nbuf += copy(along.buf[along.nbuf:], tail)
			}
			return nb * Size, nil
		}
		for k := range lanes {
			if active[k] && lanes[k].cur() == nil {
				if !lanes[k].along {
					s := lanes[k].own.bytes()
					copy(dst[lanes[k].out*Size:], s[:])
				}
				active[k] = false
			}
		}
	}
}

// padBlock returns the last block SHA-256 hashes for a message of size
// bytes, size a multiple of 64: the 0x80 marker, zeros and the bit length.
func padBlock(size int) [BlockSize]byte {
	var pad [BlockSize]byte
	pad[0] = 0x80
	binary.BigEndian.PutUint64(pad[BlockSize-8:], uint64(size)*8)
	return pad
}

// scheduleK returns the message schedule W[0..63] of block p plus the round
// constants, word by word.
func scheduleK(p *[BlockSize]byte) [64]uint32 {
	var w [64]uint32
	schedule(&w, p[:])
	for i := range w {
		w[i] += k[i]
	}
	return w
}

// SumMany writes to dst the SHA-256 digests of msgs, 32 bytes each, in
// order. Every message must be size bytes long, size a multiple of 64 from
// 64 to 65536 (fs-verity's blocks and descriptors are): messages of one
// length share their padding, which is what lets them be hashed sixteen at
// a time, wherever each lies in memory. It does not allocate.
func SumMany(dst []byte, msgs [][]byte, size int) error {
	if size < BlockSize || size > len(zeros) || size%BlockSize != 0 {
		return ErrBlockSize
	}
	if len(dst) < len(msgs)*Size {
		return errors.New("sha256x2: SumMany: dst too short")
	}
	for _, m := range msgs {
		if len(m) != size {
			return errors.New("sha256x2: SumMany: a message is not size bytes long")
		}
	}
	pad := padBlock(size)
	i := 0
	if len(msgs) >= 16 && fast16 {
		padwk := scheduleK(&pad)
		for ; i+16 <= len(msgs); i += 16 {
			sums16(dst[i*Size:], msgs[i:i+16], size, &padwk)
		}
	}
	for ; i+2 <= len(msgs); i += 2 {
		a, b := iv, iv
		block2(&a, &b, msgs[i], msgs[i+1])
		block2(&a, &b, pad[:], pad[:])
		sa, sb := a.bytes(), b.bytes()
		copy(dst[i*Size:], sa[:])
		copy(dst[(i+1)*Size:], sb[:])
	}
	if i < len(msgs) {
		a := iv
		block1(&a, msgs[i])
		block1(&a, pad[:])
		sa := a.bytes()
		copy(dst[i*Size:], sa[:])
	}
	return nil
}
