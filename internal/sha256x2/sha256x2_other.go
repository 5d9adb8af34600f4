//go:build !amd64 || purego

package sha256x2

const (
	fast   = false
	fast16 = false
)

func block1(s *State, p []byte) { blockGeneric(s, p[:len(p)/BlockSize*BlockSize]) }

func block2(a, b *State, pa, pb []byte) {
	n := min(len(pa), len(pb)) / BlockSize * BlockSize
	blockGeneric(a, pa[:n])
	blockGeneric(b, pb[:n])
}

func sums16(dst []byte, msgs [][]byte, size int, padwk *[64]uint32) bool { return false }
