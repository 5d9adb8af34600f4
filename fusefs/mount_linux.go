package fusefs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Server is a mounted FS.
type Server struct {
	fs         *FS
	srv        *fuse.Server
	mountpoint string
	fusermount bool
	done       chan struct{}
}

// Mount mounts f read-only at mountpoint and serves it in the background
// until it is unmounted. It returns once the kernel has the mount. A
// mount point that is already mounted gives ErrBusy, a stale one ErrStale.
func (f *FS) Mount(mountpoint string, opts *MountOptions) (*Server, error) {
	var o MountOptions
	if opts != nil {
		o = *opts
	}
	mp, err := checkMountpoint(mountpoint)
	if err != nil {
		return nil, err
	}
	if o.Source == "" {
		o.Source = "gostree"
	}
	if o.ReadAheadKB <= 0 {
		o.ReadAheadKB = 4096
	}
	flags := uintptr(unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOSUID)
	mountOpts := []string{"ro", "default_permissions"}
	if o.Suid {
		flags &^= unix.MS_NOSUID
		mountOpts = append(mountOpts, "suid")
	}
	negative := f.opts.CacheTimeout
	debugLog := log.New(&slogWriter{f.log}, "", 0)
	gopts := &gofs.Options{
		MountOptions: fuse.MountOptions{
			FsName:               o.Source,
			Name:                 "gostree",
			Options:              mountOpts,
			AllowOther:           o.AllowOther,
			MaxWrite:             1 << 20,
			MaxReadAhead:         1 << 20,
			DirectMount:          !o.Fusermount && os.Geteuid() == 0,
			DirectMountFlags:     flags,
			EnableSymlinkCaching: f.fixedSymlinks(),
			// ACLs recorded as system.posix_acl_* xattrs are enforced, as in a checkout.
			EnableAcl: true,
			Debug:     o.Debug,
			Logger:    debugLog,
		},
		// Exact modes: a 0000 file stays 0000 (go-fuse would make it 0644).
		NullPermissions: true,
		// Timeouts are set per node; only failed lookups use the global one.
		NegativeTimeout: &negative,
		Logger:          debugLog,
	}
	srv, err := fuse.NewServer(gofs.NewNodeFS(f.root, gopts), mp, &gopts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mp, err)
	}
	s := &Server{fs: f, srv: srv, mountpoint: mp, fusermount: !gopts.DirectMount, done: make(chan struct{})}
	go func() {
		srv.Serve()
		close(s.done)
	}()
	if err := srv.WaitMount(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", mp, err)
	}
	s.setReadAhead(o.ReadAheadKB)
	f.log.Debug("mounted", "mountpoint", mp, "verify", f.opts.Verify.String())
	return s, nil
}

// fixedSymlinks reports whether every symlink target is fixed, so the
// kernel may cache them: not in whole-repository mode, where refs move.
func (f *FS) fixedSymlinks() bool {
	_, repo := f.root.(*repoRoot)
	return !repo
}

// Mountpoint returns the absolute mount point.
func (s *Server) Mountpoint() string { return s.mountpoint }

// Wait blocks until the file system is unmounted (by Unmount, Serve or
// anyone with umount or fusermount3 -u) and the kernel has closed it.
func (s *Server) Wait() {
	<-s.done
	s.fs.contents.closeAll()
}

// Unmount unmounts the file system and waits until it is closed. With files
// still open below the mount point it fails with an error wrapping ErrBusy.
func (s *Server) Unmount() error {
	if err := s.unmount(false); err != nil {
		return err
	}
	s.Wait()
	return nil
}

// Serve waits until ctx is done or the file system is unmounted by someone
// else. On ctx, it unmounts; if the mount point is busy it detaches the
// mount (it disappears from the tree at once) and keeps serving the files
// still open until the last one is closed.
func (s *Server) Serve(ctx context.Context) error {
	select {
	case <-s.done:
		s.Wait()
		return nil
	case <-ctx.Done():
	}
	err := s.unmount(false)
	if errors.Is(err, ErrBusy) {
		s.fs.log.Warn("mount point busy: detaching it; open files are served until closed", "mountpoint", s.mountpoint)
		err = s.unmount(true)
	}
	if err != nil {
		return err
	}
	s.Wait()
	return nil
}

func (s *Server) unmount(lazy bool) error {
	if !s.fusermount {
		flags := 0
		if lazy {
			flags = unix.MNT_DETACH
		}
		err := unix.Unmount(s.mountpoint, flags)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EBUSY):
			return fmt.Errorf("unmount %s: %w: files are open below it (see fuser -m %s)", s.mountpoint, ErrBusy, s.mountpoint)
		case !errors.Is(err, unix.EPERM):
			return fmt.Errorf("unmount %s: %w", s.mountpoint, err)
		}
	}
	bin, err := exec.LookPath("fusermount3")
	if err != nil {
		if bin, err = exec.LookPath("fusermount"); err != nil {
			return fmt.Errorf("unmount %s: fusermount3 not found: %w", s.mountpoint, err)
		}
	}
	args := []string{"-u"}
	if lazy {
		args = []string{"-u", "-z"}
	}
	out, err := exec.Command(bin, append(args, s.mountpoint)...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "busy") {
			return fmt.Errorf("unmount %s: %w: files are open below it (see fuser -m %s)", s.mountpoint, ErrBusy, s.mountpoint)
		}
		return fmt.Errorf("unmount %s: %s: %w", s.mountpoint, msg, err)
	}
	return nil
}

// setReadAhead raises the kernel read-ahead of the mount's backing device,
// so sequential reads arrive in large requests. Only root may; others keep
// the kernel default.
func (s *Server) setReadAhead(kb int) {
	var st unix.Stat_t
	if err := unix.Stat(s.mountpoint, &st); err != nil {
		s.fs.log.Debug("read-ahead: stat failed", "err", err)
		return
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0); err != nil {
		s.fs.log.Debug("read-ahead: not set", "path", p, "err", err)
	}
}

// checkMountpoint returns the absolute, symlink-free mount point, or a
// clear error if it cannot be mounted on.
func checkMountpoint(mountpoint string) (string, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", fmt.Errorf("mount point %s: %w", mountpoint, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		if errors.Is(err, unix.ENOTCONN) {
			return "", fmt.Errorf("%s: %w; unmount it first: fusermount3 -u %s", abs, ErrStale, abs)
		}
		return "", fmt.Errorf("mount point %s: %w", abs, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", fmt.Errorf("mount point %s: not a directory", abs)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if fstype, ok := mountedAt(abs); ok {
		how := "umount"
		if strings.HasPrefix(fstype, "fuse") {
			how = "fusermount3 -u"
			// Attributes may come from the kernel's cache; statfs asks the server.
			var sfs unix.Statfs_t
			if err := unix.Statfs(abs, &sfs); errors.Is(err, unix.ENOTCONN) {
				return "", fmt.Errorf("%s: %w; unmount it first: fusermount3 -u %s", abs, ErrStale, abs)
			}
		}
		return "", fmt.Errorf("%s: %w: a %s file system is already mounted there (unmount it first: %s %s)", abs, ErrBusy, fstype, how, abs)
	}
	return abs, nil
}

// mountedAt reports whether something is mounted exactly at dir, from
// /proc/self/mountinfo.
func mountedAt(dir string) (fstype string, ok bool) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	return parseMountinfo(bytes.NewReader(data), dir)
}

func parseMountinfo(r io.Reader, dir string) (fstype string, ok bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || unescapeMountinfo(fields[4]) != dir {
			continue
		}
		fstype = "unknown"
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				fstype = fields[i+1]
				break
			}
		}
		ok = true // the last entry wins, as it is the visible one
	}
	return fstype, ok
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// slogWriter turns go-fuse's log.Logger lines into Debug records.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("go-fuse: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
