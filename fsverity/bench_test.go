package fsverity

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{100, 3000, 4 << 10, 10000, 40000, 200000, 1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			data := testData(n, 20)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_ = Sum(data)
			}
		})
	}
}

// BenchmarkHasher measures the streaming path for other parameters.
func BenchmarkHasher(b *testing.B) {
	data := testData(16<<20, 21)
	for _, p := range []Params{{}, {Salt: []byte("salt")}, {Algorithm: SHA512}, {BlockSize: 65536}} {
		b.Run(fmt.Sprintf("%s-%d-salt%d", p.Algorithm, p.BlockSize, len(p.Salt)), func(b *testing.B) {
			h, _ := New(&p)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				h.Reset()
				h.Write(data)
				_ = h.Sum()
			}
		})
	}
}

// BenchmarkReaderAtRandom reads random 4 KiB ranges of a 64 MiB object,
// verifying each against a built tree (trusted) or a cached, lazily verified
// one.
func BenchmarkReaderAtRandom(b *testing.B) {
	const size = 64 << 20
	data := testData(size, 22)
	tree, _ := BuildTree(bytes.NewReader(data), nil)
	blob, _ := tree.MarshalBinary()
	for _, mode := range []string{"built", "cached"} {
		b.Run(mode, func(b *testing.B) {
			var tr *Tree
			if mode == "cached" {
				tr = new(Tree)
				if err := tr.UnmarshalBinary(blob); err != nil {
					b.Fatal(err)
				}
			}
			v, err := NewReaderAt(bytes.NewReader(data), size, tree.Digest(), tr, nil, "bench")
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, 4096)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.ReadAt(buf, rng.Int64N(size-4096)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
