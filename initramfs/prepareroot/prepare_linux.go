package prepareroot

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fsverity"
)

// ErrImageMismatch is wrapped by Prepare's error when a deployment's
// composefs image does not have the digest its commit records
// (ostree.composefs.digest.v0): the deployment is refused.
var ErrImageMismatch = errors.New("composefs image does not match its commit")

// ErrUnverified is wrapped by Prepare's error when fs-verity is required
// but cannot be established for the image.
var ErrUnverified = errors.New("cannot verify the composefs image")

// Prepare makes the deployment named by the ostree= kernel argument the
// tree at opts.Sysroot, as ostree-prepare-root does when it runs inside an
// initramfs that has mounted the physical root at /sysroot:
//
//  1. resolve ostree= (a symlink in the sysroot) to
//     ostree/deploy/OS/deploy/COMMIT.SERIAL;
//  2. pick the composefs mode: prepare-root.conf, then the karg
//     ostree.prepare-root.composefs;
//  3. load the commit object (its name must be its SHA-256); with
//     composefs=signed, require an ed25519 signature by a trusted key;
//  4. check the image: its fs-verity digest (the kernel's measurement, or
//     computed here) must equal the commit's ostree.composefs.digest.v0
//     when the commit records one; verity/signed refuse an image they
//     cannot verify;
//  5. mount the image (EROFS, from the file or a loop device) under
//     overlayfs with the repository's objects as the data-only layer,
//     verity=require for verity/signed, at Sysroot.tmp;
//  6. bind-mount /boot, the deployment's etc and (MountVar) the
//     stateroot's var; write RunDir/ostree-booted;
//  7. move the physical root to Sysroot.tmp/sysroot and Sysroot.tmp to
//     Sysroot; make /sysroot read-only if configured.
//
// On error the mounts made so far are undone and Sysroot is left as it
// was. Prepare needs CAP_SYS_ADMIN and changes the mount namespace it runs
// in; "/" is made recursively private, as ostree does, so that mounts can
// be moved.
func Prepare(ctx context.Context, opts *Options) (*Result, error) {
	start := time.Now()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Sysroot == "" {
		o.Sysroot = "/sysroot"
	}
	if o.RunDir == "" {
		o.RunDir = "/run"
	}
	log := o.logger()
	last := start
	var steps Steps
	step := func(name string) { // timings of each step
		now := time.Now()
		steps = append(steps, Step{name, now.Sub(last)})
		if log.Enabled(ctx, slog.LevelDebug) {
			log.Debug("step", "name", name, "ms", float64(now.Sub(last).Microseconds())/1000)
		}
		last = now
	}
	sysroot := filepath.Clean(o.Sysroot)
	if o.Cmdline == "" {
		b, err := readFile("/proc/cmdline")
		if err != nil {
			return nil, fmt.Errorf("read kernel command line: %w", err)
		}
		o.Cmdline = string(b)
	}
	args := ParseCmdline(o.Cmdline)
	target, ok := args.Get("ostree")
	if !ok {
		return nil, errors.New("no ostree= argument on the kernel command line")
	}
	cfg := o.Config
	if cfg == nil {
		c, path, err := LoadConfig(ConfigPaths())
		if err != nil {
			return nil, err
		}
		if path != "" {
			log.Debug("config", "path", path)
		}
		cfg = c
	}
	mode := cfg.Composefs
	if v, ok := args.Get("ostree.prepare-root.composefs"); ok {
		m, err := ParseComposefsMode(v)
		if err != nil {
			return nil, fmt.Errorf("ostree.prepare-root.composefs: %w", err)
		}
		mode = m
	}
	dep, err := ResolveDeployment(sysroot, target)
	if err != nil {
		return nil, err
	}
	log.Debug("deployment", "dir", "/"+dep.RelDir, "composefs", mode.String())
	step("resolve")
	res := &Result{Deployment: dep, Mode: mode}

	repo := filepath.Join(sysroot, "ostree", "repo")
	image := filepath.Join(dep.Dir, ImageName)
	useCfs := false
	switch {
	case mode == ComposefsNo:
	case exists(image):
		useCfs = true
	case mode == ComposefsMaybe:
		log.Info("no composefs image; using the checkout", "image", image)
	default:
		return nil, fmt.Errorf("deployment /%s has no composefs image %s (composefs=%s)", dep.RelDir, ImageName, mode)
	}

	if err := sysMount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make / a private mount: %w", err)
	}
	tmp := sysroot + ".tmp"
	if err := mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", tmp, err)
	}
	var undo []func()
	fail := func(err error) (*Result, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return nil, err
	}
	undo = append(undo, func() { sysRmdir(tmp) })
	mounted := func(p string) {
		undo = append(undo, func() { sysUnmount(p, unix.MNT_DETACH) })
	}

	if useCfs {
		if err := mountComposefs(ctx, &o, cfg, dep, repo, image, tmp, res, step); err != nil {
			return fail(err)
		}
		mounted(tmp)
		step("detach-erofs")
	} else {
		if !isDir(filepath.Join(dep.Dir, "usr")) {
			return fail(fmt.Errorf("deployment /%s has neither a composefs image nor a checkout (composefs=%s)", dep.RelDir, mode))
		}
		if err := bindMount(dep.Dir, tmp); err != nil {
			return fail(err)
		}
		mounted(tmp)
		usr := filepath.Join(tmp, "usr")
		if err := bindMount(usr, usr); err != nil {
			return fail(err)
		}
		if err := remountReadOnly(usr); err != nil {
			return fail(err)
		}
		log.Info("bind-mounted the checkout", "dir", "/"+dep.RelDir)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if o.CheckInit != "" {
		if err := checkReadable(tmp, o.CheckInit); err != nil {
			return fail(err)
		}
		step("check-init")
	}

	ro := useCfs
	if cfg.SysrootReadOnly != nil {
		ro = *cfg.SysrootReadOnly
	}
	if isSymlink(filepath.Join(sysroot, "boot", "loader")) && isDir(filepath.Join(tmp, "boot")) {
		if err := bindMount(filepath.Join(sysroot, "boot"), filepath.Join(tmp, "boot")); err != nil {
			return fail(err)
		}
	}
	if etc := filepath.Join(dep.Dir, "etc"); (ro || useCfs) && isDir(etc) {
		if !isDir(filepath.Join(tmp, "etc")) {
			return fail(fmt.Errorf("deployment /%s: the tree has no /etc to mount its etc on", dep.RelDir))
		}
		if err := bindMount(etc, filepath.Join(tmp, "etc")); err != nil {
			return fail(err)
		}
	}
	if o.MountVar {
		v := filepath.Join(sysroot, "ostree", "deploy", dep.Stateroot, "var")
		if !isDir(v) || !isDir(filepath.Join(tmp, "var")) {
			return fail(fmt.Errorf("stateroot %s: %s or the tree's /var is missing", dep.Stateroot, v))
		}
		if err := bindMount(v, filepath.Join(tmp, "var")); err != nil {
			return fail(err)
		}
	}

	st, err := sysStat(unix.AT_FDCWD, dep.Dir, 0)
	if err != nil {
		return fail(fmt.Errorf("stat %s: %w", dep.Dir, err))
	}
	info := bootedInfo{dev: st.dev, ino: st.ino, composefs: useCfs, composefsVerity: res.Verity, sysrootRO: ro}
	if mode == ComposefsSigned {
		info.signed = cfg.KeyPath
	}
	if !isDir(o.RunDir) {
		if err := mkdirAll(o.RunDir, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := writeFile(filepath.Join(o.RunDir, "ostree-booted"), info.marshal(), 0o644); err != nil {
		return fail(fmt.Errorf("write ostree-booted: %w", err))
	}
	undo = append(undo, func() { unix.Unlink(filepath.Join(o.RunDir, "ostree-booted")) })
	step("binds")

	phys := filepath.Join(tmp, "sysroot")
	if !isDir(phys) {
		return fail(fmt.Errorf("deployment /%s: the tree has no /sysroot to move the physical root to", dep.RelDir))
	}
	if err := moveMount(sysroot, phys); err != nil {
		return fail(err)
	}
	if err := moveMount(tmp, sysroot); err != nil {
		// Put the physical root back where it was.
		if err2 := moveMount(phys, sysroot); err2 != nil {
			err = fmt.Errorf("%w; and moving the physical root back: %v", err, err2)
		}
		return fail(err)
	}
	if err := sysRmdir(tmp); err != nil {
		log.Debug("remove temporary mountpoint", "path", tmp, "err", err)
	}
	if ro {
		if err := remountReadOnly(filepath.Join(sysroot, "sysroot")); err != nil {
			return nil, err
		}
		res.SysrootReadOnly = true
	}
	step("move")
	res.Elapsed = time.Since(start)
	res.Steps = steps
	return res, nil
}

// mountComposefs checks the deployment's image against its commit and
// mounts it at target.
func mountComposefs(ctx context.Context, o *Options, cfg *Config, dep *Deployment, repo, image, target string, res *Result, step func(string)) error {
	log := o.logger()
	c, err := readCommit(repo, dep.Commit)
	if err != nil {
		return err
	}
	step("commit")
	if res.Mode == ComposefsSigned {
		keys, err := readPublicKeys(cfg.KeyPath)
		if err != nil {
			return err
		}
		if err := verifySignature(repo, dep.Commit, c, keys); err != nil {
			return err
		}
		if c.composefsDigest == nil {
			return fmt.Errorf("commit %s is signed but records no %s: %w", dep.Commit, composefsDigestKey, ErrUnverified)
		}
		log.Info("commit signature verified", "commit", dep.Commit)
	}
	img, err := openFile(image)
	if err != nil {
		return err
	}
	defer img.Close()
	digest, from, err := imageDigest(img, res.Mode, c, dep)
	if err != nil {
		return err
	}
	if digest != nil {
		res.ImageDigest, res.ImageDigestFrom = hex.EncodeToString(digest), from
	}
	step("digest")
	if err := ctx.Err(); err != nil {
		return err
	}
	lower := filepath.Join(o.RunDir, "ostree", ".private", "cfsroot-lower")
	if err := mkdirAll(lower, 0o700); err != nil {
		return err
	}
	defer sysRmdir(lower)
	loop, err := mountErofs(img, lower)
	if err != nil {
		return err
	}
	res.Loop = loop
	step("erofs")
	// The overlay holds the EROFS superblock; the lower mount itself goes.
	defer func() {
		if err := sysUnmount(lower, unix.MNT_DETACH); err != nil {
			log.Debug("detach EROFS mount", "path", lower, "err", err)
		}
	}()
	verity := res.Mode.requiresVerity()
	if err := mountOverlay(lower, filepath.Join(repo, "objects"), target, verity); err != nil {
		return err
	}
	res.Composefs, res.Verity = true, verity
	step("overlay")
	log.Debug("composefs mounted", "deployment", "/"+dep.RelDir, "verity", map[bool]string{true: "require", false: "off"}[verity],
		"image_digest", res.ImageDigest, "digest_from", res.ImageDigestFrom, "loop", loop)
	return nil
}

// imageDigest returns the image's fs-verity digest and checks it against
// the commit. The kernel's measurement is used when the file has
// fs-verity; otherwise the digest is computed here when there is a commit
// digest to compare with (or the mode requires verity, which then fails).
func imageDigest(img *os.File, mode ComposefsMode, c *commitInfo, dep *Deployment) ([]byte, string, error) {
	alg, d, err := fsverity.Measure(img)
	from := "kernel"
	switch {
	case err == nil:
		if alg != fsverity.SHA256 {
			return nil, "", fmt.Errorf("image %s has fs-verity with %s; composefs digests are SHA-256: %w", img.Name(), alg, ErrUnverified)
		}
	case errors.Is(err, fsverity.ErrNotEnabled) || errors.Is(err, fsverity.ErrNotSupported):
		if c.composefsDigest == nil {
			if mode.requiresVerity() {
				return nil, "", fmt.Errorf("image %s has no fs-verity and commit %s records no %s to check it against (composefs=%s): %w",
					img.Name(), dep.Commit, composefsDigestKey, mode, ErrUnverified)
			}
			return nil, "", nil
		}
		if _, err := img.Seek(0, io.SeekStart); err != nil {
			return nil, "", err
		}
		if d, err = fsverity.DigestReader(img, nil); err != nil {
			return nil, "", fmt.Errorf("digest image %s: %w", img.Name(), err)
		}
		from = "computed"
	default:
		return nil, "", fmt.Errorf("measure image %s: %w", img.Name(), err)
	}
	if c.composefsDigest != nil && !bytes.Equal(d, c.composefsDigest) {
		return nil, "", fmt.Errorf("deployment /%s: image %s has fs-verity digest %x (%s), but commit %s records %s %x: %w",
			dep.RelDir, ImageName, d, from, dep.Commit, composefsDigestKey, c.composefsDigest, ErrImageMismatch)
	}
	return d, from, nil
}

// checkReadable reads the file at p inside root (symlinks followed inside
// root) to the end, so a file that fails fs-verity is named here.
func checkReadable(root, p string) error {
	rel, err := resolveIn(root, p)
	if err != nil {
		return fmt.Errorf("init %s in the deployment: %w", p, err)
	}
	name := p
	if "/"+rel != p {
		name = fmt.Sprintf("%s (-> /%s)", p, rel)
	}
	f, err := os.Open(filepath.Join(root, rel))
	if err == nil {
		_, err = io.Copy(io.Discard, f)
		f.Close()
	}
	if err != nil {
		if errors.Is(err, unix.EIO) {
			return fmt.Errorf("read init %s in the deployment: %w"+verityHint, name, err)
		}
		return fmt.Errorf("read init %s in the deployment: %w", name, err)
	}
	return nil
}
