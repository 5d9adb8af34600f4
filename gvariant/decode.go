package gvariant

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// Decode parses data as a serialized GVariant of type t and returns its Go
// representation (see the package documentation). Decoding is strict: if
// data is not exactly the normal-form serialization of some value of type
// t, a *FormatError is returned, so Encode(t, v) reproduces data exactly
// for every successfully decoded v.
//
// Decode never panics, runs in time linear in len(data) (times at most the
// nesting depth), never recurses deeper than MaxDepth, and limits the number
// of decoded values to 2*len(data)+4096 (see the package documentation).
// Decoded strings and byte slices do not alias data.
func Decode(t *Type, data []byte) (any, error) {
	if t == nil {
		return nil, &FormatError{Type: "<nil>", Reason: "nil *Type"}
	}
	d := decoder{data: data, build: true, budget: nodeBudget(len(data))}
	v, err := d.value(t, 0, len(data), 0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// IsNormal reports whether data is the normal-form serialization of a value
// of type t, i.e. whether Decode(t, data) would succeed. It does not build
// the decoded value.
func IsNormal(t *Type, data []byte) bool {
	if t == nil {
		return false
	}
	d := decoder{data: data, budget: nodeBudget(len(data))}
	_, err := d.value(t, 0, len(data), 0)
	return err == nil
}

// nodeBudget is the maximum number of values (leaves and containers)
// decoded from n bytes. Normal data of all practical types has far fewer
// values than bytes; the limit only stops hostile inputs (typically types
// chosen inside variants, like "a((((((ay))))))" with empty elements) from
// making Decode allocate hundreds of bytes per input byte.
func nodeBudget(n int) int {
	return 2*n + 4096
}

// decoder holds the state of one Decode or IsNormal call. All positions
// are absolute indices into data; since the outermost value starts at 0
// and every value starts aligned, absolute and relative alignment agree.
type decoder struct {
	data   []byte
	build  bool // construct Go values (Decode) or only validate (IsNormal)
	budget int  // remaining number of values that may be decoded
	types  map[string]*Type
}

func (d *decoder) errorf(t *Type, off int, reason string) *FormatError {
	return &FormatError{Type: t.sig, Offset: off, Reason: reason}
}

// readOffset reads a w-byte little-endian framing offset at data[p:].
func (d *decoder) readOffset(p, w int) uint64 { return ReadFramingOffset(d.data[p : p+w]) }

// ReadFramingOffset reads the little-endian framing offset b (1, 2, 4 or 8
// bytes wide, as FramingOffsetSize gives), for code that walks serialized
// containers itself.
func ReadFramingOffset(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// readerOffsetSize is the framing offset width a reader derives from the
// total size of a container.
func readerOffsetSize(size int) int { return FramingOffsetSize(size) }

// FramingOffsetSize is the width of the framing offsets of a serialized
// container of size bytes: 1, 2, 4 or 8.
func FramingOffsetSize(size int) int {
	switch {
	case size <= math.MaxUint8:
		return 1
	case size <= math.MaxUint16:
		return 2
	case uint64(size) <= math.MaxUint32:
		return 4
	}
	return 8
}

// zeros reports whether data[from:to] is all zero bytes.
func (d *decoder) zeros(from, to int) bool {
	for _, c := range d.data[from:to] {
		if c != 0 {
			return false
		}
	}
	return true
}

// value decodes the value of type t occupying data[start:end]; level is the
// number of containers enclosing it. start is aligned for t.
func (d *decoder) value(t *Type, start, end, level int) (any, error) {
	d.budget--
	if d.budget < 0 {
		return nil, d.errorf(t, start, "too many values for the input size (limit "+strconv.Itoa(nodeBudget(len(d.data)))+")")
	}
	size := end - start
	if t.size > 0 && size != t.size {
		return nil, d.errorf(t, start, "size "+strconv.Itoa(size)+", want fixed size "+strconv.Itoa(t.size))
	}
	b := d.data[start:end]
	switch t.kind {
	case 'y':
		if !d.build {
			return nil, nil
		}
		return b[0], nil
	case 'b':
		if b[0] > 1 {
			return nil, d.errorf(t, start, "boolean byte "+strconv.Itoa(int(b[0]))+" is neither 0 nor 1")
		}
		if !d.build {
			return nil, nil
		}
		return b[0] == 1, nil
	case 'n', 'q', 'i', 'h', 'u', 'x', 't', 'd':
		if !d.build {
			return nil, nil
		}
		return fixedBasic(t.kind, b), nil
	case 's', 'o', 'g':
		return d.str(t, start, end)
	case 'a':
		if t.elem.size > 0 {
			return d.fixedArray(t, start, end, level)
		}
		return d.varArray(t, start, end, level)
	case 'm':
		if size == 0 {
			if !d.build {
				return nil, nil
			}
			return Maybe{}, nil
		}
		cend := end
		if t.elem.size == 0 {
			if b[size-1] != 0 {
				return nil, d.errorf(t, end-1, "maybe value does not end with a zero byte")
			}
			cend--
		}
		v, err := d.value(t.elem, start, cend, level+1)
		if err != nil {
			return nil, err
		}
		if !d.build {
			return nil, nil
		}
		return Maybe{Valid: true, Value: v}, nil
	case '(', '{':
		return d.tuple(t, start, end, level)
	case 'v':
		return d.variant(t, start, end, level)
	}
	return nil, d.errorf(t, start, "invalid type")
}

// fixedBasic decodes a numeric fixed-size basic value from b (len(b) is
// the type's size).
func fixedBasic(kind byte, b []byte) any {
	switch kind {
	case 'n':
		return int16(binary.LittleEndian.Uint16(b))
	case 'q':
		return binary.LittleEndian.Uint16(b)
	case 'i', 'h':
		return int32(binary.LittleEndian.Uint32(b))
	case 'u':
		return binary.LittleEndian.Uint32(b)
	case 'x':
		return int64(binary.LittleEndian.Uint64(b))
	case 't':
		return binary.LittleEndian.Uint64(b)
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

func (d *decoder) str(t *Type, start, end int) (any, error) {
	size := end - start
	if size == 0 {
		return nil, d.errorf(t, start, "empty data (a string needs at least its NUL terminator)")
	}
	b := d.data[start : end-1]
	if d.data[end-1] != 0 {
		return nil, d.errorf(t, end-1, "string is not NUL-terminated")
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return nil, d.errorf(t, start+i, "string contains an interior NUL byte")
	}
	switch t.kind {
	case 's':
		if !utf8.Valid(b) {
			return nil, d.errorf(t, start, "string is not valid UTF-8")
		}
	case 'o':
		if !validObjectPath(string(b)) {
			return nil, d.errorf(t, start, "invalid object path "+strconv.Quote(string(b)))
		}
	case 'g':
		if !validSignature(string(b)) {
			return nil, d.errorf(t, start, "invalid signature "+strconv.Quote(string(b)))
		}
	}
	if !d.build {
		return nil, nil
	}
	return string(b), nil
}

func (d *decoder) fixedArray(t *Type, start, end, level int) (any, error) {
	el := t.elem
	size := end - start
	if size%el.size != 0 {
		return nil, d.errorf(t, start, "size "+strconv.Itoa(size)+" is not a multiple of the element size "+strconv.Itoa(el.size))
	}
	if el.kind == 'y' {
		if !d.build {
			return nil, nil
		}
		return bytes.Clone(d.data[start:end:end]), nil
	}
	n := size / el.size
	if n > d.budget {
		return nil, d.errorf(t, start, "too many values for the input size")
	}
	switch el.kind {
	case 'n', 'q', 'i', 'h', 'u', 'x', 't', 'd':
		// Fast path: every bit pattern of these types is normal.
		d.budget -= n
		if !d.build {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			p := start + i*el.size
			out[i] = fixedBasic(el.kind, d.data[p:p+el.size])
		}
		return out, nil
	}
	var out []any
	if d.build {
		out = make([]any, n)
	}
	for i := 0; i < n; i++ {
		p := start + i*el.size
		v, err := d.value(el, p, p+el.size, level+1)
		if err != nil {
			return nil, err
		}
		if d.build {
			out[i] = v
		}
	}
	if !d.build {
		return nil, nil
	}
	return out, nil
}

func (d *decoder) varArray(t *Type, start, end, level int) (any, error) {
	el := t.elem
	size := end - start
	if size == 0 {
		if !d.build {
			return nil, nil
		}
		return []any{}, nil
	}
	w := readerOffsetSize(size)
	if size < w {
		return nil, d.errorf(t, start, "too short for its framing offset")
	}
	last := d.readOffset(end-w, w)
	if last > uint64(size-w) {
		return nil, d.errorf(t, end-w, "last framing offset "+strconv.FormatUint(last, 10)+" out of range")
	}
	tableLen := size - int(last)
	if tableLen%w != 0 {
		return nil, d.errorf(t, start+int(last), "framing offset table size "+strconv.Itoa(tableLen)+" is not a multiple of "+strconv.Itoa(w))
	}
	n := tableLen / w
	if offsetSize(int(last), n) != w {
		return nil, d.errorf(t, start+int(last), "framing offsets are "+strconv.Itoa(w)+" bytes wide, normal form uses "+strconv.Itoa(offsetSize(int(last), n)))
	}
	if n > d.budget {
		// Each element costs at least one value; fail before allocating.
		return nil, d.errorf(t, start, "too many values for the input size")
	}
	var out []any
	if d.build {
		out = make([]any, n)
	}
	table := start + int(last)
	prev := 0 // end of the previous element, relative to start
	for i := 0; i < n; i++ {
		o := d.readOffset(table+i*w, w)
		if o > last {
			return nil, d.errorf(t, table+i*w, "framing offset "+strconv.FormatUint(o, 10)+" out of range")
		}
		e := int(o)
		s := roundUp(prev, el.align)
		if s > e {
			return nil, d.errorf(t, table+i*w, "framing offset "+strconv.Itoa(e)+" is before the element start "+strconv.Itoa(s))
		}
		if !d.zeros(start+prev, start+s) {
			return nil, d.errorf(t, start+prev, "non-zero padding")
		}
		v, err := d.value(el, start+s, start+e, level+1)
		if err != nil {
			return nil, err
		}
		if d.build {
			out[i] = v
		}
		prev = e
	}
	if !d.build {
		return nil, nil
	}
	return out, nil
}

func (d *decoder) tuple(t *Type, start, end, level int) (any, error) {
	size := end - start
	w := 0
	if t.nOffsets > 0 {
		w = readerOffsetSize(size)
		// The width a reader derives from the total size must be the one
		// the writer picked for this body size.
		if body := size - w*t.nOffsets; body >= 0 && offsetSize(body, t.nOffsets) != w {
			return nil, d.errorf(t, start+body, "framing offsets are "+strconv.Itoa(w)+" bytes wide, normal form uses "+strconv.Itoa(offsetSize(body, t.nOffsets)))
		}
	}
	var out []any
	if d.build {
		out = make([]any, len(t.fields))
	}
	tableStart := end // the offset table occupies data[tableStart:end]
	pos := start
	for i, f := range t.fields {
		s := roundUp(pos, f.align)
		if s > tableStart {
			return nil, d.errorf(t, pos, "member "+strconv.Itoa(i)+" starts past the end of the data")
		}
		if !d.zeros(pos, s) {
			return nil, d.errorf(t, pos, "non-zero padding")
		}
		var e int
		switch t.ending[i] {
		case endFixed:
			e = s + f.size
		case endLast:
			e = tableStart
		default:
			if tableStart-w < s {
				return nil, d.errorf(t, start, "too short for its framing offsets")
			}
			tableStart -= w
			o := d.readOffset(tableStart, w)
			if o > uint64(tableStart-start) {
				return nil, d.errorf(t, tableStart, "framing offset "+strconv.FormatUint(o, 10)+" out of range")
			}
			e = start + int(o)
		}
		if e < s || e > tableStart {
			return nil, d.errorf(t, s, "member "+strconv.Itoa(i)+" has invalid bounds")
		}
		v, err := d.value(f, s, e, level+1)
		if err != nil {
			return nil, err
		}
		if d.build {
			out[i] = v
		}
		pos = e
	}
	if t.size > 0 {
		// Fixed-size tuple: the size was checked by the caller; the rest
		// is trailing padding (or the single byte of "()").
		if !d.zeros(pos, end) {
			return nil, d.errorf(t, pos, "non-zero padding")
		}
	} else if pos != tableStart {
		return nil, d.errorf(t, pos, "unused bytes between the last member and the framing offsets")
	}
	if !d.build {
		return nil, nil
	}
	if t.kind == '{' {
		return DictEntry{Key: out[0], Value: out[1]}, nil
	}
	return out, nil
}

func (d *decoder) variant(t *Type, start, end, level int) (any, error) {
	b := d.data[start:end]
	nul := bytes.LastIndexByte(b, 0)
	if nul < 0 {
		return nil, d.errorf(t, start, "no zero byte separating the value from its type string")
	}
	ct, err := d.parseType(b[nul+1:])
	if err != nil {
		return nil, d.errorf(t, start+nul+1, "invalid type string "+strconv.Quote(string(b[nul+1:]))+": "+err.Error())
	}
	if level+ct.depth >= MaxDepth {
		return nil, d.errorf(t, start+nul+1, "variant nesting too deep (limit "+strconv.Itoa(MaxDepth)+")")
	}
	v, err := d.value(ct, start, start+nul, level+1)
	if err != nil {
		return nil, err
	}
	if !d.build {
		return nil, nil
	}
	return Variant{Type: ct, Value: v}, nil
}

// parseType parses a variant's type string, reusing earlier results within
// this call so that arrays of variants do not re-parse the same types.
func (d *decoder) parseType(b []byte) (*Type, error) {
	if len(b) == 1 {
		if t := basicTypes[b[0]]; t != nil {
			return t, nil
		}
	}
	if t, ok := d.types[string(b)]; ok {
		return t, nil
	}
	t, err := parseWhole(string(b))
	if err != nil {
		return nil, err
	}
	if d.types == nil {
		d.types = make(map[string]*Type)
	}
	d.types[t.sig] = t
	return t, nil
}
