package objstore

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// ExportOptions choose what ExportTar writes.
type ExportOptions struct {
	// Subpath is the directory of the commit to export ("" or "/": all).
	Subpath string
	// Prefix is prepended to every name, as it is (ostree export joins
	// without a separator, so "dir/" is what puts the tree in dir).
	Prefix string
}

// ExportTar writes a commit's tree to w as a GNU tar archive, as ostree
// export does: the root as "./" (or the prefix), then each directory's
// files and symlinks in name order, then its subdirectories (each followed
// by its contents), directories ending in "/", with the owners and modes
// of the commit and its timestamp as every entry's mtime. GNU tar has no
// extended attributes, so none are written (ostree's archive has none
// either).
func (r *Repo) ExportTar(ctx context.Context, w io.Writer, commit ID, opts *ExportOptions) error {
	if opts == nil {
		opts = &ExportOptions{}
	}
	c, err := r.LoadCommit(ctx, commit)
	if err != nil {
		return err
	}
	tree, meta := c.RootTree, c.RootMeta
	if sub := strings.Trim(opts.Subpath, "/"); sub != "" {
		fsys, err := r.CommitFS(ctx, commit)
		if err != nil {
			return err
		}
		if tree, meta, err = fsys.DirChecksums(path.Clean(sub)); err != nil {
			return fmt.Errorf("export %s: %w", opts.Subpath, err)
		}
	}
	e := &exporter{r: r, ctx: ctx, tw: tar.NewWriter(w), mtime: c.Timestamp, prefix: opts.Prefix}
	root := "./"
	if opts.Prefix != "" {
		root = strings.TrimSuffix(opts.Prefix, "/") + "/"
	}
	if err := e.dir(root, "", tree, meta); err != nil {
		return err
	}
	return e.tw.Close()
}

type exporter struct {
	r      *Repo
	ctx    context.Context
	tw     *tar.Writer
	mtime  time.Time
	prefix string
}

func (e *exporter) header(name string, m *Meta) *tar.Header {
	return &tar.Header{
		Name: name, Mode: int64(m.Mode & 0o7777), Uid: int(m.UID), Gid: int(m.GID),
		ModTime: e.mtime, Format: tar.FormatGNU,
	}
}

// dir writes the directory entry (as name) and everything below; rel is
// its path inside the exported tree ("" for the root).
func (e *exporter) dir(name, rel string, tree, meta ID) error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	dm, err := e.r.LoadDirMeta(e.ctx, meta)
	if err != nil {
		return fmt.Errorf("export /%s: %w", rel, err)
	}
	h := e.header(name, dm)
	h.Typeflag = tar.TypeDir
	if err := e.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("export /%s: %w", rel, err)
	}
	dt, err := e.r.LoadDirTree(e.ctx, tree)
	if err != nil {
		return fmt.Errorf("export /%s: %w", rel, err)
	}
	for _, f := range dt.Files {
		if err := e.file(path.Join(rel, f.Name), f.Content); err != nil {
			return err
		}
	}
	for _, d := range dt.Dirs {
		p := path.Join(rel, d.Name)
		if err := e.dir(e.prefix+p+"/", p, d.Tree, d.Meta); err != nil {
			return err
		}
	}
	return nil
}

func (e *exporter) file(rel string, id ID) error {
	m, rc, err := e.r.OpenContent(e.ctx, id)
	if err != nil {
		return fmt.Errorf("export /%s: %w", rel, err)
	}
	if rc != nil {
		defer rc.Close()
	}
	h := e.header(e.prefix+rel, m)
	if m.IsSymlink() {
		h.Typeflag, h.Linkname = tar.TypeSymlink, m.Target
	} else {
		h.Typeflag, h.Size = tar.TypeReg, m.Size
	}
	if err := e.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("export /%s: %w", rel, err)
	}
	if m.IsSymlink() {
		return nil
	}
	if n, err := io.Copy(e.tw, rc); err != nil {
		return fmt.Errorf("export /%s: %w", rel, err)
	} else if n != m.Size {
		return fmt.Errorf("export /%s: %d bytes, the object says %d", rel, n, m.Size)
	}
	return nil
}
