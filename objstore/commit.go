package objstore

import (
	"fmt"
	"time"

	"github.com/gostree/gostree/gvariant"
)

var (
	typeCommit   = gvariant.MustParseType("(a{sv}aya(say)sstayay)")
	typeMetadata = gvariant.MustParseType("a{sv}")
)

// Metadata is an ordered a{sv} dictionary, as stored in commits and detached
// metadata. Order matters: it is part of the commit checksum.
type Metadata []MetaEntry

// MetaEntry is one key of a Metadata dictionary.
type MetaEntry struct {
	Key   string
	Value gvariant.Variant
}

// Lookup returns the first value stored under key.
func (md Metadata) Lookup(key string) (gvariant.Variant, bool) {
	for _, e := range md {
		if e.Key == key {
			return e.Value, true
		}
	}
	return gvariant.Variant{}, false
}

// String returns the string value of key, if it is an "s".
func (md Metadata) String(key string) (string, bool) {
	v, ok := md.Lookup(key)
	if !ok || v.Type.String() != "s" {
		return "", false
	}
	s, ok := v.Value.(string)
	return s, ok
}

// Set replaces the first value under key, or appends the key.
func (md *Metadata) Set(key string, v gvariant.Variant) {
	for i, e := range *md {
		if e.Key == key {
			(*md)[i].Value = v
			return
		}
	}
	*md = append(*md, MetaEntry{Key: key, Value: v})
}

func (md Metadata) value() []any {
	out := make([]any, len(md))
	for i, e := range md {
		out[i] = gvariant.DictEntry{Key: e.Key, Value: e.Value}
	}
	return out
}

// EncodeMetadata serializes md as a normal-form a{sv}.
func EncodeMetadata(md Metadata) ([]byte, error) {
	return gvariant.Encode(typeMetadata, md.value())
}

func parseMetadata(v any) (Metadata, error) {
	arr := v.([]any)
	md := make(Metadata, 0, len(arr))
	for _, e := range arr {
		de := e.(gvariant.DictEntry)
		key := de.Key.(string)
		if key == "" {
			return nil, fmt.Errorf("empty metadata key")
		}
		md = append(md, MetaEntry{Key: key, Value: de.Value.(gvariant.Variant)})
	}
	return md, nil
}

// DecodeMetadata parses an a{sv} (detached metadata).
func DecodeMetadata(data []byte) (Metadata, error) {
	v, err := gvariant.Decode(typeMetadata, data)
	if err != nil {
		return nil, fmt.Errorf("parse metadata: %w", err)
	}
	return parseMetadata(v)
}

// Commit is a COMMIT object.
type Commit struct {
	Metadata Metadata
	// Parent is the parent commit; zero when there is none.
	Parent    ID
	Subject   string
	Body      string
	Timestamp time.Time
	RootTree  ID
	RootMeta  ID
}

// HasParent reports whether the commit names a parent.
func (c *Commit) HasParent() bool { return !c.Parent.IsZero() }

// Encode serializes the commit in normal form.
func (c *Commit) Encode() ([]byte, error) {
	parent := []byte{}
	if c.HasParent() {
		parent = c.Parent[:]
	}
	ts := c.Timestamp.Unix()
	if ts < 0 {
		return nil, fmt.Errorf("encode commit: negative timestamp %d", ts)
	}
	return gvariant.Encode(typeCommit, []any{
		c.Metadata.value(), parent, []any{}, c.Subject, c.Body,
		be64(uint64(ts)), c.RootTree[:], c.RootMeta[:],
	})
}

// DecodeCommit parses and validates a COMMIT object.
func DecodeCommit(data []byte) (*Commit, error) {
	v, err := gvariant.Decode(typeCommit, data)
	if err != nil {
		return nil, fmt.Errorf("parse commit: %w", err)
	}
	t := v.([]any)
	c := &Commit{Subject: t[3].(string), Body: t[4].(string)}
	if c.Metadata, err = parseMetadata(t[0]); err != nil {
		return nil, fmt.Errorf("parse commit: %w", err)
	}
	if p := t[1].([]byte); len(p) > 0 {
		if c.Parent, err = IDFromBytes(p); err != nil {
			return nil, fmt.Errorf("parse commit: parent: %w", err)
		}
	}
	ts := be64(t[5].(uint64))
	if ts > 1<<62 {
		return nil, fmt.Errorf("parse commit: timestamp %d out of range", ts)
	}
	c.Timestamp = time.Unix(int64(ts), 0).UTC()
	if c.RootTree, err = IDFromBytes(t[6].([]byte)); err != nil {
		return nil, fmt.Errorf("parse commit: root dirtree: %w", err)
	}
	if c.RootMeta, err = IDFromBytes(t[7].([]byte)); err != nil {
		return nil, fmt.Errorf("parse commit: root dirmeta: %w", err)
	}
	return c, nil
}

// ContentsChecksum is ostree's "ContentChecksum" of a commit: the SHA-256 of
// the root dirtree and dirmeta checksums, which is equal for commits of
// identical trees.
func ContentsChecksum(c *Commit) ID {
	return Hash(append(append([]byte{}, c.RootTree[:]...), c.RootMeta[:]...))
}
