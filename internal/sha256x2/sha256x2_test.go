package sha256x2

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// refBlockSums is BlockSums by the definition, with crypto/sha256.
func refBlockSums(data []byte, bs int) []byte {
	var out []byte
	for off := 0; off < len(data); off += bs {
		blk := make([]byte, bs)
		copy(blk, data[off:min(off+bs, len(data))])
		s := sha256.Sum256(blk)
		out = append(out, s[:]...)
	}
	return out
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDigestMatchesCryptoSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 4095, 4096, 4097, 100000} {
		data := randBytes(r, n)
		want := sha256.Sum256(data)
		whole := New()
		whole.Write(data)
		if got := whole.Sum256(); got != want {
			t.Errorf("Sum256 of %d bytes = %x, want %x", n, got, want)
		}
		// Written in random pieces.
		d := New()
		for p := data; len(p) > 0; {
			k := min(len(p), r.IntN(200))
			d.Write(p[:k])
			p = p[k:]
		}
		if got := d.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Errorf("Digest of %d bytes in pieces = %x, want %x", n, got, want)
		}
	}
}

func TestGenericMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := randBytes(r, 64*37)
	a, b := iv, iv
	blockGeneric(&a, data)
	block1(&b, data)
	if a != b {
		t.Fatalf("generic %x != block1 %x", a, b)
	}
	c, d := iv, iv
	block2(&c, &d, data, data[64:])
	e, f := iv, iv
	blockGeneric(&e, data[:36*64])
	blockGeneric(&f, data[64:])
	if c != e || d != f {
		t.Fatalf("block2 lanes differ from generic")
	}
}

func TestBlockSums(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, bs := range []int{64, 1024, 4096, 65536} {
		for _, n := range []int{0, 1, 63, 64, 65, bs - 1, bs, bs + 1, 2*bs - 1, 2 * bs, 3*bs + 17, 7*bs + 100, 16*bs - 1, 16 * bs, 16*bs + 1, 17 * bs, 33*bs - 3, 48*bs + 64} {
			data := randBytes(r, n)
			want := refBlockSums(data, bs)
			dst := make([]byte, len(want)+7)
			got, err := BlockSums(dst, data, bs, nil)
			if err != nil || got != len(want) || !bytes.Equal(dst[:got], want) {
				t.Errorf("BlockSums(bs=%d, %d bytes) = %d, %v; digests match: %v", bs, n, got, err, bytes.Equal(dst[:got], want))
			}
			// With an along stream that already holds some bytes.
			for _, pre := range []int{0, 1, 63, 64, 100} {
				prefix := randBytes(r, pre)
				along := New()
				along.Write(prefix)
				got, err = BlockSums(dst, data, bs, along)
				if err != nil || !bytes.Equal(dst[:got], want) {
					t.Errorf("BlockSums(bs=%d, %d bytes, along after %d) digests wrong (%v)", bs, n, pre, err)
				}
				wantAlong := sha256.Sum256(append(prefix, data...))
				if s := along.Sum256(); s != wantAlong {
					t.Errorf("along stream after BlockSums(bs=%d, %d bytes, prefix %d) = %x, want %x", bs, n, pre, s, wantAlong)
				}
				along.Write([]byte("more"))
				if s, w := along.Sum256(), sha256.Sum256(append(append(prefix, data...), "more"...)); s != w {
					t.Errorf("along stream continued after BlockSums: %x, want %x", s, w)
				}
			}
		}
	}
	if _, err := BlockSums(make([]byte, 64), []byte("x"), 100, nil); err == nil {
		t.Error("BlockSums accepted block size 100")
	}
	if _, err := BlockSums(make([]byte, 31), []byte("x"), 4096, nil); err == nil {
		t.Error("BlockSums accepted a short dst")
	}
}

func FuzzBlockSums(f *testing.F) {
	f.Add([]byte("hello"), uint8(0), uint16(3))
	f.Add(make([]byte, 5000), uint8(6), uint16(64))
	f.Fuzz(func(t *testing.T, data []byte, bsLog uint8, pre uint16) {
		bs := 64 << (bsLog % 11)
		prefix := bytes.Repeat([]byte{0xa5}, int(pre%300))
		along := New()
		along.Write(prefix)
		want := refBlockSums(data, bs)
		dst := make([]byte, len(want))
		n, err := BlockSums(dst, data, bs, along)
		if err != nil || n != len(want) || !bytes.Equal(dst, want) {
			t.Fatalf("BlockSums(bs=%d, %d bytes) wrong", bs, len(data))
		}
		if s, w := along.Sum256(), sha256.Sum256(append(prefix, data...)); s != w {
			t.Fatalf("along stream wrong")
		}
	})
}

func BenchmarkBlockSums(b *testing.B) {
	data := make([]byte, 1<<20)
	dst := make([]byte, 32*256)
	b.Run("pairs", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			BlockSums(dst, data, 4096, nil)
		}
	})
	b.Run("along", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		d := New()
		for b.Loop() {
			BlockSums(dst, data, 4096, d)
		}
	})
	b.Run("crypto-sha256-blocks", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for off := 0; off < len(data); off += 4096 {
				s := sha256.Sum256(data[off : off+4096])
				copy(dst[off/4096*32:], s[:])
			}
		}
	})
	b.Run("crypto-sha256-blocks+stream", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		h := sha256.New()
		for b.Loop() {
			for off := 0; off < len(data); off += 4096 {
				s := sha256.Sum256(data[off : off+4096])
				copy(dst[off/4096*32:], s[:])
			}
			h.Write(data)
		}
	})
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		d := New()
		for b.Loop() {
			d.Write(data)
		}
	})
	b.Run("small-4000-along", func(b *testing.B) {
		small := data[:4000]
		b.SetBytes(int64(len(small)))
		for b.Loop() {
			d := Digest{}
			d.Reset()
			d.Write(small[:100])
			BlockSums(dst, small, 4096, &d)
			d.Sum256()
		}
	})
}

// TestGeneratedAssembly checks that sha256x2_amd64.s is what gen.go writes.
func TestGeneratedAssembly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator (go run); skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "gen.s")
	cmd := exec.Command("go", "run", "gen.go", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile("sha256x2_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("sha256x2_amd64.s differs from gen.go's output: run go generate ./internal/sha256x2")
	}
}

// TestSums16 checks the sixteen-lane code directly (on CPUs with AVX-512),
// for every block size fs-verity allows and smaller ones, with the messages
// in separate allocations and the padding block built independently of
// padBlock.
func TestSums16(t *testing.T) {
	if !fast16 {
		t.Skip("the CPU (or the build) has no AVX-512: BlockSums and SumMany use the two-lane code, which their tests cover")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, bs := range []int{64, 128, 1024, 4096, 65536} {
		msgs := make([][]byte, 16)
		for i := range msgs {
			msgs[i] = randBytes(r, bs)
		}
		var pad [BlockSize]byte
		pad[0] = 0x80
		for i, v := 0, uint64(bs)*8; i < 8; i++ {
			pad[BlockSize-1-i] = byte(v >> (8 * i))
		}
		padwk := scheduleK(&pad)
		dst := make([]byte, 16*Size)
		if !sums16(dst, msgs, bs, &padwk) {
			t.Fatal("sums16 refused although fast16 is set")
		}
		for i, m := range msgs {
			if want := sha256.Sum256(m); !bytes.Equal(dst[i*Size:(i+1)*Size], want[:]) {
				t.Errorf("sums16(bs=%d): lane %d differs from crypto/sha256", bs, i)
			}
		}
	}
}

func TestSumMany(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, size := range []int{64, 256, 4096, 65536} {
		for _, n := range []int{0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 50} {
			msgs := make([][]byte, n)
			for i := range msgs {
				// Separate allocations, so lanes read from anywhere.
				msgs[i] = randBytes(r, size)
			}
			dst := make([]byte, n*Size)
			if err := SumMany(dst, msgs, size); err != nil {
				t.Fatal(err)
			}
			for i, m := range msgs {
				if want := sha256.Sum256(m); !bytes.Equal(dst[i*Size:(i+1)*Size], want[:]) {
					t.Errorf("SumMany(size=%d, %d messages): message %d wrong", size, n, i)
				}
			}
		}
	}
	if err := SumMany(make([]byte, 64), [][]byte{make([]byte, 64), make([]byte, 63)}, 64); err == nil {
		t.Error("SumMany accepted a message of the wrong length")
	}
	if err := SumMany(make([]byte, 64), [][]byte{make([]byte, 100)}, 100); err == nil {
		t.Error("SumMany accepted a size that is not a multiple of 64")
	}
}
