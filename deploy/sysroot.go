package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/keyfile"
	"github.com/gostree/gostree/objstore"
)

// ImageName is the composefs image of a deployment, the name ostree uses.
const ImageName = ".ostree.cfs"

// ImageWriter writes the composefs image of a commit and returns its
// fs-verity digest (the composefs digest).
type ImageWriter func(ctx context.Context, repo *objstore.Repo, commit objstore.ID, w io.Writer) (fsverity.Digest, error)

// Options configure a Sysroot. The zero value works for a real system
// except that WriteImage must be set to deploy.
type Options struct {
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Cmdline is the kernel command line used to find the booted
	// deployment; empty means read /proc/cmdline (when Path is "/").
	Cmdline *string
	// WriteImage writes deployment images (composefs.WriteCommit).
	WriteImage ImageWriter
	// BuildInitramfs, if set, builds an initramfs for a commit that ships
	// none: modules is the commit's usr/lib/modules/KVER. Without it such a
	// commit is deployed without an initrd line.
	BuildInitramfs func(ctx context.Context, modules fs.FS, kver string, w io.Writer) error
	// Hook, if set, is called at each step boundary of a boot
	// configuration change with the step's name; an error aborts there,
	// as a crash would. It is a seam for fault-injection tests.
	Hook func(step string) error
}

// Sysroot is an OSTree sysroot: a root filesystem holding ostree/repo,
// ostree/deploy and boot.
type Sysroot struct {
	path string
	repo *objstore.Repo
	opts Options
	log  *slog.Logger
}

// Deployment is one entry of the boot configuration.
type Deployment struct {
	// Index is the position in the boot order; 0 is the default.
	Index      int
	OSName     string
	Commit     objstore.ID
	Serial     int
	BootCsum   string
	BootSerial int
	// Kargs are the kernel arguments without ostree=.
	Kargs   []string
	Origin  *keyfile.File
	Version string
	Booted  bool
	// Title, Linux and Initrd are the BLS entry's title and boot paths
	// (relative to /boot, starting with "/").
	Title, Linux, Initrd string
}

// Name is "COMMIT.SERIAL", the deployment directory's name.
func (d *Deployment) Name() string { return fmt.Sprintf("%s.%d", d.Commit, d.Serial) }

// RelDir is the deployment directory relative to the sysroot.
func (d *Deployment) RelDir() string {
	return filepath.Join("ostree", "deploy", d.OSName, "deploy", d.Name())
}

// Pinned reports whether the origin marks the deployment as pinned.
func (d *Deployment) Pinned() bool {
	if d.Origin == nil {
		return false
	}
	b, _ := d.Origin.Bool("libostree-transient", "pinned", false)
	return b
}

// Refspec returns the origin's refspec.
func (d *Deployment) Refspec() string {
	if d.Origin == nil {
		return ""
	}
	return d.Origin.String("origin", "refspec", "")
}

// InitFS creates the top-level layout of a new sysroot at path, as `ostree
// admin init-fs` does, with an empty bare repository.
func InitFS(ctx context.Context, path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("init-fs %s: %w", path, err)
	}
	dirs := []struct {
		name string
		mode os.FileMode
	}{
		{"boot", 0o755}, {"dev", 0o755}, {"home", 0o755}, {"proc", 0o755}, {"run", 0o755},
		{"sys", 0o755}, {"tmp", 0o1777}, {"root", 0o700}, {"ostree", 0o755}, {"ostree/deploy", 0o755},
	}
	for _, d := range dirs {
		p := filepath.Join(path, d.name)
		if err := os.Mkdir(p, d.mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("init-fs: %w", err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("init-fs: %w", err)
		}
	}
	if _, err := objstore.Init(ctx, filepath.Join(path, "ostree", "repo"), &objstore.InitOptions{Mode: objstore.ModeBare}); err != nil {
		return fmt.Errorf("init-fs: %w", err)
	}
	return nil
}

// Open opens an existing sysroot.
func Open(path string, opts *Options) (*Sysroot, error) {
	if opts == nil {
		opts = &Options{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	repo, err := objstore.Open(filepath.Join(abs, "ostree", "repo"), &objstore.Options{Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("open sysroot %s: %w", path, err)
	}
	return &Sysroot{path: abs, repo: repo, opts: *opts, log: log}, nil
}

// Path returns the sysroot's absolute path.
func (s *Sysroot) Path() string { return s.path }

// Repo returns the system repository.
func (s *Sysroot) Repo() *objstore.Repo { return s.repo }

// OSInit creates the stateroot of an operating system: ostree/deploy/OS with
// its shared var, as `ostree admin os-init` does.
func (s *Sysroot) OSInit(name string) error {
	if err := objstore.ValidName(name); err != nil || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("os-init: invalid stateroot name %q", name)
	}
	base := filepath.Join(s.path, "ostree", "deploy", name)
	for _, d := range []string{"", "deploy", "var", "var/lib", "var/log"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return fmt.Errorf("os-init: %w", err)
		}
	}
	tmp := filepath.Join(base, "var", "tmp")
	if err := os.Mkdir(tmp, 0o1777); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("os-init: %w", err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return fmt.Errorf("os-init: %w", err)
	}
	for name, target := range map[string]string{"run": "../run", "lock": "../run/lock"} {
		if err := os.Symlink(target, filepath.Join(base, "var", name)); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("os-init: %w", err)
		}
	}
	return nil
}

// lock takes the sysroot lock for the duration of a change.
func (s *Sysroot) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.path, "ostree", "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock sysroot: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock sysroot: another ostree/gostree process is changing %s: %w", s.path, err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// BootVersion returns the current bootversion (the target of boot/loader).
func (s *Sysroot) BootVersion() (int, error) {
	target, err := os.Readlink(filepath.Join(s.path, "boot", "loader"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read boot/loader: %w", err)
	}
	switch target {
	case "loader.0":
		return 0, nil
	case "loader.1":
		return 1, nil
	}
	return 0, fmt.Errorf("boot/loader points to unexpected %q", target)
}

// subBootVersion returns S of ostree/boot.B -> boot.B.S (0 when missing).
func (s *Sysroot) subBootVersion(b int) (int, error) {
	target, err := os.Readlink(filepath.Join(s.path, "ostree", fmt.Sprintf("boot.%d", b)))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	switch target {
	case fmt.Sprintf("boot.%d.0", b):
		return 0, nil
	case fmt.Sprintf("boot.%d.1", b):
		return 1, nil
	}
	return 0, fmt.Errorf("ostree/boot.%d points to unexpected %q", b, target)
}

var ostreeArg = regexp.MustCompile(`^/ostree/boot\.([01])/([^/]+)/([^/]+)/([0-9]+)$`)

// Deployments reads the current boot configuration: the BLS entries of
// boot/loader, newest (default) first.
func (s *Sysroot) Deployments() ([]*Deployment, error) {
	b, err := s.BootVersion()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.path, "boot", fmt.Sprintf("loader.%d", b), "entries")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read boot entries: %w", err)
	}
	type entry struct {
		version string
		d       *Deployment
	}
	var list []entry
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read boot entry %s: %w", e.Name(), err)
		}
		bls := parseBLS(string(data))
		d, err := s.deploymentOf(bls)
		if err != nil {
			return nil, fmt.Errorf("boot entry %s: %w", e.Name(), err)
		}
		list = append(list, entry{bls.get("version"), d})
	}
	sort.SliceStable(list, func(i, j int) bool { return strverscmp(list[i].version, list[j].version) > 0 })
	booted := s.bootedTarget()
	out := make([]*Deployment, len(list))
	for i, e := range list {
		e.d.Index = i
		e.d.Booted = booted != "" && booted == filepath.Join(s.path, e.d.RelDir())
		out[i] = e.d
	}
	return out, nil
}

func (s *Sysroot) deploymentOf(bls *blsEntry) (*Deployment, error) {
	var kargs []string
	var target string
	for _, a := range strings.Fields(bls.get("options")) {
		if v, ok := strings.CutPrefix(a, "ostree="); ok {
			target = v
			continue
		}
		kargs = append(kargs, a)
	}
	m := ostreeArg.FindStringSubmatch(target)
	if m == nil {
		return nil, fmt.Errorf("no valid ostree= argument in %q", bls.get("options"))
	}
	link, err := os.Readlink(filepath.Join(s.path, target))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", target, err)
	}
	name := filepath.Base(link)
	csum, serialStr, ok := strings.Cut(name, ".")
	if !ok {
		return nil, fmt.Errorf("bad deployment link %q", link)
	}
	commit, err := objstore.ParseID(csum)
	if err != nil {
		return nil, fmt.Errorf("bad deployment link %q: %w", link, err)
	}
	serial, err := strconv.Atoi(serialStr)
	if err != nil {
		return nil, fmt.Errorf("bad deployment link %q", link)
	}
	bootSerial, _ := strconv.Atoi(m[4])
	d := &Deployment{OSName: m[2], Commit: commit, Serial: serial, BootCsum: m[3], BootSerial: bootSerial, Kargs: kargs,
		Title: bls.get("title"), Linux: bls.get("linux"), Initrd: bls.get("initrd")}
	if data, err := os.ReadFile(filepath.Join(s.path, d.RelDir()+".origin")); err == nil {
		if d.Origin, err = keyfile.ParseBytes(data); err != nil {
			return nil, fmt.Errorf("origin of %s: %w", d.Name(), err)
		}
	}
	if c, err := s.repo.LoadCommit(context.Background(), commit); err == nil {
		d.Version, _ = c.Metadata.String("version")
	}
	return d, nil
}

// bootedTarget resolves the ostree= argument of the kernel command line to
// a deployment directory, or "" when the system was not booted from this
// sysroot.
func (s *Sysroot) bootedTarget() string {
	var cmdline string
	switch {
	case s.opts.Cmdline != nil:
		cmdline = *s.opts.Cmdline
	case s.path == "/":
		data, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			return ""
		}
		cmdline = string(data)
	default:
		return ""
	}
	for _, a := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(a, "ostree="); ok && ostreeArg.MatchString(v) {
			link, err := os.Readlink(filepath.Join(s.path, v))
			if err != nil {
				return ""
			}
			return filepath.Clean(filepath.Join(filepath.Dir(filepath.Join(s.path, v)), link))
		}
	}
	return ""
}

// strverscmp compares version strings like glibc's strverscmp for the
// digit runs BLS versions use.
func strverscmp(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			i, j := 0, 0
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
