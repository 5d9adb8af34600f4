package fusefs_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// benchTree commits n files of size bytes each into a repository of mode.
func benchTree(b *testing.B, mode objstore.Mode, n, size int) (*objstore.Repo, objstore.ID, []string) {
	b.Helper()
	src := b.TempDir()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	var names []string
	for i := range n {
		name := fmt.Sprintf("d%02d/f%05d", i%50, i)
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	repo := objtest.NewRepo(b, mode)
	return repo, commitDir(b, repo, src, "main"), names
}

// BenchmarkParallelRead reads whole files of a mounted commit with
// GOMAXPROCS readers in parallel (go-fuse's benchmark/read_test.go style).
// "uncached" drops each file's kernel page cache before reading it, so
// every byte goes through this server (the object files themselves stay
// in the page cache); "cached" shows what FOPEN_KEEP_CACHE saves.
func BenchmarkParallelRead(b *testing.B) {
	requireFUSE(b)
	for _, tc := range []struct {
		mode    objstore.Mode
		n, size int
	}{
		{objstore.ModeBare, 256, 16 << 10},
		{objstore.ModeBare, 4, 64 << 20},
		{objstore.ModeArchive, 256, 16 << 10},
	} {
		repo, id, names := benchTree(b, tc.mode, tc.n, tc.size)
		for _, verify := range []fusefs.Verify{fusefs.VerifyOn, fusefs.VerifyOff} {
			_, mnt := mountCommit(b, repo, id, &fusefs.Options{Verify: verify})
			for _, cached := range []bool{false, true} {
				name := fmt.Sprintf("%s/size=%d/verify=%s/cached=%v", tc.mode, tc.size, verify, cached)
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(tc.size))
					b.ReportAllocs()
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, 1<<20)
						for pb.Next() {
							p := filepath.Join(mnt, names[int(next.Add(1))%len(names)])
							f, err := os.Open(p)
							if err != nil {
								b.Error(err)
								return
							}
							if !cached {
								unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
							}
							for {
								if _, err := f.Read(buf); err == io.EOF {
									break
								} else if err != nil {
									b.Error(err)
									break
								}
							}
							f.Close()
						}
					})
				})
			}
		}
	}
}

// BenchmarkStat stats files of a mounted commit in parallel. Names and
// attributes stay in the kernel's cache, so after the first pass this is
// the cost of a cached lookup.
func BenchmarkStat(b *testing.B) {
	requireFUSE(b)
	repo, id, names := benchTree(b, objstore.ModeBare, 2000, 100)
	_, mnt := mountCommit(b, repo, id, nil)
	b.Run("files=2000", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			var st unix.Stat_t
			for pb.Next() {
				if err := unix.Lstat(filepath.Join(mnt, names[int(next.Add(1))%len(names)]), &st); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
