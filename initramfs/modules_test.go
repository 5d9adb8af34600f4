package initramfs

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// kernelFS is a module directory shaped like Debian 6.12's: ext4 needs
// crc16, mbcache and jbd2 and soft-depends on crypto-crc32c, which two
// modules provide.
func kernelFS() fstest.MapFS {
	return fstest.MapFS{
		"modules.dep": {Data: []byte(`kernel/arch/x86/crypto/crc32c-intel.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz
kernel/fs/jbd2/jbd2.ko.xz:
kernel/fs/overlayfs/overlay.ko.xz:
kernel/fs/erofs/erofs.ko.xz: kernel/lib/libcrc32c.ko.xz
kernel/crypto/crc32c_generic.ko.xz:
kernel/lib/crc16.ko.xz:
kernel/lib/libcrc32c.ko.xz:
kernel/drivers/block/loop.ko.xz:
kernel/drivers/block/virtio_blk.ko.xz:
kernel/a/x.ko: kernel/a/y.ko
kernel/a/y.ko: kernel/a/x.ko
kernel/a/broken.ko: kernel/a/nowhere.ko
`)},
		"modules.softdep": {Data: []byte("# Soft dependencies\nsoftdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\nsoftdep overlay post: nosuchalias\n")},
		"modules.alias": {Data: []byte("alias crypto-crc32c-intel crc32c_intel\nalias crypto-crc32c crc32c_intel\nalias crc32c crc32c_intel\n" +
			"alias crypto-crc32c crc32c_generic\nalias fs-ext* ext4\nalias virtio:d00000002v* virtio_blk\n")},
		"modules.builtin": {Data: []byte("kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/fuse/fuse.ko\n")},
	}
}

func TestResolveModules(t *testing.T) {
	ix, err := loadModuleIndex(kernelFS())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		req      []string
		optional bool
		want     []string // base names, in order
		builtin  []string
		missing  []string
		err      string
	}{
		{req: []string{"ext4"}, want: []string{"crc32c-intel.ko.xz", "crc32c_generic.ko.xz", "jbd2.ko.xz", "mbcache.ko.xz", "crc16.ko.xz", "ext4.ko.xz"}},
		{req: []string{"ext4", "virtio_blk", "erofs", "overlay", "loop"}, want: []string{
			"crc32c-intel.ko.xz", "crc32c_generic.ko.xz", "jbd2.ko.xz", "mbcache.ko.xz", "crc16.ko.xz", "ext4.ko.xz",
			"virtio_blk.ko.xz", "libcrc32c.ko.xz", "erofs.ko.xz", "overlay.ko.xz", "loop.ko.xz"}},
		{req: []string{"crc32c-intel"}, want: []string{"crc32c-intel.ko.xz"}}, // '-' and '_' are the same
		{req: []string{"crc32c_intel"}, want: []string{"crc32c-intel.ko.xz"}}, //
		{req: []string{"crypto-crc32c"}, want: []string{"crc32c-intel.ko.xz", "crc32c_generic.ko.xz"}},
		{req: []string{"fs-ext4"}, want: []string{"crc32c-intel.ko.xz", "crc32c_generic.ko.xz", "jbd2.ko.xz", "mbcache.ko.xz", "crc16.ko.xz", "ext4.ko.xz"}},
		{req: []string{"kernel/fs/erofs/erofs.ko.xz"}, want: []string{"libcrc32c.ko.xz", "erofs.ko.xz"}},
		{req: []string{"virtio_pci", "fuse", "loop"}, want: []string{"loop.ko.xz"}, builtin: []string{"virtio_pci", "fuse"}},
		{req: []string{"loop", "loop"}, want: []string{"loop.ko.xz"}},
		{req: []string{"x"}, want: []string{"y.ko", "x.ko"}}, // a cycle in modules.dep does not loop
		{req: []string{"nvme"}, err: `module "nvme" is not in modules.dep`},
		{req: []string{"nvme", "loop"}, optional: true, want: []string{"loop.ko.xz"}, missing: []string{"nvme"}},
		{req: []string{"broken"}, err: "needs kernel/a/nowhere.ko, which has no entry"},
	}
	for _, tt := range tests {
		r, err := resolveModules(ix, tt.req, tt.optional)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("resolveModules(%q) error = %v, want %q", tt.req, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("resolveModules(%q): %v", tt.req, err)
			continue
		}
		var got []string
		for _, p := range r.order {
			got = append(got, p[strings.LastIndex(p, "/")+1:])
		}
		if !slices.Equal(got, tt.want) || !slices.Equal(r.builtin, tt.builtin) || !slices.Equal(r.missing, tt.missing) {
			t.Errorf("resolveModules(%q) = %q builtin %q missing %q, want %q builtin %q missing %q",
				tt.req, got, r.builtin, r.missing, tt.want, tt.builtin, tt.missing)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/fs/ext4/ext4.ko.xz":                  "ext4",
		"kernel/arch/x86/crypto/crc32c-intel.ko.zst": "crc32c_intel",
		"loop.ko":    "loop",
		"loop.ko.gz": "loop",
		"virtio-blk": "virtio_blk",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadModuleIndexErrors(t *testing.T) {
	if _, err := loadModuleIndex(fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "depmod") {
		t.Errorf("no modules.dep: %v", err)
	}
	if _, err := loadModuleIndex(fstest.MapFS{"modules.dep": {Data: []byte("no colon here\n")}}); err == nil {
		t.Error("malformed modules.dep accepted")
	}
}
