//go:build ignore

// gen.go writes sha256x2_amd64.s: SHA-256 block functions with the SHA-NI
// instructions, one lane (blocks1) and two independent lanes interleaved
// (blocks2), and with AVX-512, sixteen lanes (blocks16). SHA256RNDS2 is
// latency-bound, so two messages hashed in the same loop run at nearly
// twice the speed of one; sixteen messages in the 32-bit lanes of the ZMM
// registers need no SHA instructions and run about twice as fast again.
//
//	go run gen.go [-o FILE]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Per-lane registers. X0 is the implicit round-constant operand of
// SHA256RNDS2 and X14 a scratch register shared by the lanes.
type lane struct {
	s0, s1 string    // ABEF, CDGH
	m      [4]string // message schedule, W[4j..4j+3] for j mod 4
	wk     string    // W + K for the current four rounds
	ptr    string    // data pointer
	state  string    // pointer to the [8]uint32 state
	save   int       // stack offset of the saved state
}

var lanes = []lane{
	{s0: "X1", s1: "X2", m: [4]string{"X3", "X4", "X5", "X6"}, wk: "X13", ptr: "SI", state: "DI", save: 0},
	{s0: "X7", s1: "X8", m: [4]string{"X9", "X10", "X11", "X12"}, wk: "X15", ptr: "R8", state: "R9", save: 32},
}

var k = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

var b strings.Builder

func in(format string, a ...any) { fmt.Fprintf(&b, "\t"+format+"\n", a...) }

// load turns the state words a..h into the ABEF/CDGH layout SHA256RNDS2
// uses.
func load(l lane) {
	in("VMOVDQU (%s), %s", l.state, l.s0)
	in("VMOVDQU 16(%s), %s", l.state, l.s1)
	in("PSHUFD $0xb1, %s, %s", l.s0, l.s0)
	in("PSHUFD $0x1b, %s, %s", l.s1, l.s1)
	in("VMOVDQA %s, X14", l.s0)
	in("PALIGNR $0x08, %s, %s", l.s1, l.s0)
	in("PBLENDW $0xf0, X14, %s", l.s1)
}

// store is load's inverse.
func store(l lane) {
	in("PSHUFD $0x1b, %s, %s", l.s0, l.s0)
	in("PSHUFD $0xb1, %s, %s", l.s1, l.s1)
	in("VMOVDQA %s, X14", l.s0)
	in("PBLENDW $0xf0, %s, %s", l.s1, l.s0)
	in("PALIGNR $0x08, X14, %s", l.s1)
	in("VMOVDQU %s, (%s)", l.s0, l.state)
	in("VMOVDQU %s, 16(%s)", l.s1, l.state)
}

// block emits the 64 rounds of one block for each lane, interleaved.
func block(ls []lane) {
	for _, l := range ls {
		in("VMOVDQU %s, %d(SP)", l.s0, l.save)
		in("VMOVDQU %s, %d(SP)", l.s1, l.save+16)
	}
	for j := 0; j < 16; j++ {
		for _, l := range ls {
			m := l.m[j%4]
			if j < 4 {
				in("VMOVDQU %d(%s), %s", 16*j, l.ptr, m)
				in("VPSHUFB flip<>(SB), %s, %s", m, m)
			} else {
				// W[4j..] from the four groups before it.
				in("SHA256MSG1 %s, %s", l.m[(j+1)%4], m)
				in("VMOVDQA %s, X14", l.m[(j+3)%4])
				in("PALIGNR $0x04, %s, X14", l.m[(j+2)%4])
				in("PADDD X14, %s", m)
				in("SHA256MSG2 %s, %s", l.m[(j+3)%4], m)
			}
		}
		// W+K goes through the stack: the second pair of rounds takes its
		// upper half with a load instead of a shuffle, which would compete
		// with SHA256RNDS2 for the shuffle port.
		for _, l := range ls {
			in("VPADDD k<>+%d(SB), %s, X0", 16*j, l.m[j%4])
			in("VMOVDQU X0, %d(SP)", wkSlot(l))
			in("SHA256RNDS2 X0, %s, %s", l.s0, l.s1)
		}
		for _, l := range ls {
			in("MOVQ %d(SP), X0", wkSlot(l)+8)
			in("SHA256RNDS2 X0, %s, %s", l.s1, l.s0)
		}
	}
	for _, l := range ls {
		in("VPADDD %d(SP), %s, %s", l.save, l.s0, l.s0)
		in("VPADDD %d(SP), %s, %s", l.save+16, l.s1, l.s1)
		in("ADDQ $64, %s", l.ptr)
	}
}

// wkSlot is the stack offset where a lane's W+K is kept for a moment.
func wkSlot(l lane) int { return 64 + l.save/2 }

func fn(name string, ls []lane, args []string) {
	argSize := 8 * (len(args) + 1)
	fmt.Fprintf(&b, "\n// func %s\n", name)
	fmt.Fprintf(&b, "TEXT ·%s(SB), NOSPLIT, $%d-%d\n", strings.SplitN(name, "(", 2)[0], 96, argSize)
	for i, l := range ls {
		in("MOVQ %s+%d(FP), %s", args[i], 8*i, l.state)
	}
	for i, l := range ls {
		in("MOVQ %s+%d(FP), %s", args[len(ls)+i], 8*(len(ls)+i), l.ptr)
	}
	in("MOVQ n+%d(FP), DX", 8*2*len(ls))
	in("TESTQ DX, DX")
	in("JZ done")
	for _, l := range ls {
		load(l)
	}
	fmt.Fprintf(&b, "loop:\n")
	block(ls)
	in("DECQ DX")
	in("JNZ loop")
	for _, l := range ls {
		store(l)
	}
	fmt.Fprintf(&b, "done:\n")
	in("RET")
}

// The 16-lane AVX-512 function: blocks16 hashes 16 messages of equal
// length at once, one per 32-bit lane of the ZMM registers. The state words
// a..h of all lanes live in Z0..Z7; the message words, transposed so that
// one register holds word t of every lane, in a ring of 16 registers from
// Z8..Z31, the rest of which are scratch.

// x16 tracks which ZMM register holds what while the generator emits code.
type x16 struct {
	st   [8]string  // registers holding a..h (rotated each round)
	w    [16]string // w[t%16]: the register holding message word t
	free []string   // scratch registers
}

func zreg(i int) string { return fmt.Sprintf("Z%d", i) }

func (x *x16) take() string {
	r := x.free[0]
	x.free = x.free[1:]
	return r
}

func (x *x16) give(rs ...string) { x.free = append(x.free, rs...) }

// load16 loads one 64-byte block of each lane (lane i's block is SI bytes
// into the message whose address is the i-th word at AX), swaps the bytes of
// each word and transposes the 16×16 words into x.w.
func load16(x *x16) {
	var rows [16]string
	for i := range rows {
		rows[i] = x.take()
		in("MOVQ %d(AX), R8", 8*i)
		in("VMOVDQU32 (R8)(SI*1), %s", rows[i])
		in("VPSHUFB Z%d, %s, %s", flipZ, rows[i], rows[i])
	}
	// Interleave words, then word pairs, of neighbouring lanes: within each
	// 128-bit chunk k, g[q][m] then holds word 4k+m of lanes 4q..4q+3.
	var lo, hi [8]string
	for p := range 8 {
		lo[p], hi[p] = x.take(), x.take()
		in("VPUNPCKLDQ %s, %s, %s", rows[2*p+1], rows[2*p], lo[p])
		in("VPUNPCKHDQ %s, %s, %s", rows[2*p+1], rows[2*p], hi[p])
		x.give(rows[2*p], rows[2*p+1])
	}
	var g [4][4]string
	for q := range 4 {
		for m, src := range [][8]string{lo, lo, hi, hi} {
			op := "VPUNPCKLQDQ"
			if m%2 == 1 {
				op = "VPUNPCKHQDQ"
			}
			g[q][m] = x.take()
			in("%s %s, %s, %s", op, src[2*q+1], src[2*q], g[q][m])
		}
		x.give(lo[2*q], lo[2*q+1], hi[2*q], hi[2*q+1])
	}
	// Transpose the 128-bit chunks: word 4k+m of every lane is chunk k of
	// g[0][m], g[1][m], g[2][m], g[3][m].
	for m := range 4 {
		var pq [4]string // chunks 0-1 of g0|g1, 2-3 of g0|g1, 0-1 of g2|g3, 2-3 of g2|g3
		for h := range 2 {
			a, b := g[2*h][m], g[2*h+1][m]
			pq[2*h], pq[2*h+1] = x.take(), x.take()
			in("VSHUFI32X4 $0x44, %s, %s, %s", b, a, pq[2*h])
			in("VSHUFI32X4 $0xee, %s, %s, %s", b, a, pq[2*h+1])
			x.give(a, b)
		}
		for k := range 4 {
			imm := 0x88
			if k%2 == 1 {
				imm = 0xdd
			}
			x.w[4*k+m] = x.take()
			in("VSHUFI32X4 $0x%02x, %s, %s, %s", imm, pq[2+k/2], pq[k/2], x.w[4*k+m])
		}
		x.give(pq[:]...)
	}
}

// round16 emits round t. kw is the memory operand of the word to add to h
// first: the round constant (then the message word is added too) or, for
// the padding block, W[t]+K[t] ready-made.
func round16(x *x16, t int, kw string, withW bool) {
	a, b, c, d, e, f, g, h := x.st[0], x.st[1], x.st[2], x.st[3], x.st[4], x.st[5], x.st[6], x.st[7]
	t0, t1, t2, t3 := x.take(), x.take(), x.take(), x.take()
	if withW {
		in("VPADDD.BCST %s, %s, %s", kw, x.w[t%16], t3)
		in("VPADDD %s, %s, %s", t3, h, h)
	} else {
		in("VPADDD.BCST %s, %s, %s", kw, h, h)
	}
	in("VPRORD $6, %s, %s", e, t0)
	in("VPRORD $11, %s, %s", e, t1)
	in("VPRORD $25, %s, %s", e, t2)
	in("VPTERNLOGD $0x96, %s, %s, %s", t2, t1, t0)
	in("VMOVDQA32 %s, %s", g, t3)
	in("VPTERNLOGD $0xb8, %s, %s, %s", f, e, t3) // e ? f : g
	in("VPADDD %s, %s, %s", t0, h, h)
	in("VPADDD %s, %s, %s", t3, h, h) // T1
	in("VPADDD %s, %s, %s", h, d, d)
	in("VPRORD $2, %s, %s", a, t0)
	in("VPRORD $13, %s, %s", a, t1)
	in("VPRORD $22, %s, %s", a, t2)
	in("VPTERNLOGD $0x96, %s, %s, %s", t2, t1, t0)
	in("VMOVDQA32 %s, %s", a, t3)
	in("VPTERNLOGD $0xe8, %s, %s, %s", c, b, t3) // majority
	in("VPADDD %s, %s, %s", t0, h, h)
	in("VPADDD %s, %s, %s", t3, h, h) // T1 + T2
	x.give(t0, t1, t2, t3)
	// h is the new a, d the new e.
	x.st = [8]string{h, a, b, c, d, e, f, g}
}

// schedule16 computes message word t (t >= 16) in place of word t-16.
func schedule16(x *x16, t int) {
	w := x.w[t%16]
	t0, t1, t2 := x.take(), x.take(), x.take()
	in("VPRORD $7, %s, %s", x.w[(t-15)%16], t0)
	in("VPRORD $18, %s, %s", x.w[(t-15)%16], t1)
	in("VPSRLD $3, %s, %s", x.w[(t-15)%16], t2)
	in("VPTERNLOGD $0x96, %s, %s, %s", t2, t1, t0)
	in("VPADDD %s, %s, %s", t0, w, w)
	in("VPRORD $17, %s, %s", x.w[(t-2)%16], t0)
	in("VPRORD $19, %s, %s", x.w[(t-2)%16], t1)
	in("VPSRLD $10, %s, %s", x.w[(t-2)%16], t2)
	in("VPTERNLOGD $0x96, %s, %s, %s", t2, t1, t0)
	in("VPADDD %s, %s, %s", t0, w, w)
	in("VPADDD %s, %s, %s", x.w[(t-7)%16], w, w)
	x.give(t0, t1, t2)
}

// flipZ is the register holding the byte-swap mask in blocks16.
const flipZ = 31

func fn16() {
	b.WriteString(`
// func blocks16(out *[8][16]uint32, msgs *[16]*byte, n int, padwk *[64]uint32)
//
// Message i (i < 16) is the n 64-byte blocks at msgs[i] followed by a block
// whose W[t]+K[t] are padwk[t] (the same for every lane). The state starts
// at the SHA-256 initial value; out[w][i] is word w of lane i's final state.
// SI is the offset of the block being hashed in every message; its state at
// the start is kept at 0(SP).
TEXT ·blocks16(SB), NOSPLIT, $512-32
`)
	in("MOVQ msgs+8(FP), AX")
	in("MOVQ n+16(FP), DX")
	in("MOVQ padwk+24(FP), R9")
	in("XORQ SI, SI")
	for w := range 8 {
		in("VPBROADCASTD iv<>+%d(SB), Z%d", 4*w, w)
	}
	in("VMOVDQU32 flip64<>(SB), Z%d", flipZ)
	x := &x16{st: [8]string{"Z0", "Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7"}}
	for i := 8; i < flipZ; i++ {
		x.free = append(x.free, zreg(i))
	}
	save := func() {
		for w := range 8 {
			in("VMOVDQU32 Z%d, %d(SP)", w, 64*w)
		}
	}
	feed := func() {
		if x.st != [8]string{"Z0", "Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7"} {
			panic("state registers did not rotate back")
		}
		for w := range 8 {
			in("VPADDD %d(SP), Z%d, Z%d", 64*w, w, w)
		}
	}
	in("TESTQ DX, DX")
	in("JZ pad")
	fmt.Fprintf(&b, "loop:\n")
	save()
	free := append([]string(nil), x.free...)
	load16(x)
	for t := range 64 {
		if t >= 16 {
			schedule16(x, t)
		}
		round16(x, t, fmt.Sprintf("k<>+%d(SB)", 4*t), true)
	}
	x.give(x.w[:]...)
	// The next iteration must find the same registers free.
	if len(x.free) != len(free) {
		panic("register leak")
	}
	x.free = free
	feed()
	in("ADDQ $64, SI")
	in("DECQ DX")
	in("JNZ loop")
	fmt.Fprintf(&b, "pad:\n")
	save()
	for t := range 64 {
		round16(x, t, fmt.Sprintf("%d(R9)", 4*t), false)
	}
	feed()
	in("MOVQ out+0(FP), AX")
	for w := range 8 {
		in("VMOVDQU32 Z%d, %d(AX)", w, 64*w)
	}
	in("VZEROUPPER")
	in("RET")
}

func main() {
	out := flag.String("o", "sha256x2_amd64.s", "output file")
	flag.Parse()
	b.WriteString("// Code generated by gen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	fn("blocks1(s *State, p *byte, n int)", lanes[:1], []string{"s", "p"})
	fn("blocks2(a, b *State, pa, pb *byte, n int)", lanes, []string{"a", "b", "pa", "pb"})
	fn16()
	b.WriteString("\n// Byte order of the message words (big-endian).\n")
	b.WriteString("DATA flip<>+0(SB)/8, $0x0405060700010203\nDATA flip<>+8(SB)/8, $0x0c0d0e0f08090a0b\nGLOBL flip<>(SB), RODATA|NOPTR, $16\n")
	for i := range 4 {
		fmt.Fprintf(&b, "DATA flip64<>+%d(SB)/8, $0x0405060700010203\nDATA flip64<>+%d(SB)/8, $0x0c0d0e0f08090a0b\n", 16*i, 16*i+8)
	}
	b.WriteString("GLOBL flip64<>(SB), RODATA|NOPTR, $64\n")
	b.WriteString("\n// The initial state.\n")
	for i, v := range []uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {
		fmt.Fprintf(&b, "DATA iv<>+%d(SB)/4, $0x%08x\n", 4*i, v)
	}
	b.WriteString("GLOBL iv<>(SB), RODATA|NOPTR, $32\n")
	b.WriteString("\n// The round constants.\n")
	for i, c := range k {
		fmt.Fprintf(&b, "DATA k<>+%d(SB)/4, $0x%08x\n", 4*i, c)
	}
	b.WriteString("GLOBL k<>(SB), RODATA|NOPTR, $256\n")
	b.WriteString(`
// func cpuid(eax, ecx uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET
`)
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
