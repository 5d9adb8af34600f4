package integration_test

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestChecksumMatchesOstree: gostree checksum prints ostree checksum's
// result for every kind of file in the shared test tree (modes, owners,
// xattrs, symlinks, directories, sizes on the boundaries), with and without
// xattrs.
func TestChecksumMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	tr := theTree(t)
	var paths []string
	for p := range tr.info.Entries {
		paths = append(paths, filepath.Join(tr.dir, p))
	}
	slices.Sort(paths)
	if step := len(paths) / 25; step > 1 {
		// Every kind of entry is in the first part of the sorted tree;
		// the many small files add nothing new, so sample them.
		var sample []string
		for i, p := range paths {
			if i < 25 || i%step == 0 {
				sample = append(sample, p)
			}
		}
		paths = sample
	}
	n := 0
	for _, p := range paths {
		for _, args := range [][]string{{"checksum", p}, {"checksum", "--ignore-xattrs", p}} {
			o := ostreeRun(t, args...)
			g := gostreeRun(t, args...)
			if o.code != 0 {
				continue // a kind ostree refuses (fifo, device)
			}
			n++
			if g.code != 0 || g.stdout != o.stdout {
				t.Errorf("%v: gostree %q (exit %d, %s), ostree %q", args, g.stdout, g.code, g.stderr, o.stdout)
			}
		}
	}
	t.Logf("%d checksums compared", n)
	if n < 20 {
		t.Errorf("only %d paths checked", n)
	}
}
