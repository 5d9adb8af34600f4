package prepareroot_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/composefs"
	"github.com/gostree/gostree/deploy"
	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/initramfs/prepareroot"
	"github.com/gostree/gostree/objstore"
)

// The fake-root tests run Prepare for real (EROFS, overlayfs, bind and move
// mounts) against a sysroot built by deploy in a temporary directory. Each
// case runs in a child process (this test binary again) in its own mount
// namespace, so nothing it mounts is seen outside or outlives it. The host
// kernel needs erofs and overlay; it need not have fs-verity: without it,
// verity=require mounts but refuses to open files, which is a case here.

const childEnv = "GOSTREE_PREPAREROOT_FAKEROOT"

// fakeCase is one Prepare run. Parent and child share the table: the
// parent calls setup (as an ordinary process) and the child runs the rest.
type fakeCase struct {
	name string
	// setup builds the sysroot and returns the case's parameters.
	setup func(t *testing.T, dir string) *params
	// wantErr, if set, is what Prepare's error must contain (and the
	// sysroot must then be left as it was).
	wantErr string
	// check inspects a successful result.
	check func(t *testing.T, p *params, res *prepareroot.Result)
}

// params are what a child needs, written by setup as JSON.
type params struct {
	Sysroot, Run, Cmdline, CheckInit string
	Mode                             string
	KeyPath                          string
	Marker                           string // expected content of usr/share/marker
	DeployDir                        string // relative to the sysroot
	Stateroot                        string
}

func requireMounts(t *testing.T) {
	t.Helper()
	skip := func(format string, a ...any) {
		if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
			t.Fatalf(format+" (GOSTREE_TEST_NO_SKIP=1)", a...)
		}
		t.Skipf(format, a...)
	}
	if os.Geteuid() != 0 {
		skip("needs root: mounts in a private mount namespace")
	}
	fss, _ := os.ReadFile("/proc/filesystems")
	for _, fs := range []string{"erofs", "overlay"} {
		if !regexp.MustCompile(`\s` + fs + `\n`).Match(fss) {
			skip("the kernel has no %s filesystem (/proc/filesystems)", fs)
		}
	}
}

// osTree writes a bootable tree whose marker says version.
func osTree(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"usr/lib/modules/6.12.0-test/vmlinuz": "KERNEL\n",
		"usr/lib/os-release":                  "ID=testos\n",
		"usr/share/marker":                    "marker " + version + "\n",
		"usr/bin/init":                        "#!/bin/sh\n# " + version + "\n",
		"usr/etc/hostname":                    "host-" + version + "\n",
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var", "sysroot", "boot"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Symlink("usr/bin", filepath.Join(dir, "bin"))
	os.Symlink("usr/bin", filepath.Join(dir, "sbin"))
	return dir
}

// commit commits dir to testos/stable; with digest it records the
// composefs image digest (ostree.composefs.digest.v0) as
// `commit --generate-composefs-metadata` does.
func commit(t *testing.T, repo *objstore.Repo, dir string, digest bool, extra objstore.Metadata) objstore.ID {
	t.Helper()
	ctx := t.Context()
	write := func(md objstore.Metadata, ref bool) objstore.ID {
		tx, err := repo.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Abort()
		root := objstore.NewMutableTree()
		if err := tx.WriteDir(ctx, dir, root, nil); err != nil {
			t.Fatal(err)
		}
		id, err := tx.WriteCommit(ctx, root, &objstore.CommitOptions{Timestamp: time.Unix(1700000000, 0), Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		if ref {
			tx.SetRef("testos/stable", id)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return id
	}
	md := append(objstore.Metadata{}, extra...)
	if digest {
		// The image depends on the tree only, so a first commit gives the
		// digest the final one records.
		d, err := composefs.WriteCommit(ctx, repo, write(nil, false), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		md = append(md, objstore.MetaEntry{Key: composefs.DigestKey, Value: gvariant.NewVariant("ay", d[:])})
	}
	return write(md, true)
}

// sysrootWith deploys each tree in turn (the last is the default) and
// returns the sysroot and its deployments.
func sysrootWith(t *testing.T, dir string, versions []string, digest bool, extra objstore.Metadata) (*deploy.Sysroot, []*deploy.Deployment) {
	t.Helper()
	path := filepath.Join(dir, "sysroot")
	if err := deploy.InitFS(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	s, err := deploy.Open(path, &deploy.Options{WriteImage: composefs.WriteCommit})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OSInit("testos"); err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		commit(t, s.Repo(), osTree(t, v), digest, extra)
		if _, err := s.Deploy(t.Context(), &deploy.DeployOptions{Revision: "testos/stable", Kargs: []string{"root=/dev/vda", "rw"}}); err != nil {
			t.Fatal(err)
		}
	}
	deps, err := s.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	return s, deps
}

// ostreeArg returns the ostree= argument of deployment d, read from its
// BLS entry as a boot loader would.
func ostreeArg(t *testing.T, s *deploy.Sysroot, d *deploy.Deployment) string {
	t.Helper()
	ents, _ := filepath.Glob(filepath.Join(s.Path(), "boot/loader/entries/*.conf"))
	for _, e := range ents {
		b, _ := os.ReadFile(e)
		if m := regexp.MustCompile(`ostree=(\S+)`).FindSubmatch(b); m != nil {
			if target, err := os.Readlink(filepath.Join(s.Path(), string(m[1]))); err == nil && strings.HasSuffix(target, d.Name()) {
				return string(m[1])
			}
		}
	}
	t.Fatalf("no boot entry for %s", d.Name())
	return ""
}

func baseParams(t *testing.T, dir string, s *deploy.Sysroot, d *deploy.Deployment, mode, marker string) *params {
	return &params{Sysroot: s.Path(), Run: filepath.Join(dir, "run"), Mode: mode, Marker: marker, CheckInit: "/sbin/init",
		Cmdline: "root=/dev/vda rw ostree=" + ostreeArg(t, s, d), DeployDir: d.RelDir(), Stateroot: d.OSName}
}

var fakeCases = []fakeCase{
	{
		name: "composefs-yes",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1", "v2"}, true, nil)
			return baseParams(t, dir, s, deps[0], "yes", "marker v2\n")
		},
		check: checkBooted(false, "computed"),
	},
	{
		name: "karg-overrides-config",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1", "v2"}, true, nil)
			p := baseParams(t, dir, s, deps[1], "verity", "marker v1\n") // the rollback entry
			p.Cmdline += " ostree.prepare-root.composefs=yes"
			return p
		},
		check: checkBooted(false, "computed"),
	},
	{
		name: "maybe-without-digest",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, false, nil)
			return baseParams(t, dir, s, deps[0], "maybe", "marker v1\n")
		},
		check: checkBooted(false, ""),
	},
	{
		// verity=require mounts, but the host has no fs-verity: reading
		// the init fails, and Prepare names it and undoes everything.
		name: "verity-objects-without-fsverity",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, true, nil)
			return baseParams(t, dir, s, deps[0], "verity", "")
		},
		wantErr: "input/output error (fs-verity rejected its data",
	},
	{
		name: "verity-mounts-with-verity-require",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, true, nil)
			p := baseParams(t, dir, s, deps[0], "verity", "")
			p.CheckInit = ""
			return p
		},
		check: checkBooted(true, "computed"),
	},
	{
		name: "verity-without-digest-refused",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, false, nil)
			return baseParams(t, dir, s, deps[0], "verity", "")
		},
		wantErr: "records no ostree.composefs.digest.v0 to check it against (composefs=verity): cannot verify the composefs image",
	},
	{
		name: "image-mismatch-refused",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1", "v2"}, true, nil)
			img := func(d *deploy.Deployment) string { return filepath.Join(s.Path(), d.RelDir(), deploy.ImageName) }
			data, err := os.ReadFile(img(deps[0]))
			if err != nil || os.WriteFile(img(deps[1]), data, 0o644) != nil {
				t.Fatal("cannot swap images")
			}
			return baseParams(t, dir, s, deps[1], "yes", "")
		},
		wantErr: "composefs image does not match its commit",
	},
	{
		name: "no-image-refused",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, true, nil)
			os.Remove(filepath.Join(s.Path(), deps[0].RelDir(), deploy.ImageName))
			return baseParams(t, dir, s, deps[0], "yes", "")
		},
		wantErr: "has no composefs image .ostree.cfs (composefs=yes)",
	},
	{
		name: "signed",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, true, nil)
			p := baseParams(t, dir, s, deps[0], "signed", "")
			p.CheckInit = ""
			p.KeyPath = sign(t, dir, s, deps[0], true)
			return p
		},
		check: checkBooted(true, "computed"),
	},
	{
		name: "signed-by-untrusted-key-refused",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, true, nil)
			p := baseParams(t, dir, s, deps[0], "signed", "")
			p.KeyPath = sign(t, dir, s, deps[0], false)
			return p
		},
		wantErr: "no valid ed25519 signature from a trusted key",
	},
	{
		// An ostree (C) deployment: a hardlink checkout, no image.
		name: "maybe-checkout",
		setup: func(t *testing.T, dir string) *params {
			s, deps := sysrootWith(t, dir, []string{"v1"}, false, nil)
			d := filepath.Join(s.Path(), deps[0].RelDir())
			os.Remove(filepath.Join(d, deploy.ImageName))
			if err := s.Repo().Checkout(t.Context(), deps[0].Commit, filepath.Join(d, "usr"), &objstore.CheckoutOptions{Subpath: "/usr"}); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"sysroot", "var", "boot"} {
				os.Mkdir(filepath.Join(d, sub), 0o755)
			}
			os.Symlink("usr/bin", filepath.Join(d, "sbin"))
			p := baseParams(t, dir, s, deps[0], "maybe", "marker v1\n")
			return p
		},
		check: func(t *testing.T, p *params, res *prepareroot.Result) {
			if res.Composefs || res.Verity {
				t.Errorf("checkout deployment: Composefs %v Verity %v", res.Composefs, res.Verity)
			}
			if err := os.WriteFile(filepath.Join(p.Sysroot, "usr/x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
				t.Errorf("/usr of a checkout is writable: %v", err)
			}
			checkLayout(t, p)
		},
	},
}

// sign writes a detached ed25519 signature of d's commit and a key file
// trusting the signer (or another key) and returns the key file.
func sign(t *testing.T, dir string, s *deploy.Sysroot, d *deploy.Deployment, trusted bool) string {
	pub, priv, _ := ed25519.GenerateKey(nil)
	if !trusted {
		pub, _, _ = ed25519.GenerateKey(nil)
	}
	c := d.Commit.String()
	objdir := filepath.Join(s.Repo().Path(), "objects", c[:2])
	raw, err := os.ReadFile(filepath.Join(objdir, c[2:]+".commit"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := gvariant.Encode(gvariant.MustParseType("a{sv}"), []any{gvariant.DictEntry{Key: "ostree.sign.ed25519",
		Value: gvariant.NewVariant("aay", []any{ed25519.Sign(priv, raw)})}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(objdir, c[2:]+".commitmeta"), md, 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "binding.key")
	os.WriteFile(key, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)
	return key
}

// checkBooted checks a composefs result and the layout Prepare leaves.
func checkBooted(verity bool, digestFrom string) func(*testing.T, *params, *prepareroot.Result) {
	return func(t *testing.T, p *params, res *prepareroot.Result) {
		if !res.Composefs || res.Verity != verity || res.ImageDigestFrom != digestFrom {
			t.Errorf("Result = %+v; want composefs, verity %v, digest from %q", res, verity, digestFrom)
		}
		if got, want := strings.Replace(stepNames(res.Steps), "check-init,", "", 1), "resolve,commit,digest,erofs,overlay,detach-erofs,binds,move"; got != want {
			t.Errorf("steps %s; want %s", got, want)
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		var line string
		for _, l := range strings.Split(string(mi), "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[4] == p.Sysroot {
				line = l // the last mount on the path is the visible one
			}
		}
		if !strings.Contains(line, " - overlay composefs ") || !strings.Contains(line, "metacopy=on") ||
			strings.Contains(line, "verity=require") != verity {
			t.Errorf("mount at %s: %s", p.Sysroot, line)
		}
		if !verity {
			checkLayout(t, p)
		}
		if fi, err := os.Stat(filepath.Join(p.Sysroot, "sysroot/ostree/repo/objects")); err != nil || !fi.IsDir() {
			t.Errorf("the physical root is not at %s/sysroot: %v", p.Sysroot, err)
		}
		if err := os.WriteFile(filepath.Join(p.Sysroot, "sysroot/x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("/sysroot is writable after prepare-root (want read-only): %v", err)
		}
		b, err := os.ReadFile(filepath.Join(p.Run, "ostree-booted"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := gvariant.Decode(gvariant.MustParseType("a{sv}"), b)
		if err != nil {
			t.Fatalf("ostree-booted: %v", err)
		}
		got := gvariant.Print(gvariant.MustParseType("a{sv}"), v)
		if !strings.Contains(got, "'composefs': <true>") || !strings.Contains(got, fmt.Sprintf("'composefs.verity': <%v>", verity)) {
			t.Errorf("ostree-booted = %s", got)
		}
	}
}

// checkLayout checks the tree at the sysroot: the deployment's files,
// its etc and the stateroot's var mounted writable.
func checkLayout(t *testing.T, p *params) {
	t.Helper()
	if p.Marker != "" {
		if b, err := os.ReadFile(filepath.Join(p.Sysroot, "usr/share/marker")); err != nil || string(b) != p.Marker {
			t.Errorf("usr/share/marker = %q, %v; want %q", b, err, p.Marker)
		}
	}
	if err := os.WriteFile(filepath.Join(p.Sysroot, "etc/new"), []byte("x"), 0o644); err != nil {
		t.Errorf("/etc is not writable: %v", err)
	} else if _, err := os.Stat(filepath.Join(p.Sysroot, "sysroot", p.DeployDir, "etc/new")); err != nil {
		t.Errorf("/etc is not the deployment's etc: %v", err)
	}
	if err := os.WriteFile(filepath.Join(p.Sysroot, "var/new"), []byte("x"), 0o644); err != nil {
		t.Errorf("/var is not writable: %v", err)
	} else if _, err := os.Stat(filepath.Join(p.Sysroot, "sysroot/ostree/deploy", p.Stateroot, "var/new")); err != nil {
		t.Errorf("/var is not the stateroot's var: %v", err)
	}
}

// TestFakeRoot runs each case in a child process in a new mount namespace.
func TestFakeRoot(t *testing.T) {
	requireMounts(t)
	for _, c := range fakeCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := c.setup(t, dir)
			b, _ := json.Marshal(p)
			if err := os.WriteFile(filepath.Join(dir, "params.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestFakeRootChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+c.name+":"+dir)
			// Go makes / recursively private in the new namespace.
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestFakeRootChild")) {
				t.Errorf("child: %v\n%s", err, out)
			} else if m := regexp.MustCompile(`prepare took \S+`).Find(out); m != nil {
				t.Log(string(m))
			}
		})
	}
}

// TestFakeRootChild is the child side of TestFakeRoot.
func TestFakeRootChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestFakeRoot in a private mount namespace")
	}
	name, dir, _ := strings.Cut(spec, ":")
	var c *fakeCase
	for i := range fakeCases {
		if fakeCases[i].name == name {
			c = &fakeCases[i]
		}
	}
	if c == nil {
		t.Fatalf("no case %q", name)
	}
	var p params
	b, err := os.ReadFile(filepath.Join(dir, "params.json"))
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The physical root must be a mount to be moved.
	if err := unix.Mount(p.Sysroot, p.Sysroot, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := prepareroot.ParseConfig("[composefs]\nenabled = " + p.Mode + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyPath != "" {
		cfg.KeyPath = p.KeyPath
	}
	before := mounts(t)
	res, err := prepareroot.Prepare(context.Background(), &prepareroot.Options{
		Sysroot: p.Sysroot, Cmdline: p.Cmdline, Config: cfg, RunDir: p.Run, CheckInit: p.CheckInit, MountVar: true,
	})
	if c.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("Prepare error = %v, want %q", err, c.wantErr)
		}
		t.Logf("refused as expected: %v", err)
		if after := mounts(t); after != before {
			t.Errorf("mounts changed by a failed Prepare:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		for _, leftover := range []string{p.Sysroot + ".tmp", filepath.Join(p.Run, "ostree-booted"), filepath.Join(p.Run, "ostree/.private/cfsroot-lower")} {
			if _, err := os.Stat(leftover); err == nil {
				t.Errorf("a failed Prepare left %s", leftover)
			}
		}
		if _, err := os.Stat(filepath.Join(p.Sysroot, p.DeployDir)); err != nil {
			t.Errorf("the physical root is no longer at %s: %v", p.Sysroot, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Logf("prepare took %v (digest from %q)", res.Elapsed, res.ImageDigestFrom)
	c.check(t, &p, res)
}

// mounts lists the mount points of this namespace.
func mounts(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return strings.Join(out, "\n")
}

func stepNames(s prepareroot.Steps) string {
	var names []string
	for _, st := range s {
		names = append(names, st.Name)
	}
	return strings.Join(names, ",")
}
