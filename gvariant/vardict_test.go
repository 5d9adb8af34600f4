package gvariant

import (
	"bytes"
	"strings"
	"testing"
)

var vardictType = MustParseType("a{sv}")

// encodedEntry is AppendVardict's input for a value Encode serializes.
func encodedEntry(t testing.TB, key, sig string, v any) VardictEntry {
	t.Helper()
	b, err := Encode(MustParseType(sig), v)
	if err != nil {
		t.Fatal(err)
	}
	return VardictEntry{Key: key, Sig: sig, Value: b}
}

func TestAppendVardict(t *testing.T) {
	long := strings.Repeat("k", 300)
	huge := strings.Repeat("v", 70000)
	for _, entries := range [][]struct {
		key, sig string
		v        any
	}{
		{},
		{{"a", "b", true}},
		{{"version", "s", "1.0"}, {"n", "t", uint64(1) << 40}, {"flag", "b", false}, {"dev", "(tt)", []any{uint64(7), uint64(9)}}},
		{{"digest", "ay", bytes.Repeat([]byte{0xab}, 32)}, {"refs", "as", []any{"a", "b/c"}}, {"y", "y", byte(3)}},
		{{long, "s", long}, {"two-byte offsets", "i", int32(-5)}},
		{{"four-byte offsets", "s", huge}, {"after", "q", uint16(9)}},
		{{"dup", "s", "first"}, {"dup", "s", "second"}},
	} {
		var dict []any
		var in []VardictEntry
		for _, e := range entries {
			dict = append(dict, DictEntry{Key: e.key, Value: NewVariant(e.sig, e.v)})
			in = append(in, encodedEntry(t, e.key, e.sig, e.v))
		}
		if dict == nil {
			dict = []any{}
		}
		want, err := Encode(vardictType, dict)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendVardict(nil, in)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendVardict(%d entries):\n got %x\nwant %x", len(in), got[:min(len(got), 120)], want[:min(len(want), 120)])
		}
		for _, e := range in {
			sig, val, found, err := LookupVardict(got, e.Key)
			if err != nil || !found || sig != e.Sig {
				t.Errorf("LookupVardict(%q) = %q, found %v, %v", e.Key[:min(len(e.Key), 20)], sig, found, err)
			} else if e.Key != "dup" && !bytes.Equal(val, e.Value) {
				t.Errorf("LookupVardict(%q) value %x; want %x", e.Key[:min(len(e.Key), 20)], val[:min(len(val), 40)], e.Value[:min(len(e.Value), 40)])
			}
		}
		if _, _, found, err := LookupVardict(got, "absent"); found || err != nil {
			t.Errorf("LookupVardict(absent) = found %v, %v", found, err)
		}
	}
	// The first of duplicate keys wins, as in GLib.
	d := AppendVardict(nil, []VardictEntry{encodedEntry(t, "dup", "s", "first"), encodedEntry(t, "dup", "s", "second")})
	if _, v, _, _ := LookupVardict(d, "dup"); string(v) != "first\x00" {
		t.Errorf("duplicate key: got %q", v)
	}
	for _, bad := range [][]byte{{1}, {0, 0, 0, 0, 0, 7}, bytes.Repeat([]byte{0xff}, 40)} {
		if _, _, _, err := LookupVardict(bad, "k"); err == nil {
			t.Errorf("LookupVardict(%x) accepted it", bad)
		}
	}
}

// FuzzLookupVardict: wherever Decode accepts an a{sv}, LookupVardict finds
// the same first value for the key; it never panics on anything.
func FuzzLookupVardict(f *testing.F) {
	f.Add(AppendVardict(nil, []VardictEntry{encodedEntry(f, "k", "s", "v"), encodedEntry(f, "n", "(tt)", []any{uint64(1), uint64(2)})}), "n")
	f.Add([]byte{}, "k")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		sig, val, found, err := LookupVardict(data, key)
		v, derr := Decode(vardictType, data)
		if derr != nil {
			return // not normal form: only no panic
		}
		var wsig string
		var wval []byte
		wfound := false
		for _, e := range v.([]any) {
			de := e.(DictEntry)
			if de.Key != key {
				continue
			}
			vv := de.Value.(Variant)
			if wval, derr = Encode(vv.Type, vv.Value); derr != nil {
				t.Fatal(derr)
			}
			wsig, wfound = vv.Type.String(), true
			break
		}
		if err != nil || found != wfound || sig != wsig || !bytes.Equal(val, wval) {
			t.Fatalf("LookupVardict(%x, %q) = %q %x %v %v; Decode: %q %x %v", data, key, sig, val, found, err, wsig, wval, wfound)
		}
	})
}
