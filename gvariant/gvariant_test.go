package gvariant

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"math/bits"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// be32 returns the uint32 whose little-endian encoding is the big-endian
// encoding of x, i.e. what OSTree stores after GUINT32_TO_BE.
func be32(x uint32) uint32 { return bits.ReverseBytes32(x) }

// encodeCase is one value with its expected serialization.
type encodeCase struct {
	sig  string
	v    any
	want string // hex, spaces ignored
}

// Vectors verified against GLib 2.74 (python3-gi) and, for the OSTree
// objects, against ostree 2022.7 (see /work/shared/spec/formats.md §1.6).
var encodeCases = []encodeCase{
	// OSTree objects.
	{"(a(say)a(sayay))", []any{[]any{}, []any{}}, "00"},
	{"(uuua(ayay))", []any{uint32(0), uint32(0), be32(0o40755), []any{}}, "00000000 00000000 000041ed"},
	{"(su)", []any{"ab", uint32(7)}, "61 62 00 00 07 00 00 00 03"},
	{"(uuuusa(ayay))", []any{uint32(0), uint32(0), be32(0o100644), uint32(0), "", []any{
		[]any{[]byte("user.abc\x00"), []byte("1")},
		[]any{[]byte("user.foo\x00"), []byte("bar")},
	}}, "00000000 00000000 000081a4 00000000 00 757365722e61626300 31 09 757365722e666f6f00 626172 09 0b 18 11"},

	// Basic types (little-endian).
	{"y", uint8(0xab), "ab"},
	{"b", true, "01"},
	{"b", false, "00"},
	{"n", int16(-2), "feff"},
	{"q", uint16(0x1234), "3412"},
	{"i", int32(-1), "ffffffff"},
	{"u", uint32(0x01020304), "04030201"},
	{"h", int32(3), "03000000"},
	{"x", int64(-2), "feffffffffffffff"},
	{"t", uint64(0x0102030405060708), "0807060504030201"},
	{"d", 1.0, "000000000000f03f"},
	{"s", "", "00"},
	{"s", "héllo", "68c3a96c6c6f00"},
	{"o", "/", "2f00"},
	{"o", "/org/gtk_2", "2f6f72672f67746b5f3200"},
	{"g", "", "00"},
	{"g", "a{sv}", "617b73767d00"},

	// Arrays.
	{"ay", []byte{}, ""},
	{"ay", []byte{1, 2, 3}, "010203"},
	{"au", []any{uint32(1), uint32(2)}, "01000000 02000000"},
	{"as", []any{}, ""},
	{"as", []any{"a", "b"}, "6100 6200 02 04"},
	{"as", []any{""}, "00 01"},
	{"aay", []any{[]byte("a\x00"), []byte{1}}, "6100 01 02 03"},
	{"aay", []any{[]byte{}, []byte{}}, "00 00"},
	{"a(yq)", []any{[]any{uint8(1), uint16(2)}, []any{uint8(3), uint16(4)}}, "01000200 03000400"},
	{"a()", []any{[]any{}, []any{}}, "00 00"},
	{"av", []any{NewVariant("y", uint8(2)), NewVariant("q", uint16(1))}, "020079 0000000000 01000071 03 0c"},
	{"a{sv}", []any{
		DictEntry{"a", NewVariant("u", uint32(1))},
		DictEntry{"b", NewVariant("as", []any{})},
	}, "6100000000000000 0100000000 75 02 00 62 0000000000000000 617302 0f 1c"},

	// Maybes.
	{"mu", Maybe{}, ""},
	{"mu", Just(uint32(5)), "05000000"},
	{"ms", Maybe{}, ""},
	{"ms", Just("x"), "7800 00"},
	{"ms", Just(""), "00 00"},
	{"mmi", Just(Maybe{}), "00"},
	{"mmi", Just(Just(int32(5))), "05000000 00"},
	{"mab", Just([]any{true, false}), "0100 00"},

	// Tuples and dict entries.
	{"()", []any{}, "00"},
	{"(y())", []any{uint8(7), []any{}}, "0700"},
	{"(yu)", []any{uint8(1), uint32(2)}, "01000000 02000000"},
	{"(uy)", []any{uint32(2), uint8(1)}, "02000000 01000000"},
	{"(yqd)", []any{uint8(1), uint16(2), 1.0}, "01000200 00000000 000000000000f03f"},
	{"(ay)", []any{[]byte{}}, ""},
	{"(ayay)", []any{[]byte{}, []byte{}}, "00"},
	{"(ss)", []any{"a", "b"}, "6100 6200 02"},
	{"(sss)", []any{"a", "b", "c"}, "6100 6200 6300 04 02"},
	{"{sv}", DictEntry{"a", NewVariant("u", uint32(1))}, "6100000000000000 0100000000 75 02"},
	{"{ys}", DictEntry{uint8(1), "b"}, "01 6200"},

	// Variants.
	{"v", NewVariant("u", uint32(1)), "01000000 00 75"},
	{"v", NewVariant("()", []any{}), "00 00 2829"},
	{"v", NewVariant("v", NewVariant("u", uint32(1))), "0100000000750076"},
	{"v", NewVariant("mmi", Just(Maybe{})), "00006d6d69"},
	{"v", NewVariant("ay", []byte{}), "00 6179"},
}

func TestEncode(t *testing.T) {
	for _, c := range encodeCases {
		typ := MustParseType(c.sig)
		want := unhex(c.want)
		got, err := Encode(typ, c.v)
		if err != nil {
			t.Errorf("Encode(%s, %#v): %v", c.sig, c.v, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Encode(%s, %#v) = %x, want %x", c.sig, c.v, got, want)
		}
		back, err := Decode(typ, want)
		if err != nil {
			t.Errorf("Decode(%s, %x): %v", c.sig, want, err)
			continue
		}
		if !reflect.DeepEqual(back, c.v) {
			t.Errorf("Decode(%s, %x) = %#v, want %#v", c.sig, want, back, c.v)
		}
	}
}

func TestOSTreeChecksums(t *testing.T) {
	for _, c := range []struct {
		idx  int
		want string
	}{
		{0, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}, // empty dirtree
		{1, "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"}, // dirmeta 0/0/040755
	} {
		ec := encodeCases[c.idx]
		b, err := Encode(MustParseType(ec.sig), ec.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != c.want {
			t.Errorf("sha256(Encode(%s)) = %x, want %s", ec.sig, got, c.want)
		}
	}
	fh := encodeCases[3]
	b, _ := Encode(MustParseType(fh.sig), fh.v)
	if len(b) != 0x2c {
		t.Errorf("file header length = %#x, want 0x2c", len(b))
	}
}

func TestAppendEncodeAlignment(t *testing.T) {
	typ := MustParseType("(yt)")
	v := []any{uint8(1), uint64(2)}
	want, _ := Encode(typ, v)
	for pre := 0; pre < 9; pre++ {
		dst := bytes.Repeat([]byte{0xee}, pre)
		got, err := AppendEncode(dst, typ, v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:pre], dst) || !bytes.Equal(got[pre:], want) {
			t.Errorf("AppendEncode(%d bytes, ...) = %x, want prefix + %x", pre, got, want)
		}
	}
	// On error dst's contents are kept.
	dst := []byte{1, 2, 3}
	got, err := AppendEncode(dst, typ, []any{uint8(1)})
	if err == nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("AppendEncode with bad value = %x, %v", got, err)
	}
}

// commitValue is a typical OSTree commit (a{sv}aya(say)sstayay).
func commitValue() []any {
	csum := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	return []any{
		[]any{
			DictEntry{"ostree.ref-binding", NewVariant("as", []any{"exampleos/x86_64/stable"})},
			DictEntry{"version", NewVariant("s", "42.1")},
			DictEntry{"ostree.collection-binding", NewVariant("s", "org.example.Os")},
		},
		csum(1),
		[]any{[]any{"related", csum(2)}},
		"Release 42.1",
		"Long body\nwith lines",
		uint64(bits.ReverseBytes64(1700000000)),
		csum(3),
		csum(4),
	}
}

func TestRoundTrip(t *testing.T) {
	big := strings.Repeat("x", 70000)
	cases := []struct {
		sig string
		v   any
	}{
		{"(a{sv}aya(say)sstayay)", commitValue()},
		{"(a{sv}aya(say)sstayay)", []any{[]any{}, []byte{}, []any{}, "", "", uint64(0), []byte{}, []byte{}}},
		{"as", []any{strings.Repeat("a", 300), "b"}},         // 2-byte offsets
		{"as", []any{big, "b", ""}},                          // 4-byte offsets
		{"(sas)", []any{strings.Repeat("a", 300), []any{}}},  // 2-byte tuple offset
		{"(sas)", []any{big, []any{"q"}}},                    // 4-byte tuple offset
		{"(say)", []any{strings.Repeat("a", 254), []byte{}}}, // body 255 + 1 offset: needs 2 bytes
		{"(say)", []any{strings.Repeat("a", 253), []byte{}}}, // body 254 + 1 offset: fits 1 byte
		{"(sas)", []any{strings.Repeat("a", 65531), []any{}}},
		{"(sas)", []any{strings.Repeat("a", 65532), []any{}}},
		{"(sas)", []any{strings.Repeat("a", 65533), []any{}}},
		{"a{sv}", []any{
			DictEntry{"nested", NewVariant("v", NewVariant("a{sv}", []any{DictEntry{"x", NewVariant("d", math.Pi)}}))},
			DictEntry{"maybe", NewVariant("mas", Just([]any{"a"}))},
			DictEntry{"nothing", NewVariant("ms", Maybe{})},
			DictEntry{"bytes", NewVariant("ay", []byte{0, 1, 2})},
		}},
		{"aas", []any{[]any{}, []any{"a", "bc"}, []any{""}}},
		{"a(ayay)", []any{[]any{[]byte{}, []byte{}}, []any{[]byte("k"), []byte("value")}}},
		{"(tuuuyayay)", []any{uint64(1), uint32(2), uint32(3), uint32(4), uint8(5), []byte{6}, []byte{7}}},
		{"(a(s(taya{sv}))a{sv})", []any{[]any{[]any{"main", []any{uint64(10), bytes.Repeat([]byte{9}, 32), []any{}}}}, []any{}}},
		{"mv", Just(NewVariant("y", uint8(2)))},
		{"amy", []any{Maybe{}, Just(uint8(1)), Maybe{}}},
		{"amay", []any{Maybe{}, Just([]byte{}), Just([]byte{1})}},
		{"ad", []any{0.0, math.Copysign(0, -1), math.Inf(1), math.MaxFloat64}},
	}
	for _, c := range cases {
		typ := MustParseType(c.sig)
		b, err := Encode(typ, c.v)
		if err != nil {
			t.Errorf("Encode(%s): %v", c.sig, err)
			continue
		}
		if !IsNormal(typ, b) {
			t.Errorf("IsNormal(%s, Encode(...)) = false", c.sig)
		}
		back, err := Decode(typ, b)
		if err != nil {
			t.Errorf("Decode(%s, Encode(...)): %v", c.sig, err)
			continue
		}
		if !reflect.DeepEqual(back, c.v) {
			t.Errorf("Decode(%s, Encode(v)) = %#v, want %#v", c.sig, back, c.v)
		}
	}
}

func TestFramingOffsetWidth(t *testing.T) {
	for _, c := range []struct {
		n, k int // n strings of k bytes (k-1 chars + NUL)
		w    int
	}{
		{1, 254, 1}, {1, 255, 2}, {127, 1, 1}, {128, 1, 2},
		{2, 32765, 2}, {2, 32766, 4}, {1, 65533, 2}, {1, 65534, 4},
	} {
		xs := make([]any, c.n)
		for i := range xs {
			xs[i] = strings.Repeat("z", c.k-1)
		}
		b, err := Encode(MustParseType("as"), xs)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(b) - c.n*c.k; got != c.n*c.w {
			t.Errorf("as with %d strings of %d bytes: offset table %d bytes, want %d", c.n, c.k, got, c.n*c.w)
		}
		if _, err := Decode(MustParseType("as"), b); err != nil {
			t.Errorf("Decode: %v", err)
		}
	}
	if got := offsetSize(1<<32, 1); got != 8 {
		t.Errorf("offsetSize(4GiB, 1) = %d, want 8", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		sig, data, why string
	}{
		{"(su)", "616200 01 07000000 03", "non-zero padding"},
		{"(yu)", "01 010000 02000000", "non-zero padding (fixed tuple)"},
		{"(uy)", "02000000 01 000001", "non-zero trailing padding"},
		{"()", "01", "unit must be 00"},
		{"()", "", "unit is one byte"},
		{"(su)", "616200 00 07000000", "truncated: offset missing"},
		{"(su)", "616200 00 070000 03", "truncated: member"},
		{"(su)", "616200 00 07000000 09", "tuple offset out of range"},
		{"(su)", "616200 00 07000000 00 03", "unused byte"},
		{"(ss)", "6100 6200 05", "offset past the end"},
		{"(ayay)", "", "zero-size tuple with offsets (GLib quirk)"},
		{"b", "02", "bad bool"},
		{"u", "010203", "truncated fixed value"},
		{"u", "0102030405", "oversized fixed value"},
		{"s", "6162", "missing NUL"},
		{"s", "", "empty string data"},
		{"s", "610062 00", "interior NUL"},
		{"s", "ff00", "invalid UTF-8"},
		{"s", "eda08000", "UTF-8 surrogate"},
		{"o", "6100", "object path without /"},
		{"o", "2f612f00", "object path with trailing /"},
		{"o", "2f2f00", "object path with //"},
		{"g", "6d7900", "maybe type in signature"},
		{"g", "2800", "incomplete signature"},
		{"au", "0100000002", "not a multiple of element size"},
		{"ab", "0002", "bad bool element"},
		{"as", "6100 05", "array offset out of range"},
		{"as", "6100 6200 0402", "array offsets decreasing"},
		{"as", "6100 0200", "wide (2-byte) offsets in small array"},
		{"as", "61 0100", "offset table not a multiple"},
		{"as", strings.Repeat("61", 253) + "00 fe00", "2-byte offsets where 1 byte suffices (size 256)"},
		{"((ay)(ay))", strings.Repeat("30", 255) + "00", "2-byte tuple offset where 1 byte suffices"},
		{"(sas)", strings.Repeat("61", 65532) + "00 fdff0000", "4-byte tuple offset where 2 bytes suffice"},
		{"as", "02", "offset table larger than data"},
		{"at", "01000000000000000100000000000000", "not a multiple (16 bytes = 2 t, ok) placeholder"},
		{"a(yt)", "01 00000000000000 0100000000000000 05", "fixed array with trailing byte"},
		{"aas", "6100 01 01 0203", "nested element framing bad"},
		{"a(ss)", "6100 6201 02 05", "nested non-zero"},
		{"ams", "6100 01 03", "nested maybe without trailing zero"},
		{"ms", "616200 01", "maybe without trailing zero"},
		{"mu", "050000", "maybe of fixed type with wrong size"},
		{"mu", "0500000000", "maybe of fixed type with trailing zero"},
		{"v", "75", "variant without NUL"},
		{"v", "", "empty variant"},
		{"v", "00 007a", "bad variant type"},
		{"v", "00 00 7575", "two types in variant"},
		{"v", "050000 00 75", "variant child wrong size"},
		{"v", "00", "empty variant type string"},
		{"v", "02 00 62", "variant child not normal"},
		{"v", "0100000000000000 00 7b73767d", "variant dict entry child wrong"},
		{"a{sv}", "6100 0000000000000000 017500 03 0e", "misaligned variant in dict"},
	}
	for _, c := range cases {
		if strings.Contains(c.why, "placeholder") {
			continue
		}
		typ := MustParseType(c.sig)
		data := unhex(c.data)
		v, err := Decode(typ, data)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("Decode(%s, %x) [%s] = %#v, %v; want *FormatError", c.sig, data, c.why, v, err)
			continue
		}
		if fe.Offset < 0 || fe.Offset > len(data) || fe.Type == "" || fe.Reason == "" {
			t.Errorf("Decode(%s, %x): malformed error %#v", c.sig, data, fe)
		}
		if !strings.Contains(fe.Error(), fe.Reason) || !strings.HasPrefix(fe.Error(), "gvariant: ") {
			t.Errorf("Error() = %q", fe.Error())
		}
		if IsNormal(typ, data) {
			t.Errorf("IsNormal(%s, %x) [%s] = true", c.sig, data, c.why)
		}
	}
	if _, err := Decode(nil, nil); err == nil {
		t.Error("Decode(nil type) succeeded")
	}
}

func TestEncodeErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = NewVariant("av", cyclic)
	cases := []struct {
		sig  string
		v    any
		path string
	}{
		{"u", int(1), ""},
		{"u", int32(1), ""},
		{"y", 1, ""},
		{"d", float32(1), ""},
		{"s", []byte("a"), ""},
		{"s", "a\x00b", ""},
		{"s", "\xff", ""},
		{"o", "a/b", ""},
		{"o", "/a/", ""},
		{"g", "m", ""},
		{"g", "a", ""},
		{"ay", []any{uint8(1)}, ""},
		{"au", []uint32{1}, ""},
		{"au", []any{uint32(1), int32(2)}, "[1]"},
		{"(su)", []any{"a"}, ""},
		{"(su)", []any{"a", uint32(1), uint32(2)}, ""},
		{"(su)", []any{"a", uint64(1)}, ".1"},
		{"()", nil, ""},
		{"{sv}", []any{"a", NewVariant("u", uint32(1))}, ""},
		{"{sv}", DictEntry{"a", uint32(1)}, ".Value"},
		{"a{sv}", []any{DictEntry{1, NewVariant("u", uint32(1))}}, "[0].Key"},
		{"v", Variant{}, ""},
		{"v", uint32(1), ""},
		{"v", Variant{Type: MustParseType("u"), Value: "x"}, "<u>"},
		{"ms", "x", ""},
		{"ms", Maybe{Valid: false, Value: "x"}, ""},
		{"ms", Just(1), ".Value"},
		{"(uuuusa(ayay))", []any{uint32(0), uint32(0), uint32(0), uint32(0), "", []any{[]any{[]byte("a"), "b"}}}, ".5[0].1"},
		{"av", cyclic, ""},
	}
	for _, c := range cases {
		typ := MustParseType(c.sig)
		b, err := Encode(typ, c.v)
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("Encode(%s, %#v) = %x, %v; want *ValueError", c.sig, c.v, b, err)
			continue
		}
		if c.sig != "av" && ve.Path != c.path {
			t.Errorf("Encode(%s, %#v): path %q, want %q (%v)", c.sig, c.v, ve.Path, c.path, err)
		}
		if !strings.HasPrefix(err.Error(), "gvariant: ") {
			t.Errorf("Error() = %q", err)
		}
	}
	if _, err := Encode(nil, 1); err == nil {
		t.Error("Encode(nil type) succeeded")
	}
}

func TestParseType(t *testing.T) {
	valid := []struct {
		sig   string
		kind  byte
		align int
		size  int
	}{
		{"y", 'y', 1, 1}, {"b", 'b', 1, 1}, {"n", 'n', 2, 2}, {"q", 'q', 2, 2},
		{"i", 'i', 4, 4}, {"u", 'u', 4, 4}, {"h", 'h', 4, 4}, {"x", 'x', 8, 8},
		{"t", 't', 8, 8}, {"d", 'd', 8, 8}, {"s", 's', 1, 0}, {"o", 'o', 1, 0},
		{"g", 'g', 1, 0}, {"v", 'v', 8, 0}, {"ay", 'a', 1, 0}, {"at", 'a', 8, 0},
		{"mu", 'm', 4, 0}, {"()", '(', 1, 1}, {"(())", '(', 1, 1}, {"(yu)", '(', 4, 8},
		{"(uy)", '(', 4, 8}, {"(yqd)", '(', 8, 16}, {"(yy)", '(', 1, 2}, {"(y())", '(', 1, 2},
		{"{yu}", '{', 4, 8}, {"{sv}", '{', 8, 0}, {"a{sv}", 'a', 8, 0}, {"(su)", '(', 4, 0},
		{"(uuuusa(ayay))", '(', 4, 0}, {"(a{sv}aya(say)sstayay)", '(', 8, 0},
		{strings.Repeat("a", 128) + "y", 'a', 1, 0},
		{strings.Repeat("(", 128) + "u" + strings.Repeat(")", 128), '(', 4, 4},
	}
	for _, c := range valid {
		typ, err := ParseType(c.sig)
		if err != nil {
			t.Errorf("ParseType(%q): %v", c.sig, err)
			continue
		}
		size, ok := typ.FixedSize()
		if typ.String() != c.sig || typ.Kind() != c.kind || typ.Alignment() != c.align || size != c.size || ok != (c.size > 0) {
			t.Errorf("ParseType(%q) = %s kind %c align %d size %d,%v; want kind %c align %d size %d",
				c.sig, typ, typ.Kind(), typ.Alignment(), size, ok, c.kind, c.align, c.size)
		}
	}
	for _, sig := range []string{
		"", "z", "uu", "a", "m", "(", ")", "(u", "u)", "{", "{s}", "{vs}", "{ays}", "{sss}", "{}",
		"a{sv", "*", "?", "r", "ai)", "(()", strings.Repeat("a", 129) + "y",
		strings.Repeat("(", 129) + "u" + strings.Repeat(")", 129), strings.Repeat("a", 100000),
		strings.Repeat("(", 100000),
	} {
		if typ, err := ParseType(sig); err == nil {
			t.Errorf("ParseType(%.20q) = %s, want error", sig, typ)
		}
	}
	typ := MustParseType("(sa{sv}m(ay))")
	fs := typ.Fields()
	if len(fs) != 3 || fs[0].String() != "s" || fs[1].String() != "a{sv}" || fs[2].Elem().String() != "(ay)" {
		t.Errorf("Fields() = %v", fs)
	}
	if e := fs[1].Elem(); e.Kind() != '{' || e.Fields()[1].Kind() != 'v' || typ.NumFields() != 3 || typ.Field(2) != fs[2] {
		t.Errorf("unexpected structure")
	}
	fs[0] = nil // must not affect typ
	if typ.Fields()[0] == nil {
		t.Error("Fields returned internal slice")
	}
	if MustParseType("u").Elem() != nil || MustParseType("u").Fields() != nil || MustParseType("as").Fields() != nil {
		t.Error("Elem/Fields of non-container not nil")
	}
	if !MustParseType("a{sv}").Equal(MustParseType("a{sv}")) || MustParseType("as").Equal(MustParseType("ao")) {
		t.Error("Equal")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParseType(bad) did not panic")
		}
	}()
	MustParseType("a")
}

// nestVariants returns k variants nested around uint32 5, and the GLib
// serialization.
func nestVariants(k int) (Variant, []byte) {
	v := NewVariant("u", uint32(5))
	data := []byte{5, 0, 0, 0, 0, 'u'}
	for i := 1; i < k; i++ {
		v = NewVariant("v", v)
		data = append(data, 0, 'v')
	}
	return v, data
}

func TestDepthLimit(t *testing.T) {
	// GLib accepts 127 nested variants (as the outermost "v") and rejects 128.
	vt := MustParseType("v")
	for _, k := range []int{127, 128, 1000} {
		v, data := nestVariants(k)
		ok := k <= 127
		b, err := Encode(vt, v)
		if (err == nil) != ok {
			t.Errorf("Encode(%d nested variants): %v", k, err)
		}
		if err == nil && !bytes.Equal(b, data) {
			t.Errorf("Encode(%d nested variants) = %x, want %x", k, b, data)
		}
		if _, err := Decode(vt, data); (err == nil) != ok {
			t.Errorf("Decode(%d nested variants): %v", k, err)
		}
	}
	// Payload type depth counts too: GLib accepts a^126 y (depth 127) as
	// the payload of a top-level variant, not a^127 y.
	for _, m := range []int{126, 127} {
		data := append([]byte{0}, strings.Repeat("a", m)+"y"...)
		if _, err := Decode(vt, data); (err == nil) != (m == 126) {
			t.Errorf("Decode(v of a^%dy): %v", m, err)
		}
	}
}

func TestHostileInputs(t *testing.T) {
	// A variant whose type is deeply nested tuples around an array, with
	// many zero-size elements: each 4 input bytes would produce ~60 Go values.
	inner := strings.Repeat("(", 60) + "ay" + strings.Repeat(")", 60)
	n := 100000
	data := make([]byte, 4*n) // body empty, n offsets of 0 (4-byte offsets)
	data = append(data, 0)
	data = append(data, "a"+inner...)
	// The variant's size exceeds 64 KiB, so the array inside it has 4-byte
	// offsets and its size is 4*n: consistent framing.
	typ := MustParseType("v")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode(typ, data)
	runtime.ReadMemStats(&after)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("Decode(hostile) err = %v, want FormatError", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(100*len(data)) {
		t.Errorf("Decode(hostile %d bytes) allocated %d bytes", len(data), alloc)
	}
	// The same with a shallow type is fine: n empty arrays.
	data2 := make([]byte, 4*n)
	data2 = append(data2, 0, 'a', 'a', 'y')
	v, err := Decode(typ, data2)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(v.(Variant).Value.([]any)); got != n {
		t.Errorf("got %d elements, want %d", got, n)
	}
	// Arrays of unit claim one element per byte at most.
	units, err := Decode(MustParseType("a()"), make([]byte, 1000))
	if err != nil || len(units.([]any)) != 1000 {
		t.Errorf("a() of 1000 bytes: %v", err)
	}
	// Huge last offset claims.
	for _, d := range [][]byte{
		{0xff, 0xff, 0xff, 0xff},
		append(make([]byte, 70000), 0xff, 0xff, 0xff, 0x7f),
	} {
		if _, err := Decode(MustParseType("as"), d); err == nil {
			t.Errorf("Decode(as, huge offset) succeeded")
		}
	}
}

func TestLookupAndVariantHelpers(t *testing.T) {
	dict := []any{
		DictEntry{"a", NewVariant("u", uint32(1))},
		DictEntry{"b", NewVariant("s", "x")},
		DictEntry{"a", NewVariant("u", uint32(2))},
	}
	if v, ok := Lookup(dict, "a"); !ok || v.Value != uint32(1) || v.Type.String() != "u" {
		t.Errorf("Lookup(a) = %v, %v", v, ok)
	}
	if _, ok := Lookup(dict, "c"); ok {
		t.Error("Lookup(c) found")
	}
	if s := NewVariant("u", uint32(5)).String(); s != "<uint32 5>" {
		t.Errorf("Variant.String() = %q", s)
	}
}
