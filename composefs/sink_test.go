package composefs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gostree/gostree/composefs"
)

// failWriter accepts limit bytes, then fails.
type failWriter struct {
	limit, n int
}

var errFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return k, errFull
	}
	w.n += len(p)
	return len(p), nil
}

// TestWriteWriterError checks that a failing writer's error is returned
// wherever in the image it fails, and that nothing is written after it.
func TestWriteWriterError(t *testing.T) {
	fsys := newBenchFS(5000)
	opts := &composefs.Options{File: benchFileData}
	var size countWriter
	if err := composefs.Write(&size, fsys, opts); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 1, 4096, 256 << 10, 600 << 10, int(size.n) - 1} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			w := &failWriter{limit: limit}
			if err := composefs.Write(w, fsys, opts); !errors.Is(err, errFull) {
				t.Errorf("Write to a writer full after %d bytes = %v, want %v", limit, err, errFull)
			}
			if w.n != limit {
				t.Errorf("writer got %d bytes, want %d", w.n, limit)
			}
		})
	}
}
