package fsverity

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// BenchmarkDigestAndSHA256 compares the fs-verity digest plus a SHA-256 of
// the same data computed apart (two passes) and together (NewWithSHA256).
func BenchmarkDigestAndSHA256(b *testing.B) {
	prefix := make([]byte, 60)
	for _, n := range []int{100, 3000, 64 << 10, 1 << 20} {
		data := make([]byte, n)
		b.Run(fmt.Sprintf("apart/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				h := sha256.New()
				h.Write(prefix)
				h.Write(data)
				h.Sum(nil)
				Sum(data)
			}
		})
		b.Run(fmt.Sprintf("together/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				h := NewWithSHA256(prefix)
				h.Write(data)
				h.SHA256()
				h.Digest()
			}
		})
	}
}
