package integration_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRefsMatchOstree: the same sequence of refs/rev-parse operations, run by ostree on one
// copy of a repo and by gostree on another, leaves both with the same refs, exits alike, and
// gostree lists and resolves refs exactly as ostree does (issue case g). ostree prints refs in
// hash-table order, so listings compare as sorted line sets.
func TestRefsMatchOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	base := newRepo(t, "ostree", "archive")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first := checksumOf(t, ostree(t, "commit", "--repo="+base, "-b", "main", "-s", "one", "--timestamp="+fixedTimestamp, src))
	second := checksumOf(t, ostree(t, "commit", "--repo="+base, "-b", "main", "-s", "two", "--timestamp="+fixedTimestamp, src))
	ostree(t, "refs", "--repo="+base, "--create=remote-like/stable", first)

	orepo, grepo := copyRepo(t, base)

	steps := [][]string{
		{"refs"},
		{"rev-parse", "main"},
		{"rev-parse", "main^"},
		{"rev-parse", "remote-like/stable"},
		{"rev-parse", second[:12]},
		{"rev-parse", second},
		{"rev-parse", "no-such-ref"},
		{"rev-parse", first + "^"},
		{"refs", "--create=foo/bar", "main"},
		{"refs", "--create=a", second},
		{"refs", "--create=foo/baz/deep", first},
		{"refs"},
		{"refs", "foo"},
		{"refs", "foo/baz"},
		{"refs", "--list"},
		{"rev-parse", "foo/baz/deep"},
		{"refs", "--create=a", first}, // exists: refused without --force
		{"refs", "--create=main-copy", "no-such-ref"},
		{"refs", "--delete", "a"},
		{"refs"},
		{"refs", "--delete", "foo"}, // a prefix: deletes foo/bar and foo/baz/deep
		{"refs"},
		{"refs", "--delete", "never-existed"},
		{"rev-parse", "foo/bar"},
		// A hex-looking rev is a checksum prefix first (of any length),
		// before a ref of that name.
		{"rev-parse", second[:1]},
		{"rev-parse", second[:2]},
		{"rev-parse", first[:3]},
		{"refs", "--create=" + second[:5], first}, // resolves already: refused
		{"refs", "--create=cafe0", first},
		{"rev-parse", "cafe0"},
	}
	for _, step := range steps {
		o := ostreeRun(t, append(step, "--repo="+orepo)...)
		g := gostreeRun(t, append(step, "--repo="+grepo)...)
		noPanic(t, g)
		name := "gostree " + strings.Join(step, " ")
		if (o.code == 0) != (g.code == 0) {
			t.Errorf("%s: exit %d, ostree exit %d\ngostree: %v\nostree: %v", name, g.code, o.code, g, o)
			continue
		}
		if step[0] == "refs" {
			if !slices.Equal(sortedLines(g.stdout), sortedLines(o.stdout)) {
				t.Errorf("%s printed %q, ostree %q", name, sortedLines(g.stdout), sortedLines(o.stdout))
			}
		} else if g.stdout != o.stdout {
			t.Errorf("%s printed %q, ostree %q", name, g.stdout, o.stdout)
		}
		// Both repos now hold the same refs, as ostree sees them.
		ro := sortedLines(ostree(t, "refs", "--repo="+orepo))
		rg := sortedLines(ostree(t, "refs", "--repo="+grepo))
		if !slices.Equal(ro, rg) {
			t.Fatalf("after %s: ostree sees refs %q in gostree's copy, %q in its own", name, rg, ro)
		}
		for _, ref := range ro {
			want := ostree(t, "rev-parse", "--repo="+orepo, ref)
			if got := ostree(t, "rev-parse", "--repo="+grepo, ref); got != want {
				t.Errorf("after %s: %s is %q in gostree's copy, %q in ostree's", name, ref, got, want)
			}
		}
	}
}

// TestRepoFlagPosition: --repo works before and after the verb.
func TestRepoFlagPosition(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	repo := newRepo(t, "ostree", "bare-user")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := ostree(t, "commit", "--repo="+repo, "-b", "main", "-s", "s", src)
	for _, args := range [][]string{
		{"--repo=" + repo, "rev-parse", "main"},
		{"rev-parse", "--repo=" + repo, "main"},
		{"rev-parse", "main", "--repo=" + repo},
	} {
		if got := gostree(t, args...); got != want {
			t.Errorf("gostree %s = %q, want %q", strings.Join(args, " "), got, want)
		}
	}
}

// TestLogShowMatchOstree: log and show print what ostree prints (TZ=UTC for both).
func TestLogShowMatchOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	repo := newRepo(t, "ostree", "archive")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ostree(t, "commit", "--repo="+repo, "-b", "main", "-s", "first", "--timestamp="+fixedTimestamp, src)
	ostree(t, "commit", "--repo="+repo, "-b", "main", "-s", "second", "--body=line one\nline two\n\nafter blank",
		"--timestamp=2021-06-15T12:34:56Z", "--add-metadata-string=version=2.0", src)
	for _, args := range [][]string{{"log", "main"}, {"show", "main"}, {"show", "main^"}} {
		want := ostree(t, append(args, "--repo="+repo)...)
		if got := gostree(t, append(args, "--repo="+repo)...); got != want {
			t.Errorf("gostree %s differs from ostree:\n%s", strings.Join(args, " "), diffText(want, got))
		}
	}
}
