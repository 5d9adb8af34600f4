package objstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ID is the SHA-256 checksum that names an object in a repository.
type ID [32]byte

// ParseID parses a 64-character lowercase or uppercase hexadecimal checksum.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("invalid checksum %q: want 64 hex characters, got %d", s, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid checksum %q: %w", s, err)
	}
	return id, nil
}

// IDFromBytes converts a 32-byte raw checksum, as stored inside GVariant objects.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != len(id) {
		return id, fmt.Errorf("invalid checksum: %d bytes, want 32", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// Hash returns the ID of data, the SHA-256 of its bytes.
func Hash(data []byte) ID { return ID(sha256.Sum256(data)) }

// String returns the 64-character hexadecimal form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 10 hexadecimal characters, for messages.
func (id ID) Short() string { return id.String()[:10] }

// IsZero reports whether id is all zero bytes (no object).
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
