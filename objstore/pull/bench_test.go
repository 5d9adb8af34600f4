package pull_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
	"github.com/gostree/gostree/objstore/pull"
)

// BenchmarkPull pulls a commit of many small files from pull.FileServer on
// loopback into a fresh repository per iteration.
func BenchmarkPull(b *testing.B) {
	src := objtest.NewRepo(b, objstore.ModeArchive)
	tree := b.TempDir()
	const files = 3000
	for i := range files {
		p := filepath.Join(tree, fmt.Sprintf("d%02d/f%05d", i%50, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, fmt.Appendf(nil, "file %d\n%0200d\n", i, i), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	commitTree(b, src, tree, "main")
	srv := newServer(b, src.Path())
	for _, mode := range []objstore.Mode{objstore.ModeArchive, objstore.ModeBareUser} {
		b.Run(fmt.Sprintf("mode=%s/files=%d", mode, files), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				dst := destRepo(b, mode, srv.URL)
				b.StartTimer()
				if _, err := pull.Pull(b.Context(), dst, "origin", []string{"main"}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
