package gvariant

import (
	"bytes"
	"errors"
)

// The a{sv} dictionary ("vardict") is GLib's and ostree's metadata
// container. LookupVardict and AppendVardict read and write one without the
// type parser or the generic codec, for code that runs once where every
// new code path is costly (an initramfs under emulation). Both agree with
// Decode and Encode (FuzzLookupVardict, TestAppendVardict).

// ErrVardictFraming is returned by LookupVardict for framing offsets that
// do not fit the data.
var ErrVardictFraming = errors.New("gvariant: malformed a{sv} framing")

// LookupVardict returns the type string and serialized value of the first
// entry with key in data, a serialized a{sv}; found is false when no entry
// has it. The value aliases data. Only the framing on the way to the entry
// is checked, not the normal form of the whole dictionary.
func LookupVardict(data []byte, key string) (sig string, value []byte, found bool, err error) {
	size := len(data)
	if size == 0 {
		return "", nil, false, nil
	}
	w := FramingOffsetSize(size)
	if size < w {
		return "", nil, false, ErrVardictFraming
	}
	table := ReadFramingOffset(data[size-w:])
	if table > uint64(size-w) || (uint64(size)-table)%uint64(w) != 0 {
		return "", nil, false, ErrVardictFraming
	}
	prev := uint64(0)
	for p := int(table); p < size; p += w {
		e := ReadFramingOffset(data[p : p+w])
		s := (prev + 7) &^ 7 // dict entries {sv} are 8-aligned
		if s > e || e > table {
			return "", nil, false, ErrVardictFraming
		}
		prev = e
		k, v, ok := splitVardictEntry(data[s:e])
		if !ok {
			return "", nil, false, ErrVardictFraming
		}
		if string(k) != key {
			continue
		}
		// v is a variant: the value, a zero byte, the type string.
		nul := bytes.LastIndexByte(v, 0)
		if nul < 0 {
			return "", nil, false, ErrVardictFraming
		}
		return string(v[nul+1:]), v[:nul], true, nil
	}
	return "", nil, false, nil
}

// splitVardictEntry splits a serialized {sv} into its key (without the
// terminating zero byte) and its variant.
func splitVardictEntry(e []byte) (key, variant []byte, ok bool) {
	w := FramingOffsetSize(len(e))
	if len(e) < w {
		return nil, nil, false
	}
	body := len(e) - w
	kend := ReadFramingOffset(e[body:])
	if kend == 0 || kend > uint64(body) || e[kend-1] != 0 {
		return nil, nil, false
	}
	vstart := (kend + 7) &^ 7
	if vstart > uint64(body) {
		return nil, nil, false
	}
	return e[:kend-1], e[vstart:body], true
}

// VardictEntry is one entry for AppendVardict: a key, and its value's type
// string and serialization (as Encode gives it for that type).
type VardictEntry struct {
	Key, Sig string
	Value    []byte
}

// AppendVardict appends the serialization of an a{sv} holding entries, in
// order, to dst, which must end at an 8-byte aligned position of the
// serialization being built (the start of a buffer is).
func AppendVardict(dst []byte, entries []VardictEntry) []byte {
	start := len(dst)
	ends := make([]int, 0, len(entries))
	for _, e := range entries {
		for (len(dst)-start)%8 != 0 {
			dst = append(dst, 0)
		}
		es := len(dst)
		dst = append(append(dst, e.Key...), 0)
		kend := len(dst) - es
		for (len(dst)-es)%8 != 0 {
			dst = append(dst, 0)
		}
		dst = append(append(append(dst, e.Value...), 0), e.Sig...)
		dst = appendOffsets(dst, offsetSize(len(dst)-es, 1), kend)
		ends = append(ends, len(dst)-start)
	}
	if len(ends) == 0 {
		return dst
	}
	return appendOffsets(dst, offsetSize(len(dst)-start, len(ends)), ends...)
}
