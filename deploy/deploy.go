package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/keyfile"
	"github.com/gostree/gostree/objstore"
)

// DeployOptions configure Deploy.
type DeployOptions struct {
	// OSName is the stateroot; empty means the default deployment's, or the
	// only stateroot there is.
	OSName string
	// Revision is the refspec or checksum to deploy.
	Revision string
	// Kargs, when non-nil, replace the kernel arguments (--karg); otherwise
	// the merge deployment's are kept.
	Kargs []string
	// KargsAppend are appended (--karg-append).
	KargsAppend []string
	// KargsProcCmdline takes the arguments from the running kernel.
	KargsProcCmdline bool
	// Retain keeps every existing deployment (--retain).
	Retain bool
	// NotAsDefault puts the new deployment second (--not-as-default).
	NotAsDefault bool
	// Origin replaces the default origin ([origin] refspec=Revision).
	Origin *keyfile.File
}

// MergeDeployment returns the deployment whose /etc and kernel arguments a
// new deployment of osname inherits: the booted one if it belongs to
// osname, else the first (default) deployment of osname.
func MergeDeployment(deps []*Deployment, osname string) *Deployment {
	for _, d := range deps {
		if d.Booted && d.OSName == osname {
			return d
		}
	}
	for _, d := range deps {
		if d.OSName == osname {
			return d
		}
	}
	return nil
}

func (s *Sysroot) pickOS(deps []*Deployment, name string) (string, error) {
	if name != "" {
		if _, err := os.Stat(filepath.Join(s.path, "ostree", "deploy", name)); err != nil {
			return "", fmt.Errorf("stateroot %q is not initialized (run admin os-init %s)", name, name)
		}
		return name, nil
	}
	for _, d := range deps {
		if d.Booted {
			return d.OSName, nil
		}
	}
	if len(deps) > 0 {
		return deps[0].OSName, nil
	}
	ents, err := os.ReadDir(filepath.Join(s.path, "ostree", "deploy"))
	if err != nil {
		return "", err
	}
	if len(ents) == 1 {
		return ents[0].Name(), nil
	}
	return "", errors.New("no stateroot given: use --os=OS")
}

// Deploy creates a deployment of a commit and makes it the default (or the
// second entry with NotAsDefault): composefs image, merged /etc, origin,
// kernel in /boot, then a new boot configuration.
func (s *Sysroot) Deploy(ctx context.Context, opts *DeployOptions) (*Deployment, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s.opts.WriteImage == nil {
		return nil, errors.New("deploy: no composefs image writer configured")
	}
	deps, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	osname, err := s.pickOS(deps, opts.OSName)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	commit, err := s.repo.ResolveRev(ctx, opts.Revision)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	c, err := s.repo.LoadCommit(ctx, commit)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	merge := MergeDeployment(deps, osname)
	d := &Deployment{OSName: osname, Commit: commit}
	for _, o := range deps {
		if o.OSName == osname && o.Commit == commit && o.Serial >= d.Serial {
			d.Serial = o.Serial + 1
		}
	}
	d.Version, _ = c.Metadata.String("version")
	cfs, err := s.repo.CommitFS(ctx, commit)
	if err != nil {
		return nil, err
	}
	var generate func(fs.FS, string) ([]byte, error)
	if s.opts.BuildInitramfs != nil {
		generate = func(mods fs.FS, kver string) ([]byte, error) {
			var b bytes.Buffer
			err := s.opts.BuildInitramfs(ctx, mods, kver, &b)
			return b.Bytes(), err
		}
	}
	k, err := findKernel(cfs, generate)
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", commit.Short(), err)
	}
	d.BootCsum = k.bootcsum
	if err := s.buildDeploymentDir(ctx, d, c, cfs, merge, opts); err != nil {
		return nil, err
	}
	if d.Linux, d.Initrd, err = s.installKernel(cfs, osname, k); err != nil {
		return nil, err
	}
	d.Title = osTitle(cfs, osname, d.Version)
	d.Kargs, err = s.kargsFor(merge, opts)
	if err != nil {
		return nil, err
	}
	var list []*Deployment
	if opts.NotAsDefault && len(deps) > 0 {
		list = append(list, deps[0], d)
		deps = deps[1:]
	} else {
		list = append(list, d)
	}
	for _, o := range deps {
		if opts.Retain || o.Booted || o.Pinned() || (o == merge && !anyBooted(deps)) || slices.Contains(list, o) {
			if !slices.Contains(list, o) {
				list = append(list, o)
			}
		}
	}
	if err := s.writeDeployments(ctx, list); err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	return d, nil
}

func anyBooted(deps []*Deployment) bool {
	for _, d := range deps {
		if d.Booted {
			return true
		}
	}
	return false
}

// buildDeploymentDir writes the deployment directory under a temporary name
// (image, /etc merged from the merge deployment), then renames it into place
// and writes the origin.
func (s *Sysroot) buildDeploymentDir(ctx context.Context, d *Deployment, c *objstore.Commit, cfs *objstore.CommitFS, merge *Deployment, opts *DeployOptions) error {
	final := filepath.Join(s.path, d.RelDir())
	if err := removeTree(final); err != nil { // a stale directory from an interrupted deploy
		return err
	}
	tmp := filepath.Join(filepath.Dir(final), ".tmp-"+d.Name())
	if err := removeTree(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			removeTree(tmp)
		}
	}()
	img, err := os.OpenFile(filepath.Join(tmp, ImageName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(img, 1<<20)
	digest, err := s.opts.WriteImage(ctx, s.repo, d.Commit, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = img.Close()
	} else {
		img.Close()
	}
	if err != nil {
		return fmt.Errorf("deploy: write composefs image: %w", err)
	}
	// As ostree does, let the kernel protect the image where it can; the
	// boot helper then measures it instead of hashing it.
	if f, err := os.Open(filepath.Join(tmp, ImageName)); err == nil {
		if err := fsverity.Enable(f, nil); err != nil && !errors.Is(err, fsverity.ErrNotSupported) {
			s.log.Debug("enable fs-verity on the image", "err", err)
		}
		f.Close()
	}
	if v, ok := c.Metadata.Lookup("ostree.composefs.digest.v0"); ok {
		if want, _ := v.Value.([]byte); len(want) == 32 && string(want) != string(digest[:]) {
			return fmt.Errorf("deploy: composefs image digest %s does not match the commit's ostree.composefs.digest.v0 %x", digest, want)
		}
	}
	etc := filepath.Join(tmp, "etc")
	switch {
	case isDir(cfs, "usr/etc"):
		err = s.repo.Checkout(ctx, d.Commit, etc, &objstore.CheckoutOptions{Subpath: "/usr/etc", NoHardlinks: true})
	case isDir(cfs, "etc"):
		err = s.repo.Checkout(ctx, d.Commit, etc, &objstore.CheckoutOptions{Subpath: "/etc", NoHardlinks: true})
	default:
		err = os.Mkdir(etc, 0o755)
	}
	if err != nil {
		return fmt.Errorf("deploy: /etc: %w", err)
	}
	if merge != nil {
		oldDefaults, err := s.defaultsOf(ctx, merge)
		if err != nil {
			return err
		}
		m, r, a, err := mergeEtc(oldDefaults, filepath.Join(s.path, merge.RelDir(), "etc"), etc)
		if err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
		s.log.Debug("merged /etc", "from", merge.Name(), "modified", m, "removed", r, "added", a)
	}
	origin := opts.Origin
	if origin == nil {
		origin = keyfile.New()
		origin.Set("origin", "refspec", opts.Revision)
	}
	d.Origin = origin
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	ok = true
	if err := objstore.WriteFileAtomic(final+".origin", origin.Bytes(), 0o644); err != nil {
		return fmt.Errorf("deploy: write origin: %w", err)
	}
	return nil
}

// defaultsOf returns the /etc defaults of a deployment's commit as an fs.FS
// (usr/etc, or etc for trees that ship it there), nil when there are none.
func (s *Sysroot) defaultsOf(ctx context.Context, d *Deployment) (fs.FS, error) {
	cfs, err := s.repo.CommitFS(ctx, d.Commit)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"usr/etc", "etc"} {
		if isDir(cfs, p) {
			return fs.Sub(cfs, p)
		}
	}
	return nil, nil
}

func isDir(fsys fs.FS, name string) bool {
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.IsDir()
}

// osTitle builds the BLS title base: PRETTY_NAME (or ID) from os-release,
// plus the version unless the name already contains it.
func osTitle(fsys fs.FS, osname, version string) string {
	name := ""
	for _, p := range []string{"usr/lib/os-release", "etc/os-release"} {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			continue
		}
		vals := parseOSRelease(string(data))
		if name = vals["PRETTY_NAME"]; name == "" {
			name = vals["ID"]
		}
		break
	}
	if name == "" {
		name = osname
	}
	if version != "" && !strings.Contains(name, version) {
		name += " " + version
	}
	return name
}

func parseOSRelease(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out
}

func (s *Sysroot) kargsFor(merge *Deployment, opts *DeployOptions) ([]string, error) {
	var kargs []string
	switch {
	case opts.KargsProcCmdline:
		data, err := os.ReadFile("/proc/cmdline")
		if s.opts.Cmdline != nil {
			data, err = []byte(*s.opts.Cmdline), nil
		}
		if err != nil {
			return nil, err
		}
		for _, a := range strings.Fields(string(data)) {
			if !strings.HasPrefix(a, "ostree=") && !strings.HasPrefix(a, "BOOT_IMAGE=") && !strings.HasPrefix(a, "initrd=") {
				kargs = append(kargs, a)
			}
		}
	case opts.Kargs != nil:
		kargs = append(kargs, opts.Kargs...)
	case merge != nil:
		kargs = append(kargs, merge.Kargs...)
	}
	kargs = append(kargs, opts.KargsAppend...)
	for _, a := range kargs {
		if strings.HasPrefix(a, "ostree=") {
			return nil, errors.New("the ostree= kernel argument is managed by gostree")
		}
	}
	return kargs, nil
}

func (s *Sysroot) change(ctx context.Context, fn func(deps []*Deployment) ([]*Deployment, error)) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	deps, err := s.Deployments()
	if err != nil {
		return err
	}
	list, err := fn(deps)
	if err != nil {
		return err
	}
	return s.writeDeployments(ctx, list)
}

func checkIndex(deps []*Deployment, i int) error {
	if i < 0 || i >= len(deps) {
		return fmt.Errorf("invalid deployment index %d (there are %d deployments)", i, len(deps))
	}
	return nil
}

// Undeploy removes deployment index i; the booted deployment cannot be removed.
func (s *Sysroot) Undeploy(ctx context.Context, i int) error {
	return s.change(ctx, func(deps []*Deployment) ([]*Deployment, error) {
		if err := checkIndex(deps, i); err != nil {
			return nil, err
		}
		if deps[i].Booted {
			return nil, fmt.Errorf("cannot undeploy the booted deployment %d", i)
		}
		return slices.Delete(slices.Clone(deps), i, i+1), nil
	})
}

// SetDefault makes deployment i the default, keeping the others' order.
func (s *Sysroot) SetDefault(ctx context.Context, i int) error {
	return s.change(ctx, func(deps []*Deployment) ([]*Deployment, error) {
		if err := checkIndex(deps, i); err != nil {
			return nil, err
		}
		d := deps[i]
		rest := slices.Delete(slices.Clone(deps), i, i+1)
		return append([]*Deployment{d}, rest...), nil
	})
}

// Rollback makes the previous deployment the default: the first deployment
// after the booted one (or after the default, when nothing is booted from
// this sysroot), as rpm-ostree and bootc do.
func (s *Sysroot) Rollback(ctx context.Context) (*Deployment, error) {
	var target *Deployment
	err := s.change(ctx, func(deps []*Deployment) ([]*Deployment, error) {
		if len(deps) < 2 {
			return nil, errors.New("rollback: there is no previous deployment")
		}
		// Booted and not the default (a pending one is ahead): go back to
		// the booted one. Otherwise: the one after the default.
		idx := 1
		for i, d := range deps {
			if d.Booted && i > 0 {
				idx = i
			}
		}
		target = deps[idx]
		rest := slices.Delete(slices.Clone(deps), idx, idx+1)
		return append([]*Deployment{target}, rest...), nil
	})
	return target, err
}

// Pin sets or clears the pinned flag of deployment i ([libostree-transient]
// pinned=true in its origin, as ostree stores it). Pinned deployments are
// never removed by a deploy.
func (s *Sysroot) Pin(i int, pinned bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	deps, err := s.Deployments()
	if err != nil {
		return err
	}
	if err := checkIndex(deps, i); err != nil {
		return err
	}
	d := deps[i]
	origin := d.Origin
	if origin == nil {
		origin = keyfile.New()
	}
	if pinned {
		origin.Set("libostree-transient", "pinned", "true")
	} else {
		// ostree leaves the (then empty) group in place.
		origin.DeleteKey("libostree-transient", "pinned")
	}
	return objstore.WriteFileAtomic(filepath.Join(s.path, d.RelDir()+".origin"), origin.Bytes(), 0o644)
}

// EditKargs appends and deletes kernel arguments of every deployment and
// writes a new boot configuration.
func (s *Sysroot) EditKargs(ctx context.Context, add, del []string) error {
	for _, a := range add {
		if strings.HasPrefix(a, "ostree=") {
			return errors.New("the ostree= kernel argument is managed by gostree")
		}
	}
	return s.change(ctx, func(deps []*Deployment) ([]*Deployment, error) {
		for _, d := range deps {
			var out []string
			for _, k := range d.Kargs {
				if !slices.Contains(del, k) && !slices.Contains(del, strings.SplitN(k, "=", 2)[0]) {
					out = append(out, k)
				}
			}
			for _, a := range add {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
			d.Kargs = out
		}
		return deps, nil
	})
}

// Cleanup removes deployment directories and kernels no deployment uses,
// then prunes repository objects that neither a ref nor a deployment needs.
func (s *Sysroot) Cleanup(ctx context.Context) (objstore.PruneStats, error) {
	unlock, err := s.lock()
	if err != nil {
		return objstore.PruneStats{}, err
	}
	defer unlock()
	deps, err := s.Deployments()
	if err != nil {
		return objstore.PruneStats{}, err
	}
	if err := s.cleanupBoot(ctx, deps); err != nil {
		return objstore.PruneStats{}, err
	}
	var keep []objstore.ID
	for _, d := range deps {
		keep = append(keep, d.Commit)
	}
	return s.repo.Prune(ctx, keep)
}

// ConfigDiff lists the local changes of a deployment's /etc against its
// commit's defaults.
func (s *Sysroot) ConfigDiff(ctx context.Context, d *Deployment) ([]EtcChange, error) {
	defaults, err := s.defaultsOf(ctx, d)
	if err != nil {
		return nil, err
	}
	return diffEtc(defaults, filepath.Join(s.path, d.RelDir(), "etc"))
}
