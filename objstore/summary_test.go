package objstore_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

var summaryTime = time.Unix(1577836800, 0)

func summaryRepo(t *testing.T) (*objstore.Repo, objstore.ID, objstore.ID) {
	t.Helper()
	r := objtest.NewRepo(t, objstore.ModeArchive)
	a := commitDir(t, r, sampleTree(t), "main")
	b := commitDir(t, r, sampleTree(t), "z/nested/branch")
	return r, a, b
}

func TestSummaryRoundTrip(t *testing.T) {
	r, a, b := summaryRepo(t)
	// A remote ref must not appear.
	tx, err := r.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRef("origin:main", a)
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	extra := objstore.Metadata{{Key: "custom.key", Value: gvariant.NewVariant("s", "hello")}}
	s, err := r.UpdateSummary(t.Context(), &objstore.SummaryOptions{Metadata: extra, Now: func() time.Time { return summaryTime }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadSummary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, ref := range got.Refs {
		names = append(names, ref.Name)
	}
	if want := []string{"main", "z/nested/branch"}; !slices.Equal(names, want) {
		t.Fatalf("summary refs = %v, want %v", names, want)
	}
	for _, tc := range []struct {
		name string
		id   objstore.ID
	}{{"main", a}, {"z/nested/branch", b}} {
		e, ok := got.Lookup(tc.name)
		if !ok || e.Commit != tc.id {
			t.Errorf("Lookup(%s) = %v, %v; want %s", tc.name, e.Commit, ok, tc.id)
		}
		data, _ := r.ReadMetaObject(t.Context(), tc.id, objstore.TypeCommit)
		if e.CommitSize != uint64(len(data)) {
			t.Errorf("%s: CommitSize = %d, want %d", tc.name, e.CommitSize, len(data))
		}
		if ts, ok := e.Timestamp(); !ok || !ts.Equal(time.Unix(1577836800, 0)) {
			t.Errorf("%s: Timestamp = %v, %v", tc.name, ts, ok)
		}
	}
	if m, err := got.Mode(); err != nil || m != objstore.ModeArchive {
		t.Errorf("Mode() = %q, %v", m, err)
	}
	if lm, ok := got.LastModified(); !ok || !lm.Equal(summaryTime) {
		t.Errorf("LastModified() = %v, %v", lm, ok)
	}
	if v, ok := got.Metadata.String("custom.key"); !ok || v != "hello" {
		t.Errorf("custom.key = %q, %v", v, ok)
	}
	keys := []string{}
	for _, e := range s.Metadata {
		keys = append(keys, e.Key)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("metadata keys not sorted: %v", keys)
	}
	enc, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	disk, _ := os.ReadFile(filepath.Join(r.Path(), "summary"))
	if !bytes.Equal(enc, disk) {
		t.Error("re-encoded summary differs from the file")
	}
}

func TestSummaryRemovesStaleSignature(t *testing.T) {
	r, _, _ := summaryRepo(t)
	sig := filepath.Join(r.Path(), "summary.sig")
	if err := os.WriteFile(sig, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sig); !os.IsNotExist(err) {
		t.Errorf("summary.sig survived an update: %v", err)
	}
}

func TestDecodeSummaryRejects(t *testing.T) {
	ref := func(name string, csum []byte) []any {
		return []any{name, []any{uint64(100), csum, []any{}}}
	}
	id := bytes.Repeat([]byte{1}, 32)
	typ := gvariant.MustParseType("(a(s(taya{sv}))a{sv})")
	cases := []struct {
		name string
		refs []any
		md   []any
		want string
	}{
		{"unsorted", []any{ref("b", id), ref("a", id)}, []any{}, "not sorted"},
		{"duplicate", []any{ref("a", id), ref("a", id)}, []any{}, "not sorted"},
		{"short checksum", []any{ref("a", id[:31])}, []any{}, "checksum"},
		{"bad ref", []any{ref("-a", id)}, []any{}, "invalid ref"},
		{"mode type", nil, []any{gvariant.DictEntry{Key: "ostree.summary.mode", Value: gvariant.NewVariant("u", uint32(1))}}, "type"},
		{"bad mode", nil, []any{gvariant.DictEntry{Key: "ostree.summary.mode", Value: gvariant.NewVariant("s", "weird")}}, "mode"},
	}
	for _, tc := range cases {
		if tc.refs == nil {
			tc.refs = []any{}
		}
		data, err := gvariant.Encode(typ, []any{tc.refs, tc.md})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := objstore.DecodeSummary(data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: DecodeSummary error = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := objstore.DecodeSummary([]byte("garbage")); err == nil {
		t.Error("DecodeSummary(garbage) succeeded")
	}
}

// TestSummaryOstreeOracle compares with ostree: gostree parses the summary
// ostree writes for a repository and builds the same refs for it, and
// ostree reads the summary gostree writes.
func TestSummaryOstreeOracle(t *testing.T) {
	if _, err := exec.LookPath("ostree"); err != nil {
		skipOrFail(t, "ostree not installed: %v", err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	ostree := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ostree", append([]string{"--repo=" + repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ostree("init", "--mode=archive")
	tree := sampleTree(t)
	ostree("commit", "-b", "main", "--tree=dir="+tree, "--add-metadata-string=version=1.2.3", "--timestamp=2020-01-01T00:00:00Z")
	ostree("commit", "-b", "other/x", "--tree=dir="+tree, "--timestamp=2021-01-01T00:00:00Z")
	ostree("summary", "-u", "-m", "custom='value'")
	theirs, err := os.ReadFile(filepath.Join(repo, "summary"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := objstore.DecodeSummary(theirs)
	if err != nil {
		t.Fatalf("DecodeSummary(ostree's summary): %v", err)
	}
	r, err := objstore.Open(repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.BuildSummary(t.Context(), &objstore.SummaryOptions{Metadata: objstore.Metadata{{Key: "custom", Value: gvariant.NewVariant("s", "value")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Refs) != len(want.Refs) {
		t.Fatalf("refs: got %d, want %d", len(got.Refs), len(want.Refs))
	}
	for i := range want.Refs {
		g, w := got.Refs[i], want.Refs[i]
		gv, _ := g.Version()
		wv, _ := w.Version()
		gt, _ := g.Timestamp()
		wt, _ := w.Timestamp()
		if g.Name != w.Name || g.Commit != w.Commit || g.CommitSize != w.CommitSize || gv != wv || !gt.Equal(wt) {
			t.Errorf("ref %d: got %+v (%s, %v), ostree has %+v (%s, %v)", i, g, gv, gt, w, wv, wt)
		}
	}
	for _, e := range want.Metadata {
		if e.Key == objstore.SummaryKeyLastModified {
			continue
		}
		v, ok := got.Metadata.Lookup(e.Key)
		if !ok || v.String() != e.Value.String() {
			t.Errorf("metadata %s: got %v, ostree has %v", e.Key, v, e.Value)
		}
	}
	if len(got.Metadata) != len(want.Metadata) {
		t.Errorf("metadata keys: got %d, ostree has %d", len(got.Metadata), len(want.Metadata))
	}

	// ostree reads ours.
	if _, err := r.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	out := ostree("summary", "--view")
	for _, s := range []string{"* main", "* other/x", "Version (ostree.commit.version): 1.2.3", "Repository Mode (ostree.summary.mode): archive-z2"} {
		if !strings.Contains(out, s) {
			t.Errorf("ostree summary --view of gostree's summary lacks %q:\n%s", s, out)
		}
	}
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

func FuzzDecodeSummary(f *testing.F) {
	typ := gvariant.MustParseType("(a(s(taya{sv}))a{sv})")
	seed, _ := gvariant.Encode(typ, []any{
		[]any{[]any{"main", []any{uint64(158), bytes.Repeat([]byte{7}, 32), []any{
			gvariant.DictEntry{Key: "ostree.commit.timestamp", Value: gvariant.NewVariant("t", uint64(1))},
		}}}},
		[]any{gvariant.DictEntry{Key: "ostree.summary.mode", Value: gvariant.NewVariant("s", "archive-z2")}},
	})
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := objstore.DecodeSummary(data)
		if err != nil {
			return
		}
		again, err := s.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded summary: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("round trip differs:\n%x\n%x", again, data)
		}
		s.Mode()
		s.LastModified()
		for _, r := range s.Refs {
			r.Timestamp()
			r.Version()
		}
	})
}
