package pull_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/pull"
)

// TestHelperPullProcess is not a test: TestPullKilled runs the test binary
// again with GOSTREE_PULL_HELPER=REPO to pull in a process it can kill.
func TestHelperPullProcess(t *testing.T) {
	path := os.Getenv("GOSTREE_PULL_HELPER")
	if path == "" {
		t.Skip("helper process for TestPullKilled")
	}
	r, err := objstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := &pull.Options{Jobs: 2, CheckpointObjects: 10}
	if _, err := pull.Pull(context.Background(), r, "origin", []string{"main"}, opts); err != nil {
		t.Fatal(err)
	}
}

// TestPullKilled kills a pull process with SIGKILL in the middle of the
// content; the repository is consistent, and the next pull completes
// without fetching any object that the killed one had stored.
func TestPullKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: spawns a process")
	}
	src, commit := sourceRepo(t, 300)
	srv := newServer(t, src.Path())
	dst := destRepo(t, objstore.ModeBareUser, srv.URL)

	var served atomic.Int64
	blocked := make(chan struct{})
	var once atomic.Bool
	srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, ".filez") {
			return false
		}
		if served.Add(1) > 150 {
			if once.CompareAndSwap(false, true) {
				close(blocked)
			}
			<-r.Context().Done() // hold the request until the client dies
			return true
		}
		return false
	})

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPullProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOSTREE_PULL_HELPER="+dst.Path())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the helper pull did not reach the middle of the content")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("helper ended with %v, want killed", err)
	}
	srv.setFault(nil)

	if _, err := dst.ResolveRef("origin:main"); err == nil {
		t.Error("ref moved by the killed pull")
	}
	if !dst.IsPartial(commit) {
		t.Error("killed pull left the commit unmarked")
	}
	fsckClean(t, dst)
	kept := listObjects(t, dst)
	files := 0
	for n := range kept {
		if n.Type == objstore.TypeFile {
			files++
			if err := dst.VerifyContent(t.Context(), n.ID); err != nil {
				t.Errorf("object %s visible after the kill is damaged: %v", n, err)
			}
		}
	}
	// The pull checkpoints every 10 objects, one checkpoint at a time:
	// what was fetched while the last checkpoint was being committed is
	// lost, the rest survives.
	if files < 30 {
		t.Errorf("only %d content objects survived the kill after 150 were fetched", files)
	}
	srv.requests()

	res, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, src, dst, commit)
	for _, p := range srv.requests() {
		for n := range kept {
			if p == objectPath(n) {
				t.Errorf("resumed pull fetched %s, which the killed pull had stored", p)
			}
		}
	}
	total := count(keysOf(reachable(t, src, commit)), ".file")
	if int(res.ContentFetched)+files != total {
		t.Errorf("resumed pull fetched %d content objects; %d were kept of %d", res.ContentFetched, files, total)
	}
	t.Logf("killed after 150 content requests: %d content objects kept; resume fetched %d", files, res.ContentFetched)
}
