package fusefs

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// maxMemSpill is the largest inflated content kept in memory rather than in
// a spill file.
const maxMemSpill = 1 << 20

// spill holds content that had to be read sequentially, for random access.
type spill interface {
	io.Writer
	io.ReaderAt
	io.Closer
	// finish ends writing.
	finish() error
	size() int64
	// cost returns the memory and disk bytes held.
	cost() (mem, disk int64)
}

func newSpill(dir string, size int64) (spill, error) {
	if size <= maxMemSpill {
		return &memSpill{b: make([]byte, 0, size)}, nil
	}
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, ".gostree-fuse-*")
	if err != nil {
		return nil, fmt.Errorf("create spill file: %w", err)
	}
	// Unlinked at once: only this process can reach it, and it goes when closed.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("create spill file: %w", err)
	}
	return &fileSpill{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

type memSpill struct{ b []byte }

func (s *memSpill) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *memSpill) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(s.b)) {
		return 0, io.EOF
	}
	n := copy(p, s.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (s *memSpill) Close() error            { return nil }
func (s *memSpill) finish() error           { return nil }
func (s *memSpill) size() int64             { return int64(len(s.b)) }
func (s *memSpill) cost() (mem, disk int64) { return int64(cap(s.b)), 0 }

type fileSpill struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func (s *fileSpill) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write spill file: %w", err)
	}
	return n, nil
}
func (s *fileSpill) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s *fileSpill) Close() error                            { return s.f.Close() }
func (s *fileSpill) finish() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write spill file: %w", err)
	}
	s.w = nil
	return nil
}
func (s *fileSpill) size() int64             { return s.n }
func (s *fileSpill) cost() (mem, disk int64) { return 0, s.n }
