package composefs

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"strings"
)

// computeShared builds the shared xattr table: every (name, value) pair
// used more than once, sorted by name, value length and value, all
// descending, as libcomposefs does, and splits each inode's xattrs into
// references to the table (at most maxSharedRefs) and inline ones.
//
// A large tree has hundreds of thousands of xattrs, nearly all of them
// unique (metacopy and redirect), so pairs are counted without a key per
// xattr and without random access into a big table:
//
//  1. Names are interned, and a value equal to the last value seen under
//     its name (runs of one SELinux label) counts for that one.
//  2. The other values are hashed with their name and partitioned by the
//     hash's top bits into buckets of about a thousand.
//  3. Each bucket is deduplicated with a small open-addressing table;
//     equal hashes are confirmed by comparing name and bytes.
//  4. Only the pairs used more than once are sorted.
//
// An inode without shared xattrs keeps its (already sorted) xattr list as
// its inline list.
func (img *image) computeShared() {
	total := 0
	for _, n := range img.order {
		total += len(n.xattrs)
	}
	// A candidate is an xattr that is not a repeat of the value seen last
	// under its name. w > 0: it represents its pair, used w times so far;
	// w <= 0: it repeats an earlier candidate, found in step 3.
	type candidate struct {
		h  uint64
		xi int32 // index in xs
		w  int32
	}
	var (
		xs    = make([]*xattr, 0, total) // every xattr, in inode order
		cands = make([]candidate, 0, total)
		// rep[xi] is xi for a candidate, or the earlier xattr whose value
		// xs[xi] repeats; step 4 stores -1-(table index) for the shared.
		rep   = make([]int32, total)
		names nameTable
		last  []int32 // per name: the candidate seen last, or -1
		seed  = maphash.MakeSeed()
	)
	for _, n := range img.order {
		for i := range n.xattrs {
			x := &n.xattrs[i]
			xi := int32(len(xs))
			xs = append(xs, x)
			nid := names.id(x.name)
			if int(nid) == len(last) {
				last = append(last, -1)
			}
			if c := last[nid]; c >= 0 && bytes.Equal(xs[cands[c].xi].value, x.value) {
				cands[c].w++
				rep[xi] = cands[c].xi
				continue
			}
			last[nid] = int32(len(cands))
			rep[xi] = xi
			h := maphash.Bytes(seed, x.value) ^ uint64(nid)*0x9e3779b97f4a7c15
			cands = append(cands, candidate{h: h, xi: xi, w: 1})
		}
	}

	// Step 2: partition by the top bits of the hash, keeping the order
	// within a bucket.
	bucketBits := min(bits.Len(uint(len(cands)/1024)), 16)
	nb := 1 << bucketBits
	start := make([]int, nb+1)
	parts := cands
	if nb > 1 {
		shift := 64 - bucketBits
		for _, c := range cands {
			start[c.h>>shift+1]++
		}
		for b := range nb {
			start[b+1] += start[b]
		}
		pos := slices.Clone(start[:nb])
		parts = make([]candidate, len(cands))
		for _, c := range cands {
			b := c.h >> shift
			parts[pos[b]] = c
			pos[b]++
		}
	} else {
		start[1] = len(cands)
	}

	// Step 3: deduplicate each bucket. A slot holds a candidate's index in
	// the bucket + 1; 0 is empty. Tables are at most half full. The first
	// candidate of a pair represents it; the others point back to it.
	var table []int32
	var sharedXi []int32 // representatives of pairs used more than once
	for b := range nb {
		bucket := parts[start[b]:start[b+1]]
		size := max(16, 1<<bits.Len(uint(2*len(bucket))))
		if cap(table) < size {
			table = make([]int32, size)
		}
		table = table[:size]
		clear(table)
		mask := uint64(size - 1)
		for i := range bucket {
			c := &bucket[i]
			for j := c.h & mask; ; j = (j + 1) & mask {
				sl := table[j]
				if sl == 0 {
					table[j] = int32(i + 1)
					break
				}
				r := &bucket[sl-1]
				if a, b := xs[r.xi], xs[c.xi]; r.h == c.h && a.name == b.name && bytes.Equal(a.value, b.value) {
					r.w += c.w
					c.w = 0
					rep[c.xi] = r.xi
					break
				}
			}
		}
		for _, c := range bucket {
			if c.w > 1 {
				sharedXi = append(sharedXi, c.xi)
			}
		}
	}

	// Step 4: the shared pairs, in table order. Names compare by rank,
	// values by length and then by their first 8 bytes before all of them.
	// Keys are built in inode order, which is memory order.
	slices.Sort(sharedXi)
	rank := names.descendingRanks()
	type sortKey struct {
		rank   int32
		vlen   int32
		prefix uint64
		xi     int32
		size   uint32 // of the table entry
	}
	keys := make([]sortKey, len(sharedXi))
	for i, xi := range sharedXi {
		x := xs[xi]
		var b [8]byte
		copy(b[:], x.value)
		keys[i] = sortKey{rank[names.id(x.name)], int32(len(x.value)), binary.BigEndian.Uint64(b[:]), xi, uint32(xattrEntrySize(x))}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		switch {
		case a.rank != b.rank:
			return cmp.Compare(a.rank, b.rank)
		case a.vlen != b.vlen:
			return cmp.Compare(b.vlen, a.vlen)
		case a.prefix != b.prefix:
			return cmp.Compare(b.prefix, a.prefix)
		}
		return bytes.Compare(xs[b.xi].value, xs[a.xi].value)
	})
	img.shared = make([]*xattr, len(keys))
	img.sharedOff = make([]uint64, len(keys))
	off := uint64(0)
	for i, k := range keys {
		rep[k.xi] = -1 - int32(i)
		img.shared[i] = xs[k.xi]
		img.sharedOff[i] = off
		off += uint64(k.size)
	}
	img.sharedSize = off

	// Each inode's references and inline xattrs. A repeat points to an
	// earlier xattr, whose rep is by then -1-(table index): a pair with a
	// repeat was used at least twice.
	xi := int32(0)
	var idx []int32
	for _, n := range img.order {
		xattrs := n.xattrs
		idx = idx[:0]
		nsh := 0
		for range xattrs {
			r := rep[xi]
			if r >= 0 && r != xi {
				r = rep[r]
				rep[xi] = r
			}
			if r < 0 {
				nsh++
			}
			idx = append(idx, -1-r) // >= 0: table index
			xi++
		}
		if nsh == 0 {
			n.inline, n.shared, n.nshared = xattrs, nil, 0
			continue
		}
		nsh = min(nsh, maxSharedRefs)
		n.shared = img.refs.make(nsh)[:0]
		n.inline = nil
		if len(xattrs) > nsh {
			n.inline = img.xattrs.make(len(xattrs) - nsh)[:0]
		}
		for i, t := range idx {
			if t >= 0 && len(n.shared) < maxSharedRefs {
				n.shared = append(n.shared, int(t))
			} else {
				n.inline = append(n.inline, xattrs[i])
			}
		}
		n.nshared = len(n.shared)
	}
}

// nameTable interns xattr names. A tree has a handful of distinct names,
// so a short list is searched before the map is.
type nameTable struct {
	list []string
	m    map[string]int32
}

func (t *nameTable) id(name string) int32 {
	if len(t.list) <= 8 {
		for i, s := range t.list {
			if s == name {
				return int32(i)
			}
		}
	} else if id, ok := t.m[name]; ok {
		return id
	}
	id := int32(len(t.list))
	t.list = append(t.list, name)
	if t.m == nil {
		t.m = map[string]int32{}
	}
	t.m[name] = id
	return id
}

// descendingRanks returns, for each name id, the name's position when the
// names are sorted in descending byte order.
func (t *nameTable) descendingRanks() []int32 {
	order := make([]int32, len(t.list))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(t.list[b], t.list[a]) })
	rank := make([]int32, len(t.list))
	for r, id := range order {
		rank[id] = int32(r)
	}
	return rank
}
