package fusefs_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fusefs"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
)

// lifecycleRepo returns a repository with a one-file commit on main and an
// empty mount point.
func lifecycleRepo(t *testing.T) (*objstore.Repo, string) {
	t.Helper()
	repo := objtest.NewRepo(t, objstore.ModeBare)
	commitDir(t, repo, writeTree(t, map[string]string{"hello": "hello\n"}), "main")
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if isMounted(t, mnt) {
			unix.Unmount(mnt, unix.MNT_DETACH)
			exec.Command("fusermount3", "-uz", mnt).Run()
		}
	})
	return repo, mnt
}

// TestSignalUnmounts runs a mount in the foreground of another process and
// stops it with SIGTERM and SIGINT: the mount goes away and the process
// exits 0.
func TestSignalUnmounts(t *testing.T) {
	requireFUSE(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			repo, mnt := lifecycleRepo(t)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = helperEnv(repo, "main", mnt)
			var stderr logBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the mount", func() bool { return isMounted(t, mnt) })
			if got := readString(t, filepath.Join(mnt, "hello")); got != "hello\n" {
				t.Errorf("read through the helper's mount: %q", got)
			}
			cmd.Process.Signal(sig)
			if err := cmd.Wait(); err != nil {
				t.Errorf("helper exited with %v\n%s", err, stderr.String())
			}
			if isMounted(t, mnt) {
				t.Errorf("still mounted after %v", sig)
			}
		})
	}
}

// TestSignalBusyDetaches stops a mount while a file is open in it: the
// mount is detached at once, the open file still reads, and the process
// exits when it is closed.
func TestSignalBusyDetaches(t *testing.T) {
	requireFUSE(t)
	repo, mnt := lifecycleRepo(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = helperEnv(repo, "main", mnt)
	var stderr logBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mount", func() bool { return isMounted(t, mnt) })
	f, err := os.Open(filepath.Join(mnt, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	cmd.Process.Signal(syscall.SIGTERM)
	go func() { exited <- cmd.Wait() }()
	waitFor(t, "the detach", func() bool { return !isMounted(t, mnt) })
	select {
	case err := <-exited:
		t.Fatalf("helper exited (%v) with a file still open", err)
	default:
	}
	buf := make([]byte, 16)
	if n, err := f.ReadAt(buf, 0); string(buf[:n]) != "hello\n" {
		t.Errorf("read from the detached mount: %q, %v", buf[:n], err)
	}
	f.Close()
	if err := <-exited; err != nil {
		t.Errorf("helper: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "busy") {
		t.Errorf("helper did not log the busy detach:\n%s", stderr.String())
	}
}

// TestDaemon starts the mount as a daemon: SpawnDaemon returns once the
// mount is ready, reports mount errors, and the daemon unmounts on SIGTERM.
func TestDaemon(t *testing.T) {
	requireFUSE(t)
	repo, mnt := lifecycleRepo(t)
	ctx := context.Background()
	logFile := filepath.Join(t.TempDir(), "log")
	pid, err := fusefs.SpawnDaemon(ctx, os.Args[0], []string{"-test.run=^$"}, helperEnv(repo, "main", mnt), logFile)
	if err != nil {
		t.Fatalf("SpawnDaemon: %v", err)
	}
	// Ready means ready: no polling.
	if got := readString(t, filepath.Join(mnt, "hello")); got != "hello\n" {
		t.Errorf("read right after SpawnDaemon: %q", got)
	}
	// A second daemon on the same mount point reports the busy error.
	_, err = fusefs.SpawnDaemon(ctx, os.Args[0], []string{"-test.run=^$"}, helperEnv(repo, "main", mnt), "")
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("second daemon on %s: %v, want a busy error", mnt, err)
	}
	// So does a bad revision.
	other := filepath.Join(t.TempDir(), "other")
	os.Mkdir(other, 0o755)
	_, err = fusefs.SpawnDaemon(ctx, os.Args[0], []string{"-test.run=^$"}, helperEnv(repo, "nope", other), "")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("daemon for a missing ref: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unmount", func() bool { return !isMounted(t, mnt) })
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err == nil && ws.ExitStatus() != 0 {
		log, _ := os.ReadFile(logFile)
		t.Errorf("daemon exit status %d\n%s", ws.ExitStatus(), log)
	}
}

// TestMountpointErrors checks the clear errors for a busy and a stale mount
// point.
func TestMountpointErrors(t *testing.T) {
	requireFUSE(t)
	repo, mnt := lifecycleRepo(t)
	id, err := repo.ResolveRev(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	open := func() *fusefs.FS {
		cfs, err := repo.CommitFS(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		f, err := fusefs.New(cfs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	// Stale: the server dies without unmounting.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = helperEnv(repo, "main", mnt)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mount", func() bool { return isMounted(t, mnt) })
	cmd.Process.Kill()
	cmd.Wait()
	_, err = open().Mount(mnt, nil)
	if !errors.Is(err, fusefs.ErrStale) || !strings.Contains(err.Error(), "fusermount3 -u") {
		t.Errorf("mount on a stale mount point: %v, want ErrStale with a hint", err)
	}
	if err := exec.Command("fusermount3", "-u", mnt).Run(); err != nil {
		unix.Unmount(mnt, unix.MNT_DETACH)
	}

	// Busy: already mounted.
	srv, err := open().Mount(mnt, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = open().Mount(mnt, nil)
	if !errors.Is(err, fusefs.ErrBusy) {
		t.Errorf("second mount: %v, want ErrBusy", err)
	}
	// Unmount with an open file: ErrBusy, and the mount stays.
	f, err := os.Open(filepath.Join(mnt, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Unmount(); !errors.Is(err, fusefs.ErrBusy) {
		t.Errorf("unmount with an open file: %v, want ErrBusy", err)
	}
	f.Close()
	if err := srv.Unmount(); err != nil {
		t.Errorf("unmount: %v", err)
	}
	if _, err := open().Mount(filepath.Join(mnt, "missing"), nil); err == nil {
		t.Errorf("mount on a missing directory succeeded")
	}
}
