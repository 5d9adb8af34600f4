package gvariant

import (
	"fmt"
)

// MaxDepth is the maximum container nesting accepted by this package. It
// mirrors GLib's G_VARIANT_MAX_RECURSION_DEPTH:
//
//   - ParseType rejects type strings with more than MaxDepth nested
//     containers (arrays, maybes, tuples, dict entries), as GLib does.
//   - A variant whose payload type has depth D (containers on the deepest
//     path plus one for the leaf) and that is itself enclosed by L
//     containers is accepted only if L+D < MaxDepth. This is exactly GLib's
//     g_variant_is_normal_form rule and bounds recursion on hostile input.
//
// Encode applies the same rule, so it can never produce data Decode
// rejects (and cyclic Go values fail instead of recursing forever).
const MaxDepth = 128

// Type is a parsed GVariant type string, for example "a{sv}" or
// "(uuuusa(ayay))". Only definite types are supported (no "*", "?" or "r").
// A Type is immutable and safe for concurrent use. Types with the same
// String are interchangeable; compare types with Equal or by String.
type Type struct {
	sig    string
	kind   byte
	elem   *Type   // 'a', 'm'
	fields []*Type // '(', '{'
	align  int     // 1, 2, 4 or 8
	size   int     // fixed size; 0 for variable-size types
	depth  int     // GLib depth: containers on the deepest path + 1
	// Tuple layout (kind '(' or '{'): ending[i] tells how member i's end is
	// found: endFixed, endLast or endOffset. nOffsets is the number of
	// framing offsets the tuple carries.
	ending   []uint8
	nOffsets int
}

const (
	endFixed  = iota // member is fixed-size: end = start + size
	endLast          // last member, variable-size: ends where the offset table starts
	endOffset        // variable-size, not last: end is stored in the offset table
)

// basicTypes holds the shared, immutable Type values for single-character
// types. It is built once at package initialisation and never modified.
var basicTypes = func() (tab [256]*Type) {
	for _, c := range []struct {
		k     byte
		align int
		size  int
	}{
		{'y', 1, 1}, {'b', 1, 1}, {'n', 2, 2}, {'q', 2, 2}, {'i', 4, 4},
		{'u', 4, 4}, {'h', 4, 4}, {'x', 8, 8}, {'t', 8, 8}, {'d', 8, 8},
		{'s', 1, 0}, {'o', 1, 0}, {'g', 1, 0}, {'v', 8, 0},
	} {
		tab[c.k] = &Type{sig: string([]byte{c.k}), kind: c.k, align: c.align, size: c.size, depth: 1}
	}
	return tab
}()

// isBasic reports whether c is a basic type code (allowed as dict entry key).
func isBasic(c byte) bool {
	switch c {
	case 'y', 'b', 'n', 'q', 'i', 'u', 'h', 'x', 't', 'd', 's', 'o', 'g':
		return true
	}
	return false
}

// ParseType parses a GVariant type string. The whole string must be exactly
// one complete definite type; otherwise an error describing the problem is
// returned. Dict entry types ("{sv}") are accepted anywhere, as in GLib,
// but their key must be a basic type.
func ParseType(sig string) (*Type, error) {
	t, err := parseWhole(sig)
	if err != nil {
		return nil, fmt.Errorf("gvariant: invalid type string %q: %w", sig, err)
	}
	return t, nil
}

// parseWhole parses sig, which must be exactly one complete type.
func parseWhole(sig string) (*Type, error) {
	if len(sig) == 1 {
		if t := basicTypes[sig[0]]; t != nil {
			return t, nil
		}
	}
	t, n, err := parseType(sig, 0, 0)
	if err != nil {
		return nil, err
	}
	if n != len(sig) {
		return nil, fmt.Errorf("trailing characters after complete type at offset %d", n)
	}
	return t, nil
}

// MustParseType is like ParseType but panics if sig is invalid. It is meant
// for package-level variables holding constant type strings.
func MustParseType(sig string) *Type {
	t, err := ParseType(sig)
	if err != nil {
		panic(err)
	}
	return t
}

// parseType parses one complete type starting at sig[i]; containers is the
// number of containers enclosing it. It returns the type and the index just
// past it.
func parseType(sig string, i, containers int) (*Type, int, error) {
	if i >= len(sig) {
		return nil, i, fmt.Errorf("unexpected end at offset %d", i)
	}
	c := sig[i]
	if t := basicTypes[c]; t != nil {
		return t, i + 1, nil
	}
	switch c {
	case 'a', 'm', '(', '{':
	default:
		return nil, i, fmt.Errorf("unexpected character %q at offset %d", c, i)
	}
	if containers >= MaxDepth {
		return nil, i, fmt.Errorf("nesting deeper than %d containers at offset %d", MaxDepth, i)
	}
	switch c {
	case 'a', 'm':
		e, j, err := parseType(sig, i+1, containers+1)
		if err != nil {
			return nil, j, err
		}
		return &Type{sig: sig[i:j], kind: c, elem: e, align: e.align, depth: e.depth + 1}, j, nil
	}
	// Tuple or dict entry.
	closer := byte(')')
	if c == '{' {
		closer = '}'
	}
	var fields []*Type
	j := i + 1
	for {
		if j >= len(sig) {
			return nil, j, fmt.Errorf("unexpected end at offset %d: missing %q", j, closer)
		}
		if sig[j] == closer {
			j++
			break
		}
		if c == '{' {
			switch len(fields) {
			case 0:
				if !isBasic(sig[j]) {
					return nil, j, fmt.Errorf("dict entry key at offset %d must be a basic type, not %q", j, sig[j])
				}
			case 2:
				return nil, j, fmt.Errorf("dict entry at offset %d has more than two members", i)
			}
		}
		f, k, err := parseType(sig, j, containers+1)
		if err != nil {
			return nil, k, err
		}
		fields = append(fields, f)
		j = k
	}
	if c == '{' && len(fields) != 2 {
		return nil, j, fmt.Errorf("dict entry at offset %d must have exactly two members", i)
	}
	return newTuple(sig[i:j], c, fields), j, nil
}

// newTuple computes the layout of a tuple or dict entry type.
func newTuple(sig string, kind byte, fields []*Type) *Type {
	t := &Type{sig: sig, kind: kind, fields: fields, align: 1, depth: 1}
	t.ending = make([]uint8, len(fields))
	fixed := true
	off := 0
	for i, f := range fields {
		if f.align > t.align {
			t.align = f.align
		}
		if f.depth+1 > t.depth {
			t.depth = f.depth + 1
		}
		switch {
		case f.size > 0:
			t.ending[i] = endFixed
			off = roundUp(off, f.align) + f.size
		case i == len(fields)-1:
			t.ending[i] = endLast
			fixed = false
		default:
			t.ending[i] = endOffset
			t.nOffsets++
			fixed = false
		}
	}
	if fixed {
		if len(fields) == 0 {
			t.size = 1 // the unit type "()" is one zero byte
		} else {
			t.size = roundUp(off, t.align)
		}
	}
	return t
}

func roundUp(x, align int) int { return (x + align - 1) &^ (align - 1) }

// String returns the type string, e.g. "a{sv}".
func (t *Type) String() string { return t.sig }

// Kind returns the first character of the type string, which identifies
// the kind of type: one of 'y','b','n','q','i','u','x','t','h','d','s','o',
// 'g','a','m','(','{','v'.
func (t *Type) Kind() byte { return t.kind }

// Elem returns the element type of an array ('a') or maybe ('m') type, and
// nil for all other types.
func (t *Type) Elem() *Type { return t.elem }

// Fields returns the member types of a tuple ('(') or dict entry ('{')
// type, in order; nil for other types. The returned slice is a fresh copy.
func (t *Type) Fields() []*Type {
	if t.fields == nil {
		return nil
	}
	return append([]*Type(nil), t.fields...)
}

// NumFields returns the number of members of a tuple or dict entry type
// (0 for other types).
func (t *Type) NumFields() int { return len(t.fields) }

// Field returns member i of a tuple or dict entry type. It panics if i is
// out of range.
func (t *Type) Field(i int) *Type { return t.fields[i] }

// Alignment returns the serialization alignment of the type in bytes
// (1, 2, 4 or 8).
func (t *Type) Alignment() int { return t.align }

// FixedSize returns the serialized size of a fixed-size type with ok=true,
// or (0, false) for variable-size types (strings, arrays, maybes, variants
// and tuples containing any of those).
func (t *Type) FixedSize() (size int, ok bool) { return t.size, t.size > 0 }

// Equal reports whether t and u denote the same type.
func (t *Type) Equal(u *Type) bool {
	if t == nil || u == nil {
		return t == u
	}
	return t == u || t.sig == u.sig
}
