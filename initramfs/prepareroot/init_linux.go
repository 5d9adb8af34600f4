package prepareroot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// InitOptions configure Init.
type InitOptions struct {
	// ModuleList is the list of modules to load; default ModuleListPath.
	ModuleList string
	// RootWait bounds the wait for the root device; default 30 s, or
	// rootwait=SECONDS from the kernel command line.
	RootWait time.Duration
	// Logger receives progress at Info; nil discards.
	Logger *slog.Logger
	// LogLevel, if set, is Logger's level: Init lowers it to Debug when
	// the kernel command line has gostree.debug (step timings). With
	// gostree.timings (or gostree.debug) the final line also reports
	// runtime_start_ms, the time from the kernel's "Run /init" to Init.
	LogLevel *slog.LevelVar
}

// Timings are the phases of Init, for boot-time measurements.
type Timings struct {
	// Start is the kernel's uptime (CLOCK_BOOTTIME) when Init began.
	Start time.Duration
	// Modules is the module loading phase (reading the list, opening
	// each module, finit_module), for NModules modules loaded.
	Modules  time.Duration
	NModules int
	// RootWait is the wait for the root device, RootMount its mount.
	RootWait, RootMount time.Duration
	// Prepare is Prepare's time (image check, mounts).
	Prepare time.Duration
	// Switch is moving /dev, /proc, /sys and /run, freeing the
	// initramfs and entering the new root.
	Switch time.Duration
	// Total is from Init's start to just before exec.
	Total time.Duration
	// Steps are Init's steps, Prepare's among them, in order.
	Steps Steps
}

// SetupOutside is Total minus the module loading and the root device wait,
// which depend on the kernel and hardware: the helper's own cost.
func (t *Timings) SetupOutside() time.Duration { return t.Total - t.Modules - t.RootWait }

func boottime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Init is the initramfs's /init: it mounts /dev, /proc, /sys and /run,
// loads the listed kernel modules, waits for the root= device and mounts
// it at /sysroot (ro unless rw, rootfstype=, rootflags=), runs Prepare
// with /run and the stateroot's /var, then switches root to the
// deployment and executes its init (init= on the kernel command line,
// default /sbin/init). It returns only on failure; the caller must then
// report the error and end PID 1.
func Init(ctx context.Context, opts *InitOptions) error {
	o := InitOptions{}
	if opts != nil {
		o = *opts
	}
	if o.ModuleList == "" {
		o.ModuleList = ModuleListPath
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tm Timings
	tm.Start = boottime()
	start := time.Now()
	const nse = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, m := range []struct {
		dir, fstype string
		flags       uintptr
		data        string
	}{
		{"/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"/proc", "proc", nse, ""},
		{"/sys", "sysfs", nse, ""},
		{"/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	} {
		if err := mkdir(m.dir, 0o755); err != nil {
			return err
		}
		err := sysMount(m.fstype, m.dir, m.fstype, m.flags, m.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err)
		}
	}
	cmdlineBytes, err := readFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("read kernel command line: %w", err)
	}
	cmdline := string(cmdlineBytes)
	args := ParseCmdline(cmdline)
	if o.LogLevel != nil && args.Has("gostree.debug") {
		o.LogLevel.Set(slog.LevelDebug)
	}

	tm.Steps = append(tm.Steps, Step{"early", time.Since(start)})
	mods, err := LoadModules(o.ModuleList)
	if err != nil {
		return fmt.Errorf("module list %s: %w", o.ModuleList, err)
	}
	t := time.Now()
	tm.Modules = t.Sub(start) - tm.Steps[0].Elapsed
	tm.Steps = append(tm.Steps, Step{"modules", tm.Modules})
	log.Debug("early mounts and modules", "ms", ms(t.Sub(start)))
	for _, m := range mods {
		if m.Err != nil {
			log.Warn("module not loaded", "module", filepath.Base(m.Path), "err", m.Err)
		} else {
			tm.NModules++
		}
	}

	spec, ok := args.Get("root")
	if !ok {
		return errors.New("no root= argument on the kernel command line")
	}
	wait := 30 * time.Second
	if o.RootWait > 0 {
		wait = o.RootWait
	}
	if v, ok := args.Get("rootwait"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			wait = time.Duration(n) * time.Second
		}
	}
	t = time.Now()
	wctx, cancel := context.WithTimeoutCause(ctx, wait, errors.New("waited "+wait.String()))
	dev, err := WaitRootDevice(wctx, spec)
	cancel()
	tm.RootWait = time.Since(t)
	tm.Steps = append(tm.Steps, Step{"root-wait", tm.RootWait})
	if err != nil {
		return err
	}
	t = time.Now()
	fstype, _ := args.Get("rootfstype")
	flags, _ := args.Get("rootflags")
	fstype, err = MountRoot(dev, "/sysroot", fstype, flags, args.Has("rw") && !args.Has("ro"))
	if err != nil {
		return err
	}
	tm.RootMount = time.Since(t)
	tm.Steps = append(tm.Steps, Step{"root-mount", tm.RootMount})
	log.Debug("root mounted", "device", dev, "type", fstype)

	init := "/sbin/init"
	if v, ok := args.Get("init"); ok && v != "" {
		init = v
	}
	// The init is not read here: the exec below opens it through the
	// verified mount anyway, and a failure there is reported with the
	// kernel's messages like any other.
	t = time.Now()
	res, err := Prepare(ctx, &Options{Sysroot: "/sysroot", Cmdline: cmdline, RunDir: "/run", MountVar: true, Logger: log})
	if err != nil {
		return err
	}
	tm.Prepare = time.Since(t)
	t = time.Now()
	if err := enterRoot("/sysroot"); err != nil {
		return err
	}
	tm.Switch = time.Since(t)
	tm.Total = time.Since(start)
	tm.Steps = append(append(tm.Steps, res.Steps...), Step{"switch", tm.Switch})
	attrs := append([]any{"init", init}, res.LogAttrs()...)
	attrs = append(attrs, "uptime_at_start_ms", ms(tm.Start),
		"modules_ms", ms(tm.Modules), "modules", tm.NModules,
		"root_wait_ms", ms(tm.RootWait), "root_mount_ms", ms(tm.RootMount),
		"prepare_ms", ms(tm.Prepare), "switch_ms", ms(tm.Switch), "total_ms", ms(tm.Total), "own_ms", ms(tm.SetupOutside()))
	if args.Has("gostree.timings") || log.Enabled(ctx, slog.LevelDebug) {
		// The exec of /init and the Go runtime's start, before Init: from
		// the kernel's "Run /init" record. Reading the kernel log takes a
		// few milliseconds under emulation, so only when asked.
		if at, ok := kernelMessageTime("Run /init"); ok && at > 0 && at < tm.Start {
			attrs = append(attrs, "runtime_start_ms", ms(tm.Start-at))
		}
		attrs = append(attrs, "steps", tm.Steps.String())
	}
	log.Info("switching root", attrs...)
	if err := unix.Exec(init, []string{init}, os.Environ()); err != nil {
		if errors.Is(err, unix.EIO) {
			return fmt.Errorf("exec %s in the deployment: %w"+verityHint, init, err)
		}
		return fmt.Errorf("exec %s in the deployment: %w", init, err)
	}
	return nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

// enterRoot moves /dev, /proc, /sys and /run into newroot, empties the
// initramfs (when it is the rootfs ramfs/tmpfs) and makes newroot the root
// and the working directory, as switch_root does before it executes init.
func enterRoot(newroot string) error {
	for _, d := range []string{"/dev", "/proc", "/sys", "/run"} {
		dst := filepath.Join(newroot, d)
		if isDir(dst) {
			if err := moveMount(d, dst); err != nil {
				return err
			}
		} else if err := sysUnmount(d, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s (the deployment has no %s): %w", d, d, err)
		}
	}
	if err := sysChdir(newroot); err != nil {
		return fmt.Errorf("chdir %s: %w", newroot, err)
	}
	freeInitramfs(newroot)
	if err := sysMount(newroot, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", newroot, err)
	}
	if err := sysChroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := sysChdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// freeInitramfs deletes the initramfs's files, as switch_root tools do, so
// their memory is returned: only when this is PID 1 on the rootfs (ramfs or
// tmpfs), and never crossing into another filesystem.
func freeInitramfs(keep string) {
	var sfs unix.Statfs_t
	if unix.Getpid() != 1 || unix.Statfs("/", &sfs) != nil || (sfs.Type != unix.RAMFS_MAGIC && sfs.Type != unix.TMPFS_MAGIC) {
		return
	}
	st, err := sysStat(unix.AT_FDCWD, "/", unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return
	}
	removeSameDev("/", st.dev, keep)
}

// removeSameDev deletes what dir holds on device dev, depth first, but
// not keep and nothing on another filesystem. It uses the directory's
// descriptor and plain system calls (see sysfile_linux.go): every name is
// unlinked, and one that is a directory (EISDIR) is emptied first when it
// is on dev.
func removeSameDev(dir string, dev uint64, keep string) {
	fd, err := openRetry(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer sysClose(fd)
	names, _ := readDirNamesFd(fd, dir)
	for _, name := range names {
		p := strings.TrimSuffix(dir, "/") + "/" + name
		if p == keep {
			continue
		}
		if sysUnlinkat(fd, name, 0) != unix.EISDIR {
			continue
		}
		if st, err := sysStat(fd, name, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.dev != dev {
			continue
		}
		removeSameDev(p, dev, keep)
		sysUnlinkat(fd, name, unix.AT_REMOVEDIR)
	}
}
