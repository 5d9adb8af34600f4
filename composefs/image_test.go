package composefs_test

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// mapFS is an fstest.MapFS whose Sys is an objstore.Meta, like a commit.
func mapFS(files map[string]*objstore.Meta) fstest.MapFS {
	m := fstest.MapFS{}
	for name, meta := range files {
		f := &fstest.MapFile{Mode: objstore.UnixToFileMode(meta.Mode), Sys: meta}
		if meta.IsSymlink() {
			f.Data = []byte(meta.Target)
		}
		m[name] = f
	}
	return m
}

func awkwardFS() fstest.MapFS {
	big := objstore.Meta{Mode: 0o100644, Size: 1 << 40}
	return mapFS(map[string]*objstore.Meta{
		".":                      {Mode: 0o40755, Xattrs: []objstore.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:root_t:s0")}}},
		"a":                      {Mode: 0o100644, Size: 5, UID: 70000, GID: 7},
		"b":                      {Mode: 0o100755, Size: 4096, Xattrs: []objstore.Xattr{{Name: "trusted.overlay.redirect", Value: []byte("/evil")}, {Name: "user.x", Value: []byte("1")}}},
		"dir":                    {Mode: 0o42775, Xattrs: []objstore.Xattr{{Name: "user.x", Value: []byte("1")}}},
		"dir/empty":              {Mode: 0o100600},
		"dir/link":               {Mode: 0o120777, Target: "../a", Size: 4},
		"dir/long-link":          {Mode: 0o120777, Target: strings.Repeat("x/", 2000), Size: 4000},
		"dir/big":                &big,
		"dir/fifo":               {Mode: 0o10644},
		"00":                     {Mode: 0o100644, Size: 1},
		strings.Repeat("n", 255): {Mode: 0o100644, Size: 1},
	})
}

func fileData(name string, fi fs.FileInfo) (composefs.FileData, error) {
	d := fsverity.Sum([]byte(name))
	return composefs.FileData{Payload: fmt.Sprintf("%02x/%x.file", d[0], d[1:]), Digest: &d}, nil
}

func writeImage(t testing.TB, fsys fs.FS, opts *composefs.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := composefs.Write(&b, fsys, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func dumpText(t testing.TB, img []byte) string {
	t.Helper()
	var b strings.Builder
	if err := composefs.Dump(&b, bytes.NewReader(img), int64(len(img))); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return b.String()
}

// TestGoldenDump pins the dump of an awkward tree (testdata/awkward.golden)
// and its image digest. An intentional layout change must update both.
func TestGoldenDump(t *testing.T) {
	img := writeImage(t, awkwardFS(), &composefs.Options{File: fileData})
	got := dumpText(t, img)
	golden := filepath.Join("testdata", "awkward.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("dump differs from %s (run with -update if intended):\n%s", golden, got)
	}
	// The pinned digest: intentional? update the pin.
	const pin = "fd7ff085eae3abc8dd1879b00f5273ccc71b3625faafbad9582127724c6a7e20"
	if d := fsverity.Sum(img).String(); d != pin {
		t.Errorf("image digest = %s, pinned %s: intentional? update the pin", d, pin)
	}
	// Writing the dump back gives the same image.
	var again bytes.Buffer
	if err := composefs.WriteFromDump(&again, strings.NewReader(got), nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), img) {
		t.Errorf("image from the dump differs from the image")
	}
}

func TestWriteDeterministic(t *testing.T) {
	a := writeImage(t, awkwardFS(), &composefs.Options{File: fileData})
	b := writeImage(t, awkwardFS(), &composefs.Options{File: fileData})
	if !bytes.Equal(a, b) {
		t.Error("two writes of the same tree differ")
	}
}

func TestHostileTreesRefused(t *testing.T) {
	for name, files := range map[string]map[string]*objstore.Meta{
		"xattr name too long": {".": {Mode: 0o40755, Xattrs: []objstore.Xattr{{Name: "user." + strings.Repeat("k", 300), Value: nil}}}},
		"xattr value too big": {".": {Mode: 0o40755}, "f": {Mode: 0o100644, Xattrs: []objstore.Xattr{{Name: "user.k", Value: make([]byte, 70000)}}}},
		"too many xattrs": {".": {Mode: 0o40755}, "f": {Mode: 0o100644, Xattrs: func() []objstore.Xattr {
			var xs []objstore.Xattr
			for i := range 40 {
				xs = append(xs, objstore.Xattr{Name: fmt.Sprintf("user.%03d", i), Value: make([]byte, 1000)})
			}
			return xs
		}()}},
		"xattr name with NUL":     {".": {Mode: 0o40755, Xattrs: []objstore.Xattr{{Name: "user.a\x00b"}}}},
		"symlink target too long": {".": {Mode: 0o40755}, "l": {Mode: 0o120777, Target: strings.Repeat("x", 5000)}},
		"file too big":            {".": {Mode: 0o40755}, "f": {Mode: 0o100644, Size: 1 << 62}},
		"bad mode":                {".": {Mode: 0o40755}, "f": {Mode: 0o170644}},
	} {
		t.Run(name, func(t *testing.T) {
			err := composefs.Write(io.Discard, mapFS(files), &composefs.Options{File: fileData})
			if err == nil {
				t.Errorf("Write accepted a tree with %s", name)
			}
		})
	}
	// Names with '/' or NUL, "." and "..", empty and over-long names never
	// reach an fs.FS listing; the dump parser checks them the same way.
	for _, line := range []string{
		"/a\\x00b 0 100644 1 0 0 0 0.0 - - -",
		"/.. 0 100644 1 0 0 0 0.0 - - -",
		"/" + strings.Repeat("n", 256) + " 0 100644 1 0 0 0 0.0 - - -",
		"/x 4 @100644 1 0 0 0 0.0 / - -",
	} {
		dump := "/ 0 40755 2 0 0 0 0.0 - - -\n" + line + "\n"
		if err := composefs.WriteFromDump(io.Discard, strings.NewReader(dump), nil); err == nil {
			t.Errorf("WriteFromDump accepted %.60q", line)
		}
	}
}

// TestUpstreamShouldFail: libcomposefs's should-fail assets are refused.
func TestUpstreamShouldFail(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "upstream", "should-fail-*.dump"))
	if len(names) == 0 {
		t.Fatal("no should-fail assets")
	}
	for _, p := range names {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := composefs.WriteFromDump(io.Discard, bytes.NewReader(data), nil); err == nil {
			t.Errorf("%s: WriteFromDump succeeded", filepath.Base(p))
		}
	}
}

// TestFsckErofs runs fsck.erofs on every image the tests know, and extracts
// the ostree vector image with it (an independent EROFS reader).
func TestFsckErofs(t *testing.T) {
	fsck := requireFsckErofs(t)
	fsckErofs(t, fsck, writeImage(t, awkwardFS(), &composefs.Options{File: fileData}))
	fsckErofs(t, fsck, writeImage(t, awkwardFS(), &composefs.Options{File: func(name string, fi fs.FileInfo) (composefs.FileData, error) {
		if size := objstore.MetaOf(fi).Size; size <= composefs.MaxInlineContent {
			return composefs.FileData{Content: bytes.Repeat([]byte{'z'}, int(size))}, nil
		}
		return fileData(name, fi)
	}}))
	for _, name := range []string{"special.dump", "longlink.dump", "config-with-hard-link.dump.gz", "honggfuzz-long-symlink.dump"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ = io.ReadAll(zr)
		}
		var img bytes.Buffer
		if err := composefs.WriteFromDump(&img, bytes.NewReader(raw), nil); err != nil {
			t.Fatal(err)
		}
		fsckErofs(t, fsck, img.Bytes())
	}
	repo := objtest.NewRepo(t, objstore.ModeBareUser)
	src := t.TempDir()
	if _, err := objtest.MakeTree(src, objtest.TreeOptions{ManyFiles: 200, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	id := commitTree(t, repo, src, objstore.DefaultModifier())
	var img bytes.Buffer
	if _, err := composefs.WriteCommit(t.Context(), repo, id, &img); err != nil {
		t.Fatal(err)
	}
	fsckErofs(t, fsck, img.Bytes())
}

// TestRandomTreesRoundTrip writes random trees and reads them back.
func TestRandomTreesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		files := map[string]*objstore.Meta{".": {Mode: 0o40755, UID: uint32(rng.IntN(3))}}
		dirs := []string{"."}
		for j := range rng.IntN(300) + 1 {
			parent := dirs[rng.IntN(len(dirs))]
			name := fmt.Sprintf("%s%d", strings.Repeat("n", rng.IntN(40)), j)
			if rng.IntN(10) == 0 {
				name = strings.Repeat("é", rng.IntN(120)+1) + fmt.Sprint(j)
			}
			p := name
			if parent != "." {
				p = parent + "/" + name
			}
			m := &objstore.Meta{UID: uint32(rng.IntN(70000)), GID: uint32(rng.IntN(70000))}
			switch rng.IntN(4) {
			case 0:
				m.Mode = 0o40700 | uint32(rng.IntN(0o100))
				dirs = append(dirs, p)
			case 1:
				m.Mode, m.Target = 0o120777, strings.Repeat("t", rng.IntN(300)+1)
			default:
				m.Mode = 0o100000 | uint32(rng.IntN(0o10000))
				m.Size = int64(rng.IntN(3)) * int64(rng.Uint32())
			}
			for k := range rng.IntN(4) {
				m.Xattrs = append(m.Xattrs, objstore.Xattr{Name: fmt.Sprintf("user.k%d", k), Value: bytes.Repeat([]byte{byte(rng.IntN(3))}, rng.IntN(50))})
			}
			files[p] = m
		}
		fsys := mapFS(files)
		img := writeImage(t, fsys, &composefs.Options{File: fileData})
		seen := 0
		err := composefs.Walk(bytes.NewReader(img), int64(len(img)), func(e *composefs.Entry) error {
			seen++
			name := strings.TrimPrefix(e.Path, "/")
			if name == "" {
				name = "."
			}
			m, ok := files[name]
			if !ok {
				if name == "." {
					return nil
				}
				return fmt.Errorf("unexpected %s", e.Path)
			}
			if e.Mode != m.Mode || e.UID != m.UID || e.GID != m.GID {
				return fmt.Errorf("%s: mode %o %d:%d, want %o %d:%d", e.Path, e.Mode, e.UID, e.GID, m.Mode, m.UID, m.GID)
			}
			if m.IsSymlink() && e.Payload != m.Target {
				return fmt.Errorf("%s: target %q", e.Path, e.Payload)
			}
			if m.IsRegular() && e.Size != uint64(m.Size) {
				return fmt.Errorf("%s: size %d, want %d", e.Path, e.Size, m.Size)
			}
			if len(e.Xattrs) != len(m.Xattrs) {
				return fmt.Errorf("%s: %d xattrs, want %d", e.Path, len(e.Xattrs), len(m.Xattrs))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("tree %d: %v", i, err)
		}
		if seen != len(files) {
			t.Fatalf("tree %d: read %d entries, wrote %d", i, seen, len(files))
		}
	}
}

// BenchmarkWrite writes the image of a 10k-file tree (metadata only).
func BenchmarkWrite(b *testing.B) {
	files := map[string]*objstore.Meta{".": {Mode: 0o40755}}
	for d := range 100 {
		files[fmt.Sprintf("d%03d", d)] = &objstore.Meta{Mode: 0o40755}
		for f := range 100 {
			files[fmt.Sprintf("d%03d/file-%05d", d, f)] = &objstore.Meta{Mode: 0o100644, Size: int64(f * 1000),
				Xattrs: []objstore.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:usr_t:s0")}}}
		}
	}
	fsys := mapFS(files)
	opts := &composefs.Options{File: fileData}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := composefs.Write(&buf, fsys, opts); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "image-bytes")
}
