package gvariant

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTypes is the fixed list of types FuzzDecode picks from. The corpus in
// testdata/fuzz/FuzzDecode refers to entries by index: only append.
var fuzzTypes = []string{
	"y", "b", "n", "q", "i", "u", "x", "t", "h", "d", "s", "o", "g", "v",
	"ay", "as", "aay", "au", "ad", "ab", "a{sv}", "a{ss}", "av", "a()", "a(yq)", "a(ss)", "a(ayay)",
	"(su)", "(uuuusa(ayay))", "(a(say)a(sayay))", "(uuua(ayay))", "(a{sv}aya(say)sstayay)",
	"(tuuuyayay)", "(taya{sv})", "(a(s(taya{sv}))a{sv})", "(ay)", "()", "(y())", "(yqd)", "((ay)(ay))",
	"a((ay))", "{sv}", "{ys}", "mv", "ms", "mmi", "mu", "mmu", "amy", "amay", "maay", "(mymyms)", "aav",
}

func fuzzType(i uint8) *Type { return MustParseType(fuzzTypes[int(i)%len(fuzzTypes)]) }

// addGoldenSeeds adds the GLib golden serializations of the fuzz types.
func addGoldenSeeds(f *testing.F) {
	idx := map[string]int{}
	for i, s := range fuzzTypes {
		idx[s] = i
	}
	for _, file := range []string{"testdata/golden.jsonl", "testdata/normal.jsonl"} {
		data, err := readFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var c struct{ Type, Hex string }
			if json.Unmarshal(line, &c) != nil {
				continue
			}
			if i, ok := idx[c.Type]; ok {
				b, _ := hex.DecodeString(c.Hex)
				f.Add(uint8(i), b)
			}
		}
	}
}

// FuzzDecode checks that Decode never panics, that anything it accepts
// re-encodes to the same bytes, and that IsNormal agrees with Decode.
func FuzzDecode(f *testing.F) {
	for _, c := range encodeCases {
		for i, s := range fuzzTypes {
			if s == c.sig {
				f.Add(uint8(i), unhex(c.want))
			}
		}
	}
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, ti uint8, data []byte) {
		typ := fuzzType(ti)
		v, err := Decode(typ, data)
		if IsNormal(typ, data) != (err == nil) {
			t.Fatalf("IsNormal(%s, %x) disagrees with Decode error %v", typ, data, err)
		}
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("Decode(%s, %x) error %T, want *FormatError", typ, data, err)
			}
			return
		}
		b, err := Encode(typ, v)
		if err != nil {
			t.Fatalf("Encode(%s, Decode(%x)): %v", typ, data, err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("Encode(%s, Decode(%x)) = %x", typ, data, b)
		}
		_ = Print(typ, v)
	})
}

// FuzzRoundTrip builds a random type and value from the fuzz input and
// checks Decode(Encode(v)) == v and that the encoding is normal.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("hello world, this is a seed"))
	f.Add([]byte{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7})
	f.Add([]byte{14, 3, 200, 1, 0, 255, 9, 9, 9, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add(bytes.Repeat([]byte{0x55, 0xaa, 0x13}, 40))
	f.Fuzz(func(t *testing.T, seed []byte) {
		src := &byteSource{b: seed}
		sig := genType(src, 0)
		typ, err := ParseType(sig)
		if err != nil {
			t.Fatalf("generated invalid type %q: %v", sig, err)
		}
		v := genValue(src, typ, 0)
		b, err := Encode(typ, v)
		if err != nil {
			t.Fatalf("Encode(%s, %#v): %v", typ, v, err)
		}
		back, err := Decode(typ, b)
		if err != nil {
			t.Fatalf("Decode(%s, Encode(%#v) = %x): %v", typ, v, b, err)
		}
		if !equalValue(back, v) {
			t.Fatalf("Decode(%s, Encode(v)) = %#v, want %#v", typ, back, v)
		}
		b2, err := Encode(typ, back)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encode differs: %x vs %x (%v)", b, b2, err)
		}
		pre := []byte{1, 2, 3}
		b3, err := AppendEncode(pre, typ, v)
		if err != nil || !bytes.Equal(b3[3:], b) {
			t.Fatalf("AppendEncode differs: %x vs %x (%v)", b3, b, err)
		}
	})
}

type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) next() byte {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return c
}

func (s *byteSource) u64() uint64 {
	var x uint64
	for i := 0; i < 8; i++ {
		x = x<<8 | uint64(s.next())
	}
	return x
}

const genBasic = "ybnqiuxthdsog"

func genType(s *byteSource, depth int) string {
	c := s.next()
	if depth >= 5 || c < 110 {
		return string("ybnqiuxthdsogv"[int(c)%14])
	}
	switch c % 6 {
	case 0, 1:
		return "a" + genType(s, depth+1)
	case 2:
		return "m" + genType(s, depth+1)
	case 3:
		return "{" + string(genBasic[int(s.next())%len(genBasic)]) + genType(s, depth+1) + "}"
	default:
		n := int(s.next() % 5)
		var sb strings.Builder
		sb.WriteByte('(')
		for i := 0; i < n; i++ {
			sb.WriteString(genType(s, depth+1))
		}
		sb.WriteByte(')')
		return sb.String()
	}
}

func genString(s *byteSource) string {
	n := int(s.next() % 12)
	if s.next() == 1 {
		n = 300 // long enough for 2-byte framing offsets
	}
	var sb strings.Builder
	for i := 0; i < n; i++ {
		r := rune(s.next())
		if s.next() > 200 {
			r = r<<8 | rune(s.next())
		}
		if r == 0 || !utf8.ValidRune(r) {
			r = 'x'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func genValue(s *byteSource, t *Type, depth int) any {
	switch t.Kind() {
	case 'y':
		return s.next()
	case 'b':
		return s.next()&1 == 1
	case 'n':
		return int16(s.u64())
	case 'q':
		return uint16(s.u64())
	case 'i', 'h':
		return int32(s.u64())
	case 'u':
		return uint32(s.u64())
	case 'x':
		return int64(s.u64())
	case 't':
		return s.u64()
	case 'd':
		return math.Float64frombits(s.u64())
	case 's':
		return genString(s)
	case 'o':
		parts := []string{""}
		for i := 0; i < int(s.next()%4); i++ {
			parts = append(parts, strings.Repeat(string("ab_9Z"[s.next()%5]), 1+int(s.next()%3)))
		}
		if len(parts) == 1 {
			return "/"
		}
		return strings.Join(parts, "/")
	case 'g':
		var sb strings.Builder
		for i := 0; i < int(s.next()%3); i++ {
			sb.WriteString(strings.ReplaceAll(genType(s, 2), "m", "a"))
		}
		return sb.String()
	case 'v':
		if depth > 8 {
			return NewVariant("u", uint32(s.next()))
		}
		ct := MustParseType(genType(s, 2))
		return Variant{Type: ct, Value: genValue(s, ct, depth+1)}
	case 'm':
		if s.next()%3 == 0 {
			return Maybe{}
		}
		return Just(genValue(s, t.Elem(), depth+1))
	case 'a':
		n := int(s.next() % 6)
		if t.Elem().Kind() == 'y' {
			b := make([]byte, n)
			for i := range b {
				b[i] = s.next()
			}
			return b
		}
		xs := make([]any, n)
		for i := range xs {
			xs[i] = genValue(s, t.Elem(), depth+1)
		}
		return xs
	case '(':
		xs := make([]any, t.NumFields())
		for i := range xs {
			xs[i] = genValue(s, t.Field(i), depth+1)
		}
		return xs
	case '{':
		return DictEntry{genValue(s, t.Field(0), depth+1), genValue(s, t.Field(1), depth+1)}
	}
	panic("unknown type " + t.String())
}

// equalValue compares decoded values, treating floats by their bits.
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case Maybe:
		y, ok := b.(Maybe)
		return ok && x.Valid == y.Valid && equalValue(x.Value, y.Value)
	case DictEntry:
		y, ok := b.(DictEntry)
		return ok && equalValue(x.Key, y.Key) && equalValue(x.Value, y.Value)
	case Variant:
		y, ok := b.(Variant)
		return ok && x.Type.Equal(y.Type) && equalValue(x.Value, y.Value)
	}
	return a == b
}
