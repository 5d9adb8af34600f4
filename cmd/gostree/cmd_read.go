package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newRevParseCmd(a *app) *cobra.Command {
	var single bool
	cmd := &cobra.Command{
		Use:   "rev-parse REV...",
		Short: "Output the target of a rev",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			for _, rev := range args {
				id, err := repo.ResolveRev(cmd.Context(), rev)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, id)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&single, "single", "S", false, "if the full checksum is given, print it (accepted for compatibility)")
	return cmd
}

func newRefsCmd(a *app) *cobra.Command {
	var del, list bool
	var createRef string
	cmd := &cobra.Command{
		Use:   "refs [--create=NEWREF REV | --delete PREFIX... | [--list] PREFIX]",
		Short: "List refs, or create and delete them",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			create := cmd.Flags().Changed("create")
			switch {
			case create && del:
				return usagef("--create and --delete are mutually exclusive")
			case create:
				// ostree: `refs --create=NEWREF REV` (rev is the positional argument).
				if len(args) != 1 {
					return usagef("--create=NEWREF needs exactly one REV argument")
				}
				if _, _, err := objstore.ParseRefspec(createRef); err != nil {
					return usagef("%v", err)
				}
				// As ostree: a name that already resolves (a ref, or a
				// checksum prefix of a commit, which would shadow it) is
				// refused.
				if _, err := repo.ResolveRev(ctx, createRef); err == nil || !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("--create specified but ref %s already exists", createRef)
				}
				id, err := repo.ResolveRev(ctx, args[0])
				if err != nil {
					return err
				}
				return repo.SetRef(ctx, createRef, &id)
			}
			refs, err := repo.Refs(ctx)
			if err != nil {
				return err
			}
			names := objstore.SortedRefNames(refs)
			if del {
				// As ostree: every ref equal to or below each PREFIX goes;
				// nothing matching is not an error.
				if len(args) == 0 {
					return usagef("--delete needs at least one PREFIX")
				}
				for _, prefix := range args {
					for _, name := range names {
						if _, ok := refUnder(name, prefix); ok {
							if err := repo.SetRef(ctx, name, nil); err != nil {
								return err
							}
						}
					}
				}
				return nil
			}
			if len(args) > 1 {
				return usagef("refs takes at most one PREFIX")
			}
			for _, name := range names {
				if len(args) == 0 {
					fmt.Fprintln(a.stdout, name)
					continue
				}
				if rest, ok := refUnder(name, args[0]); ok {
					if list || rest == "" {
						fmt.Fprintln(a.stdout, name)
					} else {
						fmt.Fprintln(a.stdout, rest)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&createRef, "create", "", "create a new ref NEWREF pointing to REV")
	cmd.Flags().BoolVar(&del, "delete", false, "delete refs which match PREFIX, rather than listing them")
	cmd.Flags().BoolVar(&list, "list", false, "do not remove the prefix from the refs")
	return cmd
}

// refUnder reports whether ref name is prefix itself (rest "") or lies below
// it (rest is the part after "prefix/"). A prefix "remote:" matches all of
// that remote's refs.
func refUnder(name, prefix string) (rest string, ok bool) {
	if name == prefix {
		return "", true
	}
	if strings.HasSuffix(prefix, ":") {
		if strings.HasPrefix(name, prefix) {
			return name, true
		}
		return "", false
	}
	if r, found := strings.CutPrefix(name, strings.TrimSuffix(prefix, "/")+"/"); found {
		return r, true
	}
	return "", false
}

// writeCommitSummary prints a commit as `ostree log` and `ostree show` do.
func writeCommitSummary(w io.Writer, id objstore.ID, c *objstore.Commit) {
	fmt.Fprintf(w, "commit %s\n", id)
	if c.HasParent() {
		fmt.Fprintf(w, "Parent:  %s\n", c.Parent)
	}
	fmt.Fprintf(w, "ContentChecksum:  %s\n", objstore.ContentsChecksum(c))
	fmt.Fprintf(w, "Date:  %s\n", c.Timestamp.UTC().Format("2006-01-02 15:04:05 +0000"))
	if v, ok := c.Metadata.String("version"); ok {
		fmt.Fprintf(w, "Version: %s\n", v)
	}
	if c.Subject != "" {
		fmt.Fprintln(w)
		writeIndented(w, c.Subject)
	} else {
		fmt.Fprintln(w, "(no subject)")
	}
	if c.Body != "" {
		fmt.Fprintln(w)
		writeIndented(w, c.Body)
	}
	fmt.Fprintln(w)
}

func writeIndented(w io.Writer, s string) {
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
}

func newLogCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "log REV",
		Short: "Show log starting at commit or ref",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, id, err := a.resolveRev(ctx, args[0])
			if err != nil {
				return err
			}
			for {
				c, err := repo.LoadCommit(ctx, id)
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						fmt.Fprintln(a.stdout, "<< History beyond this commit not fetched >>")
						return nil
					}
					return err
				}
				writeCommitSummary(a.stdout, id, c)
				if !c.HasParent() {
					return nil
				}
				id = c.Parent
			}
		},
	}
}

func newShowCmd(a *app) *cobra.Command {
	var metaKey, detachedKey string
	var printHex bool
	cmd := &cobra.Command{
		Use:   "show OBJECT",
		Short: "Output a commit",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, id, err := a.resolveRev(ctx, args[0])
			if err != nil {
				return err
			}
			c, err := repo.LoadCommit(ctx, id)
			if err != nil {
				return err
			}
			switch {
			case metaKey != "":
				v, ok := c.Metadata.Lookup(metaKey)
				if !ok {
					return fmt.Errorf("no such metadata key '%s'", metaKey)
				}
				if b, ok := v.Value.([]byte); ok && printHex {
					fmt.Fprintf(a.stdout, "%x\n", b)
					break
				}
				fmt.Fprintln(a.stdout, v.String())
			case detachedKey != "":
				md, err := repo.LoadCommitMeta(ctx, id)
				if err != nil {
					return err
				}
				v, ok := md.Lookup(detachedKey)
				if !ok {
					return fmt.Errorf("no such detached metadata key '%s'", detachedKey)
				}
				fmt.Fprintln(a.stdout, v.String())
			default:
				writeCommitSummary(a.stdout, id, c)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&metaKey, "print-metadata-key", "", "print the value of metadata key KEY")
	cmd.Flags().StringVar(&detachedKey, "print-detached-metadata-key", "", "print the value of detached metadata key KEY")
	cmd.Flags().BoolVar(&printHex, "print-hex", false, "for byte array metadata (e.g. ostree.composefs.digest.v0), print hexadecimal")
	return cmd
}

type lsFlags struct {
	dirOnly, recursive, checksum, xattrs, nul bool
}

func newLsCmd(a *app) *cobra.Command {
	f := &lsFlags{}
	cmd := &cobra.Command{
		Use:   "ls [OPTION...] REV [PATH...]",
		Short: "List file paths",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfs, err := a.openCommitFS(ctx, args[0])
			if err != nil {
				return err
			}
			paths := args[1:]
			if len(paths) == 0 {
				paths = []string{"/"}
			}
			for _, p := range paths {
				if err := a.lsPath(ctx, cfs, f, p); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&f.dirOnly, "dironly", "d", false, "do not recurse into directory arguments")
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "print directories recursively")
	cmd.Flags().BoolVarP(&f.checksum, "checksum", "C", false, "print checksum")
	cmd.Flags().BoolVarP(&f.xattrs, "xattrs", "X", false, "print extended attributes")
	cmd.Flags().BoolVar(&f.nul, "nul-filenames-only", false, "print only filenames, NUL separated")
	return cmd
}

// resolveRev opens the repository and resolves revision rev in it.
func (a *app) resolveRev(ctx context.Context, rev string) (*objstore.Repo, objstore.ID, error) {
	repo, err := a.openRepo()
	if err != nil {
		return nil, objstore.ID{}, err
	}
	id, err := repo.ResolveRev(ctx, rev)
	return repo, id, err
}

// openCommitFS opens the repository and the tree of revision rev.
func (a *app) openCommitFS(ctx context.Context, rev string) (*objstore.CommitFS, error) {
	repo, id, err := a.resolveRev(ctx, rev)
	if err != nil {
		return nil, err
	}
	return repo.CommitFS(ctx, id)
}

// fsPath converts an ostree absolute path to an io/fs path.
func fsPath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return "."
	}
	return p
}

func (a *app) lsPath(ctx context.Context, cfs *objstore.CommitFS, f *lsFlags, p string) error {
	name := fsPath(p)
	fi, err := cfs.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("inspecting path '%s': no such file or directory", p)
		}
		return err
	}
	if err := a.lsOne(cfs, f, name, fi); err != nil {
		return err
	}
	if fi.IsDir() && !f.dirOnly {
		return a.lsDir(ctx, cfs, f, name, f.recursive)
	}
	return nil
}

func (a *app) lsDir(ctx context.Context, cfs *objstore.CommitFS, f *lsFlags, name string, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := cfs.ReadDir(name)
	if err != nil {
		return err
	}
	// ostree lists a directory's files before its subdirectories.
	for pass := 0; pass < 2; pass++ {
		for _, e := range ents {
			if e.IsDir() != (pass == 1) {
				continue
			}
			child := e.Name()
			if name != "." {
				child = name + "/" + e.Name()
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			if err := a.lsOne(cfs, f, child, fi); err != nil {
				return err
			}
			if e.IsDir() && recursive {
				if err := a.lsDir(ctx, cfs, f, child, true); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (a *app) lsOne(cfs *objstore.CommitFS, f *lsFlags, name string, fi fs.FileInfo) error {
	path := "/"
	if name != "." {
		path = "/" + name
	}
	if f.nul {
		fmt.Fprintf(a.stdout, "%s\x00", path)
		return nil
	}
	m := fi.Sys().(*objstore.Meta)
	var b strings.Builder
	typ := byte('-')
	switch {
	case m.IsDir():
		typ = 'd'
	case m.IsSymlink():
		typ = 'l'
	}
	size := m.Size
	if !m.IsRegular() {
		size = 0
	}
	fmt.Fprintf(&b, "%c0%04o %d %d %6d ", typ, m.Mode&0o7777, m.UID, m.GID, size)
	if f.checksum {
		if m.IsDir() {
			tree, meta, err := cfs.DirChecksums(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %s ", tree, meta)
		} else {
			fmt.Fprintf(&b, "%s ", m.Content)
		}
	}
	if f.xattrs {
		fmt.Fprintf(&b, "{ %s } ", formatXattrs(m.Xattrs))
	}
	b.WriteString(path)
	if m.IsSymlink() {
		b.WriteString(" -> " + m.Target)
	}
	fmt.Fprintln(a.stdout, b.String())
	return nil
}

func newCatCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cat REV PATH...",
		Short: "Concatenate contents of files",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfs, err := a.openCommitFS(ctx, args[0])
			if err != nil {
				return err
			}
			for _, p := range args[1:] {
				fi, err := cfs.Stat(fsPath(p))
				if err != nil {
					return err
				}
				if !fi.Mode().IsRegular() {
					return fmt.Errorf("%s: not a regular file", p)
				}
				f, err := cfs.Open(fsPath(p))
				if err != nil {
					return err
				}
				_, err = io.Copy(a.stdout, f)
				f.Close()
				if err != nil {
					return fmt.Errorf("cat %s: %w", p, err)
				}
			}
			return nil
		},
	}
}
