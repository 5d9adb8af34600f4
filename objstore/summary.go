package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gostree/gostree/gvariant"
)

// Keys of a summary's additional metadata and of its per-ref metadata, as
// ostree writes and reads them. They are part of the wire format.
const (
	SummaryKeyMode             = "ostree.summary.mode"
	SummaryKeyLastModified     = "ostree.summary.last-modified"
	SummaryKeyExpires          = "ostree.summary.expires"
	SummaryKeyTombstoneCommits = "ostree.summary.tombstone-commits"
	SummaryKeyIndexedDeltas    = "ostree.summary.indexed-deltas"
	SummaryKeyStaticDeltas     = "ostree.static-deltas"
	SummaryKeyCollectionID     = "ostree.summary.collection-id"
	SummaryKeyCollectionMap    = "ostree.summary.collection-map"

	SummaryRefKeyTimestamp = "ostree.commit.timestamp"
	SummaryRefKeyVersion   = "ostree.commit.version"
)

// SummaryPath is the summary file, relative to the repository; SummarySigPath
// holds its signatures.
const (
	SummaryPath    = "summary"
	SummarySigPath = "summary.sig"
)

var (
	typeSummary     = gvariant.MustParseType("(a(s(taya{sv}))a{sv})")
	typeSummaryRefs = gvariant.MustParseType("a(s(taya{sv}))")
	typeCollMap     = gvariant.MustParseType("a{sa(s(taya{sv}))}")
)

// Summary is a repository's summary file: every local ref with its commit,
// and repository-wide metadata, so that a client learns all refs with one
// request. Its format is (a(s(taya{sv}))a{sv}).
type Summary struct {
	// Refs are sorted by name (strcmp order), without duplicates.
	Refs []SummaryRef
	// Metadata is the additional metadata (ostree.summary.* keys and any
	// the publisher added), in file order.
	Metadata Metadata
}

// SummaryRef is one ref of a summary.
type SummaryRef struct {
	Name   string
	Commit ID
	// CommitSize is the size of the .commit object. ostree stores it in host
	// (little-endian) order, unlike every other integer in OSTree data.
	CommitSize uint64
	// Metadata holds ostree.commit.timestamp and ostree.commit.version.
	Metadata Metadata
}

// Timestamp returns the commit time recorded for the ref, if any.
func (r SummaryRef) Timestamp() (time.Time, bool) {
	v, ok := r.Metadata.Lookup(SummaryRefKeyTimestamp)
	if !ok {
		return time.Time{}, false
	}
	return beTime(v)
}

// beTime converts a big-endian "t" variant holding Unix seconds.
func beTime(v gvariant.Variant) (time.Time, bool) {
	ts, ok := v.Value.(uint64)
	if !ok || be64(ts) > 1<<62 {
		return time.Time{}, false
	}
	return time.Unix(int64(be64(ts)), 0).UTC(), true
}

// Version returns the commit's version string recorded for the ref, if any.
func (r SummaryRef) Version() (string, bool) { return r.Metadata.String(SummaryRefKeyVersion) }

// Lookup returns the entry for ref.
func (s *Summary) Lookup(ref string) (SummaryRef, bool) {
	i, ok := slices.BinarySearchFunc(s.Refs, ref, func(e SummaryRef, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return SummaryRef{}, false
	}
	return s.Refs[i], true
}

// Mode returns the repository mode the summary declares
// (ostree.summary.mode), or "" when it declares none.
func (s *Summary) Mode() (Mode, error) {
	v, ok := s.Metadata.String(SummaryKeyMode)
	if !ok {
		return "", nil
	}
	return ParseMode(v)
}

// LastModified returns ostree.summary.last-modified.
func (s *Summary) LastModified() (time.Time, bool) { return s.timeKey(SummaryKeyLastModified) }

// Expires returns ostree.summary.expires.
func (s *Summary) Expires() (time.Time, bool) { return s.timeKey(SummaryKeyExpires) }

func (s *Summary) timeKey(key string) (time.Time, bool) {
	v, ok := s.Metadata.Lookup(key)
	if !ok {
		return time.Time{}, false
	}
	return beTime(v)
}

// CollectionID returns ostree.summary.collection-id, or "".
func (s *Summary) CollectionID() string {
	v, _ := s.Metadata.String(SummaryKeyCollectionID)
	return v
}

// CollectionRefs returns the refs of other collections
// (ostree.summary.collection-map), by collection ID.
func (s *Summary) CollectionRefs() (map[string][]SummaryRef, error) {
	v, ok := s.Metadata.Lookup(SummaryKeyCollectionMap)
	if !ok {
		return nil, nil
	}
	if !v.Type.Equal(typeCollMap) {
		return nil, fmt.Errorf("summary: %s has type %s, want %s", SummaryKeyCollectionMap, v.Type, typeCollMap)
	}
	out := map[string][]SummaryRef{}
	for _, e := range v.Value.([]any) {
		de := e.(gvariant.DictEntry)
		refs, err := parseSummaryRefs(de.Value)
		if err != nil {
			return nil, fmt.Errorf("summary: collection %q: %w", de.Key, err)
		}
		out[de.Key.(string)] = refs
	}
	return out, nil
}

// DecodeSummary parses and validates a summary: normal form, valid and
// sorted ref names, 32-byte checksums, and well-typed standard keys.
func DecodeSummary(data []byte) (*Summary, error) {
	v, err := gvariant.Decode(typeSummary, data)
	if err != nil {
		return nil, fmt.Errorf("parse summary: %w", err)
	}
	t := v.([]any)
	s := &Summary{}
	if s.Refs, err = parseSummaryRefs(t[0]); err != nil {
		return nil, fmt.Errorf("parse summary: %w", err)
	}
	if s.Metadata, err = parseMetadata(t[1]); err != nil {
		return nil, fmt.Errorf("parse summary: %w", err)
	}
	want := map[string]string{
		SummaryKeyMode: "s", SummaryKeyLastModified: "t", SummaryKeyExpires: "t",
		SummaryKeyTombstoneCommits: "b", SummaryKeyIndexedDeltas: "b", SummaryKeyStaticDeltas: "a{sv}",
		SummaryKeyCollectionID: "s", SummaryKeyCollectionMap: typeCollMap.String(),
	}
	for _, e := range s.Metadata {
		if sig, ok := want[e.Key]; ok && e.Value.Type.String() != sig {
			return nil, fmt.Errorf("parse summary: %s has type %s, want %s", e.Key, e.Value.Type, sig)
		}
	}
	if _, err := s.Mode(); err != nil {
		return nil, fmt.Errorf("parse summary: %w", err)
	}
	if _, err := s.CollectionRefs(); err != nil {
		return nil, fmt.Errorf("parse %w", err)
	}
	return s, nil
}

func parseSummaryRefs(v any) ([]SummaryRef, error) {
	arr := v.([]any)
	refs := make([]SummaryRef, len(arr))
	for i, e := range arr {
		t := e.([]any)
		name := t[0].(string)
		if err := ValidateRef(name); err != nil {
			return nil, err
		}
		if i > 0 && refs[i-1].Name >= name {
			return nil, fmt.Errorf("refs not sorted or duplicated at %q", name)
		}
		inner := t[1].([]any)
		id, err := IDFromBytes(inner[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("ref %q: %w", name, err)
		}
		md, err := parseMetadata(inner[2])
		if err != nil {
			return nil, fmt.Errorf("ref %q: %w", name, err)
		}
		refs[i] = SummaryRef{Name: name, Commit: id, CommitSize: inner[0].(uint64), Metadata: md}
	}
	return refs, nil
}

func summaryRefsValue(refs []SummaryRef) []any {
	out := make([]any, len(refs))
	for i, r := range refs {
		out[i] = []any{r.Name, []any{r.CommitSize, r.Commit[:], r.Metadata.value()}}
	}
	return out
}

// Encode serializes the summary in normal form. Refs must be sorted.
func (s *Summary) Encode() ([]byte, error) {
	for i := 1; i < len(s.Refs); i++ {
		if s.Refs[i-1].Name >= s.Refs[i].Name {
			return nil, fmt.Errorf("encode summary: refs not sorted at %q", s.Refs[i].Name)
		}
	}
	return gvariant.Encode(typeSummary, []any{summaryRefsValue(s.Refs), s.Metadata.value()})
}

// ReadSummary reads and parses the repository's summary file. It wraps
// fs.ErrNotExist when there is none.
func (r *Repo) ReadSummary(ctx context.Context) (*Summary, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(r.path, SummaryPath))
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	s, err := DecodeSummary(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(r.path, SummaryPath), err)
	}
	return s, nil
}

// SummaryOptions configure BuildSummary and UpdateSummary. The zero value
// and nil are defaults.
type SummaryOptions struct {
	// Metadata is added to the summary's additional metadata (ostree
	// summary --add-metadata); the standard keys override it.
	Metadata Metadata
	// Now gives ostree.summary.last-modified; nil means time.Now.
	Now func() time.Time
}

// BuildSummary computes the summary of the repository's current refs, as
// `ostree summary -u` does: local branches (remote refs are left out), each
// with its commit's size, timestamp and version, and the additional
// metadata ostree writes (mode, last-modified, tombstone-commits,
// indexed-deltas, static deltas when deltas/ has any, and the collection ID
// and map when the repository has a collection ID). Keys are sorted, so
// equal repositories give equal summaries at equal times.
func (r *Repo) BuildSummary(ctx context.Context, opts *SummaryOptions) (*Summary, error) {
	if opts == nil {
		opts = &SummaryOptions{}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	refs, err := r.Refs(ctx)
	if err != nil {
		return nil, err
	}
	s := &Summary{}
	for _, name := range SortedRefNames(refs) {
		if strings.Contains(name, ":") {
			continue // remote refs never go into a summary
		}
		e, err := r.summaryRef(ctx, name, refs[name])
		if err != nil {
			return nil, err
		}
		s.Refs = append(s.Refs, e)
	}
	md := slices.Clone(opts.Metadata)
	cid := r.CollectionID()
	if cid != "" {
		if err := r.addCollectionRefs(ctx, s, cid, &md); err != nil {
			return nil, err
		}
		md.Set(SummaryKeyCollectionID, gvariant.NewVariant("s", cid))
	}
	if noDeltas, err := r.config.Bool("core", "no-deltas-in-summary", false); err != nil {
		return nil, fmt.Errorf("config [core] no-deltas-in-summary: %w", err)
	} else if !noDeltas {
		deltas, err := r.staticDeltaDigests(ctx)
		if err != nil {
			return nil, err
		}
		if len(deltas) > 0 {
			md.Set(SummaryKeyStaticDeltas, gvariant.NewVariant("a{sv}", deltas))
		}
	}
	md.Set(SummaryKeyLastModified, gvariant.NewVariant("t", be64(uint64(now().Unix()))))
	md.Set(SummaryKeyMode, gvariant.NewVariant("s", string(r.mode)))
	tomb, err := r.config.Bool("core", "tombstone-commits", false)
	if err != nil {
		return nil, fmt.Errorf("config [core] tombstone-commits: %w", err)
	}
	md.Set(SummaryKeyTombstoneCommits, gvariant.NewVariant("b", tomb))
	md.Set(SummaryKeyIndexedDeltas, gvariant.NewVariant("b", true))
	slices.SortStableFunc(md, func(a, b MetaEntry) int { return strings.Compare(a.Key, b.Key) })
	s.Metadata = md
	return s, nil
}

func (r *Repo) summaryRef(ctx context.Context, name string, id ID) (SummaryRef, error) {
	data, err := r.readVerifiedMeta(ctx, id, TypeCommit)
	if err != nil {
		return SummaryRef{}, fmt.Errorf("summary: ref %s: %w", name, err)
	}
	c, err := DecodeCommit(data)
	if err != nil {
		return SummaryRef{}, fmt.Errorf("summary: ref %s: commit %s: %w", name, id, err)
	}
	var md Metadata
	md.Set(SummaryRefKeyTimestamp, gvariant.NewVariant("t", be64(uint64(c.Timestamp.Unix()))))
	if v, ok := c.Metadata.String("version"); ok {
		md.Set(SummaryRefKeyVersion, gvariant.NewVariant("s", v))
	}
	return SummaryRef{Name: name, Commit: id, CommitSize: uint64(len(data)), Metadata: md}, nil
}

// addCollectionRefs adds the refs of refs/mirrors/COLLECTION/: those of the
// repository's own collection join the main list, the others go into
// ostree.summary.collection-map.
func (r *Repo) addCollectionRefs(ctx context.Context, s *Summary, cid string, md *Metadata) error {
	dir := filepath.Join(r.path, "refs", "mirrors")
	colls, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("summary: %w", err)
	}
	var cmap []any
	for _, c := range colls {
		if !c.IsDir() {
			continue
		}
		found := map[string]ID{}
		if err := walkRefs(filepath.Join(dir, c.Name()), "", func(name string, id ID) { found[name] = id }); err != nil {
			return err
		}
		var refs []SummaryRef
		for _, name := range SortedRefNames(found) {
			e, err := r.summaryRef(ctx, name, found[name])
			if err != nil {
				return err
			}
			refs = append(refs, e)
		}
		if c.Name() == cid {
			for _, e := range refs {
				if _, dup := s.Lookup(e.Name); !dup {
					s.Refs = append(s.Refs, e)
				}
			}
			slices.SortFunc(s.Refs, func(a, b SummaryRef) int { return strings.Compare(a.Name, b.Name) })
			continue
		}
		if len(refs) > 0 {
			cmap = append(cmap, gvariant.DictEntry{Key: c.Name(), Value: summaryRefsValue(refs)})
		}
	}
	if len(cmap) > 0 {
		md.Set(SummaryKeyCollectionMap, gvariant.Variant{Type: typeCollMap, Value: cmap})
	}
	return nil
}

// staticDeltaDigests lists deltas/ as ostree does for the summary: delta
// name ("TO" or "FROM-TO" in hex) to the SHA-256 of its superblock file.
func (r *Repo) staticDeltaDigests(ctx context.Context) ([]any, error) {
	base := filepath.Join(r.path, "deltas")
	prefixes, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list static deltas: %w", err)
	}
	var names []string
	digests := map[string][]byte{}
	for _, p := range prefixes {
		if !p.IsDir() || len(p.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(base, p.Name()))
		if err != nil {
			return nil, fmt.Errorf("list static deltas: %w", err)
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			name, err := parseDeltaDirName(p.Name() + e.Name())
			if err != nil {
				r.log.Debug("skipping unrecognised static delta directory", "dir", e.Name(), "err", err)
				continue
			}
			sb, err := os.ReadFile(filepath.Join(base, p.Name(), e.Name(), "superblock"))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("static delta %s: %w", name, err)
			}
			sum := sha256.Sum256(sb)
			names = append(names, name)
			digests[name] = sum[:]
		}
	}
	slices.Sort(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = gvariant.DictEntry{Key: n, Value: gvariant.NewVariant("ay", digests[n])}
	}
	return out, nil
}

// parseDeltaDirName converts a delta directory name (modified base64 of TO,
// or of FROM, '-', TO) to the hex delta name used in summaries.
func parseDeltaDirName(s string) (string, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 2 {
		return "", fmt.Errorf("invalid delta name %q", s)
	}
	hexes := make([]string, len(parts))
	for i, p := range parts {
		b, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(p, "_", "/"))
		if err != nil || len(b) != 32 {
			return "", fmt.Errorf("invalid delta name %q", s)
		}
		hexes[i] = hex.EncodeToString(b)
	}
	return strings.Join(hexes, "-"), nil
}

// UpdateSummary regenerates the summary file (BuildSummary), writes it
// atomically and removes summary.sig, which no longer matches, as ostree
// does. It holds the repository's shared lock.
func (r *Repo) UpdateSummary(ctx context.Context, opts *SummaryOptions) (*Summary, error) {
	unlock, err := r.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, err := r.BuildSummary(ctx, opts)
	if err != nil {
		return nil, err
	}
	data, err := s.Encode()
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(filepath.Join(r.path, SummaryPath), data, 0o644); err != nil {
		return nil, fmt.Errorf("write summary: %w", err)
	}
	if err := os.Remove(filepath.Join(r.path, SummarySigPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale summary.sig: %w", err)
	}
	return s, nil
}
