package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckoutOptions configure Checkout.
type CheckoutOptions struct {
	// UserMode (`checkout -U`) does not change ownership, sets no xattrs and
	// strips setuid/setgid bits from files.
	UserMode bool
	// Subpath checks out only this path of the commit (a directory or a file).
	Subpath string
	// NoHardlinks always copies content instead of hardlinking objects.
	NoHardlinks bool
}

// Checkout writes the tree of commit into dest, which must not exist. All
// writes go through directory file descriptors opened with O_NOFOLLOW below
// dest, and every name is validated, so no name or symlink in the commit can
// make Checkout write outside dest.
func (r *Repo) Checkout(ctx context.Context, commit ID, dest string, opts *CheckoutOptions) error {
	if opts == nil {
		opts = &CheckoutOptions{}
	}
	c, err := r.LoadCommit(ctx, commit)
	if err != nil {
		return err
	}
	tree, meta := c.RootTree, c.RootMeta
	if opts.Subpath != "" && opts.Subpath != "/" {
		parts, err := relPath(opts.Subpath)
		if err != nil {
			return fmt.Errorf("checkout: %w", err)
		}
		for i, p := range parts {
			dt, err := r.LoadDirTree(ctx, tree)
			if err != nil {
				return err
			}
			if d, ok := dt.LookupDir(p); ok {
				tree, meta = d.Tree, d.Meta
				continue
			}
			if f, ok := dt.LookupFile(p); ok && i == len(parts)-1 {
				return r.checkoutSingleFile(ctx, f.Content, dest, opts)
			}
			return fmt.Errorf("checkout: no such file or directory %q in commit %s", opts.Subpath, commit)
		}
	}
	parent, base := filepath.Split(filepath.Clean(dest))
	if parent == "" {
		parent = "."
	}
	pfd, err := unix.Open(parent, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("checkout: open %s: %w", parent, err)
	}
	defer unix.Close(pfd)
	co := &checkouter{r: r, opts: opts, hardlink: r.canHardlink(opts)}
	if r.mode == ModeBareUserOnly {
		// bare-user-only holds no ownership or xattrs: always a user checkout.
		uo := *opts
		uo.UserMode = true
		co.opts = &uo
	}
	if err := co.dir(ctx, pfd, base, tree, meta, dest); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	return nil
}

// canHardlink tells whether checked-out files may be hardlinks to objects,
// as ostree makes them: bare repositories in a normal checkout as root,
// bare-user-only always, and bare-user in user mode (the files then carry
// the object's on-disk mode, (mode&0775)|0400, like ostree's).
func (r *Repo) canHardlink(opts *CheckoutOptions) bool {
	if opts.NoHardlinks {
		return false
	}
	switch r.mode {
	case ModeBare:
		return !opts.UserMode && r.euid == 0
	case ModeBareUserOnly:
		return true
	case ModeBareUser:
		return opts.UserMode
	}
	return false
}

type checkouter struct {
	r        *Repo
	opts     *CheckoutOptions
	hardlink bool
}

func (co *checkouter) dir(ctx context.Context, pfd int, name string, tree, meta ID, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dt, err := co.r.LoadDirTree(ctx, tree)
	if err != nil {
		return err
	}
	m, err := co.r.LoadDirMeta(ctx, meta)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
		return fmt.Errorf("mkdir %s: %w", path, err)
	}
	fd, err := unix.Openat(pfd, name, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	for _, f := range dt.Files {
		if err := co.file(ctx, fd, f.Name, f.Content, path+"/"+f.Name); err != nil {
			return err
		}
	}
	for _, d := range dt.Dirs {
		if err := co.dir(ctx, fd, d.Name, d.Tree, d.Meta, path+"/"+d.Name); err != nil {
			return err
		}
	}
	if !co.opts.UserMode {
		for _, x := range m.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s on %s: %w", x.Name, path, err)
			}
		}
		if err := unix.Fchown(fd, int(m.UID), int(m.GID)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	mode := m.Mode & permAll
	if co.r.mode == ModeBareUserOnly {
		mode &= 0o775
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return setMtimeZero(fd, path)
}

func setMtimeZero(fd int, path string) error {
	ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT}, {Sec: 0}}
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("set mtime of %s: %w", path, err)
	}
	return nil
}

func (co *checkouter) file(ctx context.Context, dirfd int, name string, id ID, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m, rc, err := co.r.OpenContent(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if rc != nil {
		defer rc.Close()
	}
	if m.IsSymlink() {
		if err := unix.Symlinkat(m.Target, dirfd, name); err != nil {
			return fmt.Errorf("symlink %s: %w", path, err)
		}
		if co.opts.UserMode {
			return nil
		}
		if err := unix.Fchownat(dirfd, name, int(m.UID), int(m.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		if len(m.Xattrs) > 0 {
			p := fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, name)
			for _, x := range m.Xattrs {
				if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
					return fmt.Errorf("set xattr %s on %s: %w", x.Name, path, err)
				}
			}
		}
		return nil
	}
	mode := m.Mode & permAll
	if co.opts.UserMode {
		// As ostree: no setuid/setgid files, and the owner can read.
		mode &^= sISUID | sISGID
		mode |= 0o400
	}
	// Like ostree: empty files are always copied (thousands of links to
	// one empty object hit the link limit), and so are unreadable ones in
	// user mode (they get u+r).
	var linkOK bool
	switch {
	case !co.hardlink, m.Size == 0, co.opts.UserMode && m.Mode&0o400 == 0:
	case co.r.mode == ModeBareUser:
		linkOK = true
	default:
		linkOK = co.linkable(id, mode)
	}
	if linkOK {
		err := unix.Linkat(unix.AT_FDCWD, co.r.ContentPath(id), dirfd, name, 0)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EMLINK) && !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("hardlink %s: %w", path, err)
		}
	}
	fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	out := os.NewFile(uintptr(fd), path)
	defer out.Close()
	if n, err := io.Copy(out, rc); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	} else if n != m.Size {
		return fmt.Errorf("write %s: object %s has %d bytes, want %d", path, id, n, m.Size)
	}
	if !co.opts.UserMode {
		if err := unix.Fchown(fd, int(m.UID), int(m.GID)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		for _, x := range m.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s on %s: %w", x.Name, path, err)
			}
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := setMtimeZero(fd, path); err != nil {
		return err
	}
	return out.Close()
}

// linkable reports whether the object file itself has the wanted mode.
func (co *checkouter) linkable(id ID, mode uint32) bool {
	var st unix.Stat_t
	if err := unix.Stat(co.r.ContentPath(id), &st); err != nil {
		return false
	}
	return st.Mode&permAll == mode
}

func (r *Repo) checkoutSingleFile(ctx context.Context, id ID, dest string, opts *CheckoutOptions) error {
	parent, base := filepath.Split(filepath.Clean(dest))
	if parent == "" {
		parent = "."
	}
	if strings.Contains(base, "/") || base == "" || base == ".." {
		return fmt.Errorf("checkout: invalid destination %q", dest)
	}
	pfd, err := unix.Open(parent, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("checkout: open %s: %w", parent, err)
	}
	defer unix.Close(pfd)
	co := &checkouter{r: r, opts: opts, hardlink: r.canHardlink(opts)}
	if err := co.file(ctx, pfd, base, id, dest); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	return nil
}
