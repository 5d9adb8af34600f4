package gvariant

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Encode serializes v as a GVariant of type t in normal form, with
// little-endian integers (GLib's serialization on little-endian hosts).
// v must have exactly the Go representation described in the package
// documentation; otherwise a *ValueError is returned. Encode never panics.
func Encode(t *Type, v any) ([]byte, error) {
	return AppendEncode(nil, t, v)
}

// AppendEncode is like Encode but appends the serialization to dst and
// returns the extended slice. Alignment is computed relative to len(dst):
// the byte at dst[len(dst)] is treated as offset 0 of the value, so the
// result is dst followed by exactly the bytes Encode would return. On
// error, dst[:len(dst)] is left unchanged (bytes past it may have been
// overwritten) and the returned slice is dst.
func AppendEncode(dst []byte, t *Type, v any) ([]byte, error) {
	if t == nil {
		return dst, &ValueError{Type: "<nil>", Reason: "nil *Type"}
	}
	if dst == nil {
		dst = make([]byte, 0, 128)
	}
	e := encoder{buf: dst, base: len(dst)}
	if err := e.value(t, v, 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// encoder holds the state of one Encode call.
type encoder struct {
	buf  []byte
	base int // index in buf of offset 0 of the outermost value
}

// pad appends zero bytes until the current offset is a multiple of align.
func (e *encoder) pad(align int) {
	for (len(e.buf)-e.base)&(align-1) != 0 {
		e.buf = append(e.buf, 0)
	}
}

// offsetSize returns the framing-offset width GLib's writer uses for a
// container whose body is body bytes long and that carries n offsets.
func offsetSize(body, n int) int {
	switch {
	case body+n <= math.MaxUint8:
		return 1
	case body+2*n <= math.MaxUint16:
		return 2
	case uint64(body)+4*uint64(n) <= math.MaxUint32:
		return 4
	}
	return 8
}

// writeOffsets appends the framing offsets offs (for a container whose body
// started at buf index start) with the minimal width. If reverse is set the
// offsets are written last-to-first (tuples).
func (e *encoder) writeOffsets(start int, offs []int, reverse bool) {
	if len(offs) == 0 {
		return
	}
	w := offsetSize(len(e.buf)-start, len(offs))
	if reverse {
		for i := len(offs) - 1; i >= 0; i-- {
			e.buf = appendOffsets(e.buf, w, offs[i])
		}
		return
	}
	e.buf = appendOffsets(e.buf, w, offs...)
}

// appendOffsets appends offs as w-byte little-endian framing offsets.
func appendOffsets(dst []byte, w int, offs ...int) []byte {
	for _, o := range offs {
		switch w {
		case 1:
			dst = append(dst, byte(o))
		case 2:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(o))
		case 4:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(o))
		default:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(o))
		}
	}
	return dst
}

func typeMismatch(t *Type, want string, v any) *ValueError {
	return valueErrorf(t, "want %s, got %T", want, v)
}

// value appends the serialization of v as type t. level is the number of
// containers enclosing the value. The caller has already aligned the
// output for t.
func (e *encoder) value(t *Type, v any, level int) error {
	switch t.kind {
	case 'y':
		x, ok := v.(uint8)
		if !ok {
			return typeMismatch(t, "uint8", v)
		}
		e.buf = append(e.buf, x)
	case 'b':
		x, ok := v.(bool)
		if !ok {
			return typeMismatch(t, "bool", v)
		}
		var b byte
		if x {
			b = 1
		}
		e.buf = append(e.buf, b)
	case 'n':
		x, ok := v.(int16)
		if !ok {
			return typeMismatch(t, "int16", v)
		}
		e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(x))
	case 'q':
		x, ok := v.(uint16)
		if !ok {
			return typeMismatch(t, "uint16", v)
		}
		e.buf = binary.LittleEndian.AppendUint16(e.buf, x)
	case 'i', 'h':
		x, ok := v.(int32)
		if !ok {
			return typeMismatch(t, "int32", v)
		}
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(x))
	case 'u':
		x, ok := v.(uint32)
		if !ok {
			return typeMismatch(t, "uint32", v)
		}
		e.buf = binary.LittleEndian.AppendUint32(e.buf, x)
	case 'x':
		x, ok := v.(int64)
		if !ok {
			return typeMismatch(t, "int64", v)
		}
		e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(x))
	case 't':
		x, ok := v.(uint64)
		if !ok {
			return typeMismatch(t, "uint64", v)
		}
		e.buf = binary.LittleEndian.AppendUint64(e.buf, x)
	case 'd':
		x, ok := v.(float64)
		if !ok {
			return typeMismatch(t, "float64", v)
		}
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(x))
	case 's', 'o', 'g':
		x, ok := v.(string)
		if !ok {
			return typeMismatch(t, "string", v)
		}
		if err := checkString(t.kind, x); err != "" {
			return valueErrorf(t, "%s", err)
		}
		e.buf = append(e.buf, x...)
		e.buf = append(e.buf, 0)
	case 'a':
		return e.array(t, v, level)
	case 'm':
		m, ok := v.(Maybe)
		if !ok {
			return typeMismatch(t, "gvariant.Maybe", v)
		}
		if !m.Valid {
			if m.Value != nil {
				return valueErrorf(t, "Maybe with Valid=false has non-nil Value %T", m.Value)
			}
			return nil
		}
		if err := e.value(t.elem, m.Value, level+1); err != nil {
			return withPath(err, ".Value")
		}
		if t.elem.size == 0 {
			e.buf = append(e.buf, 0)
		}
	case '(':
		fs, ok := v.([]any)
		if !ok {
			return typeMismatch(t, "[]any", v)
		}
		if len(fs) != len(t.fields) {
			return valueErrorf(t, "tuple has %d fields, want %d", len(fs), len(t.fields))
		}
		return e.tuple(t, fs, level)
	case '{':
		de, ok := v.(DictEntry)
		if !ok {
			return typeMismatch(t, "gvariant.DictEntry", v)
		}
		fs := [2]any{de.Key, de.Value}
		return e.tuple(t, fs[:], level)
	case 'v':
		x, ok := v.(Variant)
		if !ok {
			return typeMismatch(t, "gvariant.Variant", v)
		}
		if x.Type == nil {
			return valueErrorf(t, "Variant has nil Type")
		}
		if level+x.Type.depth >= MaxDepth {
			return valueErrorf(t, "variant nesting too deep (limit %d)", MaxDepth)
		}
		if err := e.value(x.Type, x.Value, level+1); err != nil {
			return withPath(err, "<"+x.Type.sig+">")
		}
		e.buf = append(e.buf, 0)
		e.buf = append(e.buf, x.Type.sig...)
	default:
		return valueErrorf(t, "invalid type")
	}
	return nil
}

func (e *encoder) array(t *Type, v any, level int) error {
	el := t.elem
	if el.kind == 'y' {
		b, ok := v.([]byte)
		if !ok {
			return typeMismatch(t, "[]byte", v)
		}
		e.buf = append(e.buf, b...)
		return nil
	}
	xs, ok := v.([]any)
	if !ok {
		return typeMismatch(t, "[]any", v)
	}
	if el.size > 0 {
		// Fixed-size elements: sizes are multiples of the alignment, so
		// no padding is ever needed between them.
		for i, x := range xs {
			if err := e.value(el, x, level+1); err != nil {
				return withPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	}
	start := len(e.buf)
	var small [16]int // framing offsets; on the stack for small arrays
	offs := small[:0]
	for i, x := range xs {
		e.pad(el.align)
		if err := e.value(el, x, level+1); err != nil {
			return withPath(err, "["+strconv.Itoa(i)+"]")
		}
		offs = append(offs, len(e.buf)-start)
	}
	e.writeOffsets(start, offs, false)
	return nil
}

// tuple encodes a tuple or dict entry whose member values are fs
// (len(fs) == len(t.fields)).
func (e *encoder) tuple(t *Type, fs []any, level int) error {
	start := len(e.buf)
	var small [8]int // framing offsets; on the stack for small tuples
	offs := small[:0]
	for i, f := range t.fields {
		e.pad(f.align)
		if err := e.value(f, fs[i], level+1); err != nil {
			return withPath(err, fieldSeg(t, i))
		}
		if t.ending[i] == endOffset {
			offs = append(offs, len(e.buf)-start)
		}
	}
	if t.size > 0 {
		for len(e.buf)-start < t.size {
			e.buf = append(e.buf, 0)
		}
		return nil
	}
	e.writeOffsets(start, offs, true)
	return nil
}

func fieldSeg(t *Type, i int) string {
	if t.kind == '{' {
		if i == 0 {
			return ".Key"
		}
		return ".Value"
	}
	return "." + strconv.Itoa(i)
}

// checkString validates a string for type s, o or g and returns a
// description of the problem, or "" if it is valid.
func checkString(kind byte, s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "string contains a NUL byte"
	}
	switch kind {
	case 's':
		if !utf8.ValidString(s) {
			return "string is not valid UTF-8"
		}
	case 'o':
		if !validObjectPath(s) {
			return "invalid D-Bus object path " + strconv.Quote(s)
		}
	case 'g':
		if !validSignature(s) {
			return "invalid D-Bus type signature " + strconv.Quote(s)
		}
	}
	return ""
}

// validObjectPath reports whether s is a D-Bus object path: "/" or
// "/"-separated non-empty elements of [A-Za-z0-9_], with a leading and no
// trailing "/".
func validObjectPath(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) == 1 {
		return true
	}
	if s[len(s)-1] == '/' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '/':
			if s[i-1] == '/' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validSignature reports whether s is a signature as GLib accepts for type
// "g": zero or more complete types made only of the characters
// "ybnqiuxthdvasog(){}" (so no maybe types).
func validSignature(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("ybnqiuxthdvasog(){}", s[i]) < 0 {
			return false
		}
	}
	for i := 0; i < len(s); {
		j, ok := scanType(s, i, 0)
		if !ok {
			return false
		}
		i = j
	}
	return true
}

// scanType is a non-allocating version of parseType that only checks
// syntax; it returns the index just past the complete type starting at i.
func scanType(sig string, i, containers int) (int, bool) {
	if i >= len(sig) {
		return i, false
	}
	c := sig[i]
	if basicTypes[c] != nil {
		return i + 1, true
	}
	if containers >= MaxDepth {
		return i, false
	}
	switch c {
	case 'a', 'm':
		return scanType(sig, i+1, containers+1)
	case '(':
		j := i + 1
		for {
			if j >= len(sig) {
				return j, false
			}
			if sig[j] == ')' {
				return j + 1, true
			}
			k, ok := scanType(sig, j, containers+1)
			if !ok {
				return k, false
			}
			j = k
		}
	case '{':
		j := i + 1
		if j >= len(sig) || !isBasic(sig[j]) {
			return j, false
		}
		j, ok := scanType(sig, j+1, containers+1)
		if !ok {
			return j, false
		}
		if j >= len(sig) || sig[j] != '}' {
			return j, false
		}
		return j + 1, true
	}
	return i, false
}
