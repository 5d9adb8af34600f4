package integration_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPruneMatchesOstree: on copies of one repository (a history of five
// commits, a side branch, an orphan commit with detached metadata, a
// commit whose object was removed by hand), `gostree prune` and `ostree
// prune` with the same options print the same and leave the same files.
func TestPruneMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	base := filepath.Join(t.TempDir(), "repo")
	ostree(t, "init", "--repo="+base, "--mode=bare-user")
	src := t.TempDir()
	commit := func(branch string, ts int, files map[string]string, extra ...string) string {
		t.Helper()
		dir := filepath.Join(src, branch+strings.Repeat("x", ts%7))
		os.RemoveAll(dir)
		os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args := append([]string{"commit", "--repo=" + base, "--timestamp=@" + strconv.Itoa(ts)}, extra...)
		if branch != "" {
			args = append(args, "-b", branch)
		} else {
			args = append(args, "--orphan")
		}
		return checksumOf(t, ostree(t, append(args, "--tree=dir="+dir)...))
	}
	for i := 1; i <= 5; i++ {
		commit("main", 1000000*i, map[string]string{"common": "same\n", "v": "main " + strconv.Itoa(i) + "\n", "sub/n": strings.Repeat("n", i*100)})
	}
	commit("side", 4500000, map[string]string{"common": "same\n", "side": "side\n"})
	commit("side", 4600000, map[string]string{"common": "same\n", "side": "side 2\n"})
	orphan := commit("", 3000000, map[string]string{"orphan": "nobody points here\n"})
	ostree(t, "commit", "--repo="+base, "-b", "gone", "--timestamp=@2000", "--tree=dir="+t.TempDir())
	detached := filepath.Join(base, "objects", orphan[:2], orphan[2:]+".commitmeta")
	if err := os.WriteFile(detached, []byte{}, 0o644); err != nil { // an empty a{sv}
		t.Fatal(err)
	}
	// A commit whose object is gone: its tree becomes garbage.
	lost := commit("lost", 2500000, map[string]string{"lost": "only in the lost commit\n"})
	os.Remove(filepath.Join(base, "objects", lost[:2], lost[2:]+".commit"))
	os.Remove(filepath.Join(base, "refs", "heads", "lost"))

	main := strings.TrimSpace(ostree(t, "rev-parse", "--repo="+base, "main"))
	for _, c := range []struct {
		name string
		args []string
		fail bool
	}{
		{"default", nil, false},
		{"refs-only", []string{"--refs-only"}, false},
		{"depth1", []string{"--refs-only", "--depth=1"}, false},
		{"depth0", []string{"--refs-only", "--depth=0"}, false},
		{"no-prune", []string{"--refs-only", "--no-prune"}, false},
		{"commit-only", []string{"--refs-only", "--commit-only"}, false},
		{"delete-orphan", []string{"--delete-commit=" + orphan}, false},
		{"delete-orphan-refs", []string{"--delete-commit=" + orphan, "--refs-only", "--depth=2"}, false},
		{"younger", []string{"--keep-younger-than=@3500000"}, false},
		{"retain", []string{"--retain-branch-depth=main=2", "--depth=0"}, false},
		{"only-branch", []string{"--only-branch=main", "--depth=1"}, false},
		{"delete-referenced", []string{"--delete-commit=" + main}, true},
		{"delete-and-no-prune", []string{"--delete-commit=" + orphan, "--no-prune"}, true},
		{"deltas-only", []string{"--static-deltas-only"}, true},
		{"only-missing", []string{"--only-branch=nope"}, true},
		{"bad-retain", []string{"--retain-branch-depth=main"}, true},
		{"bad-date", []string{"--keep-younger-than=garbage date"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			orepo, grepo := copyRepo(t, base)
			o := ostreeRun(t, append([]string{"prune", "--repo=" + orepo}, c.args...)...)
			g := gostreeRun(t, append([]string{"prune", "--repo=" + grepo}, c.args...)...)
			if c.fail {
				if o.code == 0 || g.code == 0 {
					t.Errorf("ostree exit %d, gostree exit %d (%s); want both to fail", o.code, g.code, strings.TrimSpace(g.stderr))
				}
				return
			}
			if o.code != 0 || g.code != 0 {
				t.Fatalf("ostree: %v\ngostree: %v", o, g)
			}
			norm := replaceNBSP
			t.Logf("%s", strings.ReplaceAll(strings.TrimSpace(g.stdout), "\n", "; "))
			if norm(o.stdout) != norm(g.stdout) {
				t.Errorf("output differs:\nostree:\n%s\ngostree:\n%s", o.stdout, g.stdout)
			}
			of, gf := repoFiles(t, orepo), repoFiles(t, grepo)
			if !slices.Equal(of, gf) {
				t.Errorf("files differ:\n%s", diffText(strings.Join(of, "\n"), strings.Join(gf, "\n")))
			}
		})
	}
}

// repoFiles lists a repository's objects, state markers and tombstone
// setting.
func repoFiles(t *testing.T, repo string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"objects", "state"} {
		filepath.WalkDir(filepath.Join(repo, d), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(repo, p)
				out = append(out, rel)
			}
			return nil
		})
	}
	cfg, _ := os.ReadFile(filepath.Join(repo, "config"))
	if strings.Contains(string(cfg), "tombstone-commits=true") {
		out = append(out, "config: tombstone-commits=true")
	}
	slices.Sort(out)
	return out
}

// replaceNBSP makes GLib's size strings comparable: they have a no-break
// space, printed as '?' in the C locale.
func replaceNBSP(s string) string { return strings.NewReplacer("\u00a0", " ", "?", " ").Replace(s) }
