package prepareroot

import (
	"bytes"
	"errors"

	"github.com/gostree/gostree/gvariant"
)

// The helper reads one value from a commit's metadata at boot. Decoding
// the whole commit with package gvariant (type parser, generic decoder)
// costs a few milliseconds under emulation, where all code runs for the
// first time; metadataValue walks the framing offsets to that one value
// instead. It relies only on what the commit's checksum already fixed;
// FuzzMetadataValue checks it against gvariant.Decode.

var errBadCommit = errors.New("malformed commit object")

// metadataValue returns the type string and the serialized value of key
// in the metadata (the first member, an a{sv}) of a serialized commit
// (a{sv}aya(say)sstayay). found is false when the key is absent; the
// first entry with the key wins, as in GLib.
func metadataValue(commit []byte, key string) (sig string, value []byte, found bool, err error) {
	size := len(commit)
	w := gvariant.FramingOffsetSize(size)
	// Six variable-sized members before the last have framing offsets,
	// stored last to first at the end: the metadata's end is the last word.
	if size < 6*w {
		return "", nil, false, errBadCommit
	}
	end := gvariant.ReadFramingOffset(commit[size-w:])
	if end > uint64(size-6*w) {
		return "", nil, false, errBadCommit
	}
	return vardictValue(commit[:end], key)
}

// vardictValue looks key up in a serialized a{sv}.
func vardictValue(dict []byte, key string) (sig string, value []byte, found bool, err error) {
	size := len(dict)
	if size == 0 {
		return "", nil, false, nil
	}
	w := gvariant.FramingOffsetSize(size)
	if size < w {
		return "", nil, false, errBadCommit
	}
	table := gvariant.ReadFramingOffset(dict[size-w:])
	if table > uint64(size-w) || (uint64(size)-table)%uint64(w) != 0 {
		return "", nil, false, errBadCommit
	}
	prev := uint64(0)
	for p := int(table); p < size; p += w {
		e := gvariant.ReadFramingOffset(dict[p:][:w])
		s := (prev + 7) &^ 7 // dict entries {sv} are 8-aligned
		if s > e || e > table {
			return "", nil, false, errBadCommit
		}
		prev = e
		k, v, ok := splitEntry(dict[s:e])
		if !ok {
			return "", nil, false, errBadCommit
		}
		if string(k) != key {
			continue
		}
		// v is a variant: the value, a zero byte, the type string.
		nul := bytes.LastIndexByte(v, 0)
		if nul < 0 {
			return "", nil, false, errBadCommit
		}
		return string(v[nul+1:]), v[:nul], true, nil
	}
	return "", nil, false, nil
}

// splitEntry splits a serialized {sv} into its key (without the
// terminating zero byte) and its variant.
func splitEntry(e []byte) (key, variant []byte, ok bool) {
	w := gvariant.FramingOffsetSize(len(e))
	if len(e) < w {
		return nil, nil, false
	}
	body := len(e) - w
	kend := gvariant.ReadFramingOffset(e[body:])
	if kend == 0 || kend > uint64(body) || e[kend-1] != 0 {
		return nil, nil, false
	}
	vstart := (kend + 7) &^ 7
	if vstart > uint64(body) {
		return nil, nil, false
	}
	return e[:kend-1], e[vstart:body], true
}
