//go:build amd64 && !purego

package sha256x2

//go:generate go run gen.go

//go:noescape
func blocks1(s *State, p *byte, n int)

//go:noescape
func blocks2(a, b *State, pa, pb *byte, n int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)

// hasSHANI reports whether the CPU has the SHA extensions and the SSE4.1,
// SSSE3 and AVX instructions the assembly also uses, and the OS saves the
// AVX state (OSXSAVE and XCR0 are checked through the AVX bit as Go's
// runtime reports it: an AVX-less kernel clears CPUID's OSXSAVE).
func hasSHANI() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	_, b7, _, _ := cpuid(7, 0)
	const (
		ssse3   = 1 << 9
		sse41   = 1 << 19
		osxsave = 1 << 27
		avx     = 1 << 28
		sha     = 1 << 29
	)
	return c1&ssse3 != 0 && c1&sse41 != 0 && c1&osxsave != 0 && c1&avx != 0 && b7&sha != 0
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
