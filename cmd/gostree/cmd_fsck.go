package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newFsckCmd(a *app) *cobra.Command {
	var quiet, verity bool
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Check the repository for consistency",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			stats, err := repo.Fsck(cmd.Context(), nil, func(p objstore.FsckProblem) {
				fmt.Fprintf(a.stderr, "error: %s\n", p)
			})
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(a.stdout, "Checked %d commits, %d metadata objects, %d content objects.\n", stats.Commits, stats.MetaObjects, stats.ContentObjects)
			}
			if verity {
				checked, unrecorded, err := repo.FsckVerity(cmd.Context(), func(p objstore.VerityProblem) {
					stats.Problems++
					fmt.Fprintf(a.stderr, "error: fs-verity: %s.file: %v\n", p.Object, p.Err)
				})
				if err != nil {
					return err
				}
				if !quiet {
					fmt.Fprintf(a.stdout, "Checked the fs-verity digests of %d objects (%d objects have none recorded).\n", checked, unrecorded)
				}
			}
			if stats.Problems > 0 {
				fmt.Fprintf(a.stderr, "error: %d corrupt or missing objects\n", stats.Problems)
				return &exitCodeError{code: exitError}
			}
			if !quiet {
				fmt.Fprintln(a.stdout, "object fsck completed successfully - no errors found.")
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print errors")
	cmd.Flags().BoolVar(&verity, "verity", false, "also check recorded fs-verity digests against the data and the kernel's measurement")
	return cmd
}
