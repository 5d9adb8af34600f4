package pull_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
	"github.com/gostree/gostree/objstore/pull"
)

func mountTmpfs(dir string, size int) error {
	return unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size))
}

func unmount(dir string) { unix.Unmount(dir, unix.MNT_DETACH) }

// serveModified answers a request for path with the file's bytes changed
// by edit, keeping everything else as a static server would.
func serveModified(dir, path string, edit func([]byte) []byte) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != path {
			return false
		}
		data, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			http.NotFound(w, r)
			return true
		}
		data = edit(data)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
		return true
	}
}

func flipByte(at int) func([]byte) []byte {
	return func(b []byte) []byte {
		b = bytes.Clone(b)
		i := at
		if i < 0 {
			i = len(b) + at
		}
		b[i] ^= 0x20
		return b
	}
}

// pickObjects returns a commit's objects by kind: the commit, the root
// dirtree and dirmeta, a small and a large (streamed) regular file, and a
// symlink.
type picked struct {
	commit, tree, meta, small, large, symlink objstore.ObjectName
}

func pickObjects(t *testing.T, r *objstore.Repo, commit objstore.ID) picked {
	t.Helper()
	c, err := r.LoadCommit(t.Context(), commit)
	if err != nil {
		t.Fatal(err)
	}
	file := func(path string) objstore.ObjectName {
		return objstore.ObjectName{ID: lookupFile(t, r, c.RootTree, path), Type: objstore.TypeFile}
	}
	return picked{
		commit:  objstore.ObjectName{ID: commit, Type: objstore.TypeCommit},
		tree:    objstore.ObjectName{ID: c.RootTree, Type: objstore.TypeDirTree},
		meta:    objstore.ObjectName{ID: c.RootMeta, Type: objstore.TypeDirMeta},
		small:   file("etc/hostname"),
		large:   file("usr/share/big"),
		symlink: file("usr/hostname-link"),
	}
}

// TestPullCorruption serves one damaged object per case: the pull fails
// with a clear error, the damaged object is not stored, the ref does not
// move, and the repository passes fsck. A later clean pull completes.
func TestPullCorruption(t *testing.T) {
	src, commit := sourceRepo(t, 20)
	obj := pickObjects(t, src, commit)
	appendBytes := func(b []byte) []byte { return append(bytes.Clone(b), "trailing garbage"...) }
	truncate := func(b []byte) []byte { return b[:len(b)/2] }
	garbage := func([]byte) []byte { return []byte("<html>not an object</html>") }
	cases := []struct {
		name string
		obj  objstore.ObjectName
		edit func([]byte) []byte
		want string // in the error
		// mismatch means the error is a *DigestMismatchError.
		mismatch bool
	}{
		{"commit flipped byte", obj.commit, flipByte(10), "checksum", true},
		{"dirtree flipped byte", obj.tree, flipByte(-40), "checksum", true},
		{"dirmeta flipped byte", obj.meta, flipByte(3), "checksum", true},
		{"dirtree garbage", obj.tree, garbage, "checksum", true},
		{"small file flipped content", obj.small, flipByte(-3), "", false},
		{"small file flipped header", obj.small, flipByte(11), "", false},
		{"large file flipped content", obj.large, flipByte(-200), "", false},
		{"symlink flipped target", obj.symlink, flipByte(-5), "", false},
		{"small file trailing bytes", obj.small, appendBytes, "trailing data", false},
		{"symlink trailing bytes", obj.symlink, appendBytes, "trailing data", false},
		{"large file trailing bytes", obj.large, appendBytes, "trailing data", false},
		{"small file truncated", obj.small, truncate, "truncated", false},
		{"large file truncated", obj.large, truncate, "", false},
		{"filez garbage", obj.small, garbage, "invalid object", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, src.Path())
			srv.setFault(serveModified(src.Path(), objectPath(tc.obj), tc.edit))
			dst := destRepo(t, objstore.ModeBareUser, srv.URL)
			_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions())
			if err == nil {
				t.Fatal("Pull succeeded with a damaged object")
			}
			t.Logf("error: %v", err)
			var dm *objstore.DigestMismatchError
			isMismatch := errors.As(err, &dm)
			if tc.mismatch && !isMismatch {
				t.Errorf("error %v is not a *DigestMismatchError", err)
			}
			if !isMismatch && !errors.Is(err, objstore.ErrInvalidObject) {
				t.Errorf("error %v is neither a digest mismatch nor ErrInvalidObject", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.obj.ID.String()) {
				t.Errorf("error %q should mention %q and the object %s", err, tc.want, tc.obj.ID)
			}
			if ok, _ := dst.HasObject(tc.obj.ID, tc.obj.Type); ok {
				t.Errorf("damaged object %s was stored", tc.obj)
			}
			if isMismatch {
				if ok, _ := dst.HasObject(dm.Got, tc.obj.Type); ok {
					t.Errorf("damaged object was stored under its actual checksum %s", dm.Got)
				}
			}
			if _, err := dst.ResolveRef("origin:main"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ref moved despite the failure (err %v)", err)
			}
			fsckClean(t, dst)
			assertNoStaging(t, dst)

			srv.setFault(nil)
			if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions()); err != nil {
				t.Fatalf("clean pull after the failure: %v", err)
			}
			checkComplete(t, src, dst, commit)
		})
	}
}

// assertNoStaging checks that no transaction left files behind.
func assertNoStaging(t *testing.T, r *objstore.Repo) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(r.Path(), "tmp"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "staging-") {
			t.Errorf("staging directory %s left behind", e.Name())
		}
	}
}

func TestPullGarbageSummary(t *testing.T) {
	src, _ := sourceRepo(t, 1)
	srv := newServer(t, src.Path())
	srv.setFault(serveModified(src.Path(), "/summary", func([]byte) []byte { return []byte("garbage") }))
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions())
	if !errors.Is(err, objstore.ErrInvalidObject) || !strings.Contains(err.Error(), "summary") {
		t.Errorf("error = %v, want an invalid summary error", err)
	}
}

func TestPullNotFound(t *testing.T) {
	src, commit := sourceRepo(t, 5)
	obj := pickObjects(t, src, commit)
	for _, n := range []objstore.ObjectName{obj.tree, obj.small} {
		t.Run(n.Type.String(), func(t *testing.T) {
			srv := newServer(t, src.Path())
			srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == objectPath(n) {
					http.NotFound(w, r)
					return true
				}
				return false
			})
			dst := destRepo(t, objstore.ModeBareUser, srv.URL)
			_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions())
			var he *pull.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 404 || !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("error = %v, want a 404 *HTTPError", err)
			}
			if !strings.Contains(err.Error(), n.ID.String()) {
				t.Errorf("error %q does not name the object", err)
			}
			if n := count(srv.requests(), objectPath(n)); n != 1 {
				t.Errorf("404 requested %d times, want once (no retries)", n)
			}
			if !dst.IsPartial(commit) {
				t.Error("commit not marked partial")
			}
			fsckClean(t, dst)
		})
	}
}

// TestPullRetries answers the first attempts with 503s and dropped
// connections; the pull succeeds after retries, or fails when none are
// allowed.
func TestPullRetries(t *testing.T) {
	src, commit := sourceRepo(t, 10)
	obj := pickObjects(t, src, commit)
	var mu sync.Mutex
	seen := map[string]int{}
	fault := func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		seen[r.URL.Path]++
		n := seen[r.URL.Path]
		mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/objects/") || n > 2 {
			return false
		}
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		// Second attempt: the connection drops mid-body.
		data, _ := os.ReadFile(filepath.Join(src.Path(), r.URL.Path))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		return true
	}
	srv := newServer(t, src.Path())
	srv.setFault(fault)
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions()); err != nil {
		t.Fatalf("Pull with flaky server: %v", err)
	}
	checkComplete(t, src, dst, commit)
	if n := seen[objectPath(obj.large)]; n != 3 {
		t.Errorf("large object requested %d times, want 3", n)
	}

	clear(seen)
	dst2 := destRepo(t, objstore.ModeBareUser, srv.URL)
	opts := fastOptions()
	opts.Retries = -1
	_, err := pull.Pull(t.Context(), dst2, "origin", []string{"main"}, opts)
	var he *pull.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Pull without retries: error = %v, want a 503 *HTTPError", err)
	}
	fsckClean(t, dst2)
}

// TestPullStall has the server stop sending mid-body; the watchdog cuts the
// request and a retry succeeds, or the pull fails with a stall error.
func TestPullStall(t *testing.T) {
	src, commit := sourceRepo(t, 5)
	obj := pickObjects(t, src, commit)
	var stalls atomic.Int64
	limit := int64(1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	fault := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != objectPath(obj.large) || stalls.Load() >= atomic.LoadInt64(&limit) {
			return false
		}
		stalls.Add(1)
		data, _ := os.ReadFile(filepath.Join(src.Path(), r.URL.Path))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	srv := newServer(t, src.Path())
	srv.setFault(fault)
	opts := &pull.Options{Timeout: 300 * time.Millisecond, Retries: 2, Backoff: 10 * time.Millisecond}
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	start := time.Now()
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, opts); err != nil {
		t.Fatalf("Pull after one stall: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("pull took %v", d)
	}
	checkComplete(t, src, dst, commit)

	stalls.Store(0)
	atomic.StoreInt64(&limit, 100)
	dst2 := destRepo(t, objstore.ModeBareUser, srv.URL)
	_, err := pull.Pull(t.Context(), dst2, "origin", []string{"main"}, opts)
	var te *pull.TransportError
	if !errors.As(err, &te) || !te.Stalled || te.Attempts != 3 {
		t.Fatalf("error = %v, want a stalled *TransportError after 3 attempts", err)
	}
	if !strings.Contains(err.Error(), "stalled") {
		t.Errorf("error %q does not say the server stalled", err)
	}
	if _, err := dst2.ResolveRef("origin:main"); err == nil {
		t.Error("ref moved")
	}
	fsckClean(t, dst2)
}

// TestPullSlowHeaders has the server wait before answering at all.
func TestPullSlowHeaders(t *testing.T) {
	src, _ := sourceRepo(t, 1)
	srv := newServer(t, src.Path())
	srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/summary" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}
		return false
	})
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	opts := &pull.Options{Timeout: 200 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond}
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, opts)
	var te *pull.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want a *TransportError", err)
	}
}

// TestPullResumeAfterCancel stops a pull halfway through the content; the
// next pull completes it and requests no object twice.
func TestPullResumeAfterCancel(t *testing.T) {
	src, commit := sourceRepo(t, 200)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var served atomic.Int64
	srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".filez") && served.Add(1) == 100 {
			cancel()
		}
		return false
	})
	_, err := pull.Pull(ctx, dst, "origin", []string{"main"}, &pull.Options{Jobs: 4})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first pull: error = %v, want context.Canceled", err)
	}
	first := srv.requests()
	if !dst.IsPartial(commit) {
		t.Error("interrupted commit not marked partial")
	}
	if _, err := dst.ResolveRef("origin:main"); err == nil {
		t.Error("ref moved by the interrupted pull")
	}
	fsckClean(t, dst)
	stored := listObjects(t, dst)
	nfiles := 0
	for n := range stored {
		if n.Type == objstore.TypeFile {
			nfiles++
		}
	}
	if nfiles < 90 {
		t.Errorf("only %d content objects kept after ~100 were fetched", nfiles)
	}

	srv.setFault(nil)
	res, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
	second := srv.requests()
	for _, p := range second {
		if !strings.HasPrefix(p, "/objects/") {
			continue
		}
		for n := range stored {
			if objectPath(n) == p {
				t.Errorf("resumed pull fetched %s again", p)
			}
		}
	}
	total := count(keysOf(reachable(t, src, commit)), ".file")
	if int(res.ContentFetched)+nfiles != total {
		t.Errorf("resumed pull fetched %d content objects; %d were kept of %d", res.ContentFetched, nfiles, total)
	}
	t.Logf("first pull: %d requests, kept %d content objects; second pull: %d requests", len(first), nfiles, len(second))
}

// TestPullDiskFull pulls into a tiny tmpfs: the pull fails with ENOSPC,
// nothing half-written is visible, and the repository passes fsck.
func TestPullDiskFull(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mountTmpfs(mnt, 1<<20); err != nil {
		skipOrFail(t, "cannot mount a 1 MiB tmpfs to fill (needs root or a mount namespace): %v", err)
	}
	t.Cleanup(func() { unmount(mnt) })
	// Incompressible content, more than the filesystem holds.
	tree := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		data := make([]byte, 200<<10)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(tree, fmt.Sprintf("blob-%d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := objtest.NewRepo(t, objstore.ModeArchive)
	commitTree(t, src, tree, "main")
	srv := newServer(t, src.Path())
	dst, err := objstore.Init(t.Context(), filepath.Join(mnt, "repo"), &objstore.InitOptions{Mode: objstore.ModeArchive})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	_, err = pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions())
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("error = %v, want no space left on device", err)
	}
	t.Logf("error: %v", err)
	if _, err := dst.ResolveRef("origin:main"); err == nil {
		t.Error("ref moved")
	}
	fsckClean(t, dst)
	for n := range listObjects(t, dst) {
		if n.Type == objstore.TypeFile {
			if err := dst.VerifyContent(t.Context(), n.ID); err != nil {
				t.Errorf("visible object %s is damaged: %v", n, err)
			}
		}
	}
	assertNoStaging(t, dst)
}

// A remote with gpg-verify (the default) and no keys is refused before any
// request.
func TestPullRefusesGPGRemoteWithoutKeys(t *testing.T) {
	src, _ := sourceRepo(t, 1)
	srv := newServer(t, src.Path())
	dst := objtest.NewRepo(t, objstore.ModeArchive)
	if err := dst.AddRemote("origin", srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{GPGKeyringDirs: []string{}})
	if err == nil || !strings.Contains(err.Error(), "gpg-verify") {
		t.Errorf("error = %v, want a refusal naming gpg-verify", err)
	}
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("requests made before refusing: %v", reqs)
	}
}

func TestPullRefusesNonArchive(t *testing.T) {
	src := objtest.NewRepo(t, objstore.ModeBareUser)
	commitTree(t, src, smallTree(t, 1), "main")
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil)
	if err == nil || !strings.Contains(err.Error(), "only archive") {
		t.Errorf("error = %v, want a refusal of the bare-user remote", err)
	}
}

// TestPullRefBinding serves a commit bound to "main" under another ref
// name; the pull refuses it.
func TestPullRefBinding(t *testing.T) {
	src, commit := sourceRepo(t, 1)
	tx, err := src.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRef("stable", commit)
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err = pull.Pull(t.Context(), dst, "origin", []string{"stable"}, nil)
	if err == nil || !strings.Contains(err.Error(), "ref binding") {
		t.Errorf("error = %v, want a ref binding error", err)
	}
	if _, err := dst.ResolveRef("origin:stable"); err == nil {
		t.Error("ref written")
	}
	fsckClean(t, dst)
}

// TestPullOversizedMetadata announces a metadata object larger than the
// limit; it is refused without reading it.
func TestPullOversizedMetadata(t *testing.T) {
	src, commit := sourceRepo(t, 1)
	obj := pickObjects(t, src, commit)
	srv := newServer(t, src.Path())
	srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != objectPath(obj.tree) {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(objstore.MaxMetadataSize+1))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 1024))
		return true
	})
	dst := destRepo(t, objstore.ModeArchive, srv.URL)
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions())
	if !errors.Is(err, objstore.ErrInvalidObject) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("error = %v, want an oversized object error", err)
	}
}

// TestPullDroppedConnection has the server close the connection without an
// answer, every time, for one object: the pull retries, then fails with a
// transport error, and the repository stays consistent.
func TestPullDroppedConnection(t *testing.T) {
	src, commit := sourceRepo(t, 5)
	obj := pickObjects(t, src, commit)
	srv := newServer(t, src.Path())
	srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != objectPath(obj.small) {
			return false
		}
		conn, _, err := http.NewResponseController(w.(*statusWriter).ResponseWriter).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	})
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, fastOptions())
	var te *pull.TransportError
	if !errors.As(err, &te) || te.Attempts != 3 || te.Stalled {
		t.Fatalf("error = %v, want a *TransportError after 3 attempts", err)
	}
	t.Logf("error: %v", err)
	// net/http itself retries a GET once on a reused connection that closed
	// before answering, so the server may see more than 3 requests.
	if n := count(srv.requests(), objectPath(obj.small)); n < 3 {
		t.Errorf("dropped object requested %d times, want at least 3", n)
	}
	if _, err := dst.ResolveRef("origin:main"); err == nil {
		t.Error("ref moved")
	}
	fsckClean(t, dst)
	assertNoStaging(t, dst)
}
