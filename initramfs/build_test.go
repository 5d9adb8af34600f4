package initramfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/klauspost/compress/zstd"

	"github.com/gostree/gostree/initramfs/cpio"
)

// helpers are the binaries TestMain builds: the real helper (tagged) and
// an untagged static program.
var helpers struct{ tagged, untagged string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "initramfs-test-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		helpers.tagged = filepath.Join(dir, HelperName)
		helpers.untagged = filepath.Join(dir, "hello")
		if out, err := goBuild("-tags", "initramfs", "-o", helpers.tagged, "github.com/gostree/gostree/cmd/gostree-mount"); err != nil {
			os.Stderr.Write(out)
			return 1
		}
		src := filepath.Join(dir, "hello.go")
		os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644)
		if out, err := goBuild("-o", helpers.untagged, src); err != nil {
			os.Stderr.Write(out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func goBuild(args ...string) ([]byte, error) {
	cmd := exec.Command("go", append([]string{"build", "-trimpath", "-ldflags=-s -w"}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

type entry struct {
	h    cpio.Header
	data []byte
}

// readArchive decompresses and reads an initramfs.
func readArchive(t *testing.T, data []byte, c Compression) []entry {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r) // the standard library's reader
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	cr := cpio.NewReader(r)
	var out []entry
	for {
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(cr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{*h, b})
	}
}

func moduleFS() fstest.MapFS {
	fsys := kernelFS()
	for _, p := range []string{"kernel/fs/ext4/ext4.ko.xz", "kernel/lib/crc16.ko.xz", "kernel/fs/mbcache.ko.xz", "kernel/fs/jbd2/jbd2.ko.xz",
		"kernel/arch/x86/crypto/crc32c-intel.ko.xz", "kernel/crypto/crc32c_generic.ko.xz", "kernel/fs/erofs/erofs.ko.xz",
		"kernel/lib/libcrc32c.ko.xz", "kernel/fs/overlayfs/overlay.ko.xz", "kernel/drivers/block/loop.ko.xz",
		"kernel/drivers/block/virtio_blk.ko.xz"} {
		fsys[p] = &fstest.MapFile{Data: []byte("module " + p)}
	}
	return fsys
}

func TestBuild(t *testing.T) {
	helper, err := os.ReadFile(helpers.tagged)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			opts := &Options{
				KVer: "6.12.0-test", ModuleDir: moduleFS(), Modules: []string{"ext4", "virtio_blk", "erofs", "overlay", "loop", "virtio_pci"},
				Helper: helpers.tagged, Config: []byte("[composefs]\nenabled = verity\n"), Compression: c,
				Files: []File{
					{Name: "/etc/ostree/initramfs-root-binding.key", Mode: 0o644, Data: []byte("KEY\n")},
					{Name: "bin/sh", Mode: fs.ModeSymlink | 0o777, Data: []byte("/init")},
					{Name: "extra", Mode: fs.ModeDir | 0o700},
				},
			}
			var a, b bytes.Buffer
			res, err := Build(t.Context(), &a, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Build(t.Context(), &b, opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("two builds from the same inputs differ")
			}
			if res.Size != int64(a.Len()) || (c == None) != (res.Size == res.ArchiveSize) {
				t.Errorf("Result sizes %d (archive %d), wrote %d", res.Size, res.ArchiveSize, a.Len())
			}
			if !slices.Equal(res.Builtin, []string{"virtio_pci"}) || len(res.Modules) != 11 {
				t.Errorf("Result modules %q builtin %q", res.Modules, res.Builtin)
			}
			es := readArchive(t, a.Bytes(), c)
			byName := map[string]entry{}
			seen := map[string]bool{}
			for _, e := range es {
				if d := filepath.Dir(e.h.Name); d != "." && !seen[d] {
					t.Errorf("%s comes before its directory %s", e.h.Name, d)
				}
				seen[e.h.Name] = true
				if e.h.UID != 0 || e.h.GID != 0 || e.h.MTime != 0 {
					t.Errorf("%s: uid %d gid %d mtime %d, want 0", e.h.Name, e.h.UID, e.h.GID, e.h.MTime)
				}
				byName[e.h.Name] = e
			}
			if e := byName["init"]; e.h.Mode != cpio.TypeReg|0o755 || !bytes.Equal(e.data, helper) {
				t.Errorf("init: mode %o, %d bytes; want the helper, 0755", e.h.Mode, len(e.data))
			}
			if e := byName["dev/console"]; e.h.Mode != cpio.TypeChar|0o600 || e.h.RDevMajor != 5 || e.h.RDevMinor != 1 {
				t.Errorf("dev/console = %+v", e.h)
			}
			for _, d := range []string{"proc", "sys", "run", "sysroot", "tmp", "etc", "extra"} {
				if byName[d].h.Mode&cpio.TypeMask != cpio.TypeDir {
					t.Errorf("no directory %s", d)
				}
			}
			if got := string(byName["usr/lib/ostree/prepare-root.conf"].data); got != "[composefs]\nenabled = verity\n" {
				t.Errorf("prepare-root.conf = %q", got)
			}
			if got := string(byName["bin/sh"].data); byName["bin/sh"].h.Mode&cpio.TypeMask != cpio.TypeSymlink || got != "/init" {
				t.Errorf("bin/sh -> %q", got)
			}
			if got := string(byName["etc/ostree/initramfs-root-binding.key"].data); got != "KEY\n" {
				t.Errorf("key file = %q", got)
			}
			list := strings.Fields(string(byName["usr/lib/gostree/initramfs.modules"].data))
			if len(list) != 11 || list[0] != "/usr/lib/modules/6.12.0-test/kernel/arch/x86/crypto/crc32c-intel.ko.xz" ||
				list[5] != "/usr/lib/modules/6.12.0-test/kernel/fs/ext4/ext4.ko.xz" {
				t.Errorf("module list = %q", list)
			}
			for _, p := range list {
				e, ok := byName[strings.TrimPrefix(p, "/")]
				if !ok || string(e.data) != "module "+strings.TrimPrefix(p, "/usr/lib/modules/6.12.0-test/") {
					t.Errorf("module %s missing or wrong in the archive", p)
				}
			}
		})
	}
}

// TestBuildDecompressTools checks the compressed archives with the gzip and
// zstd programs, when installed (the kernel's decoders are checked by make
// boot-test).
func TestBuildDecompressTools(t *testing.T) {
	for _, tc := range []struct {
		c    Compression
		tool string
	}{{Gzip, "gzip"}, {Zstd, "zstd"}} {
		if _, err := exec.LookPath(tc.tool); err != nil {
			t.Logf("%s not installed", tc.tool)
			continue
		}
		var plain, packed bytes.Buffer
		if _, err := Build(t.Context(), &plain, &Options{Helper: helpers.tagged}); err != nil {
			t.Fatal(err)
		}
		if _, err := Build(t.Context(), &packed, &Options{Helper: helpers.tagged, Compression: tc.c}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tc.tool, "-dc")
		cmd.Stdin = &packed
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s -dc: %v", tc.tool, err)
		}
		if !bytes.Equal(out, plain.Bytes()) {
			t.Errorf("%s -dc gives %d bytes, not the %d-byte archive", tc.tool, len(out), plain.Len())
		}
	}
}

func TestBuildDefaultModules(t *testing.T) {
	var buf bytes.Buffer
	res, err := Build(t.Context(), &buf, &Options{KVer: "6.12.0-test", ModuleDir: moduleFS(), Helper: helpers.tagged})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range res.Modules {
		names = append(names, moduleName(m))
	}
	for _, want := range []string{"erofs", "overlay", "loop", "ext4", "virtio_blk"} {
		if !slices.Contains(names, want) {
			t.Errorf("default modules %q lack %s", names, want)
		}
	}
	if want := []string{"xfs", "btrfs", "virtio_scsi", "sd_mod", "nvme", "ahci"}; !slices.Equal(res.Skipped, want) {
		t.Errorf("Skipped = %q, want %q", res.Skipped, want)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		opts *Options
		want string
	}{
		{"no helper", &Options{}, "no helper"},
		{"missing helper", &Options{Helper: "/nonexistent/helper"}, "no such file"},
		{"not ELF", &Options{Helper: "build_test.go"}, "not an ELF"},
		{"untagged", &Options{Helper: helpers.untagged}, "not built with -tags initramfs"},
		{"unknown module", &Options{Helper: helpers.tagged, KVer: "6.12.0-test", ModuleDir: moduleFS(), Modules: []string{"nvme"}}, `"nvme" is not in modules.dep`},
		{"no kver", &Options{Helper: helpers.tagged, ModuleDir: moduleFS()}, "invalid kernel version"},
		{"no modules.dep", &Options{Helper: helpers.tagged, KVer: "6.12.0-test", ModuleDir: fstest.MapFS{}}, "run depmod"},
		{"module file missing", &Options{Helper: helpers.tagged, KVer: "6.12.0-test", ModuleDir: kernelFS(), Modules: []string{"loop"}}, "module kernel/drivers/block/loop.ko.xz"},
		{"file under a file", &Options{Helper: helpers.tagged, Files: []File{{Name: "init/x", Mode: 0o644}}}, "parent init is not a directory"},
	}
	if _, err := os.Stat("/bin/true"); err == nil {
		tests = append(tests, struct {
			name string
			opts *Options
			want string
		}{"dynamic", &Options{Helper: "/bin/true"}, "dynamically linked"})
	}
	for _, tt := range tests {
		_, err := Build(t.Context(), io.Discard, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Build error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestFindHelper(t *testing.T) {
	exe := filepath.Join(filepath.Dir(helpers.tagged), "gostree")
	if got, err := FindHelper(exe); err != nil || got != helpers.tagged {
		t.Errorf("FindHelper(%s) = %q, %v; want %s", exe, got, err, helpers.tagged)
	}
	if _, err := FindHelper(filepath.Join(t.TempDir(), "gostree")); err == nil && !fileExists("/usr/lib/gostree/"+HelperName) {
		t.Error("FindHelper found a helper where there is none")
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestHelperDependencies keeps the initramfs helper small and static: built
// with -tags initramfs, cmd/gostree-mount may link only the standard
// library, golang.org/x/sys and gostree's std-only packages.
func TestHelperDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "initramfs", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/gostree/gostree/cmd/gostree-mount").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/gostree/gostree/"
	allowed := []string{mod + "cmd/gostree-mount", mod + "gvariant", mod + "fsverity", mod + "internal/sha256x2", mod + "initramfs/prepareroot"}
	var deps []string
	for _, dep := range strings.Fields(string(out)) {
		deps = append(deps, dep)
		if slices.Contains(allowed, dep) || strings.HasPrefix(dep, "golang.org/x/sys/") {
			continue
		}
		t.Errorf("the initramfs helper (go build -tags initramfs ./cmd/gostree-mount) links %s: it may link only std, golang.org/x/sys, gvariant, fsverity (with internal/sha256x2) and initramfs/prepareroot", dep)
	}
	if !slices.Contains(deps, mod+"initramfs/prepareroot") {
		t.Errorf("go list found no initramfs/prepareroot among %q", deps)
	}
}

// TestBuildHostKernel builds from a real module tree when one is around:
// the host's, or the kernel make boot-test caches.
func TestBuildHostKernel(t *testing.T) {
	var dirs []string
	if m, _ := filepath.Glob("/var/cache/gostree-boottest/kernel-*/lib/modules/*/modules.dep"); len(m) > 0 {
		dirs = append(dirs, filepath.Dir(m[0]))
	}
	if m, _ := filepath.Glob("/lib/modules/*/modules.dep"); len(m) > 0 {
		dirs = append(dirs, filepath.Dir(m[0]))
	}
	if len(dirs) == 0 {
		t.Skip("no kernel module tree (/lib/modules/*/modules.dep) here")
	}
	for _, d := range dirs {
		res, err := Build(t.Context(), io.Discard, &Options{KVer: filepath.Base(d), ModuleDir: os.DirFS(d), Helper: helpers.tagged, Compression: Zstd})
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		t.Logf("%s: %d modules (%d bytes, cpio %d), built in %q, skipped %q", d, len(res.Modules), res.Size, res.ArchiveSize, res.Builtin, res.Skipped)
	}
}
