package integration_test

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportMatchesOstree: gostree export writes the entries ostree export
// writes (names, order, types, modes, owners, mtimes, link targets, data)
// for the shared test tree, whole, by --subpath and with --prefix.
func TestExportMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	tr := theTree(t)
	repo := newRepo(t, "ostree", "bare-user")
	ostree(t, "commit", "--repo="+repo, "-b", "main", "--timestamp=@1234567890", "--tree=dir="+tr.dir)
	// The top-level directory holding the most entries (but not most of
	// the tree), for --subpath.
	counts := map[string]int{}
	for p := range tr.info.Entries {
		if top, _, ok := strings.Cut(p, "/"); ok {
			counts[top]++
		}
	}
	sub, best := "", 0
	for top, n := range counts {
		if n > best && n < len(tr.info.Entries)/2 || n == best && top < sub {
			sub, best = top, n
		}
	}
	out := t.TempDir()
	for i, args := range [][]string{
		{"main"},
		{"--subpath=/" + sub, "--prefix=top/", "main"},
		{"--prefix=pfx", "--subpath=" + sub, "main"},
		{"--no-xattrs", "--subpath=" + sub, "main"},
	} {
		of, gf := filepath.Join(out, fmt.Sprintf("o%d.tar", i)), filepath.Join(out, fmt.Sprintf("g%d.tar", i))
		ostree(t, append([]string{"export", "--repo=" + repo, "-o", of}, args...)...)
		gostree(t, append([]string{"export", "--repo=" + repo, "-o", gf}, args...)...)
		oe, ge := tarEntries(t, of), tarEntries(t, gf)
		if len(oe) < 3 {
			t.Fatalf("%v: ostree's archive has %d entries", args, len(oe))
		}
		for j := 0; j < len(oe) || j < len(ge); j++ {
			var o, g string
			if j < len(oe) {
				o = oe[j]
			}
			if j < len(ge) {
				g = ge[j]
			}
			if o != g {
				t.Errorf("export %v: entry %d:\n ostree  %s\n gostree %s", args, j, o, g)
				break
			}
		}
	}
	// Standard output works too.
	g := gostreeRun(t, "export", "--repo="+repo, "--subpath="+sub, "main")
	if g.code != 0 || len(g.stdout) < 1024 {
		t.Errorf("export to stdout: %v", g.code)
	}
}

// tarEntries describes each entry of a tar archive on one line.
func tarEntries(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%q type %c mode %o %d:%d mtime %d link %q size %d sha %x xattrs %d",
			h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.Unix(), h.Linkname, h.Size, sha256.Sum256(data), len(h.PAXRecords)))
	}
}
