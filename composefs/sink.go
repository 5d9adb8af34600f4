package composefs

import (
	"io"
	"sync/atomic"
)

// sinkChunk is how much of the image the sink assembles before handing it
// to the writer; sinkBuffers chunks are in flight at most.
const (
	sinkChunk   = 256 << 10
	sinkBuffers = 3
)

// sink writes the image sequentially, counting bytes. The image is
// assembled in memory a chunk at a time, and full chunks are written by a
// helper goroutine, so laying out bytes overlaps with writing them (and,
// for WriteCommit, hashing them). w is only ever called from that
// goroutine, one call at a time, and never after close returns.
type sink struct {
	buf    []byte // the chunk being filled
	base   uint64 // bytes handed to the writer before buf
	err    error  // a layout error, or the writer's error once closed
	failed atomic.Bool
	full   chan []byte
	free   chan []byte
	done   chan error
	tmp    [extSize]byte // scratch for one inode header
}

func newSink(w io.Writer) *sink {
	s := &sink{full: make(chan []byte, sinkBuffers), free: make(chan []byte, sinkBuffers), done: make(chan error, 1)}
	for range sinkBuffers - 1 {
		s.free <- make([]byte, 0, sinkChunk+blockSize)
	}
	s.buf = make([]byte, 0, sinkChunk+blockSize)
	go func() {
		var err error
		for b := range s.full {
			if err == nil {
				if _, err = w.Write(b); err != nil {
					s.failed.Store(true)
				}
			}
			s.free <- b[:0]
		}
		s.done <- err
	}()
	return s
}

// off is the number of bytes of image produced so far.
func (s *sink) off() uint64 { return s.base + uint64(len(s.buf)) }

func (s *sink) write(b []byte)         { s.buf = append(s.buf, b...) }
func (s *sink) writeString(str string) { s.buf = append(s.buf, str...) }

// zeros is padding; it is never written to.
var zeros [blockSize]byte

func (s *sink) pad(n uint64) {
	for n > 0 {
		k := min(n, blockSize)
		s.buf = append(s.buf, zeros[:k]...)
		n -= k
		s.flushIfFull()
	}
}

func (s *sink) align(a uint64) { o := s.off(); s.pad(roundUp(o, a) - o) }

// flushIfFull hands the chunk to the writer once it is full. It reports
// false when the writer has failed, so the caller can stop early.
func (s *sink) flushIfFull() bool {
	if len(s.buf) >= sinkChunk {
		s.base += uint64(len(s.buf))
		s.full <- s.buf
		s.buf = <-s.free
	}
	return !s.failed.Load()
}

// close writes what is left (unless a layout error was recorded), waits
// for the writer and returns the first error.
func (s *sink) close() error {
	if s.err == nil && len(s.buf) > 0 {
		s.full <- s.buf
	}
	close(s.full)
	werr := <-s.done
	if s.err != nil {
		return s.err
	}
	return werr
}
