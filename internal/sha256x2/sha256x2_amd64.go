//go:build amd64 && !purego

package sha256x2

import "golang.org/x/sys/cpu"

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
