package main

import (
	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
)

func newInitCmd(a *app) *cobra.Command {
	var mode, collection string
	cmd := &cobra.Command{
		Use:   "init [--mode=bare|bare-user|bare-user-only|archive]",
		Short: "Create a new repository",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := objstore.ParseMode(mode)
			if err != nil {
				return usagef("%v", err)
			}
			path := a.repoPath
			if path == "" {
				path = "."
			}
			_, err = objstore.Init(cmd.Context(), path, &objstore.InitOptions{
				Options: objstore.Options{Logger: a.logger()}, Mode: m, CollectionID: collection})
			return err
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "bare", "repository mode: bare, bare-user, bare-user-only or archive")
	cmd.Flags().StringVar(&collection, "collection-id", "", "globally unique ID for this repository's collection of refs")
	return cmd
}
