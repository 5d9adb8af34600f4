package fsverity

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// Known answers, pinned without the fsverity tool.
func TestKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		data, want string
	}{
		{"hello world", "1e2eaa4202d750a41174ee454970b92c1bc2f925b1e35076d8c7d5f56362ba64"},
		{"", "3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95"}, // formats.md §6.1
	} {
		if got := Sum([]byte(tc.data)).String(); got != tc.want {
			t.Errorf("Sum(%q) = %s, want %s", tc.data, got, tc.want)
		}
		got, err := DigestReader(strings.NewReader(tc.data), nil)
		if err != nil || !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("DigestReader(%q) = %x, %v; want %s", tc.data, got, err, tc.want)
		}
	}
}

func TestDigestText(t *testing.T) {
	d := Sum([]byte("hello world"))
	if d.Short() != "1e2eaa4202d7" {
		t.Errorf("Short = %q", d.Short())
	}
	for _, s := range []string{d.String(), "sha256:" + d.String(), strings.ToUpper(d.String())} {
		p, err := ParseDigest(s)
		if err != nil || p != d {
			t.Errorf("ParseDigest(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "abc", d.String()[:63] + "g", d.String() + "00", "sha512:" + d.String()} {
		if _, err := ParseDigest(s); err == nil {
			t.Errorf("ParseDigest(%q) succeeded", s)
		}
	}
	j, err := json.Marshal(map[string]Digest{"d": d})
	if err != nil || string(j) != `{"d":"`+d.String()+`"}` {
		t.Fatalf("json = %s, %v", j, err)
	}
	var back map[string]Digest
	if err := json.Unmarshal(j, &back); err != nil || back["d"] != d {
		t.Fatalf("json round trip = %v, %v", back, err)
	}
	var z Digest
	if !z.IsZero() || d.IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestParamsValidation(t *testing.T) {
	bad := []Params{
		{Algorithm: 3}, {BlockSize: 512}, {BlockSize: 131072}, {BlockSize: 3000},
		{Salt: make([]byte, 33)},
	}
	for _, p := range bad {
		if _, err := New(&p); err == nil {
			t.Errorf("New(%+v) succeeded", p)
		}
		if _, err := BuildTree(strings.NewReader("x"), &p); err == nil {
			t.Errorf("BuildTree(%+v) succeeded", p)
		}
	}
	h, err := New(&Params{})
	if err != nil {
		t.Fatal(err)
	}
	if p := h.Params(); p.Algorithm != SHA256 || p.BlockSize != 4096 || len(p.Salt) != 0 {
		t.Errorf("defaults = %+v", p)
	}
	if SHA256.String() != "sha256" || SHA512.String() != "sha512" || Algorithm(9).String() != "Algorithm(9)" {
		t.Error("Algorithm.String")
	}
	// The Hasher keeps its own copy of the salt.
	salt := []byte{1, 2, 3}
	h, _ = New(&Params{Salt: salt})
	salt[0] = 9
	if h.Params().Salt[0] != 1 {
		t.Error("Hasher aliases the caller's salt")
	}
}

// Odd write sizes, Sum in the middle, and Reset all give the same digests.
func TestStreamingChunks(t *testing.T) {
	data := testData(3<<20+12345, 1)
	for _, p := range paramSets() {
		want, err := DigestReader(bytes.NewReader(data), &p)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := BuildTree(bytes.NewReader(data), &p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tree.Digest(), want) {
			t.Fatalf("%+v: BuildTree digest %x != Hasher %x", p, tree.Digest(), want)
		}
		h, _ := New(&p)
		for _, chunks := range [][]int{{1}, {7}, {4095}, {4097}, {65537}, {1, 2, 3, 1021, 4096, 100000, 1 << 20}} {
			h.Reset()
			mid := len(data) / 3
			var midSum []byte
			for i, k := 0, 0; i < len(data); k++ {
				n := min(chunks[k%len(chunks)], len(data)-i)
				if i <= mid && mid < i+n {
					h.Write(data[i:mid])
					midSum = h.Sum() // must not disturb the state
					h.Write(data[mid : i+n])
				} else {
					h.Write(data[i : i+n])
				}
				i += n
			}
			if got := h.Sum(); !bytes.Equal(got, want) || h.Size() != int64(len(data)) {
				t.Fatalf("%+v chunks %v: %x (size %d), want %x", p, chunks, got, h.Size(), want)
			}
			if got := h.Sum(); !bytes.Equal(got, want) {
				t.Fatalf("second Sum differs")
			}
			if wantMid, _ := DigestReader(bytes.NewReader(data[:mid]), &p); !bytes.Equal(midSum, wantMid) {
				t.Fatalf("%+v: Sum mid-stream = %x, want %x", p, midSum, wantMid)
			}
		}
		// Reader path with pathological readers.
		for name, r := range map[string]io.Reader{
			"onebyte": iotest.OneByteReader(bytes.NewReader(data[:100000])),
			"half":    iotest.HalfReader(bytes.NewReader(data[:100000])),
			"dataerr": iotest.DataErrReader(bytes.NewReader(data[:100000])),
		} {
			w, _ := DigestReader(bytes.NewReader(data[:100000]), &p)
			got, err := DigestReader(r, &p)
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("%s: %x %v", name, got, err)
			}
		}
	}
	_, err := DigestReader(iotest.ErrReader(errors.New("boom")), nil)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("read error not reported: %v", err)
	}
}

func TestHasherDigestOnlyDefault(t *testing.T) {
	h, _ := New(&Params{BlockSize: 1024})
	h.Write([]byte("hello world"))
	if !h.Digest().IsZero() {
		t.Error("Digest for non-default params should be zero")
	}
	if len(h.Sum()) != 32 {
		t.Error("Sum length")
	}
	h, _ = New(&Params{Algorithm: SHA512})
	if len(h.Sum()) != 64 {
		t.Error("SHA512 Sum length")
	}
}

// Hashing allocates nothing per block and memory does not grow with size.
func TestStreamingMemory(t *testing.T) {
	chunk := testData(1<<20, 2)
	for _, p := range []Params{{}, {Algorithm: SHA512, BlockSize: 1024, Salt: []byte("salt")}} {
		h, _ := New(&p)
		h.Write(chunk) // create the tree levels
		if a := testing.AllocsPerRun(20, func() { h.Write(chunk[:1<<20-3]) }); a != 0 {
			t.Errorf("%+v: %v allocations per 1 MiB Write", p, a)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h, _ = New(&p)
		for range 256 { // 256 MiB, odd-sized writes
			h.Write(chunk[:1000003])
			h.Write(chunk[1000003:])
		}
		sum := h.Sum()
		runtime.ReadMemStats(&after)
		if h.Size() != 256<<20 || len(sum) != h.Params().Algorithm.Size() {
			t.Fatal("bad size")
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= 1<<20 {
			t.Errorf("%+v: hashing 256 MiB allocated %d bytes", p, alloc)
		} else {
			t.Logf("%+v: hashing 256 MiB allocated %d bytes in total", p, alloc)
		}
	}
}

func TestNewWithSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 55, 56, 64, 100, 4095, 4096, 4097, 8192, 3*4096 + 5, 40*4096 + 1, 1 << 20} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		prefix := []byte("\x00\x00\x00\x20header-of-some-length")
		h := NewWithSHA256(prefix)
		for p := data; len(p) > 0; {
			k := min(len(p), 1+r.IntN(20000))
			h.Write(p[:k])
			p = p[k:]
		}
		if got, want := h.Digest(), Sum(data); got != want {
			t.Errorf("%d bytes: digest %x, want %x", n, got, want)
		}
		if got, want := h.SHA256(), sha256.Sum256(append(append([]byte{}, prefix...), data...)); got != want {
			t.Errorf("%d bytes: SHA256 %x, want %x", n, got, want)
		}
	}
	var plain Hasher
	if plain.SHA256() != ([32]byte{}) {
		t.Error("SHA256 of a Hasher without one is not zero")
	}
}
