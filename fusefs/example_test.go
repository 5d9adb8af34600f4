package fusefs_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
)

// Mount the commit a branch points at, verified, until interrupted.
func ExampleFS_MountAndServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	repo, err := objstore.Open("/ostree/repo", nil)
	if err != nil {
		log.Fatal(err)
	}
	id, err := repo.ResolveRev(ctx, "exampleos/x86_64/stable")
	if err != nil {
		log.Fatal(err)
	}
	commit, err := repo.CommitFS(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fsys, err := fusefs.New(commit, &fusefs.Options{Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	if err := fsys.MountAndServe(ctx, "/mnt/stable", nil, nil); err != nil {
		log.Fatal(err)
	}
}

// Mount a whole repository: refs/<ref>/... and commits/<checksum>/....
func ExampleNewRepo() {
	repo, err := objstore.Open("/ostree/repo", nil)
	if err != nil {
		log.Fatal(err)
	}
	fsys, err := fusefs.NewRepo(repo, nil)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := fsys.Mount("/mnt/repo", &fusefs.MountOptions{Source: "gostree:" + repo.Path()})
	if err != nil {
		log.Fatal(err)
	}
	srv.Wait() // until someone runs fusermount3 -u /mnt/repo
}
