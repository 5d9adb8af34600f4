package composefs_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
)

// benchFS is an in-memory fs.ReadDirFS with every listing and FileInfo built
// in advance, so BenchmarkWriteTree measures the writer and not the input
// (fstest.MapFS scans every file for each ReadDir).
type benchFS struct {
	dirs map[string][]fs.DirEntry
	root *benchInfo
}

var (
	_ fs.ReadDirFS = (*benchFS)(nil)
	_ fs.StatFS    = (*benchFS)(nil)
)

type benchInfo struct {
	name string
	meta *objstore.Meta
	data composefs.FileData
}

func (fi *benchInfo) Name() string               { return fi.name }
func (fi *benchInfo) Size() int64                { return fi.meta.Size }
func (fi *benchInfo) Mode() fs.FileMode          { return fi.meta.FileMode() }
func (fi *benchInfo) ModTime() time.Time         { return time.Time{} }
func (fi *benchInfo) IsDir() bool                { return fi.meta.IsDir() }
func (fi *benchInfo) Sys() any                   { return fi.meta }
func (fi *benchInfo) Type() fs.FileMode          { return fi.Mode().Type() }
func (fi *benchInfo) Info() (fs.FileInfo, error) { return fi, nil }

func (b *benchFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
}

func (b *benchFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, ok := b.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return ents, nil
}

func (b *benchFS) Stat(name string) (fs.FileInfo, error) {
	if name == "." {
		return b.root, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// newBenchFS builds a tree shaped like bench/deploy.sh's: nfiles regular
// files, 50 to a directory, 20 directories to a parent. Every entry has an
// SELinux label (one shared value per kind), and one file in eight has the
// same content object as the one before it, so its metacopy and redirect
// xattrs are shared too, as in a real OS tree.
func newBenchFS(nfiles int) *benchFS {
	dirMeta := &objstore.Meta{Mode: 0o40755, Xattrs: []objstore.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:usr_t:s0")}}}
	fileMeta := func(size int) *objstore.Meta {
		return &objstore.Meta{Mode: 0o100644, Size: int64(size),
			Xattrs: []objstore.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:lib_t:s0")}}}
	}
	b := &benchFS{dirs: map[string][]fs.DirEntry{}, root: &benchInfo{name: ".", meta: dirMeta}}
	addDir := func(name string) {
		if _, ok := b.dirs[name]; ok {
			return
		}
		b.dirs[name] = nil
		parent := path.Dir(name)
		b.dirs[parent] = append(b.dirs[parent], &benchInfo{name: path.Base(name), meta: dirMeta})
	}
	b.dirs["."] = nil
	addDir("usr")
	addDir("usr/share")
	addDir("usr/share/data")
	var content [8]byte
	for i := range nfiles {
		dir := fmt.Sprintf("usr/share/data/%03d", i/1000)
		addDir(dir)
		dir = fmt.Sprintf("%s/%02d", dir, i/50%20)
		addDir(dir)
		c := i
		if i%8 == 7 {
			c = i - 1
		}
		content = [8]byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
		d := fsverity.Sum(content[:])
		id := objstore.ID(fsverity.Sum(append(content[:], 'c')))
		b.dirs[dir] = append(b.dirs[dir], &benchInfo{name: fmt.Sprintf("f%06d", i), meta: fileMeta(8 * (1 + c%7)),
			data: composefs.FileData{Payload: composefs.ObjectPayload(id), Digest: &d}})
	}
	return b
}

func benchFileData(name string, fi fs.FileInfo) (composefs.FileData, error) {
	return fi.(*benchInfo).data, nil
}

// BenchmarkWriteTree writes the image of a deploy-shaped tree of 10k and
// 100k files (metadata only; the input costs next to nothing).
func BenchmarkWriteTree(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			fsys := newBenchFS(n)
			opts := &composefs.Options{File: benchFileData}
			var size int64
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				cw := &countWriter{}
				if err := composefs.Write(cw, fsys, opts); err != nil {
					b.Fatal(err)
				}
				size = cw.n
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(size), "image-bytes")
		})
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds, GC
// included. On a shared machine it varies less than wall time.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// TestBenchFSImage pins the images of the benchmark tree, as the writer
// wrote them before it was optimized for large trees (the 100k-file one has
// 25k shared xattrs), and checks that the small one's dump gives the same
// image back.
func TestBenchFSImage(t *testing.T) {
	for _, tc := range []struct {
		files int
		pin   string // fs-verity digest: intentional? update the pin
	}{
		{2000, "4ef4606d636c499c7304d44a34f66a604dedd499757f28b04a2865f6720bc042"},
		{100_000, "691fc64e172d56d822a510f5ff3489fa10c7dbe619d41c7186a97035d02d099d"},
	} {
		t.Run(fmt.Sprintf("files=%d", tc.files), func(t *testing.T) {
			if tc.files > 10_000 && testing.Short() {
				t.Skip("large tree in -short mode")
			}
			img := writeImage(t, newBenchFS(tc.files), &composefs.Options{File: benchFileData})
			if d := fsverity.Sum(img).String(); d != tc.pin {
				t.Errorf("image digest = %s, pinned %s: intentional? update the pin", d, tc.pin)
			}
			if tc.files > 10_000 {
				return
			}
			var again bytes.Buffer
			if err := composefs.WriteFromDump(&again, strings.NewReader(dumpText(t, img)), nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img, again.Bytes()) {
				t.Errorf("image of the dump differs from the image (%d vs %d bytes)", again.Len(), len(img))
			}
		})
	}
}
