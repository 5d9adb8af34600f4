package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"github.com/gostree/gostree/initramfs"
	"github.com/gostree/gostree/initramfs/cpio"
)

func newInitramfsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "initramfs", Short: "Build and list initramfs images that boot composefs deployments"}
	cmd.AddCommand(newInitramfsBuildCmd(a), newInitramfsLsCmd(a))
	return cmd
}

func newInitramfsBuildCmd(a *app) *cobra.Command {
	var (
		kver, modulesDir, helper, config, compress, output string
		modules, files                                     []string
		noModules, decompressModules                       bool
	)
	cmd := &cobra.Command{
		Use:   "build --kver=VERSION [--modules-dir=DIR] [--module=M]... -o FILE",
		Short: "Build a reproducible initramfs with the prepare-root helper as /init",
		Long: `Build an initramfs (newc cpio, optionally gzip or zstd): the prepare-root
helper as /init, /dev/console, the kernel modules named by --module with
their dependencies from modules.dep (in load order), and prepare-root.conf.
No root is needed, and the same inputs give the same bytes.

--modules-dir is the directory holding VERSION/ (default /lib/modules), or
the module directory itself. Without --module a default set is included
(erofs, overlay, loop, ext4, xfs, btrfs and common disk drivers, those the
kernel has). --decompress-modules stores them decompressed, so the kernel
does not decompress each one at boot. The helper is cmd/gostree-mount built
with CGO_ENABLED=0 and -tags initramfs; by default ` + initramfs.HelperName + `
next to this program.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if output == "" {
				return usagef("initramfs build: -o FILE is required")
			}
			comp, err := initramfs.ParseCompression(compress)
			if err != nil {
				return usagef("--compress: %v", err)
			}
			opts := &initramfs.Options{KVer: kver, Helper: helper, Compression: comp, DecompressModules: decompressModules, Logger: a.logger()}
			if opts.Helper == "" {
				exe, _ := os.Executable()
				if opts.Helper, err = initramfs.FindHelper(exe); err != nil {
					return err
				}
			}
			if !noModules {
				if kver == "" {
					return usagef("initramfs build: --kver is required (or --no-modules)")
				}
				dir, err := moduleDir(modulesDir, kver)
				if err != nil {
					return err
				}
				opts.ModuleDir = os.DirFS(dir)
				if len(modules) > 0 {
					opts.Modules = modules
				}
			}
			if config != "" {
				if opts.Config, err = os.ReadFile(config); err != nil {
					return err
				}
			}
			for _, f := range files {
				src, dst, ok := strings.Cut(f, ":")
				if !ok || dst == "" {
					return usagef("--file=%q: want SOURCE:DEST", f)
				}
				fi, err := os.Lstat(src)
				if err != nil {
					return err
				}
				file := initramfs.File{Name: dst, Mode: fi.Mode()}
				switch {
				case fi.Mode()&fs.ModeSymlink != 0:
					t, err := os.Readlink(src)
					if err != nil {
						return err
					}
					file.Data = []byte(t)
				case fi.Mode().IsRegular():
					if file.Data, err = os.ReadFile(src); err != nil {
						return err
					}
				case !fi.IsDir():
					return fmt.Errorf("--file=%s: %s is not a regular file, directory or symlink", f, src)
				}
				opts.Files = append(opts.Files, file)
			}
			res, err := writeFileAtomic(output, func(w io.Writer) (*initramfs.Result, error) {
				return initramfs.Build(c.Context(), w, opts)
			})
			if err != nil {
				return err
			}
			names := make([]string, len(res.Modules))
			for i, m := range res.Modules {
				names[i] = filepath.Base(m)
			}
			fmt.Fprintf(a.stdout, "Wrote %s: %d bytes (%s; cpio %d bytes), helper %s, %d modules", output, res.Size, comp, res.ArchiveSize, opts.Helper, len(res.Modules))
			if len(names) > 0 {
				fmt.Fprintf(a.stdout, ": %s", strings.Join(names, " "))
			}
			fmt.Fprintln(a.stdout)
			if len(res.Builtin) > 0 {
				fmt.Fprintf(a.stdout, "Built into the kernel: %s\n", strings.Join(res.Builtin, " "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kver, "kver", "", "kernel version (the modules' directory name)")
	f.StringVar(&modulesDir, "modules-dir", "", "directory holding VERSION/modules.dep, or the module directory itself (default /lib/modules)")
	f.StringArrayVar(&modules, "module", nil, "module to include, with its dependencies (repeatable; name, alias or path)")
	f.BoolVar(&noModules, "no-modules", false, "include no kernel modules")
	f.BoolVar(&decompressModules, "decompress-modules", false, "store compressed modules (.ko.xz, .ko.zst, .ko.gz) decompressed: a faster boot, more memory until the switch")
	f.StringVar(&helper, "helper", "", "the helper binary, /init (default: "+initramfs.HelperName+" next to gostree)")
	f.StringVar(&config, "config", "", "prepare-root.conf to install as /usr/lib/ostree/prepare-root.conf")
	f.StringVar(&compress, "compress", "none", "compression: none, gzip or zstd")
	f.StringArrayVar(&files, "file", nil, "add SOURCE as DEST in the archive (repeatable)")
	f.StringVarP(&output, "output", "o", "", "output file")
	return cmd
}

// moduleDir finds the module directory of kver: DIR/KVER, or DIR itself
// when it holds modules.dep.
func moduleDir(dir, kver string) (string, error) {
	dirs := []string{dir}
	if dir == "" {
		dirs = []string{"/lib/modules", "/usr/lib/modules"}
	}
	for _, d := range dirs {
		for _, c := range []string{filepath.Join(d, kver), d} {
			if _, err := os.Stat(filepath.Join(c, "modules.dep")); err == nil {
				return c, nil
			}
		}
	}
	return "", fmt.Errorf("no modules.dep for kernel %s in %s (run depmod, or pass --modules-dir)", kver, strings.Join(dirs, " or "))
}

// writeFileAtomic writes a new file through fn: to a temporary file in the
// same directory, then renamed over name ("-" writes to stdout).
func writeFileAtomic[T any](name string, fn func(io.Writer) (T, error)) (T, error) {
	var zero T
	if name == "-" {
		bw := bufio.NewWriter(os.Stdout)
		v, err := fn(bw)
		if err == nil {
			err = bw.Flush()
		}
		return v, err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return zero, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	v, err := fn(bw)
	if err != nil {
		return zero, err
	}
	if err := bw.Flush(); err != nil {
		return zero, err
	}
	if err := f.Chmod(0o644); err != nil {
		return zero, err
	}
	if err := f.Close(); err != nil {
		return zero, err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return zero, err
	}
	ok = true
	return v, nil
}

func newInitramfsLsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "ls FILE",
		Short: "List an initramfs (cpio, optionally gzip or zstd compressed)",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r, err := decompressed(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			cr := cpio.NewReader(r)
			for {
				h, err := cr.Next()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				line := fmt.Sprintf("%s %4d %4d %9d %s", h.FileMode(), h.UID, h.GID, h.Size, h.Name)
				switch h.Mode & cpio.TypeMask {
				case cpio.TypeSymlink:
					t, _ := io.ReadAll(cr)
					line += " -> " + string(t)
				case cpio.TypeChar, cpio.TypeBlock:
					line += fmt.Sprintf(" (%d, %d)", h.RDevMajor, h.RDevMinor)
				}
				fmt.Fprintln(a.stdout, line)
			}
		},
	}
}

// decompressed returns a reader of the cpio archive in data, which may be
// gzip or zstd compressed (told by its magic number).
func decompressed(data []byte) (io.Reader, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return gzip.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return bytes.NewReader(data), nil
}
