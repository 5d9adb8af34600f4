package gvariant

import (
	"fmt"
	"strconv"
)

// Maybe is the Go representation of a value of maybe type "mT".
// Valid=false is Nothing (the zero Maybe; Value must then be nil);
// Valid=true is Just(Value), where Value has the representation of T.
type Maybe struct {
	Valid bool
	Value any
}

// Just returns the Maybe holding v.
func Just(v any) Maybe { return Maybe{Valid: true, Value: v} }

// DictEntry is the Go representation of a dict entry "{KV}". A dictionary
// "a{KV}" is a []any whose elements are DictEntry values, in serialized
// order (GVariant does not sort or deduplicate keys).
type DictEntry struct {
	Key, Value any
}

// Variant is the Go representation of a value of type "v": a value
// together with its type. Type must not be nil.
type Variant struct {
	Type  *Type
	Value any
}

// NewVariant returns Variant{MustParseType(sig), v}. It panics if sig is not
// a valid type string; it does not check v (Encode does).
func NewVariant(sig string, v any) Variant {
	return Variant{Type: MustParseType(sig), Value: v}
}

// String formats the variant like GLib's g_variant_print of a "v" value,
// e.g. "<uint32 5>".
func (v Variant) String() string {
	return Print(basicTypes['v'], v)
}

// Lookup finds key in a decoded "a{sv}" dictionary (a []any of DictEntry
// with string keys and Variant values) and returns the value of the first
// entry with that key, as GLib's g_variant_lookup_value does. Entries of
// any other shape are skipped.
func Lookup(entries []any, key string) (Variant, bool) {
	for _, e := range entries {
		de, ok := e.(DictEntry)
		if !ok {
			continue
		}
		if k, ok := de.Key.(string); ok && k == key {
			if v, ok := de.Value.(Variant); ok {
				return v, true
			}
		}
	}
	return Variant{}, false
}

// FormatError reports that serialized data is not a valid normal-form
// GVariant of the expected type.
type FormatError struct {
	Type   string // type string of the (innermost) value that is malformed
	Offset int    // byte offset of that value (or of the offending byte) in the input
	Reason string // what is wrong
}

// Error implements error.
func (e *FormatError) Error() string {
	return "gvariant: data not in normal form: value of type " + e.Type +
		" at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// ValueError reports that a Go value passed to Encode does not match the
// GVariant type it is to be encoded as.
type ValueError struct {
	Type   string // type string the value was to be encoded as
	Path   string // location inside the outermost value, e.g. "[5].0" (field 0 of element 5); "" for the outermost value
	Reason string
}

// Error implements error.
func (e *ValueError) Error() string {
	where := ""
	if e.Path != "" {
		where = " at " + e.Path
	}
	return "gvariant: cannot encode value as " + e.Type + where + ": " + e.Reason
}

func valueErrorf(t *Type, format string, args ...any) *ValueError {
	return &ValueError{Type: t.sig, Reason: fmt.Sprintf(format, args...)}
}

// withPath prefixes the location segment seg to err's path (err is always a
// *ValueError produced by the encoder).
func withPath(err error, seg string) error {
	if ve, ok := err.(*ValueError); ok {
		ve.Path = seg + ve.Path
	}
	return err
}
