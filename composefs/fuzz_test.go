package composefs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func fuzzSeeds(f *testing.F) [][]byte {
	var images [][]byte
	// Small images only: Go's mutator slows to a crawl on inputs of
	// 100 KiB and more.
	for _, name := range []string{"bigfile-xattr.dump", "honggfuzz-bigfile-with-acl.dump", "no-newline.dump"} {
		dump, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
		if err != nil {
			f.Fatal(err)
		}
		var img bytes.Buffer
		if err := WriteFromDump(&img, bytes.NewReader(dump), nil); err != nil {
			f.Fatal(err)
		}
		images = append(images, img.Bytes())
	}
	return images
}

// FuzzWalk feeds hostile images to the reader: it must return an error or
// entries, never panic, loop or read out of bounds; whatever it reads back
// must write and read again to the same dump.
func FuzzWalk(f *testing.F) {
	for _, img := range fuzzSeeds(f) {
		f.Add(img)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		var dump bytes.Buffer
		if err := Dump(&dump, bytes.NewReader(img), int64(len(img))); err != nil {
			return
		}
		var img2 bytes.Buffer
		if err := WriteFromDump(&img2, bytes.NewReader(dump.Bytes()), nil); err != nil {
			return // the reader is more lenient than the writer (e.g. names)
		}
		var dump2 bytes.Buffer
		if err := Dump(&dump2, bytes.NewReader(img2.Bytes()), int64(img2.Len())); err != nil {
			t.Fatalf("Dump of a written image: %v", err)
		}
	})
}

// FuzzDumpRoundTrip parses dump files: whatever parses must write an image
// whose dump parses again, and from then on dump and image are stable. (The
// first round may normalize: like libcomposefs, a size given to a fifo makes
// its inode extended but is not stored.)
func FuzzDumpRoundTrip(f *testing.F) {
	for _, name := range []string{"special.dump", "longlink.dump", "bigfile.dump", "no-newline.dump", "should-fail-self-hardlink.dump"} {
		dump, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(dump)
	}
	f.Add([]byte("/ 0 40755 2 0 0 0 0.0 - - -\n/a 3 100644 1 0 0 0 5.6 - abc -\n/b 0 @100644 1 0 0 0 0.0 /a - -\n"))
	f.Fuzz(func(t *testing.T, dump []byte) {
		var img bytes.Buffer
		if err := WriteFromDump(&img, bytes.NewReader(dump), nil); err != nil {
			return
		}
		text1 := dumpOf(t, img.Bytes())
		img2 := imageOf(t, text1)
		text2 := dumpOf(t, img2)
		if !bytes.Equal(text1, text2) {
			t.Fatalf("dump not stable:\n%s\nvs\n%s", text1, text2)
		}
		if img3 := imageOf(t, text2); !bytes.Equal(img2, img3) {
			t.Fatalf("image from the same dump differs\n%s", text2)
		}
	})
}

func dumpOf(t *testing.T, img []byte) []byte {
	var text bytes.Buffer
	if err := Dump(&text, bytes.NewReader(img), int64(len(img))); err != nil {
		t.Fatalf("Dump of a written image: %v", err)
	}
	return text.Bytes()
}

func imageOf(t *testing.T, dump []byte) []byte {
	var img bytes.Buffer
	if err := WriteFromDump(&img, bytes.NewReader(dump), nil); err != nil {
		t.Fatalf("WriteFromDump(Dump): %v\n%s", err, dump)
	}
	return img.Bytes()
}
