package fsverity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"
)

// flipReaderAt serves data with the byte at pos (if pos >= 0) flipped.
type flipReaderAt struct {
	data []byte
	pos  int64
}

func (r *flipReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(b, r.data[off:])
	if r.pos >= off && r.pos < off+int64(n) {
		b[r.pos-off] ^= 0x5a
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// checkRead reads [off, off+n) and checks that every byte returned is correct.
func checkRead(t *testing.T, v *ReaderAt, data []byte, off int64, n int) (int, error) {
	t.Helper()
	b := make([]byte, n)
	got, err := v.ReadAt(b, off)
	if got < 0 || got > n {
		t.Fatalf("ReadAt(%d, %d) returned n=%d", off, n, got)
	}
	if got > 0 && !bytes.Equal(b[:got], data[off:off+int64(got)]) {
		t.Fatalf("ReadAt(%d, %d) returned wrong bytes", off, n)
	}
	if got < n && err == nil {
		t.Fatalf("ReadAt(%d, %d) = %d, nil", off, n, got)
	}
	return got, err
}

func asMismatch(t *testing.T, err error) *MismatchError {
	t.Helper()
	me, ok := errors.AsType[*MismatchError](err)
	if !ok {
		t.Fatalf("error %v is not a *MismatchError", err)
	}
	return me
}

// cachedTree returns tree marshaled and unmarshaled again (an untrusted copy).
func cachedTree(t *testing.T, tree *Tree) *Tree {
	t.Helper()
	b, err := tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var c Tree
	if err := c.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestReaderAt64MiB(t *testing.T) {
	const size = 64 << 20
	data := testData(size, 5)
	want := Sum(data)
	tree, err := BuildTree(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Levels() != 2 || tree.Size() != size || !bytes.Equal(tree.Digest(), want[:]) {
		t.Fatalf("tree: %d levels, size %d, digest %x", tree.Levels(), tree.Size(), tree.Digest())
	}

	// Pristine data, with a built and with a cached tree: every byte reads back.
	for name, tr := range map[string]*Tree{"built": nil, "cached": cachedTree(t, tree)} {
		v, err := NewReaderAt(bytes.NewReader(data), size, want[:], tr, nil, "obj")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(v, 0, size))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: full read: %v", name, err)
		}
		if !bytes.Equal(v.Tree().Digest(), want[:]) {
			t.Fatalf("%s: Tree().Digest", name)
		}
	}

	// One corrupted byte in the backing data.
	const bad = 12345678 // in block 3014
	blockOff := int64(bad - bad%4096)
	r := &flipReaderAt{data: data, pos: bad}
	if _, err := NewReaderAt(r, size, want[:], nil, nil, "obj"); asMismatch(t, err).Offset != -1 {
		t.Fatalf("building the tree over corrupt data: %v", err)
	}
	v, err := NewReaderAt(r, size, want[:], cachedTree(t, tree), nil, "obj")
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range []struct {
		off int64
		n   int
	}{{blockOff, 4096}, {bad, 1}, {blockOff + 4095, 1}, {blockOff, 1 << 20}} {
		n, err := checkRead(t, v, data, rd.off, rd.n)
		me := asMismatch(t, err)
		if n != 0 || me.Offset != blockOff || me.Level != 0 || me.Name != "obj" {
			t.Fatalf("read %d+%d: n=%d, %v", rd.off, rd.n, n, err)
		}
		want := fmt.Sprintf("fs-verity mismatch in obj at offset %d: ", blockOff)
		if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
			t.Fatalf("message %q", got)
		}
	}
	// A read that starts before the bad block returns the verified bytes before it.
	n, err := checkRead(t, v, data, blockOff-10000, 20000)
	if asMismatch(t, err).Offset != blockOff || n != 10000 {
		t.Fatalf("straddling read: n=%d, %v", n, err)
	}
	// Other blocks read fine, including the neighbours and the file's ends.
	for _, off := range []int64{0, blockOff - 4096, blockOff + 4096, size - 4096, 1 << 20, 33<<20 + 17} {
		if n, err := checkRead(t, v, data, off, 4096); n != 4096 || err != nil {
			t.Fatalf("read at %d: %d, %v", off, n, err)
		}
	}
	if n, err := checkRead(t, v, data, 0, int(blockOff)); n != int(blockOff) || err != nil {
		t.Fatalf("read before: %d %v", n, err)
	}

	// Data changed after the tree was built here is still caught.
	mut := &flipReaderAt{data: data, pos: -1}
	v, err = NewReaderAt(mut, size, want[:], nil, nil, "obj")
	if err != nil {
		t.Fatal(err)
	}
	mut.pos = 50 << 20
	if _, err := checkRead(t, v, data, 50<<20, 100); asMismatch(t, err).Offset != 50<<20 {
		t.Fatalf("late change not caught: %v", err)
	}

	// Wrong expected digest.
	other := Sum([]byte("other"))
	if _, err := NewReaderAt(bytes.NewReader(data), size, other[:], cachedTree(t, tree), nil, "obj"); asMismatch(t, err).Level != -1 {
		t.Fatal(err)
	}
}

// A corrupted cached tree is caught: at unmarshal (top level vs stored root),
// at NewReaderAt (top vs expected digest) or at the first read through a bad
// interior block.
func TestCorruptCachedTree(t *testing.T) {
	const size = 8<<20 + 5 // 8193 blocks of 1 KiB: tree levels of 257, 9 and 1 blocks
	p := &Params{BlockSize: 1024}
	data := testData(size, 6)
	tree, _ := BuildTree(bytes.NewReader(data), p)
	want := tree.Digest()
	if tree.Levels() != 3 {
		t.Fatalf("%d levels", tree.Levels())
	}
	blob, _ := tree.MarshalBinary()
	treeStart := len(blob) - len(tree.KernelBytes())
	lv := tree.levels
	// Kernel order: top (levels[2]), levels[1], levels[0].
	l1Start := treeStart + len(lv[2])
	l0Start := l1Start + len(lv[1])

	// Corrupt the hash of data block 5000 (in level 0).
	b := bytes.Clone(blob)
	b[l0Start+5000*32+3] ^= 1
	var ct Tree
	if err := ct.UnmarshalBinary(b); err != nil {
		t.Fatal(err) // interior corruption is only found lazily
	}
	v, err := NewReaderAt(bytes.NewReader(data), size, want, &ct, p, "obj")
	if err != nil {
		t.Fatal(err)
	}
	// Level-0 block 5000*32/1024 = 156 covers data blocks 4992..5023.
	for _, blk := range []int64{4992, 5000, 5023} {
		_, err := checkRead(t, v, data, blk*1024, 10)
		if me := asMismatch(t, err); me.Level != 1 || me.Offset != blk*1024 {
			t.Fatalf("block %d: %v", blk, err)
		}
	}
	for _, blk := range []int64{0, 4991, 5024, 8191} {
		if n, err := checkRead(t, v, data, blk*1024, 1024); n != 1024 || err != nil {
			t.Fatalf("block %d: %d %v", blk, n, err)
		}
	}

	// Corrupt level 1.
	b = bytes.Clone(blob)
	b[l1Start+100] ^= 1 // hash 3 of level-1 block 0: covers level-0 block 3, data blocks 96..127
	if err := ct.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	v, _ = NewReaderAt(bytes.NewReader(data), size, want, &ct, p, "obj")
	if _, err := checkRead(t, v, data, 100*1024, 1); asMismatch(t, err).Level != 2 {
		t.Fatalf("level 1 corruption: %v", err)
	}

	// Corrupt the top level: UnmarshalBinary notices the stored root no longer matches...
	b = bytes.Clone(blob)
	b[treeStart] ^= 1
	if err := ct.UnmarshalBinary(b); err == nil {
		t.Fatal("corrupt top level accepted")
	}
	// ...and with a root forged to match, NewReaderAt rejects the digest.
	forged, _ := BuildTree(bytes.NewReader(append(bytes.Clone(data[:size-1]), data[size-1]^1)), p)
	fb, _ := forged.MarshalBinary()
	if err := ct.UnmarshalBinary(fb); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReaderAt(bytes.NewReader(data), size, want, &ct, p, "obj"); asMismatch(t, err).Level != -1 {
		t.Fatalf("forged tree: %v", err)
	}
	// Wrong parameters or size.
	if _, err := NewReaderAt(bytes.NewReader(data), size, want, tree, nil, "obj"); err == nil {
		t.Fatal("tree with other params accepted")
	}
	if _, err := NewReaderAt(bytes.NewReader(data), size-1, want, tree, p, "obj"); err == nil {
		t.Fatal("tree with other size accepted")
	}
	// Unmarshaling into the caller's Tree later does not affect the reader.
	good := cachedTree(t, tree)
	v, _ = NewReaderAt(bytes.NewReader(data), size, want, good, p, "obj")
	b = bytes.Clone(blob)
	b[l0Start+7] ^= 1
	if err := good.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if n, err := checkRead(t, v, data, 0, 4096); n != 4096 || err != nil {
		t.Fatalf("reader affected by a later UnmarshalBinary: %v", err)
	}
}

// io.ReaderAt contract at the edges, for files of 0, 1, one-block and odd sizes.
func TestReaderAtEdges(t *testing.T) {
	for _, size := range []int{0, 1, 4095, 4096, 4097, 3*4096 + 100, 600 * 1024} {
		data := testData(size, 7)
		want := Sum(data)
		tree, _ := BuildTree(bytes.NewReader(data), nil)
		for name, tr := range map[string]*Tree{"built": nil, "cached": cachedTree(t, tree)} {
			v, err := NewReaderAt(bytes.NewReader(data), int64(size), want[:], tr, nil, "f")
			if err != nil {
				t.Fatalf("%d %s: %v", size, name, err)
			}
			// iotest reads nearly byte by byte, each read hashing a whole block.
			if size < 20000 {
				if err := iotest.TestReader(io.NewSectionReader(v, 0, int64(size)), data); err != nil {
					t.Fatalf("%d %s: %v", size, name, err)
				}
			} else if got, err := io.ReadAll(io.NewSectionReader(v, 0, int64(size))); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d %s: ReadAll: %v", size, name, err)
			}
			b := make([]byte, 10)
			if n, err := v.ReadAt(b, int64(size)); n != 0 || err != io.EOF {
				t.Fatalf("%d: read at end: %d %v", size, n, err)
			}
			if n, err := v.ReadAt(b[:0], int64(size)); n != 0 || err != nil {
				t.Fatalf("%d: empty read at end: %d %v", size, n, err)
			}
			if _, err := v.ReadAt(b, -1); err == nil {
				t.Fatalf("%d: negative offset accepted", size)
			}
			if size > 0 {
				n, err := v.ReadAt(b, int64(size-1))
				if n != 1 || err != io.EOF || b[0] != data[size-1] {
					t.Fatalf("%d: read over end: %d %v", size, n, err)
				}
				// Corrupt the last byte: with no tree level (one block) the root catches it.
				r := &flipReaderAt{data: data, pos: int64(size - 1)}
				v, _ := NewReaderAt(r, int64(size), want[:], tree, nil, "f")
				if v == nil {
					v, _ = NewReaderAt(r, int64(size), want[:], cachedTree(t, tree), nil, "f")
				}
				_, err = checkRead(t, v, data, int64(size-1), 1)
				if asMismatch(t, err).Offset != int64((size-1)/4096*4096) {
					t.Fatalf("%d: %v", size, err)
				}
			}
		}
		// A backing file shorter than claimed.
		if size > 0 {
			v, err := NewReaderAt(bytes.NewReader(data[:size-1]), int64(size), want[:], tree, nil, "f")
			if err != nil {
				t.Fatal(err)
			}
			if n, err := v.ReadAt(make([]byte, size), 0); err == nil || n > size-size%4096 {
				t.Fatalf("%d: truncated backing: %d %v", size, n, err)
			}
			if _, err := NewReaderAt(bytes.NewReader(data[:size-1]), int64(size), want[:], nil, nil, "f"); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%d: truncated backing, no tree: %v", size, err)
			}
		}
	}
}

func TestReaderAtConcurrent(t *testing.T) {
	const size = 8<<20 + 1234
	p := &Params{Algorithm: SHA512, BlockSize: 1024, Salt: []byte("pepper")}
	data := testData(size, 8)
	tree, _ := BuildTree(bytes.NewReader(data), p)
	r := &flipReaderAt{data: data, pos: 5 << 20}
	v, err := NewReaderAt(r, size, tree.Digest(), cachedTree(t, tree), p, "c")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			b := make([]byte, 70000)
			for range 300 {
				off := rng.Int64N(size)
				n := rng.IntN(len(b))
				got, err := v.ReadAt(b[:n], off)
				if !bytes.Equal(b[:got], data[off:off+int64(got)]) {
					t.Errorf("wrong bytes at %d", off)
					return
				}
				const badBlock = 5 << 20 // the block of the corrupt byte (1 KiB blocks)
				hit := off-off%1024 <= badBlock && badBlock < off+int64(n)
				if hit != (err != nil && !errors.Is(err, io.EOF)) {
					t.Errorf("read %d+%d: err %v", off, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzReaderAt never gets a wrong byte with a nil error, nor an unverified
// byte at all, whatever is corrupted (data or cached tree) and read.
func FuzzReaderAt(f *testing.F) {
	const size = 1<<20 + 777 // 1 KiB blocks: a 3-level tree
	p := &Params{BlockSize: 1024}
	data := testData(size, 9)
	tree, _ := BuildTree(bytes.NewReader(data), p)
	want := tree.Digest()
	blob, _ := tree.MarshalBinary()
	treeStart := int64(len(blob) - len(tree.KernelBytes()))
	space := uint64(size) + uint64(len(blob)-int(treeStart))
	for _, s := range [][4]uint64{
		{0, 100, 0, 0}, {0, size, 1, 1}, {5000, 3000, 6000, 1}, {1023, 2, 1024, 1},
		{size - 10, 100, size - 1, 1}, {0, 4096, size + 5, 1}, {100000, 1 << 16, size + 40000, 1},
	} {
		f.Add(int64(s[0]), uint32(s[1]), s[2], s[3] == 1)
	}
	f.Fuzz(func(t *testing.T, off int64, n uint32, corrupt uint64, cached bool) {
		n %= 1 << 18
		var dataPos int64 = -1
		var tr *Tree
		if cached {
			tr = new(Tree)
			b := blob
			if corrupt != 0 && (corrupt-1)%space >= size {
				b = bytes.Clone(blob)
				b[treeStart+int64((corrupt-1)%space-size)] ^= 0x80
			}
			if err := tr.UnmarshalBinary(b); err != nil {
				return // corruption caught
			}
		}
		if corrupt != 0 && (corrupt-1)%space < size {
			dataPos = int64((corrupt - 1) % space)
		}
		v, err := NewReaderAt(&flipReaderAt{data: data, pos: dataPos}, size, want, tr, p, "fz")
		if err != nil {
			asMismatch(t, err)
			return
		}
		b := make([]byte, n)
		got, err := v.ReadAt(b, off)
		if got < 0 || got > int(n) {
			t.Fatalf("n=%d", got)
		}
		if off < 0 || off >= size {
			if got != 0 || (err == nil && !(off == size && n == 0)) {
				t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, got, err)
			}
			return
		}
		if !bytes.Equal(b[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d, %d) returned a wrong byte (err %v)", off, n, err)
		}
		if got < int(n) && err == nil {
			t.Fatalf("short read without error")
		}
		end := min(off+int64(n), size)
		if err == nil && got != int(end-off) {
			t.Fatalf("got %d", got)
		}
		if badStart := dataPos - dataPos%1024; n > 0 && dataPos >= 0 && off-off%1024 <= badStart && badStart < end {
			// The corrupt block was touched: the read must fail with a
			// mismatch, and return nothing at or after the block's start.
			if _, ok := errors.AsType[*MismatchError](err); !ok || off+int64(got) > max(off, badStart) {
				t.Fatalf("corrupt byte %d in read %d+%d: n=%d err=%v", dataPos, off, n, got, err)
			}
		}
	})
}

// FuzzTreeUnmarshal: hostile bytes never panic, and what is accepted is
// canonical and usable.
func FuzzTreeUnmarshal(f *testing.F) {
	for _, n := range []int{0, 1, 4096, 5000, 70000} {
		for _, p := range []*Params{nil, {Algorithm: SHA512, BlockSize: 1024, Salt: []byte("s")}} {
			tr, _ := BuildTree(bytes.NewReader(testData(n, 10)), p)
			b, _ := tr.MarshalBinary()
			f.Add(b)
		}
	}
	f.Add([]byte("GSVT\x01\x01\x0c\x00\xff\xff\xff\xff\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tr Tree
		if err := tr.UnmarshalBinary(b); err != nil {
			return
		}
		back, err := tr.MarshalBinary()
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("not canonical: %v", err)
		}
		if tr.Size() > 1<<30 {
			t.Fatalf("accepted size %d with %d bytes of tree", tr.Size(), len(b))
		}
		p := tr.Params()
		v, err := NewReaderAt(bytes.NewReader(make([]byte, tr.Size())), tr.Size(), tr.Digest(), &tr, &p, "z")
		if err != nil {
			t.Fatalf("own digest rejected: %v", err)
		}
		buf := make([]byte, 4096)
		v.ReadAt(buf, 0)
		v.ReadAt(buf, max(0, tr.Size()-4096))
	})
}
