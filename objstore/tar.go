package objstore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// TarOptions configure WriteTar.
type TarOptions struct {
	// Modifier adjusts metadata; nil changes nothing.
	Modifier *Modifier
	// AutocreateParents creates directories missing from the archive (mode
	// 0755, owned like the entry that needed them) instead of failing, and a
	// root directory (0755, root) when the archive has none.
	AutocreateParents bool
}

// WriteTarFile imports a tar file ("-" for standard input) into mt.
func (tx *Transaction) WriteTarFile(ctx context.Context, file string, mt *MutableTree, opts *TarOptions) error {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("open tar: %w", err)
		}
		defer f.Close()
		r = f
	}
	if err := tx.WriteTar(ctx, r, mt, opts); err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	return nil
}

type deferredLink struct {
	dir    *MutableTree
	name   string
	target []string
	path   string
}

// WriteTar imports a tar stream into mt, as `ostree commit --tree=tar=` does:
// ownership and modes from the headers, xattrs from PAX SCHILY.xattr records,
// hardlinks sharing their target's content. Devices and fifos are refused;
// names with ".." or NUL are refused.
func (tx *Transaction) WriteTar(ctx context.Context, r io.Reader, mt *MutableTree, opts *TarOptions) error {
	if opts == nil {
		opts = &TarOptions{}
	}
	mod := opts.Modifier.effective(tx.r.mode)
	tr := tar.NewReader(r)
	var links []deferredLink
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		parts, err := relPath(hdr.Name)
		if err != nil {
			return fmt.Errorf("tar entry: %w", err)
		}
		p := "/" + strings.Join(parts, "/")
		if len(parts) > 0 && mod.Rules.skippedUnder(p) {
			continue
		}
		m := &Meta{Mode: uint32(hdr.Mode) & permAll, UID: uint32(hdr.Uid), GID: uint32(hdr.Gid)}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && name != "" {
				m.Xattrs = append(m.Xattrs, Xattr{Name: name, Value: []byte(v)})
			}
		}
		SortXattrs(m.Xattrs)
		if len(parts) == 0 {
			if hdr.Typeflag != tar.TypeDir {
				return fmt.Errorf("tar entry %q: root must be a directory", hdr.Name)
			}
			m.Mode |= sIFDIR
			mod.applyAt(p, m, true)
			if mt.Meta, err = tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(m)); err != nil {
				return err
			}
			continue
		}
		parent, err := tx.tarParent(ctx, mt, parts, hdr, mod, opts.AutocreateParents)
		if err != nil {
			return err
		}
		name := parts[len(parts)-1]
		switch hdr.Typeflag {
		case tar.TypeDir:
			m.Mode |= sIFDIR
			mod.applyAt(p, m, true)
			d, err := parent.EnsureDir(ctx, name)
			if err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
			if d.Meta, err = tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(m)); err != nil {
				return err
			}
		case tar.TypeReg:
			m.Mode |= sIFREG
			m.Size = hdr.Size
			mod.applyAt(p, m, true)
			id, err := tx.WriteContent(ctx, m, tr)
			if err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
			if err := parent.SetFile(ctx, name, id); err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			m.Mode |= sIFLNK
			m.Target = hdr.Linkname
			m.Size = int64(len(m.Target))
			mod.applyAt(p, m, true)
			id, err := tx.WriteContent(ctx, m, nil)
			if err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
			if err := parent.SetFile(ctx, name, id); err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			target, err := relPath(hdr.Linkname)
			if err != nil || len(target) == 0 {
				return fmt.Errorf("tar entry %q: invalid hardlink target %q", hdr.Name, hdr.Linkname)
			}
			if _, err := parent.SetFileSlot(ctx, name); err != nil {
				return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
			links = append(links, deferredLink{dir: parent, name: name, target: target, path: hdr.Name})
		default:
			return fmt.Errorf("unsupported file type for path %q (tar type %q); ostree stores only regular files, symlinks and directories", hdr.Name, hdr.Typeflag)
		}
	}
	for _, l := range links {
		dir, err := mt.Lookup(ctx, path.Join(l.target[:len(l.target)-1]...))
		if err != nil {
			return fmt.Errorf("tar hardlink %q: target %q: %w", l.path, path.Join(l.target...), err)
		}
		id, ok, err := dir.File(ctx, l.target[len(l.target)-1])
		if err != nil {
			return err
		}
		if !ok || id.IsZero() {
			return fmt.Errorf("tar hardlink %q: target %q is not a file in the archive", l.path, path.Join(l.target...))
		}
		if err := l.dir.SetFile(ctx, l.name, id); err != nil {
			return err
		}
	}
	if !mt.HasMeta() && opts.AutocreateParents {
		m := &Meta{Mode: sIFDIR | 0o755}
		var err error
		if mt.Meta, err = tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(m)); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Transaction) tarParent(ctx context.Context, mt *MutableTree, parts []string, hdr *tar.Header, mod Modifier, autocreate bool) (*MutableTree, error) {
	cur := mt
	for i, p := range parts[:len(parts)-1] {
		if err := cur.ensureExpanded(ctx); err != nil {
			return nil, err
		}
		if d, ok := cur.dirs[p]; ok {
			cur = d
			continue
		}
		if !autocreate {
			return nil, fmt.Errorf("tar entry %q: parent directory %q is not in the archive (use --tar-autocreate-parents)", hdr.Name, strings.Join(parts[:i+1], "/"))
		}
		if !cur.HasMeta() && cur == mt {
			root := &Meta{Mode: sIFDIR | 0o755, UID: uint32(hdr.Uid), GID: uint32(hdr.Gid)}
			mod.Apply(root)
			var err error
			if mt.Meta, err = tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(root)); err != nil {
				return nil, err
			}
		}
		d, err := cur.EnsureDir(ctx, p)
		if err != nil {
			return nil, err
		}
		m := &Meta{Mode: sIFDIR | 0o755, UID: uint32(hdr.Uid), GID: uint32(hdr.Gid)}
		mod.Apply(m)
		if d.Meta, err = tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(m)); err != nil {
			return nil, err
		}
		cur = d
	}
	return cur, nil
}

// WriteCommitTree layers the tree of an existing commit into mt (`--tree=ref=`).
// Without a metadata-changing modifier the dirtrees are reused as they are.
func (tx *Transaction) WriteCommitTree(ctx context.Context, commit ID, mt *MutableTree, mod *Modifier) error {
	c, err := tx.r.LoadCommit(ctx, commit)
	if err != nil {
		return err
	}
	eff := mod.effective(tx.r.mode)
	if eff.Rules != nil {
		return errors.New("statoverride and skip-list rules apply to directory and tar trees, not to --tree=ref=")
	}
	return tx.mergeTree(ctx, mt, c.RootTree, c.RootMeta, eff, eff == Modifier{OwnerUID: NoOwner, OwnerGID: NoOwner})
}

func (tx *Transaction) mergeTree(ctx context.Context, mt *MutableTree, tree, meta ID, mod Modifier, identity bool) error {
	if identity && len(mt.files) == 0 && len(mt.dirs) == 0 && mt.tree.IsZero() {
		mt.ReplaceWithTree(tx.r, tree, meta)
		return nil
	}
	dm, err := tx.r.LoadDirMeta(ctx, meta)
	if err != nil {
		return err
	}
	mod.Apply(dm)
	if mod.skipDiskXattrs() {
		dm.Xattrs = nil
	}
	if mt.Meta, err = tx.WriteMeta(ctx, TypeDirMeta, encodeDirMeta(dm)); err != nil {
		return err
	}
	dt, err := tx.r.LoadDirTree(ctx, tree)
	if err != nil {
		return err
	}
	for _, f := range dt.Files {
		id := f.Content
		if !identity {
			if id, err = tx.rewriteContent(ctx, f.Content, mod); err != nil {
				return err
			}
		}
		if err := mt.SetFile(ctx, f.Name, id); err != nil {
			return err
		}
	}
	for _, d := range dt.Dirs {
		sub, err := mt.EnsureDir(ctx, d.Name)
		if err != nil {
			return err
		}
		if err := tx.mergeTree(ctx, sub, d.Tree, d.Meta, mod, identity); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Transaction) rewriteContent(ctx context.Context, id ID, mod Modifier) (ID, error) {
	m, rc, err := tx.r.OpenContent(ctx, id)
	if err != nil {
		return ID{}, err
	}
	if rc != nil {
		defer rc.Close()
	}
	m2 := *m
	mod.Apply(&m2)
	if mod.skipDiskXattrs() {
		m2.Xattrs = nil
	}
	if m2.Mode == m.Mode && m2.UID == m.UID && m2.GID == m.GID && len(m2.Xattrs) == len(m.Xattrs) {
		return id, nil
	}
	nid, err := tx.WriteContent(ctx, &m2, rc)
	if err != nil {
		return ID{}, fmt.Errorf("rewrite %s: %w", id, err)
	}
	return nid, nil
}
