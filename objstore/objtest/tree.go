package objtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TreeMTime is the modification time MakeTree gives every entry (2020-01-01T00:00:00Z).
var TreeMTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// TreeOptions selects what MakeTree creates. The zero value creates everything this process
// can create, without the ManyFiles and LargeFile extras.
type TreeOptions struct {
	// ManyFiles is the number of extra small files spread over nested directories under
	// "many/" (64 per leaf directory, 16 leaves per group). 0 creates none.
	ManyFiles int
	// LargeFile is the size of the sparse file "large/sparse"; 0 creates none.
	LargeFile int64
	// Seed makes contents deterministic: equal options give byte-identical trees.
	Seed int64
	// NoPrivileged skips everything that needs root: ownership by other uids, trusted.* and
	// security.* xattrs, and modes that make an entry unreadable to its owner (a 0000 file
	// and a 0600 directory), since a non-root committer could not read them back.
	NoPrivileged bool
}

// TreeEntry is the metadata of one entry of a tree, as ScanTree reads it.
type TreeEntry struct {
	Path   string            // slash-separated, relative to the tree root; "." is the root
	Mode   uint32            // st_mode: S_IFMT type bits plus 07777 permission bits
	UID    uint32            // owner
	GID    uint32            // group
	Size   int64             // regular files only
	Sum    [32]byte          // SHA-256 of a regular file's content
	Target string            // symlink target
	Xattrs map[string][]byte // all extended attributes (names with their namespace)
	Ino    uint64            // inode number, for hardlink structure; CompareTrees ignores it
	Nlink  uint64            // link count; CompareTrees ignores it
}

// Type returns the S_IFMT bits of e.Mode.
func (e *TreeEntry) Type() uint32 { return e.Mode & unix.S_IFMT }

// IsDir, IsRegular and IsSymlink report e's type.
func (e *TreeEntry) IsDir() bool     { return e.Type() == unix.S_IFDIR }
func (e *TreeEntry) IsRegular() bool { return e.Type() == unix.S_IFREG }
func (e *TreeEntry) IsSymlink() bool { return e.Type() == unix.S_IFLNK }

// TreeInfo describes the tree MakeTree built. Paths are slash-separated and relative to Dir.
type TreeInfo struct {
	Dir        string
	Privileged bool                  // root-only entries (ownership, trusted./security. xattrs) exist
	Entries    map[string]*TreeEntry // every entry including ".", as ScanTree read it after building

	NumFiles    int // regular files
	NumDirs     int // directories, including the root
	NumSymlinks int

	SizedFiles   map[int64]string  // boundary size -> path ("sizes/size-4097", ...)
	EmptyFile    string            // a 0-byte file
	EmptyDir     string            // an empty directory at the top
	DeepEmptyDir string            // an empty directory 6 levels down
	LargeFile    string            // the sparse file, "" unless requested
	ManyDir      string            // parent of the ManyFiles files, "" unless requested
	Symlinks     map[string]string // symlink path -> target
	SetuidFile   string
	SetgidDir    string
	StickyDir    string     // mode 01777, like /tmp
	XattrFile    string     // a file with user.* xattrs incl. binary and empty values
	XattrDir     string     // a directory with user.* xattrs
	Hardlinks    [][]string // groups of names of one inode
	OwnedFile    string     // owned by 1000:1000 ("" unless Privileged)
	OwnedDir     string     // directory owned by 1000:1000 ("" unless Privileged)
	Unicode      []string   // paths with non-ASCII names
	LongName     string     // a path whose last element is 255 bytes
	CaseNames    []string   // "names/B", "names/a", "names/A"
	UnreadableOK bool       // the 0000 file and the 0600 dir exist (Privileged only)
}

// SizedFileSizes are the boundary sizes MakeTree always creates, in SizedFiles.
var SizedFileSizes = []int64{1, 4095, 4096, 4097, 65535, 65536, 65537, 1<<20 + 1}

// treeBuilder holds the state of one MakeTree call.
type treeBuilder struct {
	dir   string
	rng   *rand.Rand
	priv  bool
	modes []treeChmod // applied after contents, ownership and xattrs exist
	owns  []treeChown
	errs  []error
}

type treeChmod struct {
	path string
	mode uint32
}

type treeChown struct {
	path     string
	uid, gid int
}

func (b *treeBuilder) fail(err error) {
	if err != nil {
		b.errs = append(b.errs, err)
	}
}

func (b *treeBuilder) abs(rel string) string { return filepath.Join(b.dir, filepath.FromSlash(rel)) }

func (b *treeBuilder) mkdir(rel string, mode uint32) {
	b.fail(os.MkdirAll(b.abs(rel), 0o700))
	b.modes = append(b.modes, treeChmod{rel, mode})
}

func (b *treeBuilder) data(n int64) []byte {
	p := make([]byte, n)
	for i := 0; i < len(p); i += 8 {
		v := b.rng.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

func (b *treeBuilder) file(rel string, mode uint32, content []byte) {
	b.fail(os.WriteFile(b.abs(rel), content, 0o600))
	b.modes = append(b.modes, treeChmod{rel, mode})
}

func (b *treeBuilder) symlink(rel, target string) {
	b.fail(os.Symlink(target, b.abs(rel)))
}

func (b *treeBuilder) link(oldRel, newRel string) {
	b.fail(os.Link(b.abs(oldRel), b.abs(newRel)))
}

func (b *treeBuilder) xattr(rel, name string, value []byte) {
	if err := unix.Lsetxattr(b.abs(rel), name, value, 0); err != nil {
		b.fail(fmt.Errorf("lsetxattr %s %s: %w", rel, name, err))
	}
}

func (b *treeBuilder) chown(rel string, uid, gid int) {
	b.owns = append(b.owns, treeChown{rel, uid, gid})
}

// MakeTree builds an awkward test tree under dir, which must exist and be empty, and returns a
// description of it. The tree has only directories, regular files and symlinks (use
// MakeSpecialFiles for fifos and devices):
//
//	empty-file, empty-dir/, nested/a/b/c/d/e/deep-empty/   empty things, one deep down
//	sizes/size-N               N = 1, 4095, 4096, 4097, 65535, 65536, 65537, 1 MiB+1
//	large/sparse               sparse, opts.LargeFile bytes (only when requested)
//	links/                     relative, absolute, dangling, to-dir, with "..", chained
//	xattrs/                    user.* on a file, a dir and a hardlinked file (binary with NULs,
//	                           empty value, names set in non-sorted order); trusted.* and
//	                           security.* (incl. a valid security.capability) when privileged
//	modes/                     setuid/setgid files, setgid dir, sticky 01777 dir, 0400, 0777,
//	                           0700, 0555 dir; 0000 file and 0600 dir when privileged
//	owners/                    1000:1000 file and dir, 65534:65534, 0:1000 (when privileged)
//	hardlinks/                 2-name and 3-name (across directories) hardlinks
//	names/                     é, 日本語, emoji, 255-byte name, space, leading dash, .hidden,
//	                           B a A (case only)
//	many/gNNN/lNN/fNNNNN       opts.ManyFiles small files, every 10th with identical content
//
// Modes are set with chmod (umask does not matter), and all mtimes are TreeMTime. Privileged
// parts are created when the process is root and opts.NoPrivileged is false.
func MakeTree(dir string, opts TreeOptions) (*TreeInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("make tree: %w", err)
	}
	if len(ents) != 0 {
		return nil, fmt.Errorf("make tree: %s is not empty", dir)
	}
	b := &treeBuilder{
		dir:  dir,
		rng:  rand.New(rand.NewPCG(uint64(opts.Seed), 0x6f737472656531)),
		priv: !opts.NoPrivileged && os.Geteuid() == 0,
	}
	info := &TreeInfo{
		Dir:        dir,
		Privileged: b.priv,
		SizedFiles: map[int64]string{},
		Symlinks:   map[string]string{},
	}
	b.modes = append(b.modes, treeChmod{".", 0o755})

	// Empty things.
	b.file("empty-file", 0o644, nil)
	info.EmptyFile = "empty-file"
	b.mkdir("empty-dir", 0o755)
	info.EmptyDir = "empty-dir"
	for _, d := range []string{"nested", "nested/a", "nested/a/b", "nested/a/b/c", "nested/a/b/c/d", "nested/a/b/c/d/e"} {
		b.mkdir(d, 0o755)
	}
	b.mkdir("nested/a/b/c/d/e/deep-empty", 0o755)
	info.DeepEmptyDir = "nested/a/b/c/d/e/deep-empty"
	b.file("nested/a/b/c/d/e/leaf", 0o644, []byte("leaf\n"))
	b.file("nested/a/file", 0o644, []byte("nested file\n"))

	// Boundary sizes.
	b.mkdir("sizes", 0o755)
	for _, n := range SizedFileSizes {
		p := fmt.Sprintf("sizes/size-%d", n)
		b.file(p, 0o644, b.data(n))
		info.SizedFiles[n] = p
	}

	// Sparse large file: a few seeded blocks, holes in between.
	if opts.LargeFile > 0 {
		b.mkdir("large", 0o755)
		info.LargeFile = "large/sparse"
		b.sparse(info.LargeFile, opts.LargeFile)
	}

	// Symlinks.
	b.mkdir("links", 0o755)
	for _, l := range []struct{ name, target string }{
		{"relative", "../sizes/size-1"},
		{"absolute", "/etc/passwd"},
		{"dangling", "does/not/exist"},
		{"to-dir", "../nested/a"},
		{"dotdot", "../nested/a/../a/b/../../a/file"},
		{"self-dir", "."},
		{"chain", "relative"},
		{"long-target", strings.Repeat("x/", 200) + "end"},
	} {
		p := "links/" + l.name
		b.symlink(p, l.target)
		info.Symlinks[p] = l.target
	}

	// xattrs. Set in non-sorted order so listxattr order differs from strcmp order.
	b.mkdir("xattrs", 0o755)
	b.file("xattrs/file", 0o644, []byte("file with xattrs\n"))
	info.XattrFile = "xattrs/file"
	b.xattr("xattrs/file", "user.zeta", []byte("last"))
	b.xattr("xattrs/file", "user.binary", []byte{0, 1, 0, 0xff, 0})
	b.xattr("xattrs/file", "user.empty", nil)
	b.xattr("xattrs/file", "user.Alpha", []byte("upper case sorts first"))
	b.xattr("xattrs/file", "user.cstring", []byte("NUL-terminated text\x00"))
	b.xattr("xattrs/file", "user.escapes", []byte("tab\there 'single' \"double\" back\\slash é\n\x00"))
	b.mkdir("xattrs/dir", 0o755)
	info.XattrDir = "xattrs/dir"
	b.xattr("xattrs/dir", "user.dir", []byte("on a directory"))
	b.xattr("xattrs/dir", "user.binary", []byte{0xde, 0xad, 0, 0xbe, 0xef})
	b.file("xattrs/dir/plain", 0o644, []byte("no xattrs, parent has some\n"))
	b.file("xattrs/dir/large-value", 0o644, []byte("a 1000-byte xattr\n"))
	b.xattr("xattrs/dir/large-value", "user.large", b.data(1000))
	b.file("xattrs/same-content-a", 0o644, []byte("same content, different xattrs\n"))
	b.file("xattrs/same-content-b", 0o644, []byte("same content, different xattrs\n"))
	b.xattr("xattrs/same-content-b", "user.differs", []byte("b"))
	if b.priv {
		b.file("xattrs/privileged", 0o755, []byte("#!/bin/sh\necho trusted\n"))
		b.xattr("xattrs/privileged", "trusted.gostree", []byte("trusted value"))
		b.xattr("xattrs/privileged", "security.gostree", []byte("security value"))
		b.xattr("xattrs/privileged", "user.mixed", []byte("user next to trusted"))
		// A valid VFS_CAP_REVISION_2 capability: effective, permitted CAP_NET_RAW (13).
		b.file("xattrs/capability", 0o755, []byte("#!/bin/sh\necho ping\n"))
		b.xattr("xattrs/capability", "security.capability",
			[]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		b.mkdir("xattrs/trusted-dir", 0o755)
		b.xattr("xattrs/trusted-dir", "trusted.overlay.opaque", []byte("y"))
		b.symlink("xattrs/trusted-link", "file")
		info.Symlinks["xattrs/trusted-link"] = "file"
		b.xattr("xattrs/trusted-link", "trusted.link", []byte("xattr on a symlink"))
	}

	// Modes.
	b.mkdir("modes", 0o755)
	b.file("modes/setuid", 0o4755, []byte("#!/bin/sh\necho setuid\n"))
	info.SetuidFile = "modes/setuid"
	b.file("modes/setgid-file", 0o2755, []byte("#!/bin/sh\necho setgid\n"))
	b.file("modes/all-bits", 0o7777, []byte("every permission bit\n"))
	b.file("modes/0400", 0o400, []byte("read only\n"))
	b.file("modes/0777", 0o777, []byte("world writable\n"))
	b.file("modes/0666", 0o666, []byte("rw for all\n"))
	b.file("modes/0640", 0o640, []byte("group read\n"))
	b.mkdir("modes/setgid-dir", 0o2755)
	info.SetgidDir = "modes/setgid-dir"
	b.file("modes/setgid-dir/inside", 0o644, []byte("in a setgid dir\n"))
	b.mkdir("modes/sticky", 0o1777)
	info.StickyDir = "modes/sticky"
	b.file("modes/sticky/inside", 0o644, []byte("in a sticky dir\n"))
	b.mkdir("modes/dir-0700", 0o700)
	b.mkdir("modes/dir-0555", 0o555)
	b.file("modes/dir-0555/inside", 0o644, []byte("in a read-only dir\n"))
	b.mkdir("modes/dir-0775", 0o775)
	if b.priv {
		b.file("modes/0000", 0o000, []byte("no permissions at all\n"))
		b.mkdir("modes/dir-0600", 0o600)
		b.file("modes/dir-0600/inside", 0o644, []byte("in a dir without x\n"))
		info.UnreadableOK = true
	}

	// Ownership.
	if b.priv {
		b.mkdir("owners", 0o755)
		b.file("owners/uid1000", 0o644, []byte("owned by 1000\n"))
		b.chown("owners/uid1000", 1000, 1000)
		info.OwnedFile = "owners/uid1000"
		b.file("owners/nobody", 0o644, []byte("owned by nobody\n"))
		b.chown("owners/nobody", 65534, 65534)
		b.file("owners/gid-only", 0o640, []byte("group 1000\n"))
		b.chown("owners/gid-only", 0, 1000)
		b.file("owners/setuid-1000", 0o4750, []byte("#!/bin/sh\necho setuid 1000\n"))
		b.chown("owners/setuid-1000", 1000, 1000)
		b.mkdir("owners/dir1000", 0o750)
		b.chown("owners/dir1000", 1000, 1000)
		info.OwnedDir = "owners/dir1000"
		b.file("owners/dir1000/root-owned", 0o644, []byte("root file in 1000 dir\n"))
		b.symlink("owners/link1000", "uid1000")
		b.chown("owners/link1000", 1000, 1000)
		info.Symlinks["owners/link1000"] = "uid1000"
	}

	// Hardlinks.
	b.mkdir("hardlinks", 0o755)
	b.mkdir("hardlinks/sub", 0o755)
	b.file("hardlinks/two-1", 0o644, []byte("two names\n"))
	b.link("hardlinks/two-1", "hardlinks/two-2")
	b.file("hardlinks/three-1", 0o600, []byte("three names across directories\n"))
	b.link("hardlinks/three-1", "hardlinks/sub/three-2")
	b.link("hardlinks/three-1", "nested/a/b/three-3")
	b.xattr("hardlinks/three-1", "user.hardlinked", []byte("shared by all names"))
	info.Hardlinks = [][]string{
		{"hardlinks/two-1", "hardlinks/two-2"},
		{"hardlinks/three-1", "hardlinks/sub/three-2", "nested/a/b/three-3"},
	}

	// Names.
	b.mkdir("names", 0o755)
	long := strings.Repeat("L", 251) + ".txt"
	for _, n := range []string{"é", "日本語", "emoji-😀", "with space", "-leading-dash", ".hidden", "B", "a", "A", long, "tab\there", "quote'\"", "back\\slash", "~tilde", "#hash", "percent%s"} {
		b.file("names/"+n, 0o644, []byte("name: "+n+"\n"))
	}
	b.mkdir("names/répertoire-日本", 0o755)
	b.file("names/répertoire-日本/ファイル", 0o644, []byte("unicode dir\n"))
	info.Unicode = []string{"names/é", "names/日本語", "names/emoji-😀", "names/répertoire-日本", "names/répertoire-日本/ファイル"}
	info.LongName = "names/" + long
	info.CaseNames = []string{"names/B", "names/a", "names/A"}

	// Many small files.
	if opts.ManyFiles > 0 {
		info.ManyDir = "many"
		b.mkdir("many", 0o755)
		made := map[string]bool{}
		for i := range opts.ManyFiles {
			leaf := i / 64
			d := fmt.Sprintf("many/g%03d/l%02d", leaf/16, leaf%16)
			if !made[d] {
				if g := filepath.Dir(d); !made[g] {
					b.mkdir(g, 0o755)
					made[g] = true
				}
				b.mkdir(d, 0o755)
				made[d] = true
			}
			var content []byte
			if i%10 == 0 {
				content = []byte("duplicated content\n")
			} else {
				content = b.data(int64(b.rng.IntN(700)))
			}
			b.file(fmt.Sprintf("%s/f%05d", d, i), 0o644, content)
		}
	}

	if len(b.errs) > 0 {
		return nil, fmt.Errorf("make tree: %w", errors.Join(b.errs...))
	}
	// Ownership first (chown clears setuid/setgid), then modes, then mtimes bottom-up.
	for _, c := range b.owns {
		if err := os.Lchown(b.abs(c.path), c.uid, c.gid); err != nil {
			return nil, fmt.Errorf("make tree: %w", err)
		}
	}
	for _, c := range b.modes {
		if err := unix.Chmod(b.abs(c.path), c.mode); err != nil {
			return nil, fmt.Errorf("make tree: chmod %s: %w", c.path, err)
		}
	}
	if err := setTreeTimes(dir); err != nil {
		return nil, fmt.Errorf("make tree: %w", err)
	}

	entries, err := ScanTree(dir)
	if err != nil {
		return nil, fmt.Errorf("make tree: %w", err)
	}
	info.Entries = map[string]*TreeEntry{}
	for i := range entries {
		e := &entries[i]
		info.Entries[e.Path] = e
		switch {
		case e.IsDir():
			info.NumDirs++
		case e.IsRegular():
			info.NumFiles++
		case e.IsSymlink():
			info.NumSymlinks++
		}
	}
	return info, nil
}

// sparse writes a file of size n that is mostly holes, with seeded 4 KiB blocks at the start,
// at two odd offsets and at the very end.
func (b *treeBuilder) sparse(rel string, n int64) {
	f, err := os.OpenFile(b.abs(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.fail(err)
		return
	}
	defer f.Close()
	b.fail(f.Truncate(n))
	for _, off := range []int64{0, n/3 + 12345, n / 2, n - 4096} {
		off = max(off, 0)
		blk := b.data(min(4096, n-off))
		if _, err := f.WriteAt(blk, off); err != nil {
			b.fail(err)
		}
	}
	b.modes = append(b.modes, treeChmod{rel, 0o644})
}

// setTreeTimes sets atime and mtime of everything under dir (children before parents) to
// TreeMTime, without following symlinks.
func setTreeTimes(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	ts := unix.NsecToTimespec(TreeMTime.UnixNano())
	for _, p := range slices.Backward(paths) {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("utimes %s: %w", p, err)
		}
	}
	return nil
}

// MakeSpecialFiles creates entries ostree refuses to commit under dir (which must exist): a fifo
// "fifo", and when the process is root, a character device "chardev" (1:3, like /dev/null) and a
// unix socket is not created (ostree's behaviour on sockets equals fifos). It returns the
// slash-separated relative paths it created.
func MakeSpecialFiles(dir string) ([]string, error) {
	made := []string{}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		return nil, fmt.Errorf("make special files: mkfifo: %w", err)
	}
	made = append(made, "fifo")
	if os.Geteuid() == 0 {
		err := unix.Mknod(filepath.Join(dir, "chardev"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
		if err != nil {
			return nil, fmt.Errorf("make special files: mknod: %w", err)
		}
		made = append(made, "chardev")
	}
	return made, nil
}

// MakeWritable adds u+rwx to every directory under dir (not following symlinks), so that a
// non-root process can remove a tree containing read-only directories such as "modes/dir-0555".
// Tests call it from t.Cleanup before t.TempDir's own cleanup runs.
func MakeWritable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if p != dir && errors.Is(err, fs.ErrPermission) {
				// The parent was just made writable; retry once through it.
				if cerr := unix.Chmod(p, 0o700); cerr == nil {
					return MakeWritable(p)
				}
			}
			return err
		}
		if d.IsDir() {
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			if st.Mode&0o700 != 0o700 {
				return unix.Chmod(p, st.Mode&0o7777|0o700)
			}
		}
		return nil
	})
}

// ScanTree reads the metadata of every entry under dir (including "." for dir itself) without
// following symlinks, sorted by path. Regular files are hashed.
func ScanTree(dir string) ([]TreeEntry, error) {
	var out []TreeEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e, err := scanEntry(p)
		if err != nil {
			return err
		}
		e.Path = filepath.ToSlash(rel)
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func scanEntry(p string) (TreeEntry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return TreeEntry{}, fmt.Errorf("lstat %s: %w", p, err)
	}
	e := TreeEntry{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Ino: st.Ino, Nlink: uint64(st.Nlink)}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Size = st.Size
		f, err := os.Open(p)
		if err != nil {
			return e, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return e, fmt.Errorf("read %s: %w", p, err)
		}
		copy(e.Sum[:], h.Sum(nil))
	case unix.S_IFLNK:
		t, err := os.Readlink(p)
		if err != nil {
			return e, err
		}
		e.Target = t
	}
	x, err := readXattrs(p)
	if err != nil {
		return e, err
	}
	e.Xattrs = x
	return e, nil
}

func readXattrs(p string) (map[string][]byte, error) {
	sz, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("llistxattr %s: %w", p, err)
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("llistxattr %s: %w", p, err)
	}
	out := map[string][]byte{}
	for name := range bytes.SplitSeq(buf[:sz], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		n := string(name)
		vsz, err := unix.Lgetxattr(p, n, nil)
		if err != nil {
			return nil, fmt.Errorf("lgetxattr %s %s: %w", p, n, err)
		}
		v := make([]byte, vsz)
		if vsz > 0 {
			vsz, err = unix.Lgetxattr(p, n, v)
			if err != nil {
				return nil, fmt.Errorf("lgetxattr %s %s: %w", p, n, err)
			}
		}
		out[n] = v[:vsz]
	}
	return out, nil
}

// CompareOptions relaxes CompareTrees.
type CompareOptions struct {
	// IgnoreOwnership skips uid/gid (user-mode checkouts).
	IgnoreOwnership bool
	// IgnoreXattrs skips all extended attributes.
	IgnoreXattrs bool
	// IgnoreXattrPrefixes skips xattrs whose names start with any of these, e.g.
	// "security.selinux".
	IgnoreXattrPrefixes []string
	// IgnorePaths skips these slash-separated paths and everything below them.
	IgnorePaths []string
	// Expect rewrites each entry of the first tree (the expectation), in order, before
	// comparing: e.g. DropEmptyXattrs, then CanonicalPermissions for a bare-user-only commit.
	Expect []func(e *TreeEntry)
	// MaxReport caps the differences spelled out in the error (the count is always exact);
	// 0 means 200.
	MaxReport int
}

// CanonicalPermissions rewrites e as ostree commits it into a bare-user-only repository (and
// with --canonical-permissions): uid and gid 0, xattrs dropped, and the permission bits of
// directories and regular files masked with 0755 (no setuid, setgid, sticky or group/other
// write; 0000 stays 0000). Symlinks keep 0777. [verified with ostree 2022.7]
func CanonicalPermissions(e *TreeEntry) {
	e.UID, e.GID = 0, 0
	e.Xattrs = nil
	if !e.IsSymlink() {
		e.Mode = e.Type() | e.Mode&0o755
	}
}

// DropEmptyXattrs removes xattrs whose value is empty: ostree 2022.7 does not record them at
// commit, so no checkout has them. [verified]
func DropEmptyXattrs(e *TreeEntry) {
	for n, v := range e.Xattrs {
		if len(v) == 0 {
			delete(e.Xattrs, n)
		}
	}
}

// UserCheckout rewrites e as a user-mode checkout (ostree checkout -U, and every checkout of a
// bare-user-only repo) creates it when it copies files: no xattrs, regular files lose setuid and
// setgid, and a file the owner cannot read gets u+r. Directories keep their mode (setgid and
// sticky included). Ownership is the checking-out user's: compare with IgnoreOwnership.
// [verified with ostree 2022.7: ostree-repo-checkout.c create_file_copy_from_input_at and
// override_user_unreadable]
func UserCheckout(e *TreeEntry) {
	e.Xattrs = nil
	if e.IsRegular() {
		e.Mode &^= unix.S_ISUID | unix.S_ISGID
		if e.Mode&unix.S_IRUSR == 0 {
			e.Mode |= unix.S_IRUSR
		}
	}
}

// CompareTrees compares the trees at a (the expectation) and b, entry by entry: type, mode
// (including setuid/setgid/sticky), uid/gid, size, content hash, symlink target and xattrs.
// Hardlink structure and timestamps are not compared. It returns nil when they match, and
// otherwise an error listing the differences, one per line.
func CompareTrees(a, b string, opts CompareOptions) error {
	ea, err := ScanTree(a)
	if err != nil {
		return err
	}
	eb, err := ScanTree(b)
	if err != nil {
		return err
	}
	ma := map[string]*TreeEntry{}
	for i := range ea {
		for _, f := range opts.Expect {
			f(&ea[i])
		}
		ma[ea[i].Path] = &ea[i]
	}
	mb := map[string]*TreeEntry{}
	for i := range eb {
		mb[eb[i].Path] = &eb[i]
	}
	ignored := func(p string) bool {
		for _, ig := range opts.IgnorePaths {
			if p == ig || strings.HasPrefix(p, ig+"/") {
				return true
			}
		}
		return false
	}
	var diffs []string
	add := func(p, format string, args ...any) {
		diffs = append(diffs, fmt.Sprintf("%q: ", p)+fmt.Sprintf(format, args...))
	}
	var paths []string
	for p := range ma {
		paths = append(paths, p)
	}
	for p := range mb {
		if _, ok := ma[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if ignored(p) {
			continue
		}
		x, y := ma[p], mb[p]
		switch {
		case y == nil:
			add(p, "missing from %s", b)
			continue
		case x == nil:
			add(p, "unexpected in %s (%s)", b, treeTypeName(y.Mode))
			continue
		}
		if x.Type() != y.Type() {
			add(p, "type %s, want %s", treeTypeName(y.Mode), treeTypeName(x.Mode))
			continue
		}
		if x.Mode != y.Mode {
			add(p, "mode %#o, want %#o", y.Mode&0o7777, x.Mode&0o7777)
		}
		if !opts.IgnoreOwnership && (x.UID != y.UID || x.GID != y.GID) {
			add(p, "owner %d:%d, want %d:%d", y.UID, y.GID, x.UID, x.GID)
		}
		if x.IsRegular() {
			if x.Size != y.Size {
				add(p, "size %d, want %d", y.Size, x.Size)
			} else if x.Sum != y.Sum {
				add(p, "content sha256 %x, want %x", y.Sum, x.Sum)
			}
		}
		if x.IsSymlink() && x.Target != y.Target {
			add(p, "symlink target %q, want %q", y.Target, x.Target)
		}
		if !opts.IgnoreXattrs {
			xa, xb := filterXattrs(x.Xattrs, opts.IgnoreXattrPrefixes), filterXattrs(y.Xattrs, opts.IgnoreXattrPrefixes)
			for _, n := range unionKeys(xa, xb) {
				va, oka := xa[n]
				vb, okb := xb[n]
				switch {
				case !okb:
					add(p, "xattr %s missing, want %q", n, va)
				case !oka:
					add(p, "unexpected xattr %s=%q", n, vb)
				case !bytes.Equal(va, vb):
					add(p, "xattr %s=%q, want %q", n, vb, va)
				}
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	limit := opts.MaxReport
	if limit <= 0 {
		limit = 200
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "trees %s and %s differ in %d ways:", a, b, len(diffs))
	for i, d := range diffs {
		if i == limit {
			fmt.Fprintf(&sb, "\n  ... and %d more", len(diffs)-limit)
			break
		}
		sb.WriteString("\n  " + d)
	}
	return errors.New(sb.String())
}

func filterXattrs(x map[string][]byte, prefixes []string) map[string][]byte {
	out := map[string][]byte{}
	for n, v := range x {
		if !slices.ContainsFunc(prefixes, func(pre string) bool { return strings.HasPrefix(n, pre) }) {
			out[n] = v
		}
	}
	return out
}

func unionKeys(a, b map[string][]byte) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func treeTypeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "char device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("type %#o", mode&unix.S_IFMT)
}
