//go:build amd64 && !purego

package sha256x2

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen.go

//go:noescape
func blocks1(s *State, p *byte, n int)

//go:noescape
func blocks2(a, b *State, pa, pb *byte, n int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)

// hasSHANI reports whether the CPU has the SHA extensions and the SSSE3,
// SSE4.1 and AVX instructions the assembly also uses. AVX (VEX encoding)
// also needs the OS to save its state: x/sys/cpu checks XCR0 for that. Only
// the SHA bit (CPUID leaf 7, EBX bit 29) is read here, x/sys/cpu has none.
func hasSHANI() bool {
	if !cpu.X86.HasAVX || !cpu.X86.HasSSSE3 || !cpu.X86.HasSSE41 {
		return false
	}
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<29) != 0
}

var fast = hasSHANI()

func block1(s *State, p []byte) {
	if n := len(p) / BlockSize; n > 0 {
		if fast {
			blocks1(s, &p[0], n)
		} else {
			blockGeneric(s, p[:n*BlockSize])
		}
	}
}

func block2(a, b *State, pa, pb []byte) {
	n := min(len(pa), len(pb)) / BlockSize
	if n == 0 {
		return
	}
	if fast {
		blocks2(a, b, &pa[0], &pb[0], n)
		return
	}
	blockGeneric(a, pa[:n*BlockSize])
	blockGeneric(b, pb[:n*BlockSize])
}

// fast16 says whether blocks16, the 16-lane AVX-512 code, can run: it needs
// AVX-512 F and BW (x/sys/cpu also checks that the OS saves the ZMM state).
var fast16 = fast && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

//go:noescape
func blocks16(out *[8][16]uint32, msgs *[16]*byte, n int, padwk *[64]uint32)

// sums16 writes to dst the digests of the 16 messages msgs (each size
// bytes, a multiple of 64, anywhere in memory), whose padding block has the
// message schedule plus round constants padwk. It reports false, doing
// nothing, when the CPU lacks the 16-lane code.
func sums16(dst []byte, msgs [][]byte, size int, padwk *[64]uint32) bool {
	if !fast16 {
		return false
	}
	_ = dst[16*Size-1]
	var ptrs [16]*byte
	for i := range ptrs {
		ptrs[i] = &msgs[i][:size][0]
	}
	var out [8][16]uint32
	blocks16(&out, &ptrs, size/BlockSize, padwk)
	for i := range 16 {
		for w := range 8 {
			binary.BigEndian.PutUint32(dst[i*Size+4*w:], out[w][i])
		}
	}
	return true
}
