package main

import (
	"slices"
	"testing"
)

// TestGlibHashOrder checks the GVariantDict order emulation against what
// ostree 2022.7 wrote for `commit --bootable` (also a GVariantDict round
// trip): keys inserted as version, zeta, alpha, ostree.foo,
// ostree.ref-binding, ostree.linux, ostree.bootable.
func TestGlibHashOrder(t *testing.T) {
	in := []string{"version", "zeta", "alpha", "ostree.foo", "ostree.ref-binding", "ostree.linux", "ostree.bootable"}
	want := []string{"ostree.linux", "version", "alpha", "ostree.bootable", "zeta", "ostree.foo", "ostree.ref-binding"}
	got, ok := glibHashOrder(in)
	if !ok || !slices.Equal(got, want) {
		t.Errorf("glibHashOrder(%q) = %q, %v; want %q (ostree 2022.7)", in, got, ok, want)
	}
}
