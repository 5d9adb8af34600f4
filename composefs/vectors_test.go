package composefs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// upstreamDump opens a libcomposefs test asset (gzip or plain) and returns
// its expected image sha256 and format version (-1 = mkcomposefs default).
func upstreamDump(t testing.TB, name string) (dump []byte, want string, version int) {
	t.Helper()
	dir := filepath.Join("testdata", "upstream")
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := os.ReadFile(filepath.Join(dir, name+".sha256"))
	if err != nil {
		t.Fatal(err)
	}
	version = -1
	if v, err := os.ReadFile(filepath.Join(dir, name+".version")); err == nil {
		if version, err = strconv.Atoi(strings.TrimSpace(string(v))); err != nil {
			t.Fatal(err)
		}
	}
	return raw, strings.TrimSpace(string(sum)), version
}

// upstreamAssets are libcomposefs's tests/assets checked by its
// test-checksums.sh: mkcomposefs --from-file of each must hash to the .sha256.
var upstreamAssets = []string{
	"bigfile.dump",
	"bigfile-xattr.dump",
	"config.dump.gz",
	"config-with-hard-link.dump.gz",
	"cs9-x86_64-minimal.dump.gz",
	"honggfuzz-bigfile-with-acl.dump",
	"honggfuzz-chardev-nonzero-size.dump",
	"honggfuzz-long-symlink.dump",
	"honggfuzz-longlink-unterminated.dump",
	"longlink.dump",
	"no-newline.dump",
	"special.dump",
	"special_v1.dump",
}

func dumpOptions(version int) *Options {
	if version < 0 {
		return nil
	}
	return &Options{Version: version, FixedVersion: true}
}

func TestUpstreamVectors(t *testing.T) {
	for _, name := range upstreamAssets {
		t.Run(name, func(t *testing.T) {
			dump, want, version := upstreamDump(t, name)
			var img bytes.Buffer
			if err := WriteFromDump(&img, bytes.NewReader(dump), dumpOptions(version)); err != nil {
				t.Fatalf("WriteFromDump: %v", err)
			}
			sum := sha256.Sum256(img.Bytes())
			if got := hex.EncodeToString(sum[:]); got != want {
				t.Errorf("sha256(image) = %s, want %s (libcomposefs tests/assets)", got, want)
			}
		})
	}
}

// TestDumpReproduces is libcomposefs's "dump is reproducible" check: the
// dump of each image, written again, gives the same bytes.
func TestDumpReproduces(t *testing.T) {
	for _, name := range upstreamAssets {
		t.Run(name, func(t *testing.T) {
			dump, _, version := upstreamDump(t, name)
			var img bytes.Buffer
			if err := WriteFromDump(&img, bytes.NewReader(dump), dumpOptions(version)); err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := Dump(&text, bytes.NewReader(img.Bytes()), int64(img.Len())); err != nil {
				t.Fatalf("Dump: %v", err)
			}
			var img2 bytes.Buffer
			if err := WriteFromDump(&img2, bytes.NewReader(text.Bytes()), dumpOptions(version)); err != nil {
				t.Fatalf("WriteFromDump(Dump(image)): %v\n%.2000s", err, text.String())
			}
			if !bytes.Equal(img.Bytes(), img2.Bytes()) {
				t.Errorf("image written from its own dump differs (%d vs %d bytes)", img.Len(), img2.Len())
			}
		})
	}
}
