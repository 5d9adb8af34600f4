package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newExportCmd(a *app) *cobra.Command {
	var opts objstore.ExportOptions
	var output string
	var noXattrs bool
	cmd := &cobra.Command{
		Use:   "export [--subpath=PATH] [--prefix=PREFIX] [-o FILE] COMMIT",
		Short: "Stream COMMIT to stdout in tar format",
		Long: `Write a commit's tree as a GNU tar archive, as ostree export does (the same
entries, order, owners, modes and mtimes, which are the commit's timestamp).
GNU tar carries no extended attributes, in ostree's archive as in this one,
so --no-xattrs changes nothing. --prefix is prepended as it is: end it with
a slash to put the tree in a directory.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			repo, id, err := a.resolveRev(ctx, args[0])
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				return repo.ExportTar(ctx, a.stdout, id, &opts)
			}
			_, err = writeFileAtomic(output, func(w io.Writer) (struct{}, error) {
				return struct{}{}, repo.ExportTar(ctx, w, id, &opts)
			})
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Subpath, "subpath", "", "export the sub-directory PATH")
	f.StringVar(&opts.Prefix, "prefix", "", "add PATH as prefix to archive pathnames")
	f.StringVarP(&output, "output", "o", "", "output to PATH (atomically)")
	f.BoolVar(&noXattrs, "no-xattrs", false, "skip output of extended attributes (there are none in GNU tar)")
	return cmd
}
