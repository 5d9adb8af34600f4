package integration_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// commitBoth commits with identical arguments into an ostree-made and a gostree-made repo of
// the same mode and fails unless both print the same checksum. On a mismatch it reports how
// ostree lists the two commits.
func commitBoth(t *testing.T, orepo, grepo string, args ...string) string {
	t.Helper()
	want := checksumOf(t, ostree(t, append([]string{"commit", "--repo=" + orepo}, args...)...))
	got := checksumOf(t, gostree(t, append([]string{"commit", "--repo=" + grepo}, args...)...))
	if got != want {
		t.Errorf("commit %s:\n gostree %s\n ostree  %s", strings.Join(args, " "), got, want)
		explainMismatch(t, orepo, want, grepo, got)
	}
	return want
}

func explainMismatch(t *testing.T, orepo, want, grepo, got string) {
	t.Helper()
	ow := ostreeRun(t, "show", "--repo="+orepo, "--raw", want)
	og := ostreeRun(t, "show", "--repo="+grepo, "--raw", got)
	if ow.stdout != og.stdout {
		t.Logf("ostree show --raw differs:\n%s", diffText(ow.stdout, og.stdout))
	}
	lw := ostreeRun(t, "ls", "--repo="+orepo, "-R", "-X", "-C", want)
	lg := ostreeRun(t, "ls", "--repo="+grepo, "-R", "-X", "-C", got)
	if lg.code != 0 {
		t.Logf("ostree cannot list gostree's commit: %v", lg)
	} else if lw.stdout != lg.stdout {
		t.Logf("ostree ls -R -X -C differs:\n%s", diffText(lw.stdout, lg.stdout))
	}
}

// TestCommitChecksumsMatchOstree: the same tree and flags give the same commit checksum from
// both tools (issue case c). Flags are those Debian's ostree 2022.7 has.
func TestCommitChecksumsMatchOstree(t *testing.T) {
	variants := []struct {
		name  string
		args  []string
		modes []string // nil: bare-user, archive, bare
	}{
		{name: "positional path", modes: repoModes},
		{name: "tree=dir", args: []string{"--tree=dir="}},
		{name: "iso timestamp", args: []string{"--timestamp=" + fixedISO}},
		{name: "more metadata", args: []string{"--add-metadata-string=z.key=last", "--add-metadata-string=a.key=first", "--add-metadata-string=empty="}},
		{name: "owner 0:0", args: []string{"--owner-uid=0", "--owner-gid=0"}},
		{name: "owner 1234:5678", args: []string{"--owner-uid=1234", "--owner-gid=5678"}},
		{name: "no-xattrs", args: []string{"--no-xattrs"}},
		{name: "canonical-permissions", args: []string{"--canonical-permissions"}},
		{name: "canonical-permissions no-xattrs owner 0", args: []string{"--canonical-permissions", "--no-xattrs", "--owner-uid=0"}},
		{name: "mode-ro-executables", args: []string{"--mode-ro-executables"}},
		{name: "mode-ro-executables canonical-permissions", args: []string{"--mode-ro-executables", "--canonical-permissions"}},
	}
	for _, mode := range []string{"bare-user", "archive", "bare", "bare-user-only"} {
		t.Run(mode, func(t *testing.T) {
			requireGostree(t)
			requireOstree(t)
			requireMode(t, mode)
			tr := theTree(t)
			orepo, grepo := newRepo(t, "ostree", mode), newRepo(t, "gostree", mode)
			for _, v := range variants {
				if v.modes == nil && mode == "bare-user-only" || v.modes != nil && !slices.Contains(v.modes, mode) {
					continue
				}
				t.Run(v.name, func(t *testing.T) {
					args := commitArgs("v/" + branchName(v.name))
					path := tr.dir
					for _, a := range v.args {
						switch {
						case a == "--tree=dir=":
							path = "--tree=dir=" + tr.dir
						case strings.HasPrefix(a, "--timestamp="):
							args = slices.DeleteFunc(args, func(s string) bool { return strings.HasPrefix(s, "--timestamp=") })
							args = append(args, a)
						default:
							args = append(args, a)
						}
					}
					commitBoth(t, orepo, grepo, append(args, path)...)
				})
			}
		})
	}
}

// TestCommitParentChain: committing twice on a branch links the parent, --parent=none cuts the
// chain and --parent=REV sets it explicitly; checksums and rev-parse REV^ agree with ostree.
func TestCommitParentChain(t *testing.T) {
	for _, mode := range []string{"bare-user", "archive"} {
		t.Run(mode, func(t *testing.T) {
			requireGostree(t)
			requireOstree(t)
			tr := theTree(t)
			orepo, grepo := newRepo(t, "ostree", mode), newRepo(t, "gostree", mode)
			base := []string{"--timestamp=" + fixedTimestamp, "--add-metadata-string=version=1.0"}

			first := commitBoth(t, orepo, grepo, append([]string{"-b", "chain", "-s", "first"}, append(base, tr.dir)...)...)
			second := commitBoth(t, orepo, grepo, append([]string{"-b", "chain", "-s", "second", "--body=has a parent"}, append(base, tr.dir)...)...)
			if second == first {
				t.Fatalf("second commit on a branch equals the first: %s", first)
			}
			for _, repo := range []string{orepo, grepo} {
				if got := strings.TrimSpace(gostree(t, "rev-parse", "--repo="+repo, "chain^")); got != first {
					t.Errorf("gostree rev-parse chain^ in %s = %s, want %s", repo, got, first)
				}
				if got := strings.TrimSpace(ostree(t, "rev-parse", "--repo="+repo, second+"^")); got != first {
					t.Errorf("ostree rev-parse %s^ in %s = %s, want %s", second, repo, got, first)
				}
			}
			r := ostreeRun(t, "rev-parse", "--repo="+orepo, first+"^")
			g := gostreeRun(t, "rev-parse", "--repo="+grepo, first+"^")
			if r.code == 0 || g.code == 0 {
				t.Errorf("rev-parse of a root commit's parent succeeded:\nostree: %v\ngostree: %v", r, g)
			}
			noPanic(t, g)

			third := commitBoth(t, orepo, grepo, append([]string{"-b", "chain", "-s", "third", "--parent=none"}, append(base, tr.dir)...)...)
			if g := gostreeRun(t, "rev-parse", "--repo="+grepo, third+"^"); g.code == 0 {
				t.Errorf("--parent=none commit has a parent: %v", g)
			}
			commitBoth(t, orepo, grepo, append([]string{"-b", "explicit", "-s", "explicit parent", "--parent=" + first}, append(base, tr.dir)...)...)

			// gostree log walks the chain like ostree's.
			want := ostree(t, "log", "--repo="+orepo, "chain")
			if got := gostree(t, "log", "--repo="+grepo, "chain"); got != want {
				t.Errorf("gostree log chain differs from ostree log:\n%s", diffText(want, got))
			}
		})
	}
}

// tarEntry is one member of a generated tar.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// makeTar writes a PAX tar with explicit parent directories, ownership, setuid, symlinks,
// hardlinks and xattrs (at most one per entry unless multiXattr).
func makeTar(t *testing.T, path string, multiXattr bool) {
	t.Helper()
	mt := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	x := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m["SCHILY.xattr."+kv[i]] = kv[i+1]
		}
		return m
	}
	big := strings.Repeat("0123456789abcdef", 4096) + "tail"
	entries := []tarEntry{
		// ostree 2022.7 without --tar-autocreate-parents needs the root entry, or it fails
		// with "Can't commit an empty tree"; the root's metadata comes from it.
		{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o750, Gid: 10}},
		{hdr: tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}, body: "#!/bin/sh\necho su\n"},
		{hdr: tar.Header{Name: "usr/bin/ping", Typeflag: tar.TypeReg, Mode: 0o755,
			PAXRecords: x("security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")}, body: "ping\n"},
		{hdr: tar.Header{Name: "usr/bin/ping-hard", Typeflag: tar.TypeLink, Linkname: "usr/bin/ping"}},
		{hdr: tar.Header{Name: "usr/share/", Typeflag: tar.TypeDir, Mode: 0o2775, Uid: 1000, Gid: 1000, Uname: "someone", Gname: "users"}},
		{hdr: tar.Header{Name: "usr/share/big", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 100}, body: big},
		{hdr: tar.Header{Name: "usr/share/empty", Typeflag: tar.TypeReg, Mode: 0o600}},
		{hdr: tar.Header{Name: "usr/share/日本語 é", Typeflag: tar.TypeReg, Mode: 0o644, PAXRecords: x("user.comment", "bin\x00ary")}, body: "unicode\n"},
		{hdr: tar.Header{Name: "usr/share/hard-2", Typeflag: tar.TypeLink, Linkname: "usr/share/big"}},
		{hdr: tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}},
		{hdr: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, PAXRecords: x("user.dir", "d")}},
		{hdr: tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, body: "root:x:0:0::/root:/bin/sh\n"},
		{hdr: tar.Header{Name: "etc/shadow", Typeflag: tar.TypeReg, Mode: 0o000, Gid: 42}, body: "root:*::\n"},
		{hdr: tar.Header{Name: "etc/rel-link", Typeflag: tar.TypeSymlink, Linkname: "../usr/bin/su"}},
		{hdr: tar.Header{Name: "etc/abs-link", Typeflag: tar.TypeSymlink, Linkname: "/usr/share/big"}},
		{hdr: tar.Header{Name: "etc/dangling", Typeflag: tar.TypeSymlink, Linkname: "nowhere/at/all"}},
		{hdr: tar.Header{Name: "etc/owned-link", Typeflag: tar.TypeSymlink, Linkname: "passwd", Uid: 1000, Gid: 1000}},
	}
	if multiXattr {
		entries = append(entries, tarEntry{hdr: tar.Header{Name: "etc/multi", Typeflag: tar.TypeReg, Mode: 0o644,
			PAXRecords: x("user.b", "2", "user.a", "1", "user.c", "3")}, body: "three xattrs\n"})
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.ModTime, h.Format = mt, tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Typeflag == tar.TypeSymlink {
			h.Mode = 0o777
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCommitTarMatchesOstree: --tree=tar=FILE gives ostree's checksum. ostree 2022.7 (via
// libarchive) takes ownership and mode from the tar headers and xattrs from SCHILY.xattr.*
// PAX records (ignoring user/group names); the root directory's metadata comes from the "./"
// entry, which it requires.
func TestCommitTarMatchesOstree(t *testing.T) {
	dir := t.TempDir()
	tarFile := filepath.Join(dir, "tree.tar")
	makeTar(t, tarFile, false)
	for _, mode := range []string{"bare-user", "archive", "bare"} {
		t.Run(mode, func(t *testing.T) {
			requireGostree(t)
			requireOstree(t)
			orepo, grepo := newRepo(t, "ostree", mode), newRepo(t, "gostree", mode)
			commitBoth(t, orepo, grepo, append(commitArgs("tar"), "--tree=tar="+tarFile)...)
			commitBoth(t, orepo, grepo, append(commitArgs("tar-canonical"), "--canonical-permissions", "--tree=tar="+tarFile)...)
			commitBoth(t, orepo, grepo, append(commitArgs("tar-owner"), "--owner-uid=0", "--owner-gid=0", "--no-xattrs", "--tree=tar="+tarFile)...)
			// ostree ls of the tar commit shows the tar's ownership and xattrs.
			ls := ostree(t, "ls", "--repo="+orepo, "-R", "-X", "tar")
			for _, want := range []string{
				"d02775 1000 1000      0 { @a(ayay) [] } /usr/share\n",
				"-00644 1000 100  65540 { @a(ayay) [] } /usr/share/big\n",
				"-04755 0 0     18 { @a(ayay) [] } /usr/bin/su\n",
				"l00777 1000 1000      0 { @a(ayay) [] } /etc/owned-link -> passwd\n",
				"d00755 0 0      0 { [(b'user.dir', [byte 0x64])] } /etc\n",
				"d00750 0 10      0 { @a(ayay) [] } /\n",
			} {
				if !strings.Contains(ls, want) {
					t.Errorf("ostree ls -R -X of the tar commit lacks %q:\n%s", want, ls)
				}
			}
		})
	}
	t.Run("several xattrs on one entry", func(t *testing.T) {
		requireGostree(t)
		requireOstree(t)
		v := strings.Fields(ostree(t, "--version"))
		// ostree < 2024.10 records a tar entry's xattrs in libarchive's order (the reverse of
		// the PAX records) instead of sorting them, so its checksum is not the canonical one.
		if len(v) > 2 && v[1] == "Version:" && strings.Trim(v[2], "'") < "2024.10" {
			// An oracle limitation, not a missing capability: a plain skip even under
			// GOSTREE_TEST_NO_SKIP.
			t.Skipf("ostree %s keeps libarchive's xattr order for tar entries (fixed in 2024.10, commit 1858d3d3)", v[2])
		}
		multi := filepath.Join(dir, "multi.tar")
		makeTar(t, multi, true)
		orepo, grepo := newRepo(t, "ostree", "bare-user"), newRepo(t, "gostree", "bare-user")
		commitBoth(t, orepo, grepo, append(commitArgs("tar"), "--tree=tar="+multi)...)
	})
}

// branchName turns a test name into a valid ref name.
func branchName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// TestCommitRejectsFlagCombinations: what ostree refuses, gostree refuses too.
func TestCommitRejectsFlagCombinations(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--canonical-permissions", "--owner-uid=7"}, // "Cannot specify both --canonical-permissions and non-zero --owner-uid"
		{"--timestamp=not-a-time"},                   // unparseable timestamp
		{"--add-metadata-string=novalue"},            // no '='
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			orepo, grepo := newRepo(t, "ostree", "archive"), newRepo(t, "gostree", "archive")
			argv := append(append([]string{"commit", "-b", "main", "-s", "s"}, args...), src)
			if o := ostreeRun(t, append(argv, "--repo="+orepo)...); o.code == 0 {
				t.Fatalf("test bug: ostree accepts it: %v", o)
			}
			g := gostreeRun(t, append(argv, "--repo="+grepo)...)
			noPanic(t, g)
			if g.code == 0 {
				t.Errorf("gostree accepts what ostree refuses: %v", g)
			}
			if refs := gostreeRun(t, "refs", "--repo="+grepo); strings.TrimSpace(refs.stdout) != "" {
				t.Errorf("a refused commit left refs behind: %q", refs.stdout)
			}
		})
	}
}
