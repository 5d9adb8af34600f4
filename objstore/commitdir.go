package objstore

import (
	"context"
	"errors"
	"fmt"
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
	// CanonicalPermissions sets uid/gid 0, masks modes with 0755 and drops
	// xattrs (`--canonical-permissions`; always on in bare-user-only repos).
	CanonicalPermissions bool
	// NoXattrs drops all xattrs (`--no-xattrs`).
	NoXattrs bool
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
	if m.CanonicalPermissions {
		m.NoXattrs = true
	}
	return m
}

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
	if mod.NoXattrs {
		m.Xattrs = nil
	}
}

func (mod Modifier) fingerprint(mode Mode) string {
	return fmt.Sprintf("%s/%d/%d/%t/%t", mode, mod.OwnerUID, mod.OwnerGID, mod.CanonicalPermissions, mod.NoXattrs)
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
	st   unix.Stat_t
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
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
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
	ch := make(chan fileJob, 256)
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
	if walkErr != nil {
		return walkErr
	}
	if err := context.Cause(ctx); err != nil {
		return err
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
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&sIFMT != sIFDIR {
		return fmt.Errorf("commit %s: not a directory", path)
	}
	m := &Meta{Mode: st.Mode, UID: st.Uid, GID: st.Gid}
	if !mod.NoXattrs {
		xs, err := ReadXattrs(path)
		if err != nil {
			return fmt.Errorf("read xattrs of %s: %w", path, err)
		}
		m.Xattrs = xs
	}
	mod.Apply(m)
	metaID, err := tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(m))
	if err != nil {
		return err
	}
	mt.Meta = metaID
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", path, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("read directory %s: %w", path, err)
	}
	for _, name := range names {
		childPath := path + "/" + name
		childRel := rel + "/" + name
		if err := ValidName(name); err != nil {
			return fmt.Errorf("commit %s: %w", childPath, err)
		}
		var cst unix.Stat_t
		if err := unix.Lstat(childPath, &cst); err != nil {
			return fmt.Errorf("stat %s: %w", childPath, err)
		}
		switch cst.Mode & sIFMT {
		case sIFDIR:
			sub, err := mt.EnsureDir(ctx, name)
			if err != nil {
				return fmt.Errorf("commit %s: %w", childPath, err)
			}
			if err := tx.walkDir(ctx, childPath, childRel, sub, mod, ch); err != nil {
				return err
			}
		case sIFREG, sIFLNK:
			slot, err := mt.SetFileSlot(ctx, name)
			if err != nil {
				return fmt.Errorf("commit %s: %w", childPath, err)
			}
			select {
			case ch <- fileJob{path: childPath, rel: childRel, st: cst, slot: slot}:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		default:
			return &UnsupportedFileError{Path: childPath, Mode: cst.Mode}
		}
	}
	return nil
}

func (tx *Transaction) importFile(ctx context.Context, j fileJob, mod Modifier, cache *statCache) error {
	if cache != nil {
		if id, ok := cache.lookup(j.rel, &j.st); ok {
			if has, err := tx.Has(id, TypeFile); err == nil && has {
				*j.slot = id
				cache.keep(j.rel, &j.st, id)
				tx.mu.Lock()
				tx.stats.ContentTotal++
				tx.mu.Unlock()
				return nil
			}
		}
	}
	m := &Meta{Mode: j.st.Mode, UID: j.st.Uid, GID: j.st.Gid, Size: j.st.Size}
	var id ID
	if m.IsSymlink() {
		target, err := os.Readlink(j.path)
		if err != nil {
			return fmt.Errorf("read symlink %s: %w", j.path, err)
		}
		m.Target, m.Size = target, int64(len(target))
		if !mod.NoXattrs {
			if m.Xattrs, err = ReadXattrs(j.path); err != nil {
				return fmt.Errorf("read xattrs of %s: %w", j.path, err)
			}
		}
		mod.Apply(m)
		if id, err = tx.WriteContent(ctx, m, nil); err != nil {
			return fmt.Errorf("commit %s: %w", j.path, err)
		}
	} else {
		f, err := openNoAtime(j.path)
		if err != nil {
			return fmt.Errorf("open %s: %w", j.path, err)
		}
		defer f.Close()
		var fst unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &fst); err != nil {
			return fmt.Errorf("stat %s: %w", j.path, err)
		}
		if fst.Ino != j.st.Ino || fst.Dev != j.st.Dev {
			return fmt.Errorf("commit %s: file replaced while committing", j.path)
		}
		j.st = fst
		m.Mode, m.UID, m.GID, m.Size = fst.Mode, fst.Uid, fst.Gid, fst.Size
		if !mod.NoXattrs {
			if m.Xattrs, err = ReadXattrsFd(int(f.Fd())); err != nil {
				return fmt.Errorf("read xattrs of %s: %w", j.path, err)
			}
		}
		mod.Apply(m)
		if id, err = tx.WriteContent(ctx, m, f); err != nil {
			if errors.Is(err, ErrSizeChanged) {
				return fmt.Errorf("commit %s: %w", j.path, err)
			}
			return fmt.Errorf("commit %s: %w", j.path, err)
		}
	}
	*j.slot = id
	if cache != nil {
		cache.keep(j.rel, &j.st, id)
	}
	return nil
}

func openNoAtime(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
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
