package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newPruneCmd(a *app) *cobra.Command {
	var (
		noPrune, refsOnly, commitOnly, deltasOnly bool
		depth                                     int
		deleteCommit, youngerThan                 string
		retain, onlyBranches                      []string
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete unreachable objects",
		Long: `Delete the objects no commit reaches, as ostree prune does. Without
--refs-only every commit present is kept; with it, what the refs reach,
--depth parents deep (-1: all history). --keep-younger-than,
--retain-branch-depth and --only-branch choose per ref and imply --refs-only.
--delete-commit deletes one commit first (not one a ref points at), leaving a
tombstone. An unreachable commit goes with its detached metadata; the
fs-verity digest log drops the records of deleted objects.

Static deltas are not pruned: gostree neither writes nor reads them.`,
		Args: cobra.ArbitraryArgs, // as ostree, which ignores them
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			if deleteCommit != "" && noPrune {
				return usagef("cannot specify both --delete-commit and --no-prune")
			}
			if deltasOnly {
				if deleteCommit == "" {
					return usagef("--static-deltas-only requires --delete-commit")
				}
				return errors.New("--static-deltas-only: gostree does not handle static deltas")
			}
			opts := &objstore.PruneOptions{RefsOnly: refsOnly, Depth: depth, CommitOnly: commitOnly, NoPrune: noPrune}
			if youngerThan != "" {
				t, err := parseDate(youngerThan, time.Now())
				if err != nil {
					return fmt.Errorf("could not parse '%s'", youngerThan)
				}
				opts.KeepYoungerThan = t
			}
			for _, r := range retain {
				name, d, ok := strings.Cut(r, "=")
				if !ok {
					return usagef("invalid value %s, must specify BRANCH=DEPTH", r)
				}
				n, err := strconv.Atoi(d)
				if err != nil {
					return usagef("invalid depth %s", d)
				}
				if opts.BranchDepth == nil {
					opts.BranchDepth = map[string]int{}
				}
				opts.BranchDepth[name] = n
			}
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			if len(onlyBranches) > 0 {
				refs, err := repo.Refs(ctx)
				if err != nil {
					return err
				}
				for _, b := range onlyBranches {
					if _, ok := refs[b]; !ok {
						return fmt.Errorf("refspec '%s' not found", b)
					}
				}
				opts.OnlyBranches = onlyBranches
			}
			if deleteCommit != "" {
				id, err := repo.ResolveRev(ctx, deleteCommit)
				if err != nil {
					return fmt.Errorf("delete commit %s: %w", deleteCommit, err)
				}
				if err := repo.DeleteCommit(ctx, id); err != nil {
					return err
				}
			}
			st, err := repo.PruneWith(ctx, opts)
			if err != nil {
				return err
			}
			if commitOnly {
				fmt.Fprintf(a.stdout, "Total (commit only) objects: %d\n", st.Total)
			} else {
				fmt.Fprintf(a.stdout, "Total objects: %d\n", st.Total)
			}
			switch {
			case st.Objects == 0:
				fmt.Fprintln(a.stdout, "No unreachable objects")
			case noPrune:
				fmt.Fprintf(a.stdout, "Would delete: %d objects, freeing %s\n", st.Objects, formatSize(uint64(st.Bytes)))
			default:
				fmt.Fprintf(a.stdout, "Deleted %d objects, %s freed\n", st.Objects, formatSize(uint64(st.Bytes)))
			}
			if log := a.logger(); log != nil {
				log.Debug("prune", "verity_records_dropped", st.VerityRecords)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noPrune, "no-prune", false, "only display unreachable objects; don't delete")
	f.BoolVar(&refsOnly, "refs-only", false, "only compute reachability via refs")
	f.IntVar(&depth, "depth", -1, "only traverse DEPTH parents for each commit (default: -1=infinite)")
	f.StringVar(&deleteCommit, "delete-commit", "", "specify a commit to delete")
	f.StringVar(&youngerThan, "keep-younger-than", "", "prune all commits older than the specified date (e.g. 2020-06-01, @EPOCH, \"3 days ago\")")
	f.BoolVar(&deltasOnly, "static-deltas-only", false, "change the behavior of --delete-commit to only delete static deltas")
	f.StringArrayVar(&retain, "retain-branch-depth", nil, "additionally retain BRANCH=DEPTH commits")
	f.StringArrayVar(&onlyBranches, "only-branch", nil, "only prune BRANCH (may be specified multiple times)")
	f.BoolVar(&commitOnly, "commit-only", false, "only traverse and delete commit objects")
	return cmd
}

// parseDate reads the dates ostree prune --keep-younger-than takes (as
// date -d does) that matter in practice: @EPOCH, ISO 8601 dates and times,
// and "N UNIT(s) ago" with UNIT second, minute, hour, day, week, month or
// year.
func parseDate(s string, now time.Time) (time.Time, error) {
	if t, err := parseTimestamp(s); err == nil {
		return t, nil
	}
	f := strings.Fields(strings.ToLower(s))
	if len(f) == 3 && f[2] == "ago" {
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return time.Time{}, err
		}
		switch strings.TrimSuffix(f[1], "s") {
		case "second", "sec":
			return now.Add(-time.Duration(n) * time.Second), nil
		case "minute", "min":
			return now.Add(-time.Duration(n) * time.Minute), nil
		case "hour":
			return now.Add(-time.Duration(n) * time.Hour), nil
		case "day":
			return now.AddDate(0, 0, -n), nil
		case "week":
			return now.AddDate(0, 0, -7*n), nil
		case "month":
			return now.AddDate(0, -n, 0), nil
		case "year":
			return now.AddDate(-n, 0, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse date %q", s)
}
