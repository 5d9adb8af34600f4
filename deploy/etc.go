package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/objstore"
)

// EtcChange is one difference between a deployment's /etc and the defaults
// its commit ships in /usr/etc.
type EtcChange struct {
	// Kind is 'M' (modified), 'A' (added locally) or 'D' (deleted locally).
	Kind byte
	// Path is relative to /etc.
	Path string
}

func (c EtcChange) String() string { return fmt.Sprintf("%c    %s", c.Kind, c.Path) }

// diffEtc compares the defaults (an fs.FS rooted at a commit's usr/etc; nil
// for none) with the directory cur, ignoring xattrs, as ostree's config diff
// does. Added and deleted directories are reported once, not per entry.
func diffEtc(defaults fs.FS, cur string) ([]EtcChange, error) {
	var out []EtcChange
	var walk func(rel string) error
	walk = func(rel string) error {
		fsRel := rel
		if fsRel == "" {
			fsRel = "."
		}
		names := map[string]int{} // 1 defaults, 2 current, 3 both
		if defaults != nil {
			ents, err := fs.ReadDir(defaults, fsRel)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			for _, e := range ents {
				names[e.Name()] |= 1
			}
		}
		ents, err := os.ReadDir(filepath.Join(cur, rel))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, e := range ents {
			names[e.Name()] |= 2
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			p := path.Join(rel, n)
			switch names[n] {
			case 1:
				out = append(out, EtcChange{'D', p})
			case 2:
				out = append(out, EtcChange{'A', p})
			case 3:
				dfi, err := defaults.(fs.ReadLinkFS).Lstat(p)
				if err != nil {
					return err
				}
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(cur, p), &st); err != nil {
					return err
				}
				dm := objstore.MetaOf(dfi)
				same, err := sameEntry(defaults, p, dm, filepath.Join(cur, p), &st)
				if err != nil {
					return err
				}
				if !same {
					out = append(out, EtcChange{'M', p})
				}
				if dm.IsDir() && st.Mode&unix.S_IFMT == unix.S_IFDIR {
					if err := walk(p); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, fmt.Errorf("diff /etc: %w", err)
	}
	return out, nil
}

func sameEntry(defaults fs.FS, p string, dm *objstore.Meta, curPath string, st *unix.Stat_t) (bool, error) {
	if dm.Mode != st.Mode || dm.UID != st.Uid || dm.GID != st.Gid {
		return false, nil
	}
	switch {
	case dm.IsSymlink():
		target, err := os.Readlink(curPath)
		return err == nil && target == dm.Target, err
	case dm.IsRegular():
		if dm.Size != st.Size {
			return false, nil
		}
		a, err := defaults.Open(p)
		if err != nil {
			return false, err
		}
		defer a.Close()
		b, err := os.OpenFile(curPath, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return false, err
		}
		defer b.Close()
		return sameContent(a, b)
	}
	return true, nil
}

func sameContent(a, b io.Reader) (bool, error) {
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea != nil || eb != nil {
			if (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF) {
				return true, nil
			}
			if ea != nil && ea != io.EOF && ea != io.ErrUnexpectedEOF {
				return false, ea
			}
			if eb != nil && eb != io.EOF && eb != io.ErrUnexpectedEOF {
				return false, eb
			}
			return false, nil
		}
	}
}

// mergeEtc applies the local changes of the old deployment (its /etc at
// oldEtc against its commit's defaults) to newEtc, which holds the new
// commit's defaults: deletions are deleted, modified and added entries are
// copied whole from oldEtc. Local changes win; there is no content merge.
// All writes go through an os.Root on newEtc, so no symlink can redirect them.
func mergeEtc(oldDefaults fs.FS, oldEtc, newEtc string) (modified, removed, added int, err error) {
	changes, err := diffEtc(oldDefaults, oldEtc)
	if err != nil {
		return 0, 0, 0, err
	}
	root, err := os.OpenRoot(newEtc)
	if err != nil {
		return 0, 0, 0, err
	}
	defer root.Close()
	for _, c := range changes {
		src := filepath.Join(oldEtc, c.Path)
		switch c.Kind {
		case 'D':
			removed++
			if err := root.RemoveAll(c.Path); err != nil {
				return 0, 0, 0, fmt.Errorf("merge /etc: remove %s: %w", c.Path, err)
			}
		case 'A', 'M':
			if c.Kind == 'A' {
				added++
			} else {
				modified++
			}
			var st unix.Stat_t
			if err := unix.Lstat(src, &st); err != nil {
				return 0, 0, 0, err
			}
			dst, derr := root.Lstat(c.Path)
			if c.Kind == 'M' && st.Mode&unix.S_IFMT == unix.S_IFDIR && derr == nil && dst.IsDir() {
				// A directory whose own metadata changed: keep its entries
				// (their changes are listed separately), take its metadata.
				if err := setMeta(root, c.Path, &st); err != nil {
					return 0, 0, 0, err
				}
				continue
			}
			if err := root.RemoveAll(c.Path); err != nil {
				return 0, 0, 0, fmt.Errorf("merge /etc: replace %s: %w", c.Path, err)
			}
			if err := copyEntry(root, src, c.Path); err != nil {
				return 0, 0, 0, fmt.Errorf("merge /etc: copy %s: %w", c.Path, err)
			}
		}
	}
	return modified, removed, added, nil
}

func setMeta(root *os.Root, rel string, st *unix.Stat_t) error {
	if err := root.Lchown(rel, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	return root.Chmod(rel, objstore.UnixToFileMode(st.Mode)&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

// copyEntry copies src (not following symlinks) to rel below root, recursively.
func copyEntry(root *os.Root, src, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := root.Mkdir(rel, 0o700); err != nil {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := copyEntry(root, filepath.Join(src, e.Name()), path.Join(rel, e.Name())); err != nil {
				return err
			}
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := root.Symlink(target, rel); err != nil {
			return err
		}
	case unix.S_IFREG:
		in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unsupported file type in /etc", src)
	}
	return setMeta(root, rel, &st)
}
