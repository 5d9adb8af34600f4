package objtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func makeTestTree(t *testing.T, opts TreeOptions) (string, *TreeInfo) {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := MakeWritable(dir); err != nil {
			t.Errorf("MakeWritable: %v", err)
		}
	})
	info, err := MakeTree(dir, opts)
	if err != nil {
		t.Fatalf("MakeTree(%+v) = %v", opts, err)
	}
	return dir, info
}

func TestMakeTreeDeterministic(t *testing.T) {
	a, _ := makeTestTree(t, TreeOptions{Seed: 7, ManyFiles: 200})
	b, _ := makeTestTree(t, TreeOptions{Seed: 7, ManyFiles: 200})
	if err := CompareTrees(a, b, CompareOptions{}); err != nil {
		t.Errorf("same seed: %v", err)
	}
	c, _ := makeTestTree(t, TreeOptions{Seed: 8, ManyFiles: 200})
	err := CompareTrees(a, c, CompareOptions{})
	if err == nil || !strings.Contains(err.Error(), "content sha256") {
		t.Errorf("CompareTrees(seed 7, seed 8) = %v, want content differences", err)
	}
}

func TestMakeTreeContents(t *testing.T) {
	dir, info := makeTestTree(t, TreeOptions{Seed: 1, ManyFiles: 300, LargeFile: 8 << 20})
	root := os.Geteuid() == 0
	if info.Privileged != root {
		t.Errorf("Privileged = %v, want %v (euid %d)", info.Privileged, root, os.Geteuid())
	}
	entry := func(p string) *TreeEntry {
		t.Helper()
		e := info.Entries[p]
		if e == nil {
			t.Fatalf("Entries[%q] missing", p)
		}
		return e
	}
	for _, n := range SizedFileSizes {
		if got := entry(info.SizedFiles[n]).Size; got != n {
			t.Errorf("size of %s = %d, want %d", info.SizedFiles[n], got, n)
		}
	}
	tests := []struct {
		path string
		mode uint32
	}{
		{".", unix.S_IFDIR | 0o755},
		{info.EmptyFile, unix.S_IFREG | 0o644},
		{info.EmptyDir, unix.S_IFDIR | 0o755},
		{info.DeepEmptyDir, unix.S_IFDIR | 0o755},
		{info.SetuidFile, unix.S_IFREG | 0o4755},
		{info.SetgidDir, unix.S_IFDIR | 0o2755},
		{info.StickyDir, unix.S_IFDIR | 0o1777},
		{"modes/0400", unix.S_IFREG | 0o400},
		{"modes/0777", unix.S_IFREG | 0o777},
		{"modes/all-bits", unix.S_IFREG | 0o7777},
		{"links/dangling", unix.S_IFLNK | 0o777},
		{info.LongName, unix.S_IFREG | 0o644},
		{info.LargeFile, unix.S_IFREG | 0o644},
	}
	if root {
		tests = append(tests, struct {
			path string
			mode uint32
		}{"modes/0000", unix.S_IFREG}, struct {
			path string
			mode uint32
		}{"modes/dir-0600", unix.S_IFDIR | 0o600})
	}
	for _, tt := range tests {
		if got := entry(tt.path).Mode; got != tt.mode {
			t.Errorf("mode of %q = %#o, want %#o", tt.path, got, tt.mode)
		}
	}
	if e := entry(info.EmptyFile); e.Size != 0 {
		t.Errorf("size of %s = %d, want 0", info.EmptyFile, e.Size)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, info.DeepEmptyDir)); err != nil || len(ents) != 0 {
		t.Errorf("ReadDir(%s) = %d entries, %v; want empty", info.DeepEmptyDir, len(ents), err)
	}
	if n := strings.Count(info.DeepEmptyDir, "/"); n < 5 {
		t.Errorf("DeepEmptyDir %q is only %d levels deep", info.DeepEmptyDir, n+1)
	}
	if got := len(filepath.Base(info.LongName)); got != 255 {
		t.Errorf("len(base(LongName)) = %d, want 255", got)
	}
	for p, target := range info.Symlinks {
		if got := entry(p).Target; got != target {
			t.Errorf("target of %s = %q, want %q", p, got, target)
		}
	}
	for _, group := range info.Hardlinks {
		first := entry(group[0])
		for _, p := range group {
			if e := entry(p); e.Ino != first.Ino || e.Nlink != uint64(len(group)) {
				t.Errorf("%s: ino %d nlink %d, want ino %d nlink %d", p, e.Ino, e.Nlink, first.Ino, len(group))
			}
		}
	}
	x := entry(info.XattrFile).Xattrs
	if v, ok := x["user.binary"]; !ok || !bytes.Equal(v, []byte{0, 1, 0, 0xff, 0}) {
		t.Errorf("user.binary of %s = %q, %v", info.XattrFile, v, ok)
	}
	if v, ok := x["user.empty"]; !ok || len(v) != 0 {
		t.Errorf("user.empty of %s = %q, %v; want present and empty", info.XattrFile, v, ok)
	}
	if len(entry(info.XattrDir).Xattrs) == 0 {
		t.Errorf("%s has no xattrs", info.XattrDir)
	}
	for _, p := range append(append([]string{}, info.CaseNames...), info.Unicode...) {
		entry(p)
	}
	if root {
		if e := entry(info.OwnedFile); e.UID != 1000 || e.GID != 1000 {
			t.Errorf("owner of %s = %d:%d, want 1000:1000", info.OwnedFile, e.UID, e.GID)
		}
		if e := entry(info.OwnedDir); e.UID != 1000 || e.GID != 1000 || !e.IsDir() {
			t.Errorf("%s = %+v, want a directory owned by 1000:1000", info.OwnedDir, e)
		}
		if e := entry("owners/setuid-1000"); e.Mode&unix.S_ISUID == 0 {
			t.Errorf("owners/setuid-1000 lost setuid after chown: %#o", e.Mode)
		}
		if _, ok := entry("xattrs/privileged").Xattrs["trusted.gostree"]; !ok {
			t.Errorf("xattrs/privileged has no trusted.gostree")
		}
	}
	many := 0
	for p, e := range info.Entries {
		if strings.HasPrefix(p, info.ManyDir+"/") && e.IsRegular() {
			many++
		}
	}
	if many != 300 {
		t.Errorf("%d files under %s, want 300", many, info.ManyDir)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, info.LargeFile), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 8<<20 || st.Blocks*512 > 1<<20 {
		t.Errorf("%s: size %d, %d bytes allocated; want 8 MiB and sparse", info.LargeFile, st.Size, st.Blocks*512)
	}
	for _, p := range []string{".", info.SetuidFile, "links/absolute", info.DeepEmptyDir} {
		if err := unix.Lstat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Mtim.Sec; got != TreeMTime.Unix() {
			t.Errorf("mtime of %q = %d, want %d", p, got, TreeMTime.Unix())
		}
	}
	if info.NumFiles == 0 || info.NumDirs == 0 || info.NumSymlinks != len(info.Symlinks) {
		t.Errorf("counts files=%d dirs=%d symlinks=%d (want %d symlinks)", info.NumFiles, info.NumDirs, info.NumSymlinks, len(info.Symlinks))
	}
}

func TestMakeTreeNoPrivileged(t *testing.T) {
	_, info := makeTestTree(t, TreeOptions{NoPrivileged: true})
	if info.Privileged || info.OwnedFile != "" {
		t.Errorf("NoPrivileged tree: Privileged=%v OwnedFile=%q", info.Privileged, info.OwnedFile)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	for p, e := range info.Entries {
		if e.UID != uid || e.GID != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, e.UID, e.GID, uid, gid)
		}
		for n := range e.Xattrs {
			if !strings.HasPrefix(n, "user.") {
				t.Errorf("%s has xattr %s", p, n)
			}
		}
		if !e.IsSymlink() && e.Mode&unix.S_IRUSR == 0 {
			t.Errorf("%s is unreadable by its owner: %#o", p, e.Mode)
		}
	}
}

func TestMakeTreeNotEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MakeTree(dir, TreeOptions{}); err == nil {
		t.Errorf("MakeTree(non-empty dir) = nil error")
	}
}

func TestCompareTreesFindsDifferences(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		opts   CompareOptions
		want   []string // substrings of the error; nil = no error
	}{
		{name: "identical"},
		{
			name: "one byte",
			change: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "sizes/size-65537")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				b[40000] ^= 1
				writeKeepMode(t, p, b)
			},
			want: []string{`"sizes/size-65537": content sha256`},
		},
		{
			name:   "mode",
			change: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "modes/setuid"), 0o755) },
			want:   []string{`"modes/setuid": mode 0755, want 04755`},
		},
		{
			name:   "sticky bit on dir",
			change: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "modes/sticky"), 0o777) },
			want:   []string{`"modes/sticky": mode 0777, want 01777`},
		},
		{
			name: "xattr value",
			change: func(t *testing.T, dir string) {
				setx(t, filepath.Join(dir, "xattrs/file"), "user.binary", []byte{0, 1, 0, 0xfe, 0})
			},
			want: []string{`"xattrs/file": xattr user.binary=`},
		},
		{
			name: "xattr added and removed",
			change: func(t *testing.T, dir string) {
				setx(t, filepath.Join(dir, "xattrs/same-content-a"), "user.new", []byte("n"))
				if err := unix.Lremovexattr(filepath.Join(dir, "xattrs/dir"), "user.dir"); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{`"xattrs/same-content-a": unexpected xattr user.new`, `"xattrs/dir": xattr user.dir missing`},
		},
		{
			name: "xattr ignored by prefix",
			change: func(t *testing.T, dir string) {
				setx(t, filepath.Join(dir, "xattrs/same-content-a"), "user.ostreemeta", []byte("n"))
			},
			opts: CompareOptions{IgnoreXattrPrefixes: []string{"user.ostree"}},
		},
		{
			name: "all xattrs ignored",
			change: func(t *testing.T, dir string) {
				if err := unix.Lremovexattr(filepath.Join(dir, "xattrs/dir"), "user.dir"); err != nil {
					t.Fatal(err)
				}
			},
			opts: CompareOptions{IgnoreXattrs: true},
		},
		{
			name: "missing file",
			change: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "names/日本語")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{`"names/日本語": missing from`},
		},
		{
			name: "extra file",
			change: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "empty-dir/new"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{`"empty-dir/new": unexpected in`},
		},
		{
			name: "ignored path",
			change: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "empty-dir/new"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			opts: CompareOptions{IgnorePaths: []string{"empty-dir"}},
		},
		{
			name: "symlink target",
			change: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "links/relative")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../sizes/size-4096", p); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{`"links/relative": symlink target "../sizes/size-4096", want "../sizes/size-1"`},
		},
		{
			name: "type",
			change: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "links/to-dir")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{`"links/to-dir": type directory, want symlink`},
		},
		{
			name: "two changes are both listed",
			change: func(t *testing.T, dir string) {
				chmod(t, filepath.Join(dir, "modes/0400"), 0o600)
				chmod(t, filepath.Join(dir, "empty-dir"), 0o700)
			},
			want: []string{"differ in 2 ways", `"modes/0400": mode 0600, want 0400`, `"empty-dir": mode 0700, want 0755`},
		},
		{
			name:   "expectation rewrites",
			change: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "modes/setuid"), 0o755) },
			opts: CompareOptions{Expect: []func(*TreeEntry){func(e *TreeEntry) {
				if e.Path == "modes/setuid" {
					e.Mode &^= unix.S_ISUID
				}
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := makeTestTree(t, TreeOptions{Seed: 3, NoPrivileged: true})
			b, _ := makeTestTree(t, TreeOptions{Seed: 3, NoPrivileged: true})
			if tt.change != nil {
				tt.change(t, b)
			}
			err := CompareTrees(a, b, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CompareTrees = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CompareTrees = nil, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CompareTrees error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestCompareTreesOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
			t.Fatal("GOSTREE_TEST_NO_SKIP=1: chown to other uids needs root")
		}
		t.Skip("chown to other uids needs root")
	}
	a, _ := makeTestTree(t, TreeOptions{Seed: 3})
	b, info := makeTestTree(t, TreeOptions{Seed: 3})
	if err := os.Lchown(filepath.Join(b, info.OwnedDir), 0, 0); err != nil {
		t.Fatal(err)
	}
	err := CompareTrees(a, b, CompareOptions{})
	if want := `"owners/dir1000": owner 0:0, want 1000:1000`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CompareTrees = %v, want it to contain %q", err, want)
	}
	if err := CompareTrees(a, b, CompareOptions{IgnoreOwnership: true}); err != nil {
		t.Errorf("CompareTrees(IgnoreOwnership) = %v", err)
	}
}

func TestCompareTreesMaxReport(t *testing.T) {
	a, _ := makeTestTree(t, TreeOptions{Seed: 1, ManyFiles: 50, NoPrivileged: true})
	b, _ := makeTestTree(t, TreeOptions{Seed: 2, ManyFiles: 50, NoPrivileged: true})
	err := CompareTrees(a, b, CompareOptions{MaxReport: 3})
	if err == nil {
		t.Fatal("CompareTrees(seed 1, seed 2) = nil")
	}
	if lines := strings.Count(err.Error(), "\n"); lines != 4 || !strings.Contains(err.Error(), "more") {
		t.Errorf("MaxReport 3 gave %d lines:\n%v", lines, err)
	}
}

func TestExpectations(t *testing.T) {
	tests := []struct {
		name string
		f    func(*TreeEntry)
		in   TreeEntry
		want TreeEntry
	}{
		{"canonical setuid file", CanonicalPermissions,
			TreeEntry{Mode: unix.S_IFREG | 0o4777, UID: 5, GID: 6, Xattrs: map[string][]byte{"user.a": {1}}},
			TreeEntry{Mode: unix.S_IFREG | 0o755}},
		{"canonical sticky dir", CanonicalPermissions,
			TreeEntry{Mode: unix.S_IFDIR | 0o1777}, TreeEntry{Mode: unix.S_IFDIR | 0o755}},
		{"canonical 0000 stays", CanonicalPermissions,
			TreeEntry{Mode: unix.S_IFREG}, TreeEntry{Mode: unix.S_IFREG}},
		{"canonical symlink", CanonicalPermissions,
			TreeEntry{Mode: unix.S_IFLNK | 0o777, UID: 1}, TreeEntry{Mode: unix.S_IFLNK | 0o777}},
		{"user checkout setuid", UserCheckout,
			TreeEntry{Mode: unix.S_IFREG | 0o7777, UID: 5}, TreeEntry{Mode: unix.S_IFREG | 0o1777, UID: 5}},
		{"user checkout unreadable", UserCheckout,
			TreeEntry{Mode: unix.S_IFREG}, TreeEntry{Mode: unix.S_IFREG | 0o400}},
		{"user checkout setgid dir", UserCheckout,
			TreeEntry{Mode: unix.S_IFDIR | 0o2755, Xattrs: map[string][]byte{"user.a": {1}}}, TreeEntry{Mode: unix.S_IFDIR | 0o2755}},
		{"drop empty xattrs", DropEmptyXattrs,
			TreeEntry{Xattrs: map[string][]byte{"user.a": {}, "user.b": {0}}}, TreeEntry{Xattrs: map[string][]byte{"user.b": {0}}}},
	}
	for _, tt := range tests {
		got := tt.in
		tt.f(&got)
		if got.Mode != tt.want.Mode || got.UID != tt.want.UID || got.GID != tt.want.GID || len(got.Xattrs) != len(tt.want.Xattrs) {
			t.Errorf("%s: %+v -> %+v, want %+v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestMakeSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	made, err := MakeSpecialFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"fifo": unix.S_IFIFO}
	if os.Geteuid() == 0 {
		want["chardev"] = unix.S_IFCHR
	}
	if len(made) != len(want) {
		t.Errorf("MakeSpecialFiles = %q, want %d entries", made, len(want))
	}
	for _, p := range made {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Mode & unix.S_IFMT; got != want[p] {
			t.Errorf("type of %s = %#o, want %#o", p, got, want[p])
		}
	}
}

func chmod(t *testing.T, p string, mode uint32) {
	t.Helper()
	if err := unix.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func setx(t *testing.T, p, name string, v []byte) {
	t.Helper()
	if err := unix.Lsetxattr(p, name, v, 0); err != nil {
		t.Fatal(err)
	}
}

func writeKeepMode(t *testing.T, p string, b []byte) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, fi.Mode()); err != nil {
		t.Fatal(err)
	}
}
