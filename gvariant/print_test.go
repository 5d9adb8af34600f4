package gvariant

import (
	"math"
	"testing"
)

// Expected strings are g_variant_print(value, FALSE) output of GLib 2.74.
func TestPrint(t *testing.T) {
	cases := []struct {
		sig  string
		v    any
		want string
	}{
		{"(su)", []any{"ab", uint32(7)}, "('ab', 7)"},
		{"u", uint32(7), "7"},
		{"b", true, "true"},
		{"y", uint8(10), "0x0a"},
		{"ay", []byte("abc\x00"), "b'abc'"},
		{"ay", []byte("a'b\"c\x01\x7f\x80\v\f\x00"), `b"a'b\"c\001\177\200\v\f"`},
		{"ay", []byte{0}, "b''"},
		{"ay", []byte{}, "[]"},
		{"ay", []byte{1, 2}, "[0x01, 0x02]"},
		{"ay", []byte{0, 'a', 0}, "[0x00, 0x61, 0x00]"},
		{"v", NewVariant("ay", []byte{1, 2}), "<[byte 0x01, 0x02]>"},
		{"v", NewVariant("ay", []byte{}), "<@ay []>"},
		{"v", NewVariant("ay", []byte("ab\x00")), "<b'ab'>"},
		{"mmi", Maybe{}, "nothing"},
		{"mmi", Just(Maybe{}), "just nothing"},
		{"mmi", Just(Just(int32(5))), "5"},
		{"mmms", Just(Just(Maybe{})), "just just nothing"},
		{"v", NewVariant("mmi", Just(Maybe{})), "<@mmi just nothing>"},
		{"v", NewVariant("mi", Just(int32(5))), "<@mi 5>"},
		{"v", NewVariant("ms", Maybe{}), "<@ms nothing>"},
		{"ms", Just("x"), "'x'"},
		{"ad", []any{0.1, 1e20, math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 1e-5, 100.5, 5e-324},
			"[0.10000000000000001, 1e+20, inf, -inf, nan, -0.0, 1.0000000000000001e-05, 100.5, 4.9406564584124654e-324]"},
		{"d", math.Float64frombits(0xfff8000000000000), "-nan"},
		{"v", NewVariant("d", 1.0), "<1.0>"},
		{"v", NewVariant("(ynqiuxthdsog)", []any{uint8(1), int16(2), uint16(3), int32(4), uint32(5), int64(6), uint64(7), int32(8), 9.0, "s", "/o", "g"}),
			"<(byte 0x01, int16 2, uint16 3, 4, uint32 5, int64 6, uint64 7, handle 8, 9.0, 's', objectpath '/o', signature 'g')>"},
		{"s", "it's \\ \t\n\x01\a\b\v\f\r\x1b\x7f\u0085\u00a0\u2028\ue000😀 \u200b\ufffe\U000e0001\u0378",
			`"it's \\ \t\n\u0001\a\b\v\f\r\u001b\u007f\u0085` + "\u00a0\u2028\ue000😀 " + `\u200b\ufffe\U000e0001\u0378"`},
		{"s", `a"b`, `'a"b'`},
		{"s", `a"b'c`, `"a\"b'c"`},
		{"a{sv}", []any{DictEntry{"a", NewVariant("u", uint32(1))}, DictEntry{"b", NewVariant("as", []any{})}}, "{'a': <uint32 1>, 'b': <@as []>}"},
		{"{sv}", DictEntry{"a", NewVariant("u", uint32(1))}, "{'a', <uint32 1>}"},
		{"v", NewVariant("a{sv}", []any{}), "<@a{sv} {}>"},
		{"v", NewVariant("a{yv}", []any{DictEntry{uint8(1), NewVariant("y", uint8(2))}}), "<{byte 0x01: <byte 0x02>}>"},
		{"v", NewVariant("ai", []any{int32(1), int32(2)}), "<[1, 2]>"},
		{"v", NewVariant("a(uu)", []any{[]any{uint32(1), uint32(2)}, []any{uint32(3), uint32(4)}}), "<[(uint32 1, uint32 2), (3, 4)]>"},
		{"v", NewVariant("v", NewVariant("u", uint32(1))), "<<uint32 1>>"},
		{"v", NewVariant("()", []any{}), "<()>"},
		{"v", NewVariant("(u)", []any{uint32(1)}), "<(uint32 1,)>"},
		{"v", NewVariant("{ss}", DictEntry{"a", "b"}), "<{'a', 'b'}>"},
		{"v", NewVariant("aay", []any{[]byte("a\x00"), []byte{1}}), "<[b'a', [0x01]]>"},
		{"v", NewVariant("aas", []any{[]any{}, []any{"a"}}), "<[@as [], ['a']]>"},
		{"v", NewVariant("mv", Just(NewVariant("y", uint8(2)))), "<@mv <byte 0x02>>"},
		{"v", NewVariant("h", int32(3)), "<handle 3>"},
		{"h", int32(3), "3"},
		{"(uuuusa(ayay))", []any{uint32(0), uint32(0), uint32(0xa4810000), uint32(0), "", []any{[]any{[]byte("user.abc\x00"), []byte("1")}}},
			"(0, 0, 2759917568, 0, '', [(b'user.abc', [0x31])])"},
		// Mismatched values never panic.
		{"u", "x", "%!u(string=x)"},
		{"(uu)", []any{uint32(1)}, "%!(uu)([]interface {}=[1])"},
	}
	for _, c := range cases {
		if got := Print(MustParseType(c.sig), c.v); got != c.want {
			t.Errorf("Print(%s, %#v) =\n  %s\nwant\n  %s", c.sig, c.v, got, c.want)
		}
	}
}
