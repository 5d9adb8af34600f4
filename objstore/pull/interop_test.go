package pull_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
	"github.com/gostree/gostree/objstore/pull"
)

// Interop tests: gostree pulls from repositories made by ostree and served
// by nginx; ostree pulls from repositories made by gostree and served by
// gostree's server and by nginx. Both sides fsck clean and check out
// identical trees, and a second pull after a small change fetches only the
// changed objects.

func requireOstree(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("ostree")
	if err != nil {
		skipOrFail(t, "ostree not installed (apt-get install ostree): %v", err)
	}
	return bin
}

// run runs a command and fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nginx is an nginx process serving a directory on a loopback port.
type nginx struct {
	URL       string
	accessLog string
	offset    int64
}

// startNginx serves root with nginx on 127.0.0.1, with a private config,
// or skips the test when nginx is not installed.
func startNginx(t *testing.T, root string) *nginx {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			bin = "/usr/sbin/nginx"
		} else {
			skipOrFail(t, "nginx not installed (apt-get install nginx): %v", err)
		}
	}
	prefix := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the test's private temp dirs
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
%s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 256; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	default_type application/octet-stream;
	sendfile on;
	server {
		listen %[3]s;
		root %[4]s;
	}
}
`, user, prefix, addr, root)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath)
	out, _ := os.Create(filepath.Join(prefix, "stdout"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Fatalf("nginx did not start on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &nginx{URL: "http://" + addr, accessLog: filepath.Join(prefix, "access.log")}
}

// requests returns the paths requested since the last call.
func (n *nginx) requests(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(n.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(n.offset, 0); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		n.offset += int64(len(line)) + 1
		// combined format: ... "GET /path HTTP/1.1" status ...
		if _, req, ok := strings.Cut(line, `"`); ok {
			if f := strings.Fields(req); len(f) >= 2 {
				out = append(out, f[1])
			}
		}
	}
	return out
}

// objectRequests keeps the requests for objects (not detached metadata).
func objectRequests(paths []string) []string {
	var out []string
	for _, p := range paths {
		if strings.HasPrefix(p, "/objects/") && !strings.HasSuffix(p, ".commitmeta") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// changedObjects lists the URL paths of objects in commit b but not in a.
func changedObjects(t *testing.T, r *objstore.Repo, a, b objstore.ID) []string {
	t.Helper()
	old := reachable(t, r, a)
	var out []string
	for n := range reachable(t, r, b) {
		if !old[n] {
			out = append(out, objectPath(n))
		}
	}
	slices.Sort(out)
	return out
}

// interopTree builds the awkward tree both tools commit.
func interopTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := objtest.MakeTree(dir, objtest.TreeOptions{ManyFiles: 300, Seed: 7, NoPrivileged: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objtest.MakeWritable(dir) })
	return dir
}

// changeTree modifies one file of a MakeTree tree.
func changeTree(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "gostree-changed")
	if err := os.WriteFile(p, []byte("a small change\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, objtest.TreeMTime, objtest.TreeMTime); err != nil {
		t.Fatal(err)
	}
}

// userCheckout compares user-mode checkouts: those of bare-user
// repositories are hardlinks to the objects and show their
// user.ostreemeta attribute.
var userCheckout = objtest.CompareOptions{IgnoreXattrPrefixes: []string{"user.ostreemeta"}}

// checkoutU checks a commit out in user mode with ostree, the common
// ground of every repository mode.
func checkoutU(t *testing.T, repo, rev string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "co")
	run(t, "ostree", "--repo="+repo, "checkout", "-U", "--force-copy", rev, dst)
	t.Cleanup(func() { objtest.MakeWritable(dst) })
	return dst
}

func TestInteropPullFromOstreeNginx(t *testing.T) {
	requireOstree(t)
	if testing.Short() {
		t.Skip("-short: interop with ostree and nginx")
	}
	srcPath := filepath.Join(t.TempDir(), "src")
	run(t, "ostree", "--repo="+srcPath, "init", "--mode=archive")
	tree := interopTree(t)
	run(t, "ostree", "--repo="+srcPath, "commit", "-b", "main", "--tree=dir="+tree, "--timestamp=2020-01-01T00:00:00Z", "-s", "one")
	run(t, "ostree", "--repo="+srcPath, "summary", "-u")
	ng := startNginx(t, srcPath)
	src, err := objstore.Open(srcPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	commit1 := mustResolve(t, src, "main")

	for _, mode := range destModes() {
		t.Run(string(mode), func(t *testing.T) {
			dst := destRepo(t, mode, ng.URL)
			ng.requests(t)
			_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil)
			if mode == objstore.ModeBareUserOnly {
				// The tree has setuid and world-writable files, which
				// bare-user-only repositories refuse (ostree too, without
				// --bareuseronly-files).
				if err == nil || !strings.Contains(err.Error(), "bare-user-only") {
					t.Fatalf("pull into bare-user-only: error = %v, want a refusal of the mode", err)
				}
				fsckClean(t, dst)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, src, dst, commit1)
			if got := listObjects(t, dst); len(got) != len(reachable(t, src, commit1)) {
				t.Errorf("dst has %d objects, the commit %d", len(got), len(reachable(t, src, commit1)))
			}
			run(t, "ostree", "--repo="+dst.Path(), "fsck")
			if err := objtest.CompareTrees(checkoutU(t, srcPath, "main"), checkoutU(t, dst.Path(), "origin:main"), userCheckout); err != nil {
				t.Errorf("checkouts differ:\n%v", err)
			}
			if mode == objstore.ModeBare {
				// Ownership and xattrs survive too.
				a := filepath.Join(t.TempDir(), "a")
				b := filepath.Join(t.TempDir(), "b")
				run(t, "ostree", "--repo="+srcPath, "checkout", "main", a)
				run(t, "ostree", "--repo="+dst.Path(), "checkout", "origin:main", b)
				if err := objtest.CompareTrees(a, b, objtest.CompareOptions{}); err != nil {
					t.Errorf("full checkouts differ:\n%v", err)
				}
			}
			reqs := ng.requests(t)
			if n := count(reqs, ".filez"); n != count(keysOf(reachable(t, src, commit1)), ".file") {
				t.Errorf("fetched %d content objects", n)
			}
		})
	}

	// A small change: a second pull fetches only what changed.
	dst := destRepo(t, objstore.ModeBareUser, ng.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	changeTree(t, tree)
	run(t, "ostree", "--repo="+srcPath, "commit", "-b", "main", "--tree=dir="+tree, "--timestamp=2020-01-02T00:00:00Z", "-s", "two")
	run(t, "ostree", "--repo="+srcPath, "summary", "-u")
	commit2 := mustResolve(t, src, "main")
	ng.requests(t)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit2)
	got, want := objectRequests(ng.requests(t)), changedObjects(t, src, commit1, commit2)
	if !slices.Equal(got, want) {
		t.Errorf("second pull fetched\n%s\nwant only the changed objects\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	run(t, "ostree", "--repo="+dst.Path(), "fsck")

	// Partial pulls resume across tools: state/COMMIT.commitpartial means
	// the same to both.
	t.Run("gostree-partial-then-ostree", func(t *testing.T) {
		dst := destRepo(t, objstore.ModeBareUser, ng.URL)
		if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{Subpaths: []string{"/many"}}); err != nil {
			t.Fatal(err)
		}
		if !dst.IsPartial(commit2) {
			t.Fatal("subpath pull left no partial mark")
		}
		run(t, "ostree", "--repo="+dst.Path(), "pull", "origin", "main")
		run(t, "ostree", "--repo="+dst.Path(), "fsck")
		checkComplete(t, src, dst, commit2)
	})
	t.Run("ostree-partial-then-gostree", func(t *testing.T) {
		dst := destRepo(t, objstore.ModeBareUser, ng.URL)
		run(t, "ostree", "--repo="+dst.Path(), "pull", "--commit-metadata-only", "origin", "main")
		if !dst.IsPartial(commit2) {
			t.Fatal("ostree left no partial mark")
		}
		if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, src, dst, commit2)
		run(t, "ostree", "--repo="+dst.Path(), "fsck")
	})
}

// pathRecorder is a slog handler collecting the paths FileServer logs.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (h *pathRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *pathRecorder) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" {
			h.mu.Lock()
			h.paths = append(h.paths, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}
func (h *pathRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *pathRecorder) WithGroup(string) slog.Handler      { return h }

func (h *pathRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.paths
	h.paths = nil
	return out
}

// serveGostree runs pull.Serve, the server behind `gostree serve`, on a
// loopback port.
func serveGostree(t *testing.T, dir string) (string, *pathRecorder) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &pathRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pull.Serve(ctx, l, dir, &pull.ServerOptions{Logger: slog.New(rec)}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String(), rec
}

func TestInteropOstreePullsFromGostree(t *testing.T) {
	requireOstree(t)
	if testing.Short() {
		t.Skip("-short: interop with ostree")
	}
	src := objtest.NewRepo(t, objstore.ModeArchive)
	tree := interopTree(t)
	commit1 := commitTree(t, src, tree, "main")
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	// ostree reads gostree's summary.
	out := run(t, "ostree", "--repo="+src.Path(), "summary", "--view")
	if !strings.Contains(out, "* main") || !strings.Contains(out, commit1.String()) || !strings.Contains(out, "archive-z2") {
		t.Errorf("ostree summary --view:\n%s", out)
	}

	gsURL, rec := serveGostree(t, src.Path())
	servers := []struct {
		name     string
		url      string
		requests func() []string
	}{{"gostree-serve", gsURL, rec.take}}
	if _, err := exec.LookPath("nginx"); err == nil || os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		ng := startNginx(t, src.Path())
		servers = append(servers, struct {
			name     string
			url      string
			requests func() []string
		}{"nginx", ng.URL, func() []string { return ng.requests(t) }})
	} else {
		t.Log("nginx not installed: only gostree serve is tested")
	}

	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			for _, mode := range []string{"bare-user", "archive"} {
				dst := filepath.Join(t.TempDir(), mode)
				run(t, "ostree", "--repo="+dst, "init", "--mode="+mode)
				run(t, "ostree", "--repo="+dst, "remote", "add", "--no-gpg-verify", "origin", s.url)
				s.requests()
				run(t, "ostree", "--repo="+dst, "pull", "origin", "main")
				run(t, "ostree", "--repo="+dst, "fsck")
				if got := strings.TrimSpace(run(t, "ostree", "--repo="+dst, "rev-parse", "origin:main")); got != commit1.String() {
					t.Errorf("%s: ostree pulled %s, want %s", mode, got, commit1)
				}
				if err := objtest.CompareTrees(checkoutU(t, src.Path(), "main"), checkoutU(t, dst, "origin:main"), userCheckout); err != nil {
					t.Errorf("%s: checkouts differ:\n%v", mode, err)
				}
				reqs := s.requests()
				if n, want := count(reqs, ".filez"), count(keysOf(reachable(t, src, commit1)), ".file"); n != want {
					t.Errorf("%s: ostree fetched %d content objects, the commit has %d", mode, n, want)
				}
			}
		})
	}

	// A small change; ostree's second pull fetches only what changed.
	dst := filepath.Join(t.TempDir(), "again")
	run(t, "ostree", "--repo="+dst, "init", "--mode=bare-user")
	run(t, "ostree", "--repo="+dst, "remote", "add", "--no-gpg-verify", "origin", gsURL)
	run(t, "ostree", "--repo="+dst, "pull", "origin", "main")
	changeTree(t, tree)
	commit2 := commitTree(t, src, tree, "main")
	// A summary modified in the same second as the cached one must still be
	// seen as changed: make the first one visibly older.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(src.Path(), "summary"), old, old)
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	rec.take()
	run(t, "ostree", "--repo="+dst, "pull", "origin", "main")
	run(t, "ostree", "--repo="+dst, "fsck")
	if got := strings.TrimSpace(run(t, "ostree", "--repo="+dst, "rev-parse", "origin:main")); got != commit2.String() {
		t.Fatalf("ostree pulled %s, want %s", got, commit2)
	}
	got, want := objectRequests(rec.take()), changedObjects(t, src, commit1, commit2)
	if !slices.Equal(got, want) {
		t.Errorf("ostree's second pull fetched\n%s\nwant only the changed objects\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
