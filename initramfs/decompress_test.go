package initramfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/gostree/gostree/initramfs/prepareroot"
)

func xzData(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdData(t testing.TB, b []byte) []byte {
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(b, nil)
}

func gzipData(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// fakeELF is module-like content: ELF magic, then bytes that compress.
func fakeELF(name string) []byte {
	return append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte(name+" "), 2000)...)
}

func TestDecompressModule(t *testing.T) {
	elf := fakeELF("m")
	for _, c := range []struct {
		name, want string
		data       []byte
		wantData   []byte
		err        string
	}{
		{name: "a/m.ko.xz", want: "a/m.ko", data: xzData(t, elf), wantData: elf},
		{name: "a/m.ko.zst", want: "a/m.ko", data: zstdData(t, elf), wantData: elf},
		{name: "a/m.ko.gz", want: "a/m.ko", data: gzipData(t, elf), wantData: elf},
		{name: "a/m.ko", want: "a/m.ko", data: []byte("stored as it is"), wantData: []byte("stored as it is")},
		{name: "a/m.ko.xz", data: []byte("not xz"), err: "decompress module a/m.ko.xz"},
		{name: "a/m.ko.zst", data: zstdData(t, elf)[:50], err: "decompress module a/m.ko.zst"},
		{name: "a/m.ko.gz", data: gzipData(t, elf)[:30], err: "decompress module a/m.ko.gz"},
		{name: "a/m.ko.xz", data: xzData(t, []byte("plain text")), err: "not an ELF file"},
		{name: "a/m.ko.xz", data: xzData(t, nil), err: "not an ELF file"},
	} {
		got, name, err := decompressModule(c.name, c.data)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s (%d bytes): err %v; want %q", c.name, len(c.data), err, c.err)
			}
			continue
		}
		if err != nil || name != c.want || !bytes.Equal(got, c.wantData) {
			t.Errorf("%s: %q, %d bytes, %v; want %q, %d bytes", c.name, name, len(got), err, c.want, len(c.wantData))
		}
	}
	if !errors.Is(func() error { _, _, err := decompressModule("x.ko.gz", gzipData(t, []byte("x"))); return err }(), errNotELF) {
		t.Error("errNotELF is not wrapped")
	}
}

// With DecompressModules the archive holds .ko files and the load list
// names them; Result.Modules still names what modules.dep lists.
func TestBuildDecompressModules(t *testing.T) {
	fsys := fstest.MapFS{
		"modules.dep":     {Data: []byte("kernel/a.ko.xz: kernel/b.ko.zst kernel/c.ko.gz\nkernel/b.ko.zst: kernel/c.ko.gz\nkernel/c.ko.gz:\nkernel/d.ko:\n")},
		"kernel/a.ko.xz":  {Data: xzData(t, fakeELF("a"))},
		"kernel/b.ko.zst": {Data: zstdData(t, fakeELF("b"))},
		"kernel/c.ko.gz":  {Data: gzipData(t, fakeELF("c"))},
		"kernel/d.ko":     {Data: fakeELF("d")},
	}
	for _, decompress := range []bool{false, true} {
		var buf bytes.Buffer
		res, err := Build(t.Context(), &buf, &Options{Helper: helpers.tagged, KVer: "6.12.0-test", ModuleDir: fsys,
			Modules: []string{"a", "d"}, Compression: Zstd, DecompressModules: decompress})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"kernel/c.ko.gz", "kernel/b.ko.zst", "kernel/a.ko.xz", "kernel/d.ko"}; strings.Join(res.Modules, " ") != strings.Join(want, " ") {
			t.Errorf("decompress %v: Result.Modules %q; want %q", decompress, res.Modules, want)
		}
		files := map[string][]byte{}
		for _, e := range readArchive(t, buf.Bytes(), Zstd) {
			files[e.h.Name] = e.data
		}
		base := "usr/lib/modules/6.12.0-test/kernel/"
		list := string(files[strings.TrimPrefix(prepareroot.ModuleListPath, "/")])
		for _, m := range []string{"c", "b", "a", "d"} {
			src := res.Modules[strings.Index("cbad", m)]
			name := strings.TrimPrefix(src, "kernel/")
			want := fsys[src].Data
			if decompress {
				name, want = m+".ko", fakeELF(m)
			}
			if got, ok := files[base+name]; !ok || !bytes.Equal(got, want) {
				t.Errorf("decompress %v: %s%s: %d bytes (present %v); want %d", decompress, base, name, len(got), ok, len(want))
			}
			if !strings.Contains(list, "/"+base+name+"\n") {
				t.Errorf("decompress %v: the module list lacks %s:\n%s", decompress, name, list)
			}
		}
	}
	fsys["kernel/c.ko.gz"] = &fstest.MapFile{Data: []byte("corrupt")}
	_, err := Build(t.Context(), new(bytes.Buffer), &Options{Helper: helpers.tagged, KVer: "6.12.0-test", ModuleDir: fsys,
		Modules: []string{"a"}, DecompressModules: true})
	if err == nil || !strings.Contains(err.Error(), "kernel/c.ko.gz") {
		t.Errorf("corrupt module: %v", err)
	}
}

// A real module tree's modules (Debian's are .ko.xz) decompress to what
// the xz tool gives.
func TestDecompressRealModules(t *testing.T) {
	m, _ := filepath.Glob("/var/cache/gostree-boottest/kernel-*/lib/modules/*/kernel/fs/erofs/erofs.ko*")
	if m2, _ := filepath.Glob("/lib/modules/*/kernel/fs/erofs/erofs.ko*"); len(m2) > 0 {
		m = append(m, m2...)
	}
	if len(m) == 0 {
		t.Skip("no kernel module tree with erofs here (make boot-test caches one)")
	}
	for _, p := range m {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, name, err := decompressModule(p, data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !strings.HasSuffix(name, "erofs.ko") || !bytes.HasPrefix(got, []byte("\x7fELF")) {
			t.Errorf("%s: name %s, %d bytes", p, name, len(got))
		}
		tool := map[string]string{".xz": "xz", ".zst": "zstd", ".gz": "gzip"}[filepath.Ext(p)]
		if tool == "" {
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("%s: no %s to compare with", p, tool)
			continue
		}
		want, err := exec.Command(tool, "-dc", p).Output()
		if err != nil {
			t.Fatalf("%s -dc %s: %v", tool, p, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes; %s -dc gives %d", p, len(got), tool, len(want))
		}
	}
}

func FuzzDecompressModule(f *testing.F) {
	elf := fakeELF("f")
	f.Add("m.ko.xz", xzData(f, elf))
	f.Add("m.ko.zst", zstdData(f, elf))
	f.Add("m.ko.gz", gzipData(f, elf))
	f.Add("m.ko", []byte("x"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, n, err := decompressModule(name, data)
		if err != nil {
			return
		}
		compressed := strings.HasSuffix(name, ".ko.xz") || strings.HasSuffix(name, ".ko.zst") || strings.HasSuffix(name, ".ko.gz")
		if compressed && (!bytes.HasPrefix(out, []byte("\x7fELF")) || n+filepath.Ext(name) != name) {
			t.Errorf("%q: accepted %d bytes as %q", name, len(out), n)
		}
		if !compressed && (n != name || !bytes.Equal(out, data)) {
			t.Errorf("%q: changed an uncompressed file", name)
		}
	})
}
