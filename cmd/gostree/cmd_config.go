package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/keyfile"
	"github.com/gostree/gostree/objstore"
)

func newConfigCmd(a *app) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "config (get KEY|set KEY VALUE|unset KEY)",
		Short: "Change repo configuration settings",
		Long: `Read or change the repository's config as ostree config does. KEY is
SECTION.NAME (split at the last dot, so 'remote "origin".url' works), or
NAME with --group=SECTION. Values are read and written with GKeyFile's
escapes; unsetting a key that is not there is no error.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("OPERATION must be one of get, set, unset")
			}
			op, args := args[0], args[1:]
			want := map[string]int{"get": 1, "set": 2, "unset": 1}
			n, ok := want[op]
			if !ok {
				return usagef("unknown operation %s", op)
			}
			if len(args) < n {
				if n == 2 {
					return usagef("KEY and VALUE must be specified")
				}
				return usagef("KEY must be specified")
			}
			if len(args) > n {
				return usagef("too many arguments given")
			}
			section, key := group, args[0]
			if group == "" {
				i := strings.LastIndexByte(args[0], '.')
				if i <= 0 || i == len(args[0])-1 {
					return usagef(`key must be of the form "sectionname.keyname"`)
				}
				section, key = args[0][:i], args[0][i+1:]
			}
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			switch op {
			case "get":
				cfg := repo.Config()
				if !cfg.HasGroup(section) {
					return fmt.Errorf("key file does not have group “%s”", section)
				}
				v, ok := cfg.Value(section, key)
				if !ok {
					return fmt.Errorf("key file does not have key “%s” in group “%s”", key, section)
				}
				fmt.Fprintln(a.stdout, v)
				return nil
			case "set":
				return repo.UpdateConfig(func(f *keyfile.File) error {
					f.Set(section, key, args[1])
					return nil
				})
			}
			err = repo.UpdateConfig(func(f *keyfile.File) error {
				if !f.DeleteKey(section, key) {
					return errNothingToUnset
				}
				return nil
			})
			if errors.Is(err, errNothingToUnset) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "group name (KEY is then the key alone)")
	return cmd
}

var errNothingToUnset = errors.New("nothing to unset")

func newResetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset REF COMMIT",
		Short: "Reset a REF to a previous COMMIT",
		Long:  "Point an existing ref at another commit (any stored commit, as ostree reset allows).",
		Args:  minArgs(2, "a REF and COMMIT argument is required"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			repo, err := a.openRepo()
			if err != nil {
				return err
			}
			if _, err := repo.ResolveRef(args[0]); err != nil {
				return fmt.Errorf("invalid ref '%s'", args[0])
			}
			id, err := repo.ResolveRev(ctx, args[1])
			if err != nil {
				return err
			}
			return repo.SetRef(ctx, args[0], &id)
		},
	}
}

func newChecksumCmd(a *app) *cobra.Command {
	var ignoreXattrs bool
	cmd := &cobra.Command{
		Use:   "checksum PATH",
		Short: "Checksum a file or directory",
		Long: `Print the checksum ostree gives PATH as it is on disk, as ostree checksum
does: a file's or symlink's content object checksum, or a directory's dirmeta
checksum (mode, owner, group and extended attributes, not its contents).`,
		Args: rangeArgs(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := objstore.ChecksumPath(args[0], ignoreXattrs)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, id)
			return nil
		},
	}
	cmd.Flags().BoolVar(&ignoreXattrs, "ignore-xattrs", false, "don't include xattrs in checksum")
	return cmd
}
