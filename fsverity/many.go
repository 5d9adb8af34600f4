package fsverity

import (
	"sync"

	"github.com/gostree/gostree/internal/sha256x2"
)

// padPool holds the buffers of zero-padded partial blocks that SumMany
// hashes: reused, they stay in cache and cost neither the allocator's
// zeroing nor the page faults of fresh memory (most of a batch of small
// files' cost when each batch allocated its own).
var padPool = sync.Pool{New: func() any { return new([]byte) }}

// getPad returns a pooled buffer of n bytes (contents undefined).
func getPad(n int) *[]byte {
	p := padPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, n)
	}
	*p = (*p)[:n]
	return p
}

// SumMany returns the fs-verity digests, with default Params, of files held
// in memory: the same as Sum on each. The data blocks of all of them, then
// their Merkle tree blocks, then their descriptors, are hashed together,
// sixteen at a time where the CPU has AVX-512, so a batch of small files
// costs much less than one Sum each (a 100-byte file still hashes a whole
// zero-padded 4 KiB block).
func SumMany(files [][]byte) []Digest {
	out := make([]Digest, len(files))
	if !sha256x2.Fast() {
		for i, f := range files {
			out[i] = Sum(f)
		}
		return out
	}
	const bs, ds = DefaultBlockSize, 32
	c, _ := resolve(nil)

	// Level 0: every data block, the last one of each file zero-padded.
	partial, blocks := 0, 0
	for _, f := range files {
		blocks += (len(f) + bs - 1) / bs
		if len(f)%bs != 0 {
			partial++
		}
	}
	msgs := make([][]byte, 0, blocks)
	padBuf := getPad(partial * bs)
	defer padPool.Put(padBuf)
	pad := *padBuf
	for _, f := range files {
		msgs = appendBlocks(msgs, f, &pad)
	}
	sums := make([]byte, len(msgs)*ds)
	sha256x2.SumMany(sums, msgs, bs)
	// level[i] is file i's current tree level: its hashes, ds bytes each.
	level := make([][]byte, len(files))
	k := 0
	for i, f := range files {
		nb := (len(f) + bs - 1) / bs
		level[i] = sums[k*ds : (k+nb)*ds]
		k += nb
	}

	// The levels above, all files at a time, until each has one hash left:
	// its root hash (an empty file has none: its root is zeros).
	for {
		msgs = msgs[:0]
		partial = 0
		for _, l := range level {
			if len(l) > ds && len(l)%bs != 0 {
				partial++
			}
		}
		upper := getPad(partial * bs)
		pad = *upper
		for _, l := range level {
			if len(l) > ds {
				msgs = appendBlocks(msgs, l, &pad)
			}
		}
		if len(msgs) == 0 {
			break
		}
		sums = make([]byte, len(msgs)*ds)
		sha256x2.SumMany(sums, msgs, bs)
		padPool.Put(upper)
		k = 0
		for i, l := range level {
			if len(l) <= ds {
				continue
			}
			nb := (len(l) + bs - 1) / bs
			level[i] = sums[k*ds : (k+nb)*ds]
			k += nb
		}
	}

	// The descriptors, 256 bytes each, hashed together too.
	descs := make([]byte, len(files)*DescriptorSize)
	msgs = msgs[:0]
	for i, f := range files {
		var root [ds]byte
		copy(root[:], level[i])
		d := (*[DescriptorSize]byte)(descs[i*DescriptorSize:])
		c.descriptor(d, root[:], int64(len(f)))
		msgs = append(msgs, d[:])
	}
	sums = make([]byte, len(files)*ds)
	sha256x2.SumMany(sums, msgs, DescriptorSize)
	for i := range out {
		copy(out[i][:], sums[i*ds:])
	}
	return out
}

// appendBlocks appends data's DefaultBlockSize blocks to msgs: whole ones
// in place, a partial last one copied, zero-padded, into the next block of
// *pad (which it consumes; its contents need not be zero).
func appendBlocks(msgs [][]byte, data []byte, pad *[]byte) [][]byte {
	const bs = DefaultBlockSize
	for off := 0; off < len(data); off += bs {
		if off+bs <= len(data) {
			msgs = append(msgs, data[off:off+bs])
			continue
		}
		p := (*pad)[:bs:bs]
		*pad = (*pad)[bs:]
		clear(p[copy(p, data[off:]):])
		msgs = append(msgs, p)
	}
	return msgs
}
