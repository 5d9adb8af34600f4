package fusefs

import (
	"context"
	"fmt"

	"github.com/gostree/gostree/objstore"
)

// OpenRev returns the file system of a mount command: the commit rev names
// in repo (anything Repo.ResolveRev takes), or with all the whole
// repository. It also returns a source name for /proc/mounts.
func OpenRev(ctx context.Context, repo *objstore.Repo, rev string, all bool, opts *Options) (*FS, string, error) {
	if all {
		f, err := NewRepo(repo, opts)
		return f, "gostree:" + repo.Path(), err
	}
	id, err := repo.ResolveRev(ctx, rev)
	if err != nil {
		return nil, "", err
	}
	c, err := repo.LoadCommit(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("commit %s: %w", id, err)
	}
	f, err := NewTree(repo, c.RootTree, c.RootMeta, opts)
	return f, "gostree:" + id.String(), err
}

// MountAndServe mounts f at mountpoint, calls ready (if not nil) with the
// result as soon as it is known, and serves until ctx is done (then it
// unmounts, lazily if busy) or someone else unmounts it.
func (f *FS) MountAndServe(ctx context.Context, mountpoint string, opts *MountOptions, ready func(error)) error {
	srv, err := f.Mount(mountpoint, opts)
	if ready != nil {
		ready(err)
	}
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}
