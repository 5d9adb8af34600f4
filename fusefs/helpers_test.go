package fusefs_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
