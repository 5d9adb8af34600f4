package main

import (
	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newCheckoutCmd(a *app) *cobra.Command {
	opts := &objstore.CheckoutOptions{}
	var toComposefs, composefsNoVerity bool
	cmd := &cobra.Command{
		Use:   "checkout [OPTION...] COMMIT [DESTINATION]",
		Short: "Check out a commit into a filesystem tree",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, id, err := a.resolveRev(ctx, args[0])
			if err != nil {
				return err
			}
			dest := args[0]
			if len(args) == 2 {
				dest = args[1]
			}
			if toComposefs || composefsNoVerity {
				return a.checkoutComposefs(ctx, repo, id, dest, composefsNoVerity)
			}
			return repo.Checkout(ctx, id, dest, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.UserMode, "user-mode", "U", false, "do not change file ownership or initialize extended attributes")
	cmd.Flags().StringVar(&opts.Subpath, "subpath", "", "checkout sub-directory PATH")
	cmd.Flags().BoolVar(&opts.NoHardlinks, "force-copy", false, "never hardlink (but may reflink if available)")
	cmd.Flags().BoolVar(&toComposefs, "composefs", false, "only create a composefs blob")
	cmd.Flags().BoolVar(&composefsNoVerity, "composefs-noverity", false, "only create a composefs blob, and disable fs-verity")
	return cmd
}
