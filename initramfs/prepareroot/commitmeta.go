package prepareroot

import (
	"errors"

	"github.com/gostree/gostree/gvariant"
)

// The helper reads one value from a commit's metadata at boot. Decoding
// the whole commit with package gvariant (type parser, generic decoder)
// costs a few milliseconds under emulation, where all code runs for the
// first time; metadataValue walks the framing offsets to that one value
// instead (with gvariant.LookupVardict). It relies only on what the commit's checksum already fixed;
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
	sig, value, found, err = gvariant.LookupVardict(commit[:end], key)
	if err != nil {
		return "", nil, false, errBadCommit
	}
	return sig, value, found, nil
}
