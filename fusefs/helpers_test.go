package fusefs_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
)

// skip skips t, or fails it when GOSTREE_TEST_NO_SKIP=1.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// requireFUSE skips unless this process can mount FUSE file systems:
// /dev/fuse opens read-write and fusermount3 is installed (go-fuse mounts
// through it when not root).
func requireFUSE(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		skip(t, "FUSE unavailable: open /dev/fuse: %v", err)
		return
	}
	f.Close()
	if _, err := exec.LookPath("fusermount3"); err != nil {
		skip(t, "FUSE unavailable: fusermount3 not in PATH")
	}
}

// logBuffer is a concurrency-safe log sink for tests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo})), lb
}

// commitDir commits dir into repo as branch and returns the commit.
func commitDir(t testing.TB, repo *objstore.Repo, dir, branch string) objstore.ID {
	t.Helper()
	ctx := context.Background()
	tx, err := repo.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	mt := objstore.NewMutableTree()
	if err := tx.WriteDir(ctx, dir, mt, nil); err != nil {
		t.Fatalf("commit %s: %v", dir, err)
	}
	id, err := tx.WriteCommit(ctx, mt, &objstore.CommitOptions{Subject: "test", Timestamp: time.Unix(1577836800, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if branch != "" {
		tx.SetRef(branch, id)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

// mount mounts f on a fresh directory, unmounted when the test ends.
func mount(t testing.TB, f *fusefs.FS) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := f.Mount(mnt, nil)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	return mnt
}

// mountCommit mounts one commit of repo.
func mountCommit(t testing.TB, repo *objstore.Repo, id objstore.ID, opts *fusefs.Options) (*fusefs.FS, string) {
	t.Helper()
	cfs, err := repo.CommitFS(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fusefs.New(cfs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f, mount(t, f)
}

// TestMain doubles as a mount helper process (FUSEFS_TEST_HELPER set): it
// mounts FUSEFS_TEST_REV of FUSEFS_TEST_REPO at FUSEFS_TEST_MNT and serves
// until SIGINT or SIGTERM, reporting readiness to SpawnDaemon if started by
// it. Life cycle tests drive it.
func TestMain(m *testing.M) {
	if os.Getenv("FUSEFS_TEST_HELPER") != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

func helperMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	daemon := fusefs.DaemonFromEnv(os.Getenv)
	err := func() error {
		repo, err := objstore.Open(os.Getenv("FUSEFS_TEST_REPO"), nil)
		if err != nil {
			return err
		}
		f, src, err := fusefs.OpenRev(ctx, repo, os.Getenv("FUSEFS_TEST_REV"), false, &fusefs.Options{Logger: log})
		if err != nil {
			return err
		}
		return f.MountAndServe(ctx, os.Getenv("FUSEFS_TEST_MNT"), &fusefs.MountOptions{Source: src}, daemon.Ready)
	}()
	daemon.Ready(err)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// helperEnv is the environment of a helper process mounting rev.
func helperEnv(repo *objstore.Repo, rev, mnt string) []string {
	return append(os.Environ(), "FUSEFS_TEST_HELPER=1", "FUSEFS_TEST_REPO="+repo.Path(), "FUSEFS_TEST_REV="+rev, "FUSEFS_TEST_MNT="+mnt)
}

// isMounted reports whether a FUSE file system is mounted at dir.
func isMounted(t testing.TB, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// waitFor polls cond for up to 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
