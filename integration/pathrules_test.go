package integration_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommitPathRulesMatchOstree: --statoverride and --skip-list give the same commits as
// ostree's, from a directory and from a tar archive, and a path that matches nothing fails
// both tools. Orphan commits (no ref, so an empty ref binding) match too.
func TestCommitPathRulesMatchOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	src := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/lib/deep", "etc", "skipdir/inner", "var"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]os.FileMode{
		"usr/bin/tool": 0o755, "usr/bin/other": 0o700, "usr/lib/deep/lib.so": 0o644,
		"etc/conf": 0o644, "etc/secret": 0o600, "skipdir/inner/x": 0o644, "skipme": 0o644,
		"var/keep": 0o640, "etc/name with spaces": 0o644,
	}
	for f, mode := range files {
		p := filepath.Join(src, f)
		if err := os.WriteFile(p, []byte(f+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	os.Symlink("tool", filepath.Join(src, "usr/bin/link"))
	os.Chmod(filepath.Join(src, "var"), 0o700)
	rules := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(rules, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Decimal bits ORed in: 2048 = setuid, +1024 = setgid, 512 = sticky, 146 = 0222;
	// a MODE that is no number adds nothing; a skipped path's override is no error.
	so := write("statoverride", "2048 /usr/bin/tool\n+1024 /usr/bin/other\n\n512 /var\n146 /etc/secret\n"+
		"nonsense /etc/conf\n8 /etc/name with spaces\n64 /usr/bin/link\n4 /skipme\n0 /\n")
	skipFiles := write("skip-files", "/skipme\n/usr/lib/deep/lib.so\n\n")
	skipAll := write("skip", "/skipme\n/skipdir\n/usr/lib/deep\n")
	archive := filepath.Join(rules, "tree.tar")
	writeTarOf(t, src, archive)

	for _, mode := range []string{"bare-user", "bare-user-only", "archive"} {
		t.Run(mode, func(t *testing.T) {
			orepo, grepo := newRepo(t, "ostree", mode), newRepo(t, "gostree", mode)
			for _, c := range []struct {
				name string
				args []string
			}{
				{"dir statoverride", []string{"--statoverride=" + so, "--tree=dir=" + src}},
				{"dir skip-list", []string{"--skip-list=" + skipAll, "--tree=dir=" + src}},
				{"dir both", []string{"--statoverride=" + so, "--skip-list=" + skipAll, "--tree=dir=" + src}},
				{"dir both again (stat cache)", []string{"--statoverride=" + so, "--skip-list=" + skipAll, "--tree=dir=" + src}},
				// ostree refuses a skipped directory in an archive (its entries then
				// have no parent), so the tar cases skip files only.
				{"tar both", []string{"--statoverride=" + so, "--skip-list=" + skipFiles, "--tree=tar=" + archive}},
				{"orphan", []string{"--orphan", "--tree=dir=" + src}},
				{"orphan bind-ref", []string{"--orphan", "--bind-ref=z/b", "--bind-ref=a/b", "--tree=dir=" + src}},
			} {
				t.Run(c.name, func(t *testing.T) {
					args := append(commitArgs("r/"+strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(c.name)), c.args...)
					if strings.HasPrefix(c.name, "orphan") {
						args = args[2:] // no -b
					}
					commitBoth(t, orepo, grepo, args...)
				})
			}
			unmatched := write("unmatched", "2048 /usr/bin/tool\n8 /no/such/file\n")
			for _, args := range [][]string{
				{"--statoverride=" + unmatched, src},
				{"--skip-list=" + write("unmatched-skip", "/no/such\n"), src},
				{"--statoverride=" + write("nospace", "2048\n"), src},
			} {
				o := ostreeRun(t, append([]string{"commit", "--repo=" + orepo, "-b", "bad", "-s", "x"}, args...)...)
				g := gostreeRun(t, append([]string{"commit", "--repo=" + grepo, "-b", "bad", "-s", "x"}, args...)...)
				if o.code == 0 || g.code == 0 {
					t.Errorf("commit %v: ostree exit %d, gostree exit %d; want both to fail", args, o.code, g.code)
				}
				if g.code != 0 && !strings.Contains(g.stderr, "statoverride") && !strings.Contains(g.stderr, "skip-list") {
					t.Errorf("gostree's error does not say what was wrong: %s", g.stderr)
				}
				if r := gostreeRun(t, "rev-parse", "--repo="+grepo, "bad"); r.code == 0 {
					t.Errorf("a failed commit wrote ref bad: %v", r)
				}
			}
		})
	}
}

// writeTarOf archives dir (as GNU tar would, "./" first, parents before children).
func writeTarOf(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = "./" + rel
		if rel == "." {
			h.Name = "./"
		} else if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestCommitKeepMetadataMatchesOstree: --keep-metadata copies keys from the parent after the
// added ones, in the order given (a key also added appears twice, as in ostree), and a key
// the parent lacks, or no parent at all, fails both tools.
func TestCommitKeepMetadataMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	tr := theTree(t)
	orepo, grepo := newRepo(t, "ostree", "bare-user"), newRepo(t, "gostree", "bare-user")
	commitBoth(t, orepo, grepo, append(commitArgs("keep"), "--add-metadata-string=zzz=9", tr.dir)...)
	commitBoth(t, orepo, grepo, append(commitArgs("keep"), "--keep-metadata=zzz", "--keep-metadata=version", "--add-metadata-string=aaa=2", tr.dir)...)
	commitBoth(t, orepo, grepo, append(commitArgs("keep"), "--keep-metadata=aaa", tr.dir)...)
	for _, args := range [][]string{
		{"-b", "keep", "--keep-metadata=nosuch", tr.dir},
		{"-b", "fresh", "--keep-metadata=version", tr.dir},
	} {
		o := ostreeRun(t, append([]string{"commit", "--repo=" + orepo}, args...)...)
		g := gostreeRun(t, append([]string{"commit", "--repo=" + grepo}, args...)...)
		if o.code == 0 || g.code == 0 || !strings.Contains(g.stderr, "metadata") {
			t.Errorf("commit %v: ostree exit %d, gostree exit %d (%s); want both to fail", args, o.code, g.code, g.stderr)
		}
	}
}

// TestCommitConsume: --consume deletes the committed directory once the commit is written
// (same checksum as ostree's, which deletes it too), and a commit that fails deletes nothing.
func TestCommitConsume(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	base := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(base, name)
		for f, body := range map[string]string{"usr/bin/x": "x\n", "etc/y": "y\n", "top": "t\n"} {
			p := filepath.Join(d, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		os.Chmod(d, 0o755)
		return d
	}
	od, gd := mk("o"), mk("g")
	orepo, grepo := newRepo(t, "ostree", "bare-user"), newRepo(t, "gostree", "bare-user")
	want := checksumOf(t, ostree(t, append([]string{"commit", "--repo=" + orepo, "--consume"}, append(commitArgs("c"), "--tree=dir="+od)...)...))
	got := checksumOf(t, gostree(t, append([]string{"commit", "--repo=" + grepo, "--consume"}, append(commitArgs("c"), "--tree=dir="+gd)...)...))
	if got != want {
		t.Errorf("--consume commit: gostree %s, ostree %s", got, want)
	}
	for _, d := range []string{od, gd} {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there after --consume: %v", d, err)
		}
	}
	kept := mk("kept")
	skip := filepath.Join(base, "skip")
	os.WriteFile(skip, []byte("/no/such\n"), 0o644)
	if r := gostreeRun(t, "commit", "--repo="+grepo, "-b", "c", "--consume", "--skip-list="+skip, "--tree=dir="+kept); r.code == 0 {
		t.Fatal("a commit with an unmatched skip-list path succeeded")
	}
	if _, err := os.Stat(filepath.Join(kept, "usr/bin/x")); err != nil {
		t.Errorf("a failed --consume commit deleted its source: %v", err)
	}
}
