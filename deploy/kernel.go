package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/gostree/gostree/objstore"
)

// kernel is what a commit ships to boot: usr/lib/modules/KVER/vmlinuz and
// optionally initramfs.img and devicetree.
type kernel struct {
	kver       string
	vmlinuz    string // paths in the commit's fs.FS
	initramfs  string
	devicetree string
	bootcsum   string
	// generated is an initramfs built at deploy time for a commit that
	// ships none; it takes the commit's initramfs's place in the boot
	// checksum, so a new helper gives a new boot directory.
	generated []byte
}

// findKernel locates the kernel as ostree does (the first
// usr/lib/modules/KVER holding a regular vmlinuz; directories are taken in
// name order, where ostree takes readdir order) and computes the boot
// checksum: SHA-256 over vmlinuz, initramfs and devicetree, those present.
func findKernel(fsys fs.FS, generate func(modules fs.FS, kver string) ([]byte, error)) (*kernel, error) {
	ents, err := fs.ReadDir(fsys, "usr/lib/modules")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("the commit has no usr/lib/modules/KVER/vmlinuz")
		}
		return nil, err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := path.Join("usr/lib/modules", e.Name())
		fi, err := fs.Stat(fsys, dir+"/vmlinuz")
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		k := &kernel{kver: e.Name(), vmlinuz: dir + "/vmlinuz"}
		for _, name := range []string{"initramfs.img", "initramfs"} {
			if fi, err := fs.Stat(fsys, dir+"/"+name); err == nil && fi.Mode().IsRegular() {
				k.initramfs = dir + "/" + name
				break
			}
		}
		if fi, err := fs.Stat(fsys, dir+"/devicetree"); err == nil && fi.Mode().IsRegular() {
			k.devicetree = dir + "/devicetree"
		}
		if k.initramfs == "" && generate != nil {
			mods, err := fs.Sub(fsys, dir)
			if err != nil {
				return nil, err
			}
			if k.generated, err = generate(mods, k.kver); err != nil {
				return nil, fmt.Errorf("build initramfs for %s: %w", k.kver, err)
			}
		}
		h := sha256.New()
		for _, p := range []string{k.vmlinuz, k.initramfs, k.devicetree} {
			if p == "" {
				continue
			}
			if err := copyFrom(h, fsys, p); err != nil {
				return nil, err
			}
			if p == k.vmlinuz && k.generated != nil {
				h.Write(k.generated)
			}
		}
		k.bootcsum = hex.EncodeToString(h.Sum(nil))
		return k, nil
	}
	return nil, errors.New("the commit has no usr/lib/modules/KVER/vmlinuz")
}

func copyFrom(w io.Writer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// installKernel copies the kernel files to boot/ostree/OS-BOOTCSUM/ (built
// under a temporary name, then renamed) unless that directory exists, and
// returns the BLS linux and initrd paths.
func (s *Sysroot) installKernel(fsys *objstore.CommitFS, osname string, k *kernel) (linux, initrd string, err error) {
	name := osname + "-" + k.bootcsum
	dst := filepath.Join(s.path, "boot", "ostree", name)
	linux = "/ostree/" + name + "/vmlinuz-" + k.kver
	if k.initramfs != "" || k.generated != nil {
		initrd = "/ostree/" + name + "/initramfs-" + k.kver + ".img"
	}
	if _, err := os.Stat(dst); err == nil {
		return linux, initrd, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".tmp-"+name)
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	files := map[string]string{"vmlinuz-" + k.kver: k.vmlinuz}
	if k.initramfs != "" {
		files["initramfs-"+k.kver+".img"] = k.initramfs
	}
	if k.devicetree != "" {
		files["devicetree-"+k.kver] = k.devicetree
	}
	if k.generated != nil {
		if err := os.WriteFile(filepath.Join(tmp, "initramfs-"+k.kver+".img"), k.generated, 0o644); err != nil {
			return "", "", fmt.Errorf("install kernel: %w", err)
		}
	}
	for out, in := range files {
		f, err := os.OpenFile(filepath.Join(tmp, out), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", "", err
		}
		err = copyFrom(f, fsys, in)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", "", fmt.Errorf("install kernel: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", "", fmt.Errorf("install kernel: %w", err)
	}
	return linux, initrd, nil
}
