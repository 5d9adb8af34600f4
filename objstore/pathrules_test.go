package objstore

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseStatOverride(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]uint32
		err  bool
	}{
		{"", map[string]uint32{}, false},
		{"2048 /usr/bin/su\n", map[string]uint32{"/usr/bin/su": 2048}, false},
		{"+1024 /a\n\n512 /b c\n", map[string]uint32{"/a": 1024, "/b c": 512}, false},
		{"nonsense /x\n12abc /y\n", map[string]uint32{"/x": 0, "/y": 12}, false},
		{"8  /two-spaces", map[string]uint32{" /two-spaces": 8}, false},
		{"-18 /neg", map[string]uint32{"/neg": uint32(0xffffffee)}, false},
		{"2048\n", nil, true},
		{"1 /a\nno-space-here\n", nil, true},
	} {
		got, err := ParseStatOverride(strings.NewReader(c.in))
		if (err != nil) != c.err || !c.err && !maps.Equal(got, c.want) {
			t.Errorf("ParseStatOverride(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseSkipList(t *testing.T) {
	got, err := ParseSkipList(strings.NewReader("/a\n\n/b c\n/d/"))
	if err != nil || !slices.Equal(got, []string{"/a", "/b c", "/d/"}) {
		t.Errorf("ParseSkipList = %q, %v", got, err)
	}
}

func TestPathRules(t *testing.T) {
	r := NewPathRules(map[string]uint32{"/f": 0o4000 | 0o170000, "/d": 0o1000, "/gone": 8, "/s": 2}, []string{"/s", "/dir", "/never"})
	f := &Meta{Mode: sIFREG | 0o755}
	r.apply("/f", f, false)
	if f.Mode != sIFREG|0o4755 {
		t.Errorf("file mode %o; want only the permission bits added", f.Mode)
	}
	d := &Meta{Mode: sIFDIR | 0o755}
	r.apply("/d", d, false)
	if d.Mode != sIFDIR|0o755 {
		t.Errorf("directory from disk: mode %o changed", d.Mode)
	}
	r.apply("/d", d, true)
	if d.Mode != sIFDIR|0o1755 {
		t.Errorf("directory from tar: mode %o", d.Mode)
	}
	if !r.skipped("/s") || r.skipped("/f") || !r.skippedUnder("/dir/a/b") || r.skippedUnder("/directory") {
		t.Error("skip matching is wrong")
	}
	modes, skips := r.Unmatched()
	if !slices.Equal(modes, []string{"/gone"}) || !slices.Equal(skips, []string{"/never"}) {
		t.Errorf("Unmatched = %q, %q", modes, skips)
	}
	if NewPathRules(map[string]uint32{"/f": 1}, nil).fingerprint() == NewPathRules(map[string]uint32{"/f": 2}, nil).fingerprint() {
		t.Error("different rules share a stat-cache fingerprint")
	}
	var none *PathRules
	m := &Meta{Mode: sIFREG | 0o644}
	none.apply("/f", m, true)
	if none.skipped("/f") || m.Mode != sIFREG|0o644 || none.fingerprint() != "" {
		t.Error("nil rules change something")
	}
}

// FuzzParseStatOverride: an error exactly when a non-empty line has no space; otherwise one
// entry per distinct path, and no panic.
func FuzzParseStatOverride(f *testing.F) {
	f.Add("2048 /usr/bin/su\n+1 /a b\n\n")
	f.Add("x\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseStatOverride(strings.NewReader(in))
		bad := false
		paths := map[string]bool{}
		for _, l := range strings.Split(in, "\n") {
			l = strings.TrimSuffix(l, "\r")
			if l == "" {
				continue
			}
			if _, p, ok := strings.Cut(l, " "); ok {
				paths[p] = true
			} else {
				bad = true
			}
		}
		if bad != (err != nil) {
			t.Fatalf("ParseStatOverride(%q) error %v; malformed line: %v", in, err, bad)
		}
		if err == nil && len(got) != len(paths) {
			t.Fatalf("ParseStatOverride(%q) = %d entries; want %d", in, len(got), len(paths))
		}
	})
}
