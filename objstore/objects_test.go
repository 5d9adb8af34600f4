package objstore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestContentChecksumVectors(t *testing.T) {
	tests := []struct {
		name    string
		meta    Meta
		content string
		want    string
	}{
		{"x-newline", Meta{Mode: 0o100644}, "x\n", "90bb74838c1594a2bcad43400970f0d03e4e0b8fcdd9398c86fc92e3d0506f9c"},
		{"empty", Meta{Mode: 0o100644}, "", "cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e"},
		{"symlink", Meta{Mode: 0o120777, Target: "hello.txt"}, "", "f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35"},
		{"xattrs", Meta{Mode: 0o100644, Xattrs: []Xattr{{"user.abc", []byte("1")}, {"user.foo", []byte("bar")}}}, "hello\n", "4fd996e7e5053c82d5ae955bb63acda769b54806e503907c01b61eb8a7da76eb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.meta
			m.Size = int64(len(tt.content))
			var r *bytes.Reader
			if m.IsRegular() {
				r = bytes.NewReader([]byte(tt.content))
			}
			var got ID
			var err error
			if r != nil {
				got, err = ContentChecksum(&m, r)
			} else {
				got, err = ContentChecksum(&m, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("ContentChecksum(%s) = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
}

func TestMetaVectors(t *testing.T) {
	if got, want := Hash((&DirTree{}).Encode()).String(), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"; got != want {
		t.Errorf("empty dirtree = %s, want %s", got, want)
	}
	dm := encodeDirMeta(&Meta{Mode: 0o40755})
	if got, want := hex.EncodeToString(dm), "00000000000000000000"+"41ed"; got != want {
		t.Errorf("dirmeta bytes = %s, want %s", got, want)
	}
	if got, want := Hash(dm).String(), "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"; got != want {
		t.Errorf("dirmeta = %s, want %s", got, want)
	}
}

func TestCommitRoundTrip(t *testing.T) {
	c := &Commit{
		Subject: "s", Body: "b", Timestamp: time.Unix(1577836800, 0).UTC(),
		RootTree: Hash([]byte("t")), RootMeta: Hash([]byte("m")), Parent: Hash([]byte("p")),
	}
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCommit(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != c.Subject || got.Body != c.Body || !got.Timestamp.Equal(c.Timestamp) ||
		got.RootTree != c.RootTree || got.RootMeta != c.RootMeta || got.Parent != c.Parent {
		t.Errorf("DecodeCommit(Encode(c)) = %+v, want %+v", got, c)
	}
}

func TestDecodeDirTreeRejects(t *testing.T) {
	id := Hash(nil)
	tests := []struct {
		name string
		dt   DirTree
	}{
		{"dotdot", DirTree{Files: []TreeFile{{"..", id}}}},
		{"dot", DirTree{Dirs: []TreeDir{{".", id, id}}}},
		{"slash", DirTree{Files: []TreeFile{{"a/b", id}}}},
		{"nul", DirTree{Files: []TreeFile{{"a\x00b", id}}}},
		{"empty", DirTree{Files: []TreeFile{{"", id}}}},
		{"unsorted", DirTree{Files: []TreeFile{{"b", id}, {"a", id}}}},
		{"duplicate", DirTree{Files: []TreeFile{{"a", id}, {"a", id}}}},
		{"file-and-dir", DirTree{Files: []TreeFile{{"a", id}}, Dirs: []TreeDir{{"a", id, id}}}},
		{"bad-utf8", DirTree{Files: []TreeFile{{"\xff", id}}}},
	}
	for _, tt := range tests {
		data, err := encodeDirTreeUnchecked(&tt.dt)
		if err != nil {
			continue // the encoder itself refused (e.g. NUL in a string)
		}
		if _, err := DecodeDirTree(data); err == nil {
			t.Errorf("DecodeDirTree(%s) succeeded, want error", tt.name)
		}
	}
}

func encodeDirTreeUnchecked(dt *DirTree) (b []byte, err error) {
	defer func() {
		if recover() != nil {
			err = errTest
		}
	}()
	return dt.Encode(), nil
}

var errTest = errors.New("encoder refused")

func TestDecodeTruncated(t *testing.T) {
	c := &Commit{Subject: "subject", Timestamp: time.Unix(1, 0), RootTree: Hash(nil), RootMeta: Hash(nil)}
	data, _ := c.Encode()
	for n := 0; n < len(data); n++ {
		if _, err := DecodeCommit(data[:n]); err == nil {
			t.Errorf("DecodeCommit(truncated to %d of %d) succeeded", n, len(data))
		}
	}
	if _, err := DecodeCommit(append(append([]byte{}, data...), 0)); err == nil {
		t.Errorf("DecodeCommit(with trailing byte) succeeded")
	}
}

func FuzzDecodeDirTree(f *testing.F) {
	id := Hash(nil)
	f.Add((&DirTree{}).Encode())
	f.Add((&DirTree{Files: []TreeFile{{"a", id}, {"b", id}}, Dirs: []TreeDir{{"c", id, id}}}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		dt, err := DecodeDirTree(data)
		if err != nil {
			return
		}
		if got := dt.Encode(); !bytes.Equal(got, data) {
			t.Fatalf("re-encode differs:\n%x\n%x", got, data)
		}
	})
}

func FuzzDecodeCommit(f *testing.F) {
	c := &Commit{Subject: "s", Body: "b", Timestamp: time.Unix(1577836800, 0), RootTree: Hash(nil), RootMeta: Hash(nil)}
	data, _ := c.Encode()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommit(data)
		if err != nil {
			return
		}
		got, err := c.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("re-encode differs:\n%x\n%x", got, data)
		}
	})
}

func FuzzDecodeMetaHeaders(f *testing.F) {
	f.Add(encodeDirMeta(&Meta{Mode: 0o40755}))
	f.Add(encodeFileHeader(&Meta{Mode: 0o100644, Xattrs: []Xattr{{"user.a", []byte{0}}}}))
	f.Add(encodeArchiveHeader(&Meta{Mode: 0o120777, Target: "x"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := decodeDirMeta(data); err == nil {
			again, err := decodeDirMeta(encodeDirMeta(m))
			if err != nil || !bytes.Equal(encodeDirMeta(again), encodeDirMeta(m)) {
				t.Fatalf("dirmeta round trip differs: %v", err)
			}
		}
		if m, err := decodeFileHeader(data); err == nil {
			// Unsorted xattrs from old writers are accepted and sorted,
			// so compare a second round trip.
			again, err := decodeFileHeader(encodeFileHeader(m))
			if err != nil || !bytes.Equal(encodeFileHeader(again), encodeFileHeader(m)) {
				t.Fatalf("file header round trip differs: %v", err)
			}
		}
		decodeArchiveHeader(data)
		decodeUserMeta(data)
	})
}

func FuzzDecodeFileHeaderFast(f *testing.F) {
	f.Add(encodeFileHeader(&Meta{Mode: 0o100644}))
	f.Add(encodeFileHeader(&Meta{Mode: 0o120777, Target: "a/b"}))
	f.Add(encodeFileHeader(&Meta{Mode: 0o100755, UID: 1000, Xattrs: []Xattr{{"security.capability", []byte{1, 0, 0, 2}}, {"user.a", []byte("x")}}}))
	big := &Meta{Mode: 0o100644}
	for i := 0; i < 40; i++ {
		big.Xattrs = append(big.Xattrs, Xattr{Name: fmt.Sprintf("user.k%03d", i), Value: bytes.Repeat([]byte{byte(i)}, 20)})
	}
	f.Add(encodeFileHeader(big))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := decodeFileHeader(data)
		got, gerr := decodeFileHeaderFast(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("general err %v, fast err %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if !bytes.Equal(encodeFileHeader(want), encodeFileHeader(got)) || want.Size != got.Size {
			t.Fatalf("fast decode differs: %+v vs %+v", got, want)
		}
	})
}
