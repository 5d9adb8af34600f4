package composefs

// slab hands out small slices carved from larger allocations, so building
// a tree of 100k inodes costs a few hundred allocations instead of several
// per inode (less malloc and GC work). A slice it returns has its capacity
// capped at its length, so appending to it never writes into a neighbour.
// Every slice keeps its whole chunk alive; the tree is discarded as a whole,
// so nothing is held longer than it would be anyway.
type slab[T any] struct {
	chunk int // elements per allocation; 0 means 256
	free  []T
}

// make returns a zeroed slice of n elements.
func (s *slab[T]) make(n int) []T {
	if n > len(s.free) {
		c := s.chunk
		if c == 0 {
			c = 256
		}
		if n > c/4 {
			return make([]T, n)
		}
		s.free = make([]T, c)
	}
	b := s.free[:n:n]
	s.free = s.free[n:]
	return b
}

// grow returns xs with room for at least extra more elements, copying it
// into the slab when it has none.
func (s *slab[T]) grow(xs []T, extra int) []T {
	if cap(xs)-len(xs) >= extra {
		return xs
	}
	nx := s.make(len(xs) + extra)
	copy(nx, xs)
	return nx[:len(xs)]
}
