package fsverity

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestSumManyMatchesSum checks SumMany against Sum over files of every
// shape: empty, one partial block, block boundaries, one and two Merkle
// levels above the data, in batches that do and do not fill sixteen lanes.
func TestSumManyMatchesSum(t *testing.T) {
	sizes := []int{0, 1, 100, 4095, 4096, 4097, 8192, 10000, 64 << 10, 128 << 12, 128<<12 + 1, 129 << 12, 1 << 20, 1<<20 + 1, 3<<20 + 5}
	var files [][]byte
	for i, n := range sizes {
		files = append(files, testData(n, uint64(100+i)))
	}
	for _, batch := range [][][]byte{files, files[:1], files[:3], append(append(append([][]byte{}, files...), files...), files[2:9]...)} {
		got := SumMany(batch)
		if len(got) != len(batch) {
			t.Fatalf("SumMany returned %d digests for %d files", len(got), len(batch))
		}
		for i, f := range batch {
			if want := Sum(f); got[i] != want {
				t.Errorf("SumMany: file %d (%d bytes) = %s, Sum = %s", i, len(f), got[i], want)
			}
		}
	}
	if got := SumMany(nil); len(got) != 0 {
		t.Errorf("SumMany(nil) = %v", got)
	}
}

// FuzzSumMany draws a batch of file sizes and contents from the input and
// checks every digest against Sum.
func FuzzSumMany(f *testing.F) {
	f.Add([]byte{1, 0, 0, 16, 0, 0, 255, 255, 1})
	f.Add([]byte("sixteen small files and a few large ones...."))
	f.Fuzz(func(t *testing.T, in []byte) {
		var files [][]byte
		for len(in) >= 3 && len(files) < 40 {
			n := int(binary.LittleEndian.Uint16(in)) * (1 + int(in[2]%8)) // up to ~512 KiB
			files = append(files, testData(n, uint64(len(files))^uint64(in[2])))
			in = in[3:]
		}
		got := SumMany(files)
		for i, d := range files {
			if want := Sum(d); got[i] != want {
				t.Fatalf("file %d of %d (%d bytes): SumMany %s, Sum %s", i, len(files), len(d), got[i], want)
			}
		}
	})
}

func BenchmarkSumMany(b *testing.B) {
	for _, n := range []int{100, 3000, 10000, 40000} {
		files := make([][]byte, 64)
		for i := range files {
			files[i] = testData(n, uint64(i))
		}
		b.Run(fmt.Sprintf("64x%d/many", n), func(b *testing.B) {
			b.SetBytes(int64(64 * n))
			for b.Loop() {
				SumMany(files)
			}
		})
		b.Run(fmt.Sprintf("64x%d/each", n), func(b *testing.B) {
			b.SetBytes(int64(64 * n))
			for b.Loop() {
				for _, f := range files {
					Sum(f)
				}
			}
		})
	}
}
