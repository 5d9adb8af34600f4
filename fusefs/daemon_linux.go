package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// DaemonEnv marks a process started by SpawnDaemon. Its value is the file
// descriptor of the pipe on which the daemon reports its mount.
const DaemonEnv = "GOSTREE_MOUNT_READY_FD"

// SpawnDaemon runs exe with args in the background, in a new session with
// its standard input and output on /dev/null and its standard error
// appended to logFile (or on /dev/null), and waits until it reports through
// Daemon.Ready that its mount is ready (nil) or failed (the error), or exits.
// The daemon outlives the caller. env is the daemon's environment, to which
// DaemonEnv is added.
func SpawnDaemon(ctx context.Context, exe string, args, env []string, logFile string) (pid int, err error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("start mount daemon: %w", err)
	}
	defer devnull.Close()
	stderr := devnull
	if logFile != "" {
		if stderr, err = os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return 0, fmt.Errorf("start mount daemon: %w", err)
		}
		defer stderr.Close()
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("start mount daemon: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	// fd 3 is /dev/null: go-fuse keeps fd 3 away from FUSE files (fusermount
	// hands over the mount on it), and so do we. The pipe is fd 4.
	cmd.ExtraFiles = []*os.File{devnull, w}
	cmd.Env = append(env, DaemonEnv+"=4")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("start mount daemon: %w", err)
	}
	type report struct {
		msg []byte
		err error
	}
	ch := make(chan report, 1)
	go func() {
		msg, err := io.ReadAll(io.LimitReader(r, 64<<10))
		ch <- report{msg, err}
	}()
	var rep report
	select {
	case rep = <-ch:
	case <-ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		return 0, ctx.Err()
	}
	msg := strings.TrimSpace(string(rep.msg))
	switch {
	case msg == "ready":
		pid = cmd.Process.Pid
		cmd.Process.Release()
		return pid, nil
	case msg != "":
		cmd.Wait()
		return 0, errors.New(msg)
	}
	werr := cmd.Wait()
	hint := ""
	if logFile != "" {
		hint = " (see " + logFile + ")"
	}
	return 0, fmt.Errorf("mount daemon exited before the mount was ready: %v%s", werr, hint)
}

// Daemon is the daemon side of SpawnDaemon.
type Daemon struct {
	ready *os.File
}

// DaemonFromEnv returns the Daemon this process is, if SpawnDaemon started
// it (getenv(DaemonEnv) names the pipe), or nil.
func DaemonFromEnv(getenv func(string) string) *Daemon {
	v := getenv(DaemonEnv)
	if v == "" {
		return nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return &Daemon{ready: os.NewFile(uintptr(fd), "mount-ready")}
}

// Ready tells the waiting SpawnDaemon that the mount is ready (err == nil)
// or failed, and closes the pipe. Later calls do nothing.
func (d *Daemon) Ready(err error) {
	if d == nil || d.ready == nil {
		return
	}
	msg := "ready\n"
	if err != nil {
		msg = err.Error() + "\n"
		if strings.TrimSpace(err.Error()) == "" || strings.TrimSpace(err.Error()) == "ready" {
			msg = "mount failed: " + msg
		}
	}
	d.ready.WriteString(msg)
	d.ready.Close()
	d.ready = nil
}
