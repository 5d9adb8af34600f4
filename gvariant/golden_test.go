package gvariant

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The testdata/*.jsonl files were produced from real GLib 2.74 by
// testdata/gen_golden.py (see its header for the exact command).

func readJSONL(t *testing.T, name string, fn func(line int, raw []byte)) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		n++
		fn(n, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no test vectors", name)
	}
}

// TestGoldenGLib decodes values serialized by GLib, re-encodes them
// byte-for-byte and compares Print with g_variant_print.
func TestGoldenGLib(t *testing.T) {
	readJSONL(t, "golden.jsonl", func(line int, raw []byte) {
		var c struct{ Type, Hex, Print string }
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		typ, err := ParseType(c.Type)
		if err != nil {
			t.Errorf("line %d: %v", line, err)
			return
		}
		data, _ := hex.DecodeString(c.Hex)
		v, err := Decode(typ, data)
		if err != nil {
			t.Errorf("line %d: Decode(%s, %x): %v", line, c.Type, data, err)
			return
		}
		if !IsNormal(typ, data) {
			t.Errorf("line %d: IsNormal(%s, %x) = false", line, c.Type, data)
		}
		got, err := Encode(typ, v)
		if err != nil {
			t.Errorf("line %d: Encode(%s, %#v): %v", line, c.Type, v, err)
			return
		}
		if !bytes.Equal(got, data) {
			t.Errorf("line %d: Encode(%s, %#v) = %x, want %x", line, c.Type, v, got, data)
		}
		// Encoding after a prefix of arbitrary length must give the same bytes.
		prefix := []byte("12345")
		got2, err := AppendEncode(prefix, typ, v)
		if err != nil || !bytes.Equal(got2[5:], data) || string(got2[:5]) != "12345" {
			t.Errorf("line %d: AppendEncode(prefix, %s) = %x, %v", line, c.Type, got2, err)
		}
		if p := Print(typ, v); p != c.Print {
			t.Errorf("line %d: Print(%s, %x) =\n  %s\nwant\n  %s", line, c.Type, data, p, c.Print)
		}
	})
}

// TestGoldenNormalForm checks IsNormal and Decode against
// g_variant_is_normal_form on mutated serializations. GLib also calls a
// few serializations normal that its serializer never produces (a tuple
// with framing offsets squeezed into zero bytes); this package rejects
// them, so the expectation is "normal and canonical".
func TestGoldenNormalForm(t *testing.T) {
	var normal, abnormal int
	readJSONL(t, "normal.jsonl", func(line int, raw []byte) {
		var c struct {
			Type, Hex         string
			Normal, Canonical bool
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		typ := MustParseType(c.Type)
		data, _ := hex.DecodeString(c.Hex)
		if got := IsNormal(typ, data); got != c.Canonical {
			t.Errorf("line %d: IsNormal(%s, %x) = %v, GLib says normal=%v canonical=%v", line, c.Type, data, got, c.Normal, c.Canonical)
		}
		v, err := Decode(typ, data)
		if c.Canonical {
			normal++
			if err != nil {
				t.Errorf("line %d: Decode(%s, %x): %v", line, c.Type, data, err)
				return
			}
			if got, err := Encode(typ, v); err != nil || !bytes.Equal(got, data) {
				t.Errorf("line %d: Encode(%s, Decode(%x)) = %x, %v", line, c.Type, data, got, err)
			}
		} else {
			abnormal++
			if _, ok := err.(*FormatError); !ok {
				t.Errorf("line %d: Decode(%s, %x) error = %v, want *FormatError", line, c.Type, data, err)
			}
		}
	})
	t.Logf("%d normal, %d non-normal vectors", normal, abnormal)
}

// largeValue rebuilds the values described by recipes in large.jsonl.
func largeValue(t *testing.T, recipe string) (*Type, any) {
	parts := strings.Split(recipe, ":")
	n, _ := strconv.Atoi(parts[1])
	k, _ := strconv.Atoi(parts[2])
	switch parts[0] {
	case "as":
		xs := make([]any, n)
		for i := range xs {
			xs[i] = strings.Repeat(string(rune('a'+i%26)), k)
		}
		return MustParseType("as"), xs
	case "dirtree":
		xs := make([]any, n)
		for i := range xs {
			xs[i] = []any{fmt.Sprintf("%0*d", k, i), bytes.Repeat([]byte{byte(i)}, 32)}
		}
		return MustParseType("(sa(say))"), []any{strings.Repeat("x", k), xs}
	}
	t.Fatalf("unknown recipe %q", recipe)
	return nil, nil
}

// TestGoldenLarge covers 2- and 4-byte framing offsets.
func TestGoldenLarge(t *testing.T) {
	readJSONL(t, "large.jsonl", func(line int, raw []byte) {
		var c struct {
			Recipe, Sha256 string
			Len            int
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		typ, v := largeValue(t, c.Recipe)
		data, err := Encode(typ, v)
		if err != nil {
			t.Fatalf("%s: %v", c.Recipe, err)
		}
		sum := sha256.Sum256(data)
		if len(data) != c.Len || hex.EncodeToString(sum[:]) != c.Sha256 {
			t.Errorf("%s: Encode gave %d bytes sha256 %x, want %d bytes %s", c.Recipe, len(data), sum, c.Len, c.Sha256)
		}
		back, err := Decode(typ, data)
		if err != nil {
			t.Fatalf("%s: Decode: %v", c.Recipe, err)
		}
		again, err := Encode(typ, back)
		if err != nil || !bytes.Equal(again, data) {
			t.Errorf("%s: round trip differs (%v)", c.Recipe, err)
		}
	})
}

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }

// boundaryData mirrors boundary_data in testdata/gen_golden.py.
func boundaryData(recipe string, body, w int) (*Type, []byte) {
	le := func(x int) []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(x >> (8 * i))
		}
		return b[:w]
	}
	h := body / 2
	var out []byte
	switch recipe {
	case "as1":
		out = append(append(bytes.Repeat([]byte("a"), body-1), 0), le(body)...)
		return MustParseType("as"), out
	case "tup2":
		out = append(append(bytes.Repeat([]byte("x"), h), bytes.Repeat([]byte("y"), body-h)...), le(h)...)
		return MustParseType("((ay)(ay))"), out
	case "sas":
		out = append(append(bytes.Repeat([]byte("a"), body-1), 0), le(body)...)
		return MustParseType("(sas)"), out
	case "aay2":
		out = append(append(bytes.Repeat([]byte("p"), h), bytes.Repeat([]byte("q"), body-h)...), le(h)...)
		return MustParseType("aay"), append(out, le(body)...)
	}
	panic(recipe)
}

// TestGoldenOffsetWidthBoundaries checks normal-form decisions for bodies
// near the 1/2/4-byte framing offset boundaries, with every offset width.
func TestGoldenOffsetWidthBoundaries(t *testing.T) {
	readJSONL(t, "boundary.jsonl", func(line int, raw []byte) {
		var c struct {
			Recipe            string
			Body, Width       int
			Normal, Canonical bool
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		typ, data := boundaryData(c.Recipe, c.Body, c.Width)
		if got := IsNormal(typ, data); got != c.Canonical {
			t.Errorf("%s body %d width %d: IsNormal = %v, GLib says %v", c.Recipe, c.Body, c.Width, got, c.Canonical)
		}
		if c.Canonical {
			v, err := Decode(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := Encode(typ, v); err != nil || !bytes.Equal(b, data) {
				t.Errorf("%s body %d width %d: re-encode differs", c.Recipe, c.Body, c.Width)
			}
		}
	})
}
