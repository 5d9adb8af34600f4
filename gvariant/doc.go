// Package gvariant implements the GVariant binary serialization format used
// by GLib and by OSTree for its metadata objects (commits, dirtrees,
// dirmeta, file headers, summaries, static deltas).
//
// # Types and Go values
//
// A *Type is a parsed type string (ParseType, MustParseType). Values are
// represented without reflection by these Go types, which Decode produces
// and Encode accepts (exactly; no conversions are made):
//
//	y uint8     b bool      n int16     q uint16
//	i int32     u uint32    x int64     t uint64
//	h int32     d float64   s, o, g string
//	ay          []byte (byte arrays are special-cased)
//	aT          []any, one element per array element
//	mT          Maybe
//	(T1...Tn)   []any of length n ("()" is []any{})
//	{KV}        DictEntry (so a{sv} is a []any of DictEntry)
//	v           Variant (a *Type plus a value)
//
// # Encoding rules in brief
//
// Every value is aligned (relative to the start of the outermost value) to
// its type's alignment: the size of fixed basic types, the largest member
// alignment for tuples and dict entries, the element alignment for arrays
// and maybes, 8 for variants, 1 for strings. Padding bytes are zero.
// Integers are little-endian (GLib uses host order; OSTree pre-swaps the
// fields it stores big-endian, and callers of this package must do the
// same).
//
//   - Strings are their bytes plus a NUL.
//   - A maybe is empty for Nothing; Just(v) is v, followed by a zero byte
//     if the element type is variable-size.
//   - Arrays of fixed-size elements are the concatenated elements. Arrays
//     of variable-size elements are the (aligned) elements followed by a
//     table with the end offset of every element.
//   - Tuples are their (aligned) members; the end offsets of all
//     variable-size members except the last are appended in reverse order.
//     Fixed-size tuples are padded to a multiple of their alignment and
//     carry no offsets; "()" is a single zero byte.
//   - A variant is its value, a zero byte and the value's type string.
//   - Framing offsets are little-endian and 1, 2, 4 or 8 bytes wide: the
//     smallest width w such that body+w*count fits in w bytes. A reader
//     derives w from the container's total size.
//
// # Normal form and invariants
//
// Encode always produces normal form, byte-identical to GLib's
// serialization of the same value. Decode accepts only normal form (as
// g_variant_is_normal_form, which libostree requires) and returns a
// *FormatError otherwise: non-zero padding, wrong fixed sizes, framing
// offsets out of range, out of order or wider than the writer's minimal
// width, unused bytes, booleans other than 0/1, strings without
// terminating NUL or with interior NULs, invalid UTF-8 in "s", invalid
// object paths and signatures, and variants whose type string is not one
// complete type or whose value is not itself normal. Hence for any data,
// if Decode(t, data) returns v then Encode(t, v) returns data again, and
// IsNormal(t, data) reports exactly whether Decode would succeed.
//
// Differences from g_variant_is_normal_form (checked against GLib 2.74 on
// over 100,000 random and mutated serializations): GLib also accepts a
// tuple that needs framing offsets but occupies zero bytes (for example ""
// as "(ayay)"), which its own serializer never writes (it writes "\x00").
// Decode rejects such data, keeping the round-trip guarantee. It also
// rejects pathological data exceeding the value-count limit below.
//
// Decode is safe on hostile input: it never panics, works in time linear
// in the input size (times at most the nesting depth), limits nesting as
// described at MaxDepth (like GLib), and refuses to produce more than
// 2*len(data)+4096 Go values, so that types chosen by an attacker inside
// variants (such as "a((((ay))))" with many empty elements) cannot make it
// allocate far more memory than the input size. Ordinary data is nowhere
// near this limit (OSTree objects have far fewer values than bytes).
//
// Dictionaries are not sorted or deduplicated; Lookup returns the first
// entry with a given key, like GLib.
//
// # Text form
//
// Print renders a value like g_variant_print(value, FALSE), for display
// and debugging. Parse and ParseAs read the text format back as
// g_variant_parse does, inferring types where the text leaves them open
// (checked against GLib 2.74 on the texts of testdata/parse.jsonl).
//
// # Concurrency
//
// The package has no mutable global state; all functions and methods are
// safe for concurrent use. *Type values are immutable and may be shared.
package gvariant
