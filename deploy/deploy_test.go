package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gostree/gostree/deploy"
	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
)

// stubImage stands in for the composefs writer where a test only looks at
// the sysroot layout: it writes the commit checksum.
func stubImage(_ context.Context, _ *objstore.Repo, commit objstore.ID, w io.Writer) (fsverity.Digest, error) {
	data := []byte(commit.String())
	_, err := w.Write(data)
	return fsverity.Sum(data), err
}

// osTree writes a minimal bootable tree; version changes conf2 and adds a file.
func osTree(t *testing.T, version int) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"usr/lib/modules/6.1.0-test/vmlinuz":       "KERNEL-IMAGE\n",
		"usr/lib/modules/6.1.0-test/initramfs.img": "INITRAMFS\n",
		"usr/lib/os-release":                       "PRETTY_NAME=\"Test OS 1\"\nID=testos\n",
		"usr/etc/conf1":                            "a=1\n",
		"usr/etc/conf2":                            fmt.Sprintf("b=%d\n", version),
		"usr/etc/passwd":                           fmt.Sprintf("root:x:0:0:v%d\n", version),
		"usr/etc/sub/inner":                        "inner\n",
		"usr/bin/hello":                            "hello\n",
	}
	if version > 1 {
		files["usr/etc/conf3"] = "c=3\n"
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// commitTree commits dir to ref in repo as `ostree commit -b REF
// --add-metadata-string=version=V --timestamp=@TS` does.
func commitTree(t *testing.T, repo *objstore.Repo, dir, ref, version string, ts int64) objstore.ID {
	t.Helper()
	ctx := t.Context()
	tx, err := repo.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	root := objstore.NewMutableTree()
	if err := tx.WriteDir(ctx, dir, root, nil); err != nil {
		t.Fatal(err)
	}
	opts := &objstore.CommitOptions{Timestamp: time.Unix(ts, 0)}
	if parent, err := repo.ResolveRef(ref); err == nil {
		opts.Parent = parent
	}
	opts.Metadata = objstore.Metadata{
		{Key: "version", Value: gvariant.NewVariant("s", version)},
		{Key: "ostree.ref-binding", Value: gvariant.NewVariant("as", []any{ref})},
	}
	id, err := tx.WriteCommit(ctx, root, opts)
	if err != nil {
		t.Fatal(err)
	}
	tx.SetRef(ref, id)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

func newSysroot(t *testing.T, opts *deploy.Options) *deploy.Sysroot {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sysroot")
	if err := deploy.InitFS(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &deploy.Options{}
	}
	if opts.WriteImage == nil {
		opts.WriteImage = stubImage
	}
	s, err := deploy.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OSInit("testos"); err != nil {
		t.Fatal(err)
	}
	return s
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
			t.Fatal("needs root (GOSTREE_TEST_NO_SKIP=1)")
		}
		t.Skip("needs root: deployments record file ownership")
	}
}

func TestDeployUpgradeRollbackUndeploy(t *testing.T) {
	requireRoot(t)
	ctx := t.Context()
	s := newSysroot(t, nil)
	c1 := commitTree(t, s.Repo(), osTree(t, 1), "testos/stable", "41.2", 1577836800)
	d1, err := s.Deploy(ctx, &deploy.DeployOptions{OSName: "testos", Revision: "testos/stable", Kargs: []string{"root=LABEL=root", "rw"}})
	if err != nil {
		t.Fatal(err)
	}
	if d1.Commit != c1 {
		t.Fatalf("deployed %s, want %s", d1.Commit, c1)
	}
	entry := readFile(t, filepath.Join(s.Path(), "boot/loader/entries/ostree-1-testos.conf"))
	want := "title Test OS 1 41.2 (ostree:0)\nversion 1\n" +
		"options root=LABEL=root rw ostree=/ostree/boot.1/testos/1f8636672a1069e59521bc2d98a7ac3b8ed9326cc40e85adb32392e4f81d4ff0/0\n" +
		"linux /ostree/testos-1f8636672a1069e59521bc2d98a7ac3b8ed9326cc40e85adb32392e4f81d4ff0/vmlinuz-6.1.0-test\n" +
		"initrd /ostree/testos-1f8636672a1069e59521bc2d98a7ac3b8ed9326cc40e85adb32392e4f81d4ff0/initramfs-6.1.0-test.img\n"
	if entry != want {
		t.Errorf("first entry =\n%s\nwant\n%s", entry, want)
	}
	if got := readLink(t, filepath.Join(s.Path(), "boot/loader")); got != "loader.1" {
		t.Errorf("boot/loader -> %s, want loader.1", got)
	}
	if got := readLink(t, filepath.Join(s.Path(), "ostree/boot.1")); got != "boot.1.1" {
		t.Errorf("ostree/boot.1 -> %s, want boot.1.1", got)
	}
	// Local /etc changes in the first deployment.
	etc1 := filepath.Join(s.Path(), d1.RelDir(), "etc")
	writeFile(t, filepath.Join(etc1, "conf1"), "a=local\n")
	os.Remove(filepath.Join(etc1, "passwd"))
	writeFile(t, filepath.Join(etc1, "local.conf"), "mine\n")

	c2 := commitTree(t, s.Repo(), osTree(t, 2), "testos/stable", "41.3", 1577836900)
	d2, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := s.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 2 || deps[0].Commit != c2 || deps[1].Commit != c1 {
		t.Fatalf("deployments after upgrade = %v", names(deps))
	}
	if got := readLink(t, filepath.Join(s.Path(), "boot/loader")); got != "loader.0" {
		t.Errorf("boot/loader -> %s, want loader.0", got)
	}
	if got := readLink(t, filepath.Join(s.Path(), "ostree/boot.0")); got != "boot.0.1" {
		t.Errorf("ostree/boot.0 -> %s, want boot.0.1", got)
	}
	for _, gone := range []string{"boot/loader.1", "ostree/boot.1", "ostree/boot.1.1"} {
		if _, err := os.Lstat(filepath.Join(s.Path(), gone)); err == nil {
			t.Errorf("%s still exists after the swap", gone)
		}
	}
	if !strings.Contains(deps[1].Title+" "+strings.Join(deps[1].Kargs, " "), "root=LABEL=root") {
		t.Errorf("kargs not inherited: %v", deps[1].Kargs)
	}
	etc2 := filepath.Join(s.Path(), d2.RelDir(), "etc")
	for name, want := range map[string]string{"conf1": "a=local\n", "conf2": "b=2\n", "conf3": "c=3\n", "local.conf": "mine\n", "sub/inner": "inner\n"} {
		if got := readFile(t, filepath.Join(etc2, name)); got != want {
			t.Errorf("merged etc/%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(etc2, "passwd")); err == nil {
		t.Errorf("etc/passwd deleted locally came back")
	}
	refs, _ := s.Repo().Refs(ctx)
	if refs["ostree/0/1/0"] != c2 || refs["ostree/0/1/1"] != c1 {
		t.Errorf("pin refs = %v", refs)
	}
	if _, ok := refs["ostree/1/1/0"]; ok {
		t.Errorf("old pin ostree/1/1/0 left behind")
	}
	diff, err := s.ConfigDiff(ctx, deps[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(diff); got != "[M    conf1 D    passwd A    local.conf]" && !sameSet(diff, []string{"M conf1", "D passwd", "A local.conf"}) {
		t.Errorf("config diff = %v", diff)
	}

	// Rollback makes the previous deployment the default.
	back, err := s.Rollback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if back.Commit != c1 {
		t.Errorf("rollback to %s, want %s", back.Commit, c1)
	}
	deps, _ = s.Deployments()
	if deps[0].Commit != c1 || deps[1].Commit != c2 {
		t.Errorf("after rollback = %v", names(deps))
	}
	// Pin, then a third deploy keeps the pinned one.
	if err := s.Pin(1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: c1.String()}); err != nil {
		t.Fatal(err)
	}
	deps, _ = s.Deployments()
	if len(deps) != 3 || !deps[2].Pinned() && !deps[1].Pinned() {
		t.Errorf("pinned deployment dropped: %v", names(deps))
	}
	if deps[0].Commit != c1 || deps[0].Serial != 1 {
		t.Errorf("redeploy of %s got serial %d", c1.Short(), deps[0].Serial)
	}
	if err := s.Undeploy(ctx, 2); err != nil {
		t.Fatal(err)
	}
	deps, _ = s.Deployments()
	if len(deps) != 2 {
		t.Fatalf("after undeploy = %v", names(deps))
	}
	if _, err := s.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	dirs, _ := os.ReadDir(filepath.Join(s.Path(), "ostree/deploy/testos/deploy"))
	if len(dirs) != 4 { // 2 dirs + 2 origins
		t.Errorf("deploy dir after cleanup has %d entries", len(dirs))
	}
}

func TestFaultInjection(t *testing.T) {
	requireRoot(t)
	steps := []string{deploy.StepEntries, deploy.StepFarm, deploy.StepPins, deploy.StepSync, deploy.StepSwap, deploy.StepCleanup}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			ctx := t.Context()
			fail := ""
			s := newSysroot(t, &deploy.Options{Hook: func(s string) error {
				if s == fail {
					return errors.New("injected crash")
				}
				return nil
			}})
			commitTree(t, s.Repo(), osTree(t, 1), "testos/stable", "1", 1577836800)
			if _, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"}); err != nil {
				t.Fatal(err)
			}
			before, _ := s.Deployments()
			commitTree(t, s.Repo(), osTree(t, 2), "testos/stable", "2", 1577836900)
			fail = step
			_, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"})
			if err == nil {
				t.Fatal("deploy with injected crash succeeded")
			}
			fail = ""
			after, err := s.Deployments()
			if err != nil {
				t.Fatalf("sysroot unreadable after crash at %s: %v", step, err)
			}
			swapped := step == deploy.StepSwap || step == deploy.StepCleanup
			if !swapped && (len(after) != len(before) || after[0].Commit != before[0].Commit) {
				t.Errorf("crash at %s changed the boot configuration: %v -> %v", step, names(before), names(after))
			}
			if swapped && len(after) != 2 {
				t.Errorf("crash after the swap: %v, want the new configuration", names(after))
			}
			checkComplete(t, s, after)
			if _, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"}); err != nil {
				t.Fatalf("deploy after crash at %s: %v", step, err)
			}
			final, _ := s.Deployments()
			checkComplete(t, s, final)
		})
	}
}

// checkComplete verifies every listed deployment has its directory, image,
// origin and kernel files.
func checkComplete(t *testing.T, s *deploy.Sysroot, deps []*deploy.Deployment) {
	t.Helper()
	for _, d := range deps {
		for _, p := range []string{d.RelDir() + "/" + deploy.ImageName, d.RelDir() + "/etc", d.RelDir() + ".origin", "boot" + d.Linux, "boot" + d.Initrd} {
			if _, err := os.Stat(filepath.Join(s.Path(), p)); err != nil {
				t.Errorf("deployment %d (%s): %v", d.Index, d.Name(), err)
			}
		}
	}
}

func TestLayoutMatchesOstree(t *testing.T) {
	requireRoot(t)
	ostree, err := exec.LookPath("ostree")
	if err != nil {
		if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
			t.Fatal("ostree not installed")
		}
		t.Skip("ostree not installed (apt-get install ostree)")
	}
	ctx := t.Context()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ostree, args...).CombinedOutput(); err != nil {
			t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	o := filepath.Join(t.TempDir(), "o")
	os.Mkdir(o, 0o755)
	// ostree marks deployment directories immutable; undo that before the
	// temporary directory is removed.
	t.Cleanup(func() { exec.Command("chattr", "-R", "-i", o+"/ostree/deploy").Run() })
	run("admin", "init-fs", o)
	run("admin", "os-init", "testos", "--sysroot="+o)
	s := newSysroot(t, nil)
	for v, tree := range []string{osTree(t, 1), osTree(t, 2)} {
		ts := fmt.Sprintf("@%d", 1577836800+v)
		run("commit", "--repo="+o+"/ostree/repo", "-b", "testos/stable", "--tree=dir="+tree, fmt.Sprintf("--add-metadata-string=version=41.%d", v), "--timestamp="+ts)
		commitTree(t, s.Repo(), tree, "testos/stable", fmt.Sprintf("41.%d", v), int64(1577836800+v))
		if v == 0 {
			run("admin", "deploy", "--sysroot="+o, "--os=testos", "--karg=root=LABEL=root", "--karg=rw", "testos/stable")
			if _, err := s.Deploy(ctx, &deploy.DeployOptions{OSName: "testos", Revision: "testos/stable", Kargs: []string{"root=LABEL=root", "rw"}}); err != nil {
				t.Fatal(err)
			}
			// the same local /etc edit on both sides
			for _, root := range []string{o, s.Path()} {
				etc := globOne(t, root+"/ostree/deploy/testos/deploy/*.0/etc")
				writeFile(t, etc+"/conf1", "a=local\n")
				os.Remove(etc + "/passwd")
			}
		} else {
			run("admin", "deploy", "--sysroot="+o, "--os=testos", "testos/stable")
			if _, err := s.Deploy(ctx, &deploy.DeployOptions{OSName: "testos", Revision: "testos/stable"}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := layout(t, s.Path()), layout(t, o); got != want {
			t.Errorf("after deploy %d, layout differs from ostree's:\n--- gostree\n%s\n--- ostree\n%s", v+1, got, want)
		}
	}
	steps := []struct {
		name   string
		ostree []string
		ours   func() error
	}{
		{"pin 1", []string{"admin", "pin", "--sysroot=" + o, "1"}, func() error { return s.Pin(1, true) }},
		{"unpin 1", []string{"admin", "pin", "-u", "--sysroot=" + o, "1"}, func() error { return s.Pin(1, false) }},
		{"undeploy 1", []string{"admin", "undeploy", "--sysroot=" + o, "1"}, func() error { return s.Undeploy(ctx, 1) }},
		{"cleanup", []string{"admin", "cleanup", "--sysroot=" + o}, func() error { _, err := s.Cleanup(ctx); return err }},
	}
	for _, st := range steps {
		run(st.ostree...)
		if err := st.ours(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got, want := layout(t, s.Path()), layout(t, o); got != want {
			t.Errorf("after %s, layout differs from ostree's:\n--- gostree\n%s\n--- ostree\n%s", st.name, got, want)
		}
	}
}

// layout describes the boot-relevant state of a sysroot: loader link, entry
// files and contents, boot links, origins, pins, kernels and /etc contents.
func layout(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	add("loader -> %s", readLink(t, root+"/boot/loader"))
	for _, e := range globAll(root + "/boot/loader/entries/*") {
		add("entry %s:\n%s", filepath.Base(e), readFile(t, e))
	}
	for _, b := range globAll(root + "/ostree/boot.*") {
		if fi, _ := os.Lstat(b); fi.Mode()&os.ModeSymlink != 0 {
			add("%s -> %s", filepath.Base(b), readLink(t, b))
		}
	}
	for _, l := range globAll(root + "/ostree/boot.*.*/*/*/*") {
		add("%s -> %s", strings.TrimPrefix(l, root), readLink(t, l))
	}
	for _, o := range globAll(root + "/ostree/deploy/testos/deploy/*.origin") {
		add("%s: %s", filepath.Base(o), readFile(t, o))
	}
	for _, k := range globAll(root + "/boot/ostree/*/*") {
		add("kernel %s = %q", strings.TrimPrefix(k, root), readFile(t, k))
	}
	for _, p := range globAll(root + "/ostree/repo/refs/heads/ostree/*/*/*") {
		add("pin %s = %s", strings.TrimPrefix(p, root+"/ostree/repo/refs/heads/"), strings.TrimSpace(readFile(t, p)))
	}
	for _, etc := range globAll(root + "/ostree/deploy/testos/deploy/*/etc") {
		filepath.Walk(etc, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				add("%s%s = %q %v", filepath.Base(filepath.Dir(etc)), strings.TrimPrefix(p, filepath.Dir(etc)), readFile(t, p), fi.Mode())
			}
			return nil
		})
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func names(deps []*deploy.Deployment) []string {
	var out []string
	for _, d := range deps {
		out = append(out, d.Name())
	}
	return out
}

func sameSet(changes []deploy.EtcChange, want []string) bool {
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Kind)+" "+c.Path)
	}
	sort.Strings(got)
	sort.Strings(want)
	return strings.Join(got, ",") == strings.Join(want, ",")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func globAll(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	sort.Strings(m)
	return m
}

func globOne(t *testing.T, pattern string) string {
	t.Helper()
	m := globAll(pattern)
	if len(m) != 1 {
		t.Fatalf("glob %s = %v", pattern, m)
	}
	return m[0]
}

func TestDeployBuildsMissingInitramfs(t *testing.T) {
	requireRoot(t)
	ctx := t.Context()
	var built []string
	s := newSysroot(t, &deploy.Options{BuildInitramfs: func(_ context.Context, mods fs.FS, kver string, w io.Writer) error {
		if _, err := fs.Stat(mods, "vmlinuz"); err != nil {
			return fmt.Errorf("module dir is not usr/lib/modules/%s: %v", kver, err)
		}
		built = append(built, kver)
		_, err := io.WriteString(w, "GENERATED "+kver)
		return err
	}})
	tree := osTree(t, 1)
	os.Remove(filepath.Join(tree, "usr/lib/modules/6.1.0-test/initramfs.img"))
	commitTree(t, s.Repo(), tree, "testos/stable", "1", 1577836800)
	d, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"})
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != 1 || built[0] != "6.1.0-test" {
		t.Fatalf("initramfs built for %v", built)
	}
	if d.Initrd == "" {
		t.Fatal("no initrd line for the generated initramfs")
	}
	if got := readFile(t, filepath.Join(s.Path(), "boot", d.Initrd)); got != "GENERATED 6.1.0-test" {
		t.Errorf("installed initramfs = %q", got)
	}
	entry := readFile(t, globOne(t, s.Path()+"/boot/loader/entries/*.conf"))
	if !strings.Contains(entry, "initrd "+d.Initrd+"\n") {
		t.Errorf("entry lacks the initrd line:\n%s", entry)
	}
}
