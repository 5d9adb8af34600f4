package fsverity

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gostree/gostree/internal/sha256x2"
)

// Digest is the SHA-256, 4096-byte-block, unsalted fs-verity file digest:
// the digest ostree and composefs use and FS_IOC_MEASURE_VERITY reports for
// files enabled with default Params.
type Digest [32]byte

// Sum returns the fs-verity digest of data with default Params.
func Sum(data []byte) Digest {
	if len(data) <= DefaultBlockSize && sha256x2.Fast() {
		// One block: its zero-padded hash is the root; nothing to allocate.
		var root [32]byte
		if len(data) > 0 {
			sha256x2.BlockSums(root[:], data, DefaultBlockSize, nil)
		}
		var d Digest
		c, _ := resolve(nil)
		c.fileDigest(d[:], root[:], int64(len(data)))
		return d
	}
	h, _ := New(nil) // default params are always valid
	h.Write(data)
	return h.Digest()
}

// ParseDigest parses 64 hex digits, optionally prefixed by "sha256:" as
// printed by `fsverity digest`.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	h := strings.TrimPrefix(s, "sha256:")
	if len(h) != 2*len(d) {
		return Digest{}, fmt.Errorf("parse fs-verity digest %q: want %d hex digits, got %d", s, 2*len(d), len(h))
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return Digest{}, fmt.Errorf("parse fs-verity digest %q: %w", s, err)
	}
	return d, nil
}

// String returns the digest as 64 lower-case hex digits.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Short returns the first 12 hex digits, for log messages.
func (d Digest) Short() string { return hex.EncodeToString(d[:6]) }

// IsZero reports whether d is all zeros (the "no digest" value).
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText implements encoding.TextMarshaler (64 hex digits).
func (d Digest) MarshalText() ([]byte, error) {
	b := make([]byte, 2*len(d))
	hex.Encode(b, d[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParseDigest accepts.
func (d *Digest) UnmarshalText(b []byte) error {
	x, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = x
	return nil
}
