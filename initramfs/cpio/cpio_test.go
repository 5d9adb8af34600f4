package cpio_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gostree/gostree/initramfs/cpio"
)

type entry struct {
	h    cpio.Header
	data string
}

func sample() []entry {
	return []entry{
		{cpio.Header{Name: "dev", Mode: cpio.TypeDir | 0o755}, ""},
		{cpio.Header{Name: "dev/console", Mode: cpio.TypeChar | 0o600, RDevMajor: 5, RDevMinor: 1}, ""},
		{cpio.Header{Name: "init", Mode: cpio.TypeReg | 0o755}, "#!/bin/sh\necho hi\n"},
		{cpio.Header{Name: "bin", Mode: cpio.TypeSymlink | 0o777}, "usr/bin"},
		{cpio.Header{Name: "usr", Mode: cpio.TypeDir | 0o755}, ""},
		{cpio.Header{Name: "usr/empty", Mode: cpio.TypeReg | 0o644}, ""},
		{cpio.Header{Name: "usr/odd", Mode: cpio.TypeReg | 0o4755, UID: 7, GID: 8, MTime: 1234}, "abcde"},
	}
}

func write(t testing.TB, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	for _, e := range es {
		h := e.h
		h.Size = int64(len(e.data))
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.Size() {
		t.Fatalf("Size() = %d, wrote %d", w.Size(), buf.Len())
	}
	return buf.Bytes()
}

func read(t testing.TB, data []byte) ([]entry, error) {
	t.Helper()
	r := cpio.NewReader(bytes.NewReader(data))
	var out []entry
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return out, err
		}
		out = append(out, entry{*h, string(b)})
	}
}

func TestRoundTrip(t *testing.T) {
	es := sample()
	data := write(t, es)
	if len(data)%512 != 0 {
		t.Errorf("archive size %d is not a multiple of 512", len(data))
	}
	got, err := read(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(es) {
		t.Fatalf("read %d entries, want %d", len(got), len(es))
	}
	for i, e := range es {
		want := e.h
		want.Size = int64(len(e.data))
		want.Ino = uint32(i + 1)
		if want.NLink == 0 {
			want.NLink = 1
			if want.Mode&cpio.TypeMask == cpio.TypeDir {
				want.NLink = 2
			}
		}
		if !reflect.DeepEqual(got[i].h, want) || got[i].data != e.data {
			t.Errorf("entry %d = %+v %q, want %+v %q", i, got[i].h, got[i].data, want, e.data)
		}
	}
	if again := write(t, es); !bytes.Equal(again, data) {
		t.Error("the same entries gave different bytes")
	}
}

// TestKnownHeader pins the header bytes of one entry: the layout the
// kernel's initramfs unpacker parses.
func TestKnownHeader(t *testing.T) {
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	if err := w.WriteCharDev("dev/console", 0o600, 5, 1); err != nil {
		t.Fatal(err)
	}
	want := "070701" + "00000001" + "00002180" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000005" + "00000001" + "0000000C" + "00000000" +
		"dev/console\x00\x00\x00" // name, NUL, padding to 4
	if got := buf.String(); got != want {
		t.Errorf("header = %q\nwant     %q", got, want)
	}
}

func TestWriterErrors(t *testing.T) {
	w := cpio.NewWriter(io.Discard)
	if err := w.WriteHeader(&cpio.Header{Name: "f", Mode: cpio.TypeReg | 0o644, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("abcd")); !errors.Is(err, cpio.ErrWriteTooLong) {
		t.Errorf("Write past size: %v, want ErrWriteTooLong", err)
	}
	if err := w.WriteDir("d", 0o755); err == nil {
		t.Error("WriteHeader after a short entry succeeded")
	}
	for _, h := range []cpio.Header{
		{Name: ""},
		{Name: "a\x00b", Mode: cpio.TypeReg},
		{Name: "d", Mode: cpio.TypeDir, Size: 1},
	} {
		if err := cpio.NewWriter(io.Discard).WriteHeader(&h); err == nil {
			t.Errorf("WriteHeader(%+v) succeeded", h)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	good := write(t, sample())
	cases := map[string][]byte{
		"empty":       nil,
		"bad magic":   append([]byte("070707"), good[6:]...),
		"truncated":   good[:200],
		"no trailer":  good[:len(good)-512],
		"bad hex":     append(append([]byte("070701"), 'x'), good[7:]...),
		"name no NUL": []byte(strings.Replace(string(good[:headerSize()+4]), "dev\x00", "devX", 1)),
	}
	for name, data := range cases {
		if _, err := read(t, data); err == nil {
			t.Errorf("%s: read succeeded", name)
		}
	}
}

func headerSize() int { return 110 }

// TestGNUCpio checks archives against GNU cpio when it is installed: it
// lists and extracts ours, and ours reads what it writes.
func TestGNUCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("GNU cpio not installed")
	}
	data := write(t, []entry{
		{cpio.Header{Name: "d", Mode: cpio.TypeDir | 0o755}, ""},
		{cpio.Header{Name: "d/f", Mode: cpio.TypeReg | 0o640}, "hello\n"},
		{cpio.Header{Name: "d/l", Mode: cpio.TypeSymlink | 0o777}, "f"},
		{cpio.Header{Name: "g", Mode: cpio.TypeReg | 0o644}, strings.Repeat("x", 1001)},
	})
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet", "--no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "d/f")); err != nil || string(b) != "hello\n" {
		t.Errorf("d/f = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "d/l")); err != nil || l != "f" {
		t.Errorf("d/l -> %q, %v", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "g")); err != nil || len(b) != 1001 {
		t.Errorf("g: %d bytes, %v", len(b), err)
	}

	cmd = exec.Command("sh", "-c", "find . -print | LC_ALL=C sort | cpio -o -H newc --quiet")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -o: %v", err)
	}
	es, err := read(t, out)
	if err != nil {
		t.Fatalf("reading GNU cpio output: %v", err)
	}
	names := map[string]string{}
	for _, e := range es {
		names[e.h.Name] = e.data
	}
	if names["d/f"] != "hello\n" || names["d/l"] != "f" || len(names["g"]) != 1001 {
		t.Errorf("GNU cpio archive read as %v", names)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("init", uint32(cpio.TypeReg|0o755), []byte("data"))
	f.Add("a/b/c", uint32(cpio.TypeSymlink|0o777), []byte("../x"))
	f.Add("x", uint32(cpio.TypeDir|0o700), []byte(nil))
	f.Fuzz(func(t *testing.T, name string, mode uint32, data []byte) {
		var buf bytes.Buffer
		w := cpio.NewWriter(&buf)
		h := &cpio.Header{Name: name, Mode: mode, Size: int64(len(data))}
		if err := w.WriteHeader(h); err != nil {
			return // invalid header: refused, fine
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		es, err := read(t, buf.Bytes())
		if name == cpio.Trailer {
			if err != nil || len(es) != 0 {
				t.Fatalf("an entry named like the trailer: %v, %d entries", err, len(es))
			}
			return
		}
		if err != nil || len(es) != 1 || es[0].h.Name != name || es[0].h.Mode != mode || es[0].data != string(data) {
			t.Fatalf("round trip of %q %o %q: %+v, %v", name, mode, data, es, err)
		}
	})
}

// FuzzRead feeds arbitrary bytes to the Reader: errors are fine, panics
// and endless loops are not.
func FuzzRead(f *testing.F) {
	f.Add([]byte("070701"))
	f.Add(func() []byte {
		var buf bytes.Buffer
		w := cpio.NewWriter(&buf)
		w.WriteFile("a", 0o644, []byte("xyz"))
		w.Close()
		return buf.Bytes()
	}())
	f.Fuzz(func(t *testing.T, data []byte) {
		read(t, data)
	})
}
