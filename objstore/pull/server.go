package pull

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// ServerOptions configure FileServer and Serve. The zero value and nil are
// defaults.
type ServerOptions struct {
	// Logger receives one debug line per request; nil discards them.
	Logger *slog.Logger
}

// fileServer serves a directory tree as a static web server does.
type fileServer struct {
	root *os.Root
	log  *slog.Logger
}

// FileServer returns a handler that serves the repository directory dir
// the way any static web server serves an archive repository to pull
// clients: GET and HEAD of regular files with Last-Modified, ETag,
// conditional requests and ranges. Everything else is 404: directories
// (no listings), dot files such as .lock, and paths that leave dir
// (lookups go through os.Root). It is for development and tests;
// production uses any web server or CDN.
func FileServer(dir string, opts *ServerOptions) (http.Handler, error) {
	if opts == nil {
		opts = &ServerOptions{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", dir, err)
	}
	return &fileServer{root: root, log: log}, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.serve(sw, r)
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "remote", r.RemoteAddr)
}

func (s *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || strings.HasPrefix(path.Base(name), ".") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	f, err := s.root.Open(name)
	if err != nil {
		// Missing, unreadable, or a symlink out of the tree: all the same
		// to a client.
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Debug("open failed", "path", name, "err", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().Unix(), fi.Size()))
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// Serve serves dir on l until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, l net.Listener, dir string, opts *ServerOptions) error {
	h, err := FileServer(dir, opts)
	if err != nil {
		return err
	}
	defer h.(*fileServer).root.Close()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve %s: %w", dir, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve %s: shutdown: %w", dir, err)
	}
	<-done
	return nil
}
