package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newDiffCmd(a *app) *cobra.Command {
	var stats, fsDiff, noXattrs bool
	var ownerUID, ownerGID int
	cmd := &cobra.Command{
		Use:   "diff [--stats] [--fs-diff] [--no-xattrs] [--owner-uid=N] [--owner-gid=N] REV_OR_DIR [REV_OR_DIR]",
		Short: "Compare two commits or directories (one REV: its parent and it)",
		Long: `List what differs between two commits as ostree diff does: "M    PATH" for
modified files and directories, "D    PATH" for removed, "A    PATH" for
added ones (with everything below an added directory). With one REV, its
parent is compared with it. An argument starting with / or ./ is a directory
on disk, whose files are checksummed as a commit would record them (with
--owner-uid/--owner-gid standing for the owner of the second one's files).
--stats prints object counts: the objects each commit reaches and those they
share, with their size.`,
		Args: rangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			src, target := args[0]+"^", args[0]
			if len(args) == 2 {
				src, target = args[0], args[1]
			}
			if !stats && !fsDiff {
				fsDiff = true
			}
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			side := func(s string) (objstore.DiffSide, error) {
				if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") {
					return objstore.DiffSide{Dir: s}, nil
				}
				id, err := repo.ResolveRev(ctx, s)
				return objstore.DiffSide{Repo: repo, Commit: id}, err
			}
			sa, err := side(src)
			if err != nil {
				return err
			}
			sb, err := side(target)
			if err != nil {
				return err
			}
			if fsDiff {
				d, err := objstore.DiffTrees(ctx, sa, sb, &objstore.DiffOptions{NoXattrs: noXattrs, OwnerUID: ownerUID, OwnerGID: ownerGID})
				if err != nil {
					return err
				}
				for _, l := range []struct {
					c     byte
					paths []string
				}{{'M', d.Modified}, {'D', d.Removed}, {'A', d.Added}} {
					for _, p := range l.paths {
						fmt.Fprintf(a.stdout, "%c    %s\n", l.c, p)
					}
				}
			}
			if stats {
				if sa.Dir != "" || sb.Dir != "" {
					return fmt.Errorf("diff --stats compares commits, not directories")
				}
				ida, idb := sa.Commit, sb.Commit
				ra, err := commitObjects(c, repo, ida)
				if err != nil {
					return err
				}
				rb, err := commitObjects(c, repo, idb)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "[A] Object Count: %d\n", len(ra))
				fmt.Fprintf(a.stdout, "[B] Object Count: %d\n", len(rb))
				var common int
				var size uint64
				for n := range ra {
					if !rb[n] {
						continue
					}
					common++
					if fi, err := os.Lstat(filepath.Join(repo.Path(), repo.ObjectPath(n.ID, n.Type))); err == nil {
						size += uint64(fi.Size())
					}
				}
				fmt.Fprintf(a.stdout, "Common Object Count: %d\n", common)
				fmt.Fprintf(a.stdout, "Common Object Size: %s\n", formatSize(size))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print various statistics")
	cmd.Flags().BoolVar(&fsDiff, "fs-diff", false, "print filesystem diff")
	cmd.Flags().BoolVar(&noXattrs, "no-xattrs", false, "skip extended attributes")
	cmd.Flags().IntVar(&ownerUID, "owner-uid", -1, "use file ownership user id for local files")
	cmd.Flags().IntVar(&ownerGID, "owner-gid", -1, "use file ownership group id for local files")
	return cmd
}

// commitObjects is what ostree diff --stats counts for a commit: the commit
// and the dirtrees, dirmetas and content objects its tree reaches (no
// parents, no detached metadata).
func commitObjects(c *cobra.Command, repo *objstore.Repo, id objstore.ID) (map[objstore.ObjectName]bool, error) {
	set, err := repo.Reachable(c.Context(), []objstore.ID{id}, false)
	if err != nil {
		return nil, err
	}
	for n := range set {
		if n.Type == objstore.TypeCommitMeta {
			delete(set, n)
		}
	}
	return set, nil
}
