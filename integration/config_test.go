package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigAndResetMatchOstree: the same config and reset operations, by
// ostree on one copy of a repository and by gostree on another, print the
// same, fail alike and leave identical config files and refs.
func TestConfigAndResetMatchOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	base := newRepo(t, "ostree", "archive")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("one\n"), 0o644)
	first := checksumOf(t, ostree(t, "commit", "--repo="+base, "-b", "main", "--timestamp="+fixedTimestamp, src))
	os.WriteFile(filepath.Join(src, "f"), []byte("two\n"), 0o644)
	second := checksumOf(t, ostree(t, "commit", "--repo="+base, "-b", "main", "--timestamp="+fixedTimestamp, src))
	ostree(t, "refs", "--repo="+base, "--create=other", first)

	orepo, grepo := copyRepo(t, base)
	for _, step := range [][]string{
		{"config", "get", "core.mode"},
		{"config", "get", "--group=core", "mode"},
		{"config", "get", "core.nope"},
		{"config", "get", "nogroup.key"},
		{"config", "get", "nodot"},
		{"config", "set", "core.foo", "bar"},
		{"config", "get", "core.foo"},
		{"config", "set", "--group=core", "spaced", " lead and\ttab"},
		{"config", "get", "core.spaced"},
		{"config", "set", "core.multi", "line one\nline two \\ back"},
		{"config", "get", "core.multi"},
		{"config", "set", `remote "origin".url`, "http://example.invalid/repo"},
		{"config", "get", `remote "origin".url`},
		{"config", "set", "newgroup.k", "v"},
		{"config", "unset", "core.foo"},
		{"config", "unset", "core.foo"},
		{"config", "unset", "nogroup.key"},
		{"config", "get", "core.foo"},
		{"config", "set", "core.x"},
		{"config", "bogus"},
		{"config"},
		{"config", "get", "core.mode", "extra"},
		{"reset", "main", first},
		{"rev-parse", "main"},
		{"reset", "main", "other"},
		{"reset", "other", second},
		{"reset", "nosuch", first},
		{"reset", "main"},
		{"reset", "main", "no-such-rev"},
		{"rev-parse", "other"},
	} {
		o := ostreeRun(t, append(step, "--repo="+orepo)...)
		g := gostreeRun(t, append(step, "--repo="+grepo)...)
		noPanic(t, g)
		name := strings.Join(step, " ")
		if (o.code == 0) != (g.code == 0) {
			t.Errorf("%s: gostree exit %d, ostree exit %d\ngostree: %v\nostree: %v", name, g.code, o.code, g, o)
			continue
		}
		if o.stdout != g.stdout {
			t.Errorf("%s: gostree printed %q, ostree %q", name, g.stdout, o.stdout)
		}
		oc, _ := os.ReadFile(filepath.Join(orepo, "config"))
		gc, _ := os.ReadFile(filepath.Join(grepo, "config"))
		if string(oc) != string(gc) {
			t.Errorf("after %s the configs differ:\n%s", name, diffText(string(oc), string(gc)))
		}
		for _, ref := range []string{"main", "other"} {
			or, _ := os.ReadFile(filepath.Join(orepo, "refs", "heads", ref))
			gr, _ := os.ReadFile(filepath.Join(grepo, "refs", "heads", ref))
			if string(or) != string(gr) {
				t.Errorf("after %s ref %s: gostree %q, ostree %q", name, ref, gr, or)
			}
		}
	}
}
