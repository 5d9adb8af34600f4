package gvariant

import (
	"bytes"
	"fmt"
	"testing"
)

var (
	benchFileHeaderType = MustParseType("(uuuusa(ayay))")
	benchDirtreeType    = MustParseType("(a(say)a(sayay))")
	benchCommitType     = MustParseType("(a{sv}aya(say)sstayay)")
)

func benchFileHeader() []any {
	return []any{uint32(1000), uint32(1000), be32(0o100644), uint32(0), "", []any{
		[]any{[]byte("security.selinux\x00"), []byte("system_u:object_r:usr_t:s0\x00")},
		[]any{[]byte("user.checksum\x00"), bytes.Repeat([]byte{7}, 32)},
	}}
}

// benchDirtree is a dirtree with nFiles files and nFiles/20 subdirectories.
func benchDirtree(nFiles int) []any {
	files := make([]any, nFiles)
	for i := range files {
		files[i] = []any{fmt.Sprintf("file-%06d.txt", i), bytes.Repeat([]byte{byte(i)}, 32)}
	}
	dirs := make([]any, nFiles/20)
	for i := range dirs {
		dirs[i] = []any{fmt.Sprintf("dir-%04d", i), bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
	}
	return []any{files, dirs}
}

func BenchmarkEncodeFileHeader(b *testing.B) {
	v := benchFileHeader()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(benchFileHeaderType, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEncodeFileHeader(b *testing.B) {
	v := benchFileHeader()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEncode(buf[:0], benchFileHeaderType, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFileHeader(b *testing.B) {
	data, _ := Encode(benchFileHeaderType, benchFileHeader())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(benchFileHeaderType, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDirtree(b *testing.B) {
	v := benchDirtree(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(benchDirtreeType, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDirtree(b *testing.B) {
	data, err := Encode(benchDirtreeType, benchDirtree(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(benchDirtreeType, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIsNormalDirtree(b *testing.B) {
	data, _ := Encode(benchDirtreeType, benchDirtree(1000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if !IsNormal(benchDirtreeType, data) {
			b.Fatal("not normal")
		}
	}
}

func BenchmarkDecodeCommit(b *testing.B) {
	data, err := Encode(benchCommitType, commitValue())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(benchCommitType, data); err != nil {
			b.Fatal(err)
		}
	}
}
