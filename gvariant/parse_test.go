package gvariant

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestParseGolden parses every text of testdata/parse.jsonl (GLib's
// g_variant_parse, by gen_parse_golden.py) and checks the result: the
// same type and the same serialization where GLib succeeded, an error
// where it failed.
func TestParseGolden(t *testing.T) {
	var n, ok int
	readJSONL(t, "parse.jsonl", func(line int, raw []byte) {
		var c struct {
			Text  string
			As    *string
			OK    bool
			Type  string
			Hex   string
			Error string
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		n++
		var (
			typ *Type
			v   any
			err error
		)
		if c.As != nil {
			typ = MustParseType(*c.As)
			v, err = ParseAs(typ, c.Text)
		} else {
			var vv Variant
			vv, err = Parse(c.Text)
			typ, v = vv.Type, vv.Value
		}
		if !c.OK {
			if err == nil {
				t.Errorf("line %d: %q: parsed as %s %s; GLib: %s", line, c.Text, typ, Print(typ, v), c.Error)
			}
			return
		}
		if err != nil {
			t.Errorf("line %d: %q: %v; GLib parses it as %s", line, c.Text, err, c.Type)
			return
		}
		if typ.String() != c.Type {
			t.Errorf("line %d: %q: type %s; GLib: %s", line, c.Text, typ, c.Type)
			return
		}
		data, err := Encode(typ, v)
		if err != nil {
			t.Errorf("line %d: %q: encode: %v", line, c.Text, err)
			return
		}
		if got := hex.EncodeToString(data); got != c.Hex {
			t.Errorf("line %d: %q as %s: %s; GLib: %s", line, c.Text, typ, got, c.Hex)
			return
		}
		ok++
	})
	t.Logf("%d texts, %d parsed like GLib, the rest refused like GLib", n, ok)
}

func TestParseExamples(t *testing.T) {
	for _, c := range []struct {
		text, typ string
		want      any
	}{
		{"'hello'", "s", "hello"},
		{"uint64 1700000000", "t", uint64(1700000000)},
		{"[1, 2.5]", "ad", []any{1.0, 2.5}},
		{"{'a': <1>, 'b': <'x'>}", "a{sv}", []any{DictEntry{"a", NewVariant("i", int32(1))}, DictEntry{"b", NewVariant("s", "x")}}},
		{"b'ab'", "ay", []byte("ab\x00")},
		{"@mi nothing", "mi", Maybe{}},
		{"just just 5", "mmi", Just(Just(int32(5)))},
		{"(1, 'x', [true])", "(isab)", []any{int32(1), "x", []any{true}}},
		{"-2147483648", "i", int32(math.MinInt32)},
		{"int64 -9223372036854775808", "x", int64(math.MinInt64)},
		{"{'k', 1}", "{si}", DictEntry{"k", int32(1)}},
	} {
		v, err := Parse(c.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.text, err)
			continue
		}
		if v.Type.String() != c.typ || !equalValue(v.Value, c.want) {
			t.Errorf("Parse(%q) = %s %#v; want %s %#v", c.text, v.Type, v.Value, c.typ, c.want)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"", "expected value"},
		{"[]", "unable to infer type"},
		{"[1, 'a']", "unable to find a common type"},
		{"byte 256", "number out of range for type 'y'"},
		{"'abc", "unterminated string constant"},
		{"5 6", "expected end of input"},
		{"{<1>: 2}", "dictionary keys must have basic types"},
		{"objectpath 'x'", "not a valid object path"},
		{strings.Repeat("[", 200) + strings.Repeat("]", 200), "nested too deeply"},
	} {
		_, err := Parse(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v; want an error with %q", c.text, err, c.want)
		}
	}
}

// FuzzParsePrint: whatever Print writes, ParseAs reads back to the same
// value, and Parse of the printed variant (annotated, as GLib's
// g_variant_print(v, TRUE)) infers the same type. Arbitrary text never
// panics Parse, and what it accepts encodes.
func FuzzParsePrint(f *testing.F) {
	if data, err := readFile("testdata/parse.jsonl"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			var c struct{ Text string }
			if json.Unmarshal([]byte(line), &c) == nil {
				f.Add([]byte(c.Text))
			}
		}
	}
	f.Add([]byte{14, 3, 200, 1, 0, 255, 9, 9, 9, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, err := Parse(string(data)); err == nil {
			if _, err := Encode(v.Type, v.Value); err != nil {
				t.Fatalf("Parse(%q) gave %s %#v, which does not encode: %v", data, v.Type, v.Value, err)
			}
		}
		s := &byteSource{b: data}
		typ := MustParseType(genType(s, 0))
		val := genValue(s, typ, 0)
		if hasSubnormal(val) {
			return // GLib cannot read those back either (strtod's ERANGE)
		}
		text := Print(typ, val)
		got, err := ParseAs(typ, text)
		if err != nil {
			t.Fatalf("ParseAs(%s, %q): %v", typ, text, err)
		}
		// Text keeps a NaN's sign, not its payload (GLib's neither).
		val = canonicalNaNs(val)
		if !equalValue(got, val) {
			t.Fatalf("ParseAs(%s, %q) = %#v; printed from %#v", typ, text, got, val)
		}
		annotated := Print(MustParseType("v"), Variant{Type: typ, Value: val})
		pv, err := Parse(annotated)
		if err != nil {
			t.Fatalf("Parse(%q): %v", annotated, err)
		}
		inner, ok := pv.Value.(Variant)
		if pv.Type.String() != "v" || !ok || !inner.Type.Equal(typ) || !equalValue(inner.Value, val) {
			t.Fatalf("Parse(%q) = %s %#v; want <%s %#v>", annotated, pv.Type, pv.Value, typ, val)
		}
	})
}

// hasSubnormal reports whether v holds a non-zero subnormal double.
func hasSubnormal(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != 0 && math.Abs(x) < 0x1p-1022
	case []any:
		for _, e := range x {
			if hasSubnormal(e) {
				return true
			}
		}
	case Maybe:
		return x.Valid && hasSubnormal(x.Value)
	case DictEntry:
		return hasSubnormal(x.Key) || hasSubnormal(x.Value)
	case Variant:
		return hasSubnormal(x.Value)
	}
	return false
}

// canonicalNaNs returns v with every NaN replaced by strtod's NaN of the
// same sign.
func canonicalNaNs(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) {
			return math.Float64frombits(math.Float64bits(x)&(1<<63) | 0x7ff8000000000000)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalNaNs(e)
		}
		return out
	case Maybe:
		if x.Valid {
			return Just(canonicalNaNs(x.Value))
		}
	case DictEntry:
		return DictEntry{Key: canonicalNaNs(x.Key), Value: canonicalNaNs(x.Value)}
	case Variant:
		return Variant{Type: x.Type, Value: canonicalNaNs(x.Value)}
	}
	return v
}
