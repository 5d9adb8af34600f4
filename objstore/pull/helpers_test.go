package pull_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
	"github.com/gostree/gostree/objstore/pull"
)

// fixedTime is the timestamp of every test commit (2020-01-01T00:00:00Z).
var fixedTime = time.Unix(1577836800, 0)

// skipOrFail skips with a reason, or fails under GOSTREE_TEST_NO_SKIP=1.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// destModes are the modes a pull can write here: bare needs root.
func destModes() []objstore.Mode {
	modes := []objstore.Mode{objstore.ModeArchive, objstore.ModeBareUser, objstore.ModeBareUserOnly}
	if os.Geteuid() == 0 {
		modes = append(modes, objstore.ModeBare)
	}
	return modes
}

// smallTree writes a small deterministic tree with nested directories, a
// symlink, an empty file, a file larger than the in-memory import limit,
// and n extra files.
func smallTree(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, data []byte, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/hostname", []byte("gostree\n"), 0o644)
	write("usr/bin/tool", bytes.Repeat([]byte("\x7fELF tool "), 5000), 0o755)
	write("usr/share/big", bytes.Repeat([]byte("0123456789abcdef"), 150000), 0o644) // 2.4 MB: streamed
	write("usr/share/empty", nil, 0o644)
	write("var/lib/.keep", nil, 0o600)
	for i := range n {
		write(fmt.Sprintf("usr/share/many/%02d/file-%d", i%7, i), fmt.Appendf(nil, "content of file %d\n", i), 0o644)
	}
	if err := os.Symlink("../etc/hostname", filepath.Join(dir, "usr/hostname-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// commitTree commits dir to branch of r with a fixed timestamp and a ref
// binding, and returns the commit.
func commitTree(t testing.TB, r *objstore.Repo, dir, branch string) objstore.ID {
	t.Helper()
	ctx := context.Background()
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	var parent objstore.ID
	if id, err := r.ResolveRef(branch); err == nil {
		parent = id
	}
	root := objstore.NewMutableTree()
	if err := tx.WriteDir(ctx, dir, root, nil); err != nil {
		t.Fatal(err)
	}
	md := objstore.Metadata{{Key: "ostree.ref-binding", Value: gvariant.NewVariant("as", []any{branch})}}
	id, err := tx.WriteCommit(ctx, root, &objstore.CommitOptions{Subject: "test " + branch, Timestamp: fixedTime, Parent: parent, Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRef(branch, id)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

// sourceRepo is an archive repository with one commit of smallTree on
// "main" and a summary.
func sourceRepo(t testing.TB, n int) (*objstore.Repo, objstore.ID) {
	t.Helper()
	r := objtest.NewRepo(t, objstore.ModeArchive)
	id := commitTree(t, r, smallTree(t, n), "main")
	if _, err := r.UpdateSummary(context.Background(), &objstore.SummaryOptions{Now: func() time.Time { return fixedTime }}); err != nil {
		t.Fatal(err)
	}
	return r, id
}

// server serves a repository directory through pull.FileServer, logging
// requests; fault, when set, may take over a request.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	log      []string
	statuses map[string][]int
	fault    func(w http.ResponseWriter, r *http.Request) bool
}

// statusWriter records the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// statusesOf returns the statuses sent for path so far.
func (s *server) statusesOf(path string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses[path])
}

func newServer(t testing.TB, dir string) *server {
	t.Helper()
	h, err := pull.FileServer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{statuses: map[string][]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, r.URL.Path)
		fault := s.fault
		s.mu.Unlock()
		w := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		defer func() {
			s.mu.Lock()
			s.statuses[r.URL.Path] = append(s.statuses[r.URL.Path], w.status)
			s.mu.Unlock()
		}()
		if fault != nil && fault(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// requests returns the logged paths and clears the log.
func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

// count returns how many paths end in suffix.
func count(paths []string, suffix string) int {
	n := 0
	for _, p := range paths {
		if strings.HasSuffix(p, suffix) {
			n++
		}
	}
	return n
}

// destRepo creates a repository with remote "origin" pointing at url.
func destRepo(t testing.TB, mode objstore.Mode, url string) *objstore.Repo {
	t.Helper()
	r := objtest.NewRepo(t, mode)
	if err := r.AddRemote("origin", url, &objstore.AddRemoteOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	return r
}

// fastOptions keep failing tests quick.
func fastOptions() *pull.Options {
	return &pull.Options{Timeout: 2 * time.Second, Retries: 2, Backoff: 10 * time.Millisecond}
}

// reachable lists the objects of a commit's tree.
func reachable(t testing.TB, r *objstore.Repo, commit objstore.ID) map[objstore.ObjectName]bool {
	t.Helper()
	ctx := context.Background()
	out := map[objstore.ObjectName]bool{{ID: commit, Type: objstore.TypeCommit}: true}
	c, err := r.LoadCommit(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(tree, meta objstore.ID)
	walk = func(tree, meta objstore.ID) {
		out[objstore.ObjectName{ID: meta, Type: objstore.TypeDirMeta}] = true
		out[objstore.ObjectName{ID: tree, Type: objstore.TypeDirTree}] = true
		dt, err := r.LoadDirTree(ctx, tree)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range dt.Files {
			out[objstore.ObjectName{ID: f.Content, Type: objstore.TypeFile}] = true
		}
		for _, d := range dt.Dirs {
			walk(d.Tree, d.Meta)
		}
	}
	walk(c.RootTree, c.RootMeta)
	return out
}

// listObjects returns every loose object of r.
func listObjects(t testing.TB, r *objstore.Repo) map[objstore.ObjectName]bool {
	t.Helper()
	out := map[objstore.ObjectName]bool{}
	if err := r.ListObjects(context.Background(), func(n objstore.ObjectName) error {
		out[n] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// fsckClean fails the test if fsck reports any problem.
func fsckClean(t testing.TB, r *objstore.Repo) {
	t.Helper()
	var problems []string
	if _, err := r.Fsck(context.Background(), nil, func(p objstore.FsckProblem) { problems = append(problems, p.String()) }); err != nil {
		t.Fatalf("fsck: %v", err)
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Fatalf("fsck found problems:\n%s", strings.Join(problems, "\n"))
	}
}

// checkComplete verifies that dst holds the whole commit, every content
// object hashing to its name, and no partial mark.
func checkComplete(t testing.TB, src, dst *objstore.Repo, commit objstore.ID) {
	t.Helper()
	want := reachable(t, src, commit)
	have := listObjects(t, dst)
	for n := range want {
		if !have[n] {
			t.Errorf("object %s missing after pull", n)
			continue
		}
		if n.Type == objstore.TypeFile {
			if err := dst.VerifyContent(context.Background(), n.ID); err != nil {
				t.Errorf("verify %s: %v", n, err)
			}
		}
	}
	if dst.IsPartial(commit) {
		t.Errorf("commit %s still marked partial", commit)
	}
	fsckClean(t, dst)
}

// objectPath is an object's URL path in an archive repository.
func objectPath(n objstore.ObjectName) string {
	s := n.ID.String()
	ext := n.Type.String()
	if n.Type == objstore.TypeFile {
		ext = "filez"
	}
	return "/objects/" + s[:2] + "/" + s[2:] + "." + ext
}
