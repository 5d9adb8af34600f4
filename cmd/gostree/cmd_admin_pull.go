package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/deploy"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/pull"
)

// pullForUpgrade fetches REMOTE:REF into the sysroot's repository before an
// upgrade or switch deploys it; with check set it fetches only the commit.
func (a *app) pullForUpgrade(c *cobra.Command, s *deploy.Sysroot, refspec string, check bool) error {
	remote, ref, err := objstore.ParseRefspec(refspec)
	if err != nil {
		return err
	}
	opts := &pull.Options{Logger: a.logger(), CommitOnly: check}
	if _, err := pull.Pull(c.Context(), s.Repo(), remote, []string{ref}, opts); err != nil {
		return fmt.Errorf("pull %s: %w", refspec, err)
	}
	return nil
}
