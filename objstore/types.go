package objstore

import "fmt"

// ObjectType is the kind of an object, with OSTree's numbering (OstreeObjectType).
type ObjectType int

// The object types. Numbers are part of OSTree's format (static deltas and
// sizes metadata carry them); changing them breaks compatibility.
const (
	TypeFile            ObjectType = 1
	TypeDirTree         ObjectType = 2
	TypeDirMeta         ObjectType = 3
	TypeCommit          ObjectType = 4
	TypeTombstoneCommit ObjectType = 5
	TypeCommitMeta      ObjectType = 6
	TypePayloadLink     ObjectType = 7
)

// String returns the name OSTree uses for the type, which is also the loose
// object file extension ("file", "dirtree", ...).
func (t ObjectType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDirTree:
		return "dirtree"
	case TypeDirMeta:
		return "dirmeta"
	case TypeCommit:
		return "commit"
	case TypeTombstoneCommit:
		return "tombstone-commit"
	case TypeCommitMeta:
		return "commitmeta"
	case TypePayloadLink:
		return "payload-link"
	}
	return fmt.Sprintf("objtype(%d)", int(t))
}

// IsMeta reports whether objects of this type are GVariant metadata stored
// identically in every repository mode.
func (t ObjectType) IsMeta() bool { return t >= TypeDirTree && t <= TypeCommitMeta }

// ParseObjectType parses a type name as printed by String.
func ParseObjectType(s string) (ObjectType, error) {
	for t := TypeFile; t <= TypePayloadLink; t++ {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown object type %q", s)
}

// ObjectName names one object: its checksum and type, printed "checksum.type"
// as ostree does.
type ObjectName struct {
	ID   ID
	Type ObjectType
}

// String returns "checksum.type".
func (n ObjectName) String() string { return n.ID.String() + "." + n.Type.String() }

// Mode is a repository mode, the value of [core] mode in the config.
type Mode string

// The repository modes ostree knows.
const (
	ModeBare         Mode = "bare"
	ModeBareUser     Mode = "bare-user"
	ModeBareUserOnly Mode = "bare-user-only"
	ModeArchive      Mode = "archive-z2"
	ModeBareSplit    Mode = "bare-split-xattrs"
)

// ParseMode accepts the mode names of `ostree init --mode`, including the
// "archive" alias for archive-z2.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "bare", "bare-user", "bare-user-only", "archive-z2":
		return Mode(s), nil
	case "archive":
		return ModeArchive, nil
	case "bare-split-xattrs":
		return "", fmt.Errorf("repository mode %q is not supported by gostree", s)
	}
	return "", fmt.Errorf("invalid repository mode %q (want bare, bare-user, bare-user-only or archive)", s)
}

// IsBare reports whether content objects are stored as plain files, readable
// and linkable without decompression.
func (m Mode) IsBare() bool { return m == ModeBare || m == ModeBareUser || m == ModeBareUserOnly }
