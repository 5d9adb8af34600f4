package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/pull"
)

func newServeCmd(a *app) *cobra.Command {
	var port int
	var address string
	var logRequests bool
	cmd := &cobra.Command{
		Use:   "serve [--port=PORT] [--address=ADDR] [REPO]",
		Short: "Serve a repository over HTTP for pull clients (development and tests)",
		Long: "Serve a repository directory as a static web server would, so that gostree pull and ostree pull " +
			"can fetch from it. It listens on 127.0.0.1 unless --address says otherwise; --port=0 picks a free " +
			"port. Production setups use any web server or CDN. REPO defaults to --repo.",
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := a.repoPath
			if len(args) == 1 {
				path = args[0]
			}
			if path == "" {
				path = "."
			}
			repo, err := objstore.Open(path, &objstore.Options{Logger: a.logger()})
			if err != nil {
				return err
			}
			if repo.Mode() != objstore.ModeArchive {
				fmt.Fprintf(a.stderr, "warning: %s is a %s repository; pull clients only accept archive repositories\n", repo.Path(), repo.Mode())
			}
			l, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			fmt.Fprintf(a.stdout, "Serving %s on http://%s/\n", repo.Path(), l.Addr())
			var log *slog.Logger
			if logRequests {
				log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			} else {
				log = a.logger()
			}
			err = pull.Serve(cmd.Context(), l, repo.Path(), &pull.ServerOptions{Logger: log})
			if err == nil && cmd.Context().Err() != nil {
				return nil // stopped by a signal: a normal end for a server
			}
			return err
		},
	}
	cmd.Flags().IntVarP(&port, "port", "p", 8080, "TCP port to listen on (0 picks a free one)")
	cmd.Flags().StringVar(&address, "address", "127.0.0.1", "address to listen on")
	cmd.Flags().BoolVar(&logRequests, "log-requests", false, "log every request to stderr")
	return cmd
}
