package pull_test

import (
	"context"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
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

func TestPullEveryMode(t *testing.T) {
	src, commit := sourceRepo(t, 40)
	srv := newServer(t, src.Path())
	for _, mode := range destModes() {
		t.Run(string(mode), func(t *testing.T) {
			dst := destRepo(t, mode, srv.URL)
			var last pull.Progress
			var calls int
			opts := &pull.Options{Progress: func(p pull.Progress) { last = p; calls++ }}
			res, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, opts)
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if got, err := dst.ResolveRef("origin:main"); err != nil || got != commit {
				t.Fatalf("ResolveRef(origin:main) = %v, %v; want %s", got, err, commit)
			}
			if len(res.Refs) != 1 || res.Refs[0].Name != "origin:main" || res.Refs[0].New != commit {
				t.Errorf("Result.Refs = %+v", res.Refs)
			}
			checkComplete(t, src, dst, commit)
			want := reachable(t, src, commit)
			nfiles := int64(count(keysOf(want), ".file"))
			if res.ContentFetched != nfiles || res.ContentMissing != nfiles {
				t.Errorf("ContentFetched, ContentMissing = %d, %d; want %d", res.ContentFetched, res.ContentMissing, nfiles)
			}
			if last.Phase != pull.PhaseDone || last.ContentFetched != nfiles || calls < 3 {
				t.Errorf("last progress = %+v after %d calls", last, calls)
			}
			if res.Bytes <= 0 {
				t.Errorf("Bytes = %d", res.Bytes)
			}
			if _, err := os.Stat(filepath.Join(dst.Path(), "tmp/cache/summaries/origin")); err != nil {
				t.Errorf("summary not cached: %v", err)
			}
		})
	}
}

func keysOf(m map[objstore.ObjectName]bool) []string {
	var out []string
	for n := range m {
		out = append(out, n.String())
	}
	return out
}

// TestPullFetchesOnlyChanges pulls twice; the second pull after a small
// change must request only the changed objects.
func TestPullFetchesOnlyChanges(t *testing.T) {
	src, _ := sourceRepo(t, 30)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	srv.requests()

	// Change one file and commit again.
	tree := smallTree(t, 30)
	if err := os.WriteFile(filepath.Join(tree, "usr/share/many/03/file-3"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := reachable(t, src, mustResolve(t, src, "main"))
	commit2 := commitTree(t, src, tree, "main")
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	res, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit2)
	reqs := srv.requests()
	var changed []string
	for n := range reachable(t, src, commit2) {
		if !old[n] {
			changed = append(changed, objectPath(n))
		}
	}
	var objReqs []string
	for _, p := range reqs {
		if strings.HasPrefix(p, "/objects/") && !strings.HasSuffix(p, ".commitmeta") {
			objReqs = append(objReqs, p)
		}
	}
	slices.Sort(changed)
	slices.Sort(objReqs)
	if !slices.Equal(changed, objReqs) {
		t.Errorf("second pull requested\n%s\nwant only the changed objects\n%s", strings.Join(objReqs, "\n"), strings.Join(changed, "\n"))
	}
	if res.ContentFetched != 1 {
		t.Errorf("ContentFetched = %d, want 1", res.ContentFetched)
	}
	if res.Refs[0].Old == res.Refs[0].New {
		t.Errorf("ref update %+v did not move", res.Refs[0])
	}
}

func mustResolve(t testing.TB, r *objstore.Repo, ref string) objstore.ID {
	t.Helper()
	id, err := r.ResolveRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPullWithoutSummary resolves refs through refs/heads and reads the
// mode from config.
func TestPullWithoutSummary(t *testing.T) {
	src, commit := sourceRepo(t, 5)
	if err := os.Remove(filepath.Join(src.Path(), "summary")); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
	reqs := srv.requests()
	for _, want := range []string{"/summary", "/config", "/refs/heads/main"} {
		if !slices.Contains(reqs, want) {
			t.Errorf("requests %v lack %s", reqs, want)
		}
	}
}

// TestPullRequestOrder checks the protocol order of §4: summary, then the
// commit's detached metadata and commit, metadata before any content.
func TestPullRequestOrder(t *testing.T) {
	src, commit := sourceRepo(t, 10)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	cm := objectPath(objstore.ObjectName{ID: commit, Type: objstore.TypeCommitMeta})
	c := objectPath(objstore.ObjectName{ID: commit, Type: objstore.TypeCommit})
	if len(reqs) < 3 || reqs[0] != "/summary" || reqs[1] != cm || reqs[2] != c {
		t.Fatalf("first requests = %v, want /summary, %s, %s", reqs[:min(3, len(reqs))], cm, c)
	}
	if slices.Contains(reqs, "/config") || slices.Contains(reqs, "/refs/heads/main") {
		t.Errorf("requests %v: config or refs fetched although the summary has both", reqs)
	}
	lastMeta, firstContent := -1, len(reqs)
	for i, p := range reqs {
		switch {
		case strings.HasSuffix(p, ".filez"):
			firstContent = min(firstContent, i)
		case strings.HasSuffix(p, ".dirtree"), strings.HasSuffix(p, ".dirmeta"):
			lastMeta = i
		}
	}
	if lastMeta > firstContent {
		t.Errorf("metadata request %d after content request %d: %v", lastMeta, firstContent, reqs)
	}
}

func TestPullByChecksumWritesNoRef(t *testing.T) {
	src, commit := sourceRepo(t, 3)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	res, err := pull.Pull(t.Context(), dst, "origin", []string{commit.String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
	if len(res.Refs) != 0 {
		t.Errorf("Refs = %+v, want none", res.Refs)
	}
	if _, err := dst.ResolveRef("origin:main"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ResolveRef(origin:main) error = %v, want not found", err)
	}
}

func TestPullConfiguredBranches(t *testing.T) {
	src, commit := sourceRepo(t, 3)
	srv := newServer(t, src.Path())
	dst := objtest.NewRepo(t, objstore.ModeArchive)
	if err := dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{NoGPGVerify: true, Branches: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pull.Pull(t.Context(), dst, "origin", nil, nil); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)

	bare := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err := pull.Pull(t.Context(), bare, "origin", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no configured branches") {
		t.Errorf("Pull without refs or branches: error = %v", err)
	}
}

func TestPullUnknownRef(t *testing.T) {
	src, _ := sourceRepo(t, 1)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"nope"}, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Pull(nope) error = %v, want a not-found error naming the ref", err)
	}
	os.Remove(filepath.Join(src.Path(), "summary"))
	_, err = pull.Pull(t.Context(), dst, "origin", []string{"nope"}, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Pull(nope) without summary: error = %v, want not found", err)
	}
}

func TestPullDepth(t *testing.T) {
	src := objtest.NewRepo(t, objstore.ModeArchive)
	var commits []objstore.ID
	for i := range 4 {
		tree := smallTree(t, i+1)
		commits = append(commits, commitTree(t, src, tree, "main"))
	}
	srv := newServer(t, src.Path())
	for _, tc := range []struct {
		depth int
		want  int // commits present, newest first
	}{{0, 1}, {1, 2}, {2, 3}, {-1, 4}} {
		dst := destRepo(t, objstore.ModeArchive, srv.URL)
		res, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{Depth: tc.depth})
		if err != nil {
			t.Fatalf("depth %d: %v", tc.depth, err)
		}
		for i := range 4 {
			c := commits[3-i]
			ok, _ := dst.HasObject(c, objstore.TypeCommit)
			if ok != (i < tc.want) {
				t.Errorf("depth %d: commit %d present = %v", tc.depth, 3-i, ok)
			}
			if ok {
				checkComplete(t, src, dst, c)
			}
		}
		if len(res.Commits) != tc.want {
			t.Errorf("depth %d: Commits = %d, want %d", tc.depth, len(res.Commits), tc.want)
		}
	}
}

func TestPullCommitOnly(t *testing.T) {
	src, commit := sourceRepo(t, 5)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{CommitOnly: true}); err != nil {
		t.Fatal(err)
	}
	objs := listObjects(t, dst)
	if len(objs) != 1 || !objs[objstore.ObjectName{ID: commit, Type: objstore.TypeCommit}] {
		t.Errorf("objects after --commit-metadata-only = %v, want only the commit", keysOf(objs))
	}
	if !dst.IsPartial(commit) {
		t.Error("commit not marked partial")
	}
	if got := mustResolve(t, dst, "origin:main"); got != commit {
		t.Errorf("origin:main = %s, want %s (ostree moves the ref)", got, commit)
	}
	fsckClean(t, dst)
	// A full pull completes it.
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
}

func TestPullSubpath(t *testing.T) {
	src, commit := sourceRepo(t, 20)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{Subpaths: []string{"/usr/share/many/02/", "/etc/hostname"}}); err != nil {
		t.Fatal(err)
	}
	if !dst.IsPartial(commit) {
		t.Error("commit not marked partial after a subpath pull")
	}
	// Files under the subpaths are there; others are not.
	c, err := src.LoadCommit(t.Context(), commit)
	if err != nil {
		t.Fatal(err)
	}
	checkPath := func(path string, want bool) {
		t.Helper()
		id := lookupFile(t, src, c.RootTree, path)
		ok, _ := dst.HasObject(id, objstore.TypeFile)
		if ok != want {
			t.Errorf("%s present = %v, want %v", path, ok, want)
		}
	}
	checkPath("etc/hostname", true)
	checkPath("usr/share/many/02/file-2", true)
	checkPath("usr/share/many/03/file-3", false)
	checkPath("usr/bin/tool", false)
	fsckClean(t, dst)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
}

// lookupFile returns the content object at path of a tree.
func lookupFile(t testing.TB, r *objstore.Repo, tree objstore.ID, path string) objstore.ID {
	t.Helper()
	parts := strings.Split(path, "/")
	for _, d := range parts[:len(parts)-1] {
		dt, err := r.LoadDirTree(context.Background(), tree)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := dt.LookupDir(d)
		if !ok {
			t.Fatalf("no directory %s in %s", d, path)
		}
		tree = e.Tree
	}
	dt, err := r.LoadDirTree(context.Background(), tree)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := dt.LookupFile(parts[len(parts)-1])
	if !ok {
		t.Fatalf("no file %s", path)
	}
	return f.Content
}

func TestPullDryRun(t *testing.T) {
	src, commit := sourceRepo(t, 10)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	res, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if objs := listObjects(t, dst); len(objs) != 0 {
		t.Errorf("dry run stored %d objects", len(objs))
	}
	if _, err := dst.ResolveRef("origin:main"); err == nil {
		t.Error("dry run wrote a ref")
	}
	if dst.IsPartial(commit) {
		t.Error("dry run marked the commit partial")
	}
	want := int64(count(keysOf(reachable(t, src, commit)), ".file"))
	if res.ContentMissing != want || res.ContentFetched != 0 {
		t.Errorf("dry run: ContentMissing, ContentFetched = %d, %d; want %d, 0", res.ContentMissing, res.ContentFetched, want)
	}
}

func TestPullMirror(t *testing.T) {
	src, commit := sourceRepo(t, 3)
	other := commitTree(t, src, smallTree(t, 1), "other/branch")
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", nil, &pull.Options{Mirror: true}); err != nil {
		t.Fatal(err)
	}
	if got := mustResolve(t, dst, "main"); got != commit {
		t.Errorf("main = %s, want %s", got, commit)
	}
	if got := mustResolve(t, dst, "other/branch"); got != other {
		t.Errorf("other/branch = %s, want %s", got, other)
	}
	want, _ := os.ReadFile(filepath.Join(src.Path(), "summary"))
	got, err := os.ReadFile(filepath.Join(dst.Path(), "summary"))
	if err != nil || string(got) != string(want) {
		t.Errorf("mirrored summary differs (err %v)", err)
	}
	checkComplete(t, src, dst, commit)
	checkComplete(t, src, dst, other)
}

func TestPullLocal(t *testing.T) {
	tree := smallTree(t, 10)
	for _, srcMode := range destModes() {
		for _, dstMode := range destModes() {
			t.Run(string(srcMode)+"-to-"+string(dstMode), func(t *testing.T) {
				src := objtest.NewRepo(t, srcMode)
				commit := commitTree(t, src, tree, "main")
				dst := objtest.NewRepo(t, dstMode)
				res, err := pull.PullLocal(t.Context(), dst, src.Path(), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := mustResolve(t, dst, "main"); got != commit {
					t.Errorf("main = %s, want %s", got, commit)
				}
				if len(res.Refs) != 1 {
					t.Errorf("Refs = %+v", res.Refs)
				}
				checkComplete(t, src, dst, commit)
			})
		}
	}
}

func TestPullFileURL(t *testing.T) {
	src, commit := sourceRepo(t, 3)
	dst := destRepo(t, objstore.ModeBareUser, "file://"+src.Path())
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := mustResolve(t, dst, "origin:main"); got != commit {
		t.Errorf("origin:main = %s, want %s", got, commit)
	}
	checkComplete(t, src, dst, commit)
}

// TestPullConcurrentPulls runs two pulls of the same commit at once; both
// succeed and the repository is whole.
func TestPullConcurrentPulls(t *testing.T) {
	src, commit := sourceRepo(t, 50)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkComplete(t, src, dst, commit)
}

// TestPullSummaryCache revalidates the cached summary (304), and fetches it
// again when the cache is damaged.
func TestPullSummaryCache(t *testing.T) {
	src, commit := sourceRepo(t, 3)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(src.Path(), "summary"), old, old); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	for range 2 {
		if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.statusesOf("/summary"); !slices.Equal(got, []int{200, 304}) {
		t.Errorf("summary statuses = %v, want [200 304]", got)
	}
	cache := filepath.Join(dst.Path(), "tmp/cache/summaries/origin")
	if err := os.WriteFile(cache, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(cache, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatalf("pull with a damaged summary cache: %v", err)
	}
	checkComplete(t, src, dst, commit)
}

// TestPullContentURL fetches objects from contenturl and the rest from url.
func TestPullContentURL(t *testing.T) {
	src, commit := sourceRepo(t, 5)
	meta := newServer(t, src.Path())
	content := newServer(t, src.Path())
	dst := objtest.NewRepo(t, objstore.ModeBareUser)
	if err := dst.AddRemote("origin", meta.URL, &objstore.AddRemoteOptions{NoGPGVerify: true, ContentURL: content.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
	for _, p := range meta.requests() {
		if strings.HasPrefix(p, "/objects/") && !strings.HasSuffix(p, ".commitmeta") {
			t.Errorf("url served %s, which belongs to contenturl", p)
		}
	}
	for _, p := range content.requests() {
		if !strings.HasPrefix(p, "/objects/") || strings.HasSuffix(p, ".commitmeta") {
			t.Errorf("contenturl served %s", p)
		}
	}
}

// TestPullGarbageRef serves a ref file that holds no checksum.
func TestPullGarbageRef(t *testing.T) {
	src, _ := sourceRepo(t, 1)
	os.Remove(filepath.Join(src.Path(), "summary"))
	if err := os.WriteFile(filepath.Join(src.Path(), "refs/heads/bad"), []byte("<html>oops</html>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"bad"}, nil)
	if !errors.Is(err, objstore.ErrInvalidObject) || !strings.Contains(err.Error(), "bad") {
		t.Errorf("error = %v, want an invalid ref error", err)
	}
}

// TestPullTLS pulls over HTTPS with the remote's tls-ca-path, and refuses
// an unknown certificate unless tls-permissive is set.
func TestPullTLS(t *testing.T) {
	src, commit := sourceRepo(t, 3)
	h, err := pull.FileServer(src.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		settings []objstore.RemoteSetting
		ok       bool
	}{
		{"untrusted", nil, false},
		{"tls-ca-path", []objstore.RemoteSetting{{Key: "tls-ca-path", Value: ca}}, true},
		{"tls-permissive", []objstore.RemoteSetting{{Key: "tls-permissive", Value: "true"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := objtest.NewRepo(t, objstore.ModeArchive)
			if err := dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{NoGPGVerify: true, Settings: tc.settings}); err != nil {
				t.Fatal(err)
			}
			_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{Retries: -1})
			if tc.ok != (err == nil) {
				t.Fatalf("Pull error = %v, want success %v", err, tc.ok)
			}
			if tc.ok {
				checkComplete(t, src, dst, commit)
			} else if !strings.Contains(err.Error(), "certificate") {
				t.Errorf("error %q does not mention the certificate", err)
			}
		})
	}
}
