package objstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Modifier adjusts metadata as a tree is imported, like ostree's commit
// modifier flags. The zero value changes nothing.
type Modifier struct {
	// OwnerUID and OwnerGID, when >= 0, replace every file's owner
	// (`--owner-uid`, `--owner-gid`). Use -1 (or NoOwner) to keep.
	OwnerUID, OwnerGID int
	// CanonicalPermissions sets uid/gid 0 and masks modes with 0755
	// (`--canonical-permissions`; always on in bare-user-only repos). Like
	// ostree it also drops the xattrs of directory and commit sources, but
	// not those of tar archives.
	CanonicalPermissions bool
	// NoXattrs drops all xattrs (`--no-xattrs`).
	NoXattrs bool
	// ROExecutables removes the write bits of regular files that have an
	// execute bit (`--mode-ro-executables`).
	ROExecutables bool
	// Rules, when set, are `--statoverride` and `--skip-list`: applied to
	// directory and tar trees (WriteCommitTree refuses them).
	Rules *PathRules
}

// NoOwner is the value of Modifier.OwnerUID/OwnerGID that keeps owners.
const NoOwner = -1

// DefaultModifier returns a Modifier that changes nothing.
func DefaultModifier() *Modifier { return &Modifier{OwnerUID: NoOwner, OwnerGID: NoOwner} }

func (mod *Modifier) effective(mode Mode) Modifier {
	m := Modifier{OwnerUID: NoOwner, OwnerGID: NoOwner}
	if mod != nil {
		m = *mod
	}
	if mode == ModeBareUserOnly {
		m.CanonicalPermissions = true
		m.NoXattrs = true
	}
	return m
}

// skipDiskXattrs reports whether xattrs read from a directory tree (or an
// existing commit) are dropped. ostree drops them for canonical permissions
// too, but keeps a tar archive's xattrs unless told --no-xattrs.
func (mod Modifier) skipDiskXattrs() bool { return mod.NoXattrs || mod.CanonicalPermissions }

// Apply changes meta in place, in ostree's order: owner overrides, then
// canonical permissions.
func (mod Modifier) Apply(m *Meta) {
	if mod.OwnerUID >= 0 {
		m.UID = uint32(mod.OwnerUID)
	}
	if mod.OwnerGID >= 0 {
		m.GID = uint32(mod.OwnerGID)
	}
	if mod.CanonicalPermissions {
		switch m.Mode & sIFMT {
		case sIFREG:
			m.Mode &= sIFREG | 0o755
		case sIFDIR:
			m.Mode &= sIFDIR | 0o755
		}
		m.UID, m.GID = 0, 0
	}
	if mod.ROExecutables && m.Mode&sIFMT == sIFREG && m.Mode&0o111 != 0 {
		m.Mode &^= 0o222
	}
	if mod.NoXattrs {
		m.Xattrs = nil
	}
}

// applyAt is Apply for the entry at p ("/" for the root), with the
// statoverride bits first, as ostree's commit filter adds them before the
// repository canonicalizes permissions; fromTar says the entry comes from
// an archive (see PathRules.apply).
func (mod Modifier) applyAt(p string, m *Meta, fromTar bool) {
	mod.Rules.apply(p, m, fromTar)
	mod.Apply(m)
}

func (mod Modifier) fingerprint(mode Mode) string {
	return fmt.Sprintf("%s/%d/%d/%t/%t/%t/%s", mode, mod.OwnerUID, mod.OwnerGID, mod.CanonicalPermissions, mod.NoXattrs, mod.ROExecutables, mod.Rules.fingerprint())
}

// DirOptions configure WriteDir.
type DirOptions struct {
	// Modifier adjusts metadata; nil changes nothing.
	Modifier *Modifier
	// Jobs is the number of files processed at once; 0 means 2×GOMAXPROCS.
	Jobs int
	// NoStatCache disables the cache that lets an unchanged file (same
	// device, inode, size, mtime and ctime as at the previous commit of the
	// same directory) skip reading and hashing.
	NoStatCache bool
}

// UnsupportedFileError reports a device, fifo or socket in a tree to commit.
type UnsupportedFileError struct {
	Path string
	Mode uint32
}

func (e *UnsupportedFileError) Error() string {
	kind := "special file"
	switch e.Mode & sIFMT {
	case unix.S_IFIFO:
		kind = "fifo"
	case unix.S_IFSOCK:
		kind = "socket"
	case unix.S_IFCHR:
		kind = "character device"
	case unix.S_IFBLK:
		kind = "block device"
	}
	return fmt.Sprintf("cannot commit %s: unsupported file type (%s); ostree stores only regular files, symlinks and directories", e.Path, kind)
}

type fileJob struct {
	path string
	rel  string
	typ  uint32 // sIFREG or sIFLNK, from the directory entry
	slot *ID
}

// WriteDir imports the directory tree at dir into mt (layering over what mt
// holds), writing content objects in parallel. The root directory's metadata
// becomes mt's metadata.
func (tx *Transaction) WriteDir(ctx context.Context, dir string, mt *MutableTree, opts *DirOptions) error {
	if opts == nil {
		opts = &DirOptions{}
	}
	mod := opts.Modifier.effective(tx.r.mode)
	// The tree's root may be a symlink to a directory (ostree follows it);
	// nothing below it is followed.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return fmt.Errorf("commit %s: %w", dir, err)
	}
	var cache *statCache
	if !opts.NoStatCache {
		cache = tx.r.loadStatCache(abs, mod.fingerprint(tx.r.mode))
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 2 * runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan fileJob, 1024)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if ctx.Err() != nil {
					continue
				}
				if err := tx.importFile(ctx, j, mod, cache); err != nil {
					cancel(err)
				}
			}
		}()
	}
	start := time.Now()
	walkErr := tx.walkDir(ctx, abs, "", mt, mod, ch)
	close(ch)
	wg.Wait()
	// A worker's failure cancels the walk, which then stops with
	// context.Canceled: report the failure, not the cancellation.
	if cause := context.Cause(ctx); cause != nil && (walkErr == nil || errors.Is(walkErr, context.Canceled)) {
		return cause
	}
	if walkErr != nil {
		return walkErr
	}
	if cache != nil {
		if err := cache.save(start); err != nil {
			tx.r.log.Debug("save stat cache", "err", err)
		}
	}
	return nil
}

func (tx *Transaction) walkDir(ctx context.Context, path, rel string, mt *MutableTree, mod Modifier, ch chan<- fileJob) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("commit %s: not a directory", path)
		}
		return fmt.Errorf("open directory %s: %w", path, err)
	}
	d := os.NewFile(uintptr(fd), path)
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid}
	if !mod.skipDiskXattrs() {
		xs, err := ReadXattrsFd(fd)
		if err != nil {
			return fmt.Errorf("read xattrs of %s: %w", path, err)
		}
		m.Xattrs = xs
	}
	mod.applyAt(cmp.Or(rel, "/"), m, false)
	metaID, err := tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(m))
	if err != nil {
		return err
	}
	mt.Meta = metaID
	ents, err := d.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", path, err)
	}
	for _, e := range ents {
		name := e.Name()
		childPath := path + "/" + name
		childRel := rel + "/" + name
		if mod.Rules.skipped(childRel) {
			continue
		}
		if err := ValidName(name); err != nil {
			return fmt.Errorf("commit %s: %w", childPath, err)
		}
		switch typ := e.Type(); {
		case typ.IsDir():
			sub, err := mt.EnsureDir(ctx, name)
			if err != nil {
				return fmt.Errorf("commit %s: %w", childPath, err)
			}
			if err := tx.walkDir(ctx, childPath, childRel, sub, mod, ch); err != nil {
				return err
			}
		case typ.IsRegular(), typ&fs.ModeSymlink != 0:
			slot, err := mt.SetFileSlot(ctx, name)
			if err != nil {
				return fmt.Errorf("commit %s: %w", childPath, err)
			}
			t := uint32(sIFREG)
			if typ&fs.ModeSymlink != 0 {
				t = sIFLNK
			}
			select {
			case ch <- fileJob{path: childPath, rel: childRel, typ: t, slot: slot}:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		default:
			return &UnsupportedFileError{Path: childPath, Mode: FileModeToUnix(typ)}
		}
	}
	return nil
}

func (tx *Transaction) importFile(ctx context.Context, j fileJob, mod Modifier, cache *statCache) error {
	var st unix.Stat_t
	if cache != nil && cache.has(j.rel) || j.typ == sIFLNK {
		if err := unix.Lstat(j.path, &st); err != nil {
			return fmt.Errorf("stat %s: %w", j.path, err)
		}
		if cache != nil {
			if id, ok := cache.lookup(j.rel, &st); ok {
				if has, err := tx.Has(id, TypeFile); err == nil && has {
					*j.slot = id
					cache.keep(j.rel, &st, id)
					mod.Rules.reused(j.rel)
					tx.mu.Lock()
					tx.stats.ContentTotal++
					tx.mu.Unlock()
					return nil
				}
			}
		}
	}
	var id ID
	var err error
	if j.typ == sIFLNK {
		if st.Mode&sIFMT != sIFLNK {
			return fmt.Errorf("commit %s: file replaced while committing", j.path)
		}
		id, err = tx.importSymlink(ctx, j.path, j.rel, &st, mod)
	} else {
		id, err = tx.importRegular(ctx, j.path, j.rel, &st, mod)
	}
	if err != nil {
		return err
	}
	*j.slot = id
	if cache != nil {
		cache.keep(j.rel, &st, id)
	}
	return nil
}

func (tx *Transaction) importSymlink(ctx context.Context, path, rel string, st *unix.Stat_t, mod Modifier) (ID, error) {
	target, err := os.Readlink(path)
	if err != nil {
		return ID{}, fmt.Errorf("read symlink %s: %w", path, err)
	}
	m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Target: target, Size: int64(len(target))}
	if !mod.skipDiskXattrs() {
		if m.Xattrs, err = ReadXattrs(path); err != nil {
			return ID{}, fmt.Errorf("read xattrs of %s: %w", path, err)
		}
	}
	mod.applyAt(rel, m, false)
	id, err := tx.WriteContent(ctx, m, nil)
	if err != nil {
		return ID{}, fmt.Errorf("commit %s: %w", path, err)
	}
	return id, nil
}

// importRegular reads a regular file once: small files in one read() into
// memory, large ones streamed.
func (tx *Transaction) importRegular(ctx context.Context, path, rel string, st *unix.Stat_t, mod Modifier) (ID, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return ID{}, fmt.Errorf("commit %s: file replaced while committing", path)
		}
		return ID{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	prev := *st
	if err := unix.Fstat(fd, st); err != nil {
		return ID{}, fmt.Errorf("stat %s: %w", path, err)
	}
	if prev.Ino != 0 && (prev.Ino != st.Ino || prev.Dev != st.Dev) {
		return ID{}, fmt.Errorf("commit %s: file replaced while committing", path)
	}
	if st.Mode&sIFMT != sIFREG {
		return ID{}, &UnsupportedFileError{Path: path, Mode: st.Mode}
	}
	m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Size: st.Size}
	if !mod.skipDiskXattrs() {
		if m.Xattrs, err = ReadXattrsFd(fd); err != nil {
			return ID{}, fmt.Errorf("read xattrs of %s: %w", path, err)
		}
	}
	mod.applyAt(rel, m, false)
	var id ID
	if m.Size <= smallFileMax {
		// Read exactly the size fstat gave (as ostree does): a file that
		// shrank meanwhile is an error; bytes appended after the fstat are
		// not part of this commit.
		buf := make([]byte, m.Size)
		n, err := readFull(fd, buf)
		if err != nil {
			return ID{}, fmt.Errorf("read %s: %w", path, err)
		}
		if int64(n) != m.Size {
			return ID{}, fmt.Errorf("commit %s: %w", path, ErrSizeChanged)
		}
		id, err = tx.writeContentBytes(ctx, m, buf, true)
	} else {
		f := os.NewFile(uintptr(fd), path)
		fd = -1
		defer f.Close()
		id, err = tx.WriteContent(ctx, m, f)
	}
	if err != nil {
		return ID{}, fmt.Errorf("commit %s: %w", path, err)
	}
	return id, nil
}

// readFull reads until buf is full or EOF.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if k == 0 {
			break
		}
		n += k
	}
	return n, nil
}

// CommitOptions describe the commit object WriteCommit creates.
type CommitOptions struct {
	Subject, Body string
	// Timestamp defaults to the current time.
	Timestamp time.Time
	// Parent is the parent commit; zero for none.
	Parent   ID
	Metadata Metadata
}

// WriteCommit writes the dirtrees of root and a commit object pointing at them.
func (tx *Transaction) WriteCommit(ctx context.Context, root *MutableTree, opts *CommitOptions) (ID, error) {
	treeID, err := root.WriteTree(ctx, tx)
	if err != nil {
		if errors.Is(err, ErrNoMeta) {
			return ID{}, fmt.Errorf("write commit: %w (an empty tree or a tar without a root directory entry; try --tar-autocreate-parents)", err)
		}
		return ID{}, fmt.Errorf("write commit: %w", err)
	}
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	c := &Commit{Metadata: opts.Metadata, Parent: opts.Parent, Subject: opts.Subject, Body: opts.Body,
		Timestamp: ts, RootTree: treeID, RootMeta: root.Meta}
	data, err := c.Encode()
	if err != nil {
		return ID{}, err
	}
	return tx.WriteMeta(ctx, TypeCommit, data)
}

// relPath normalizes an archive or user path to slash-separated components
// relative to the root, rejecting ".." and NUL.
func relPath(p string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("path %q contains '..'", p)
		}
		if err := ValidName(c); err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		out = append(out, c)
	}
	return out, nil
}
