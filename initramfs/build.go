package initramfs

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/gostree/gostree/initramfs/cpio"
	"github.com/gostree/gostree/initramfs/prepareroot"
)

// Compression is how the archive is compressed. The kernel unpacks each
// of these itself (CONFIG_RD_GZIP, CONFIG_RD_ZSTD).
type Compression int

const (
	// None writes the bare cpio archive.
	None Compression = iota
	// Gzip compresses with gzip at the best level.
	Gzip
	// Zstd compresses with zstd at its best level, as one frame.
	Zstd
)

// String returns the flag spelling.
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ParseCompression parses "none", "gzip" or "zstd".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none", "":
		return None, nil
	case "gzip", "gz":
		return Gzip, nil
	case "zstd", "zst":
		return Zstd, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want none, gzip or zstd)", s)
}

// File is an extra file of the archive.
type File struct {
	// Name is the path in the archive, without a leading "/".
	Name string
	// Mode is the permission bits plus fs.ModeDir or fs.ModeSymlink for
	// directories and symlinks.
	Mode fs.FileMode
	// Data is a regular file's content, or a symlink's target.
	Data []byte
}

// HelperName is the file name of the helper binary: cmd/gostree-mount
// built with CGO_ENABLED=0 and -tags initramfs.
const HelperName = "gostree-prepare-root"

// Options configure Build.
type Options struct {
	// KVer is the kernel version; modules go to usr/lib/modules/KVER.
	KVer string
	// ModuleDir is the kernel's module tree for KVer: the directory that
	// holds modules.dep (/lib/modules/KVER, or a commit's
	// usr/lib/modules/KVER through fs.Sub). Nil means no modules.
	ModuleDir fs.FS
	// Modules are the modules to include, with everything they depend
	// on: names (ext4), aliases (crypto-crc32c) or paths relative to
	// ModuleDir. Nil means DefaultModules, skipping those the kernel does
	// not have; names given here must exist (or be built in).
	Modules []string
	// Helper is the path of the helper binary, which becomes /init. It
	// must be statically linked and built with -tags initramfs.
	Helper string
	// Config, if not nil, is installed as usr/lib/ostree/prepare-root.conf
	// (for example "[composefs]\nenabled = verity\n").
	Config []byte
	// Files are added as they are (and override generated entries of the
	// same name).
	Files []File
	// Compression of the archive.
	Compression Compression
	// DecompressModules stores compressed modules (.ko.xz, .ko.zst,
	// .ko.gz) decompressed, as .ko: the kernel then loads them without
	// decompressing each one at boot, which is faster (the archive's
	// own compression still covers them) and works without
	// CONFIG_MODULE_DECOMPRESS. The unpacked initramfs takes more memory
	// until the switch to the root frees it.
	DecompressModules bool
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Result describes a built archive.
type Result struct {
	// Modules are the included modules in load order (paths relative to
	// the module directory, as modules.dep names them, also when they
	// were stored decompressed).
	Modules []string
	// Builtin are requested modules the kernel has built in.
	Builtin []string
	// Skipped are default modules this kernel does not have.
	Skipped []string
	// ArchiveSize is the uncompressed cpio size; Size what was written.
	ArchiveSize, Size int64
}

// Build writes an initramfs to w: a newc cpio archive holding the helper
// as /init, /dev/console, the empty directories /init mounts on, the
// modules with their dependencies and the list of them in load order (the
// helper loads it from prepareroot.ModuleListPath), prepare-root.conf and
// any extra files. It needs no privileges: device nodes and ownership
// (root) are written into the archive, not created on disk.
//
// The output depends only on the inputs: entries are sorted by name, with
// mtime 0, uid and gid 0 and inode numbers in order, so building twice
// gives the same bytes (zstd and gzip output is stable for one version of
// klauspost/compress).
func Build(ctx context.Context, w io.Writer, opts *Options) (*Result, error) {
	if opts == nil || opts.Helper == "" {
		return nil, errors.New("initramfs: no helper binary given")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	helper, err := readHelper(opts.Helper)
	if err != nil {
		return nil, err
	}
	ents := newTree()
	ents.file("init", 0o755, helper)
	ents.dir("dev", 0o755)
	ents.add(&cpio.Header{Name: "dev/console", Mode: cpio.TypeChar | 0o600, RDevMajor: 5, RDevMinor: 1}, nil)
	for _, d := range []string{"etc", "proc", "run", "sys", "sysroot", "usr/lib/gostree"} {
		ents.dir(d, 0o755)
	}
	ents.dir("tmp", 0o1777)
	if opts.Config != nil {
		ents.file("usr/lib/ostree/prepare-root.conf", 0o644, opts.Config)
	}

	res := &Result{}
	if opts.ModuleDir != nil {
		if opts.KVer == "" || strings.Contains(opts.KVer, "/") {
			return nil, fmt.Errorf("initramfs: invalid kernel version %q", opts.KVer)
		}
		ix, err := loadModuleIndex(opts.ModuleDir)
		if err != nil {
			return nil, fmt.Errorf("initramfs: modules of %s: %w", opts.KVer, err)
		}
		reqs, optional := opts.Modules, false
		if reqs == nil {
			reqs, optional = DefaultModules(), true
		}
		r, err := resolveModules(ix, reqs, optional)
		if err != nil {
			return nil, fmt.Errorf("initramfs: kernel %s: %w", opts.KVer, err)
		}
		res.Modules, res.Builtin, res.Skipped = r.order, r.builtin, r.missing
		base := path.Join("usr/lib/modules", opts.KVer)
		var list strings.Builder
		for _, p := range r.order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if !fs.ValidPath(p) {
				return nil, fmt.Errorf("initramfs: modules.dep names %q, outside the module directory", p)
			}
			data, err := fs.ReadFile(opts.ModuleDir, p)
			if err != nil {
				return nil, fmt.Errorf("initramfs: module %s: %w", p, err)
			}
			name := p
			if opts.DecompressModules {
				if data, name, err = decompressModule(p, data); err != nil {
					return nil, fmt.Errorf("initramfs: %w", err)
				}
			}
			ents.file(path.Join(base, name), 0o644, data)
			fmt.Fprintf(&list, "/%s\n", path.Join(base, name))
			log.Debug("module", "path", name, "bytes", len(data))
		}
		ents.file(strings.TrimPrefix(prepareroot.ModuleListPath, "/"), 0o644, []byte(list.String()))
	}
	for _, f := range opts.Files {
		name := strings.TrimPrefix(path.Clean("/"+f.Name), "/")
		if name == "" {
			return nil, fmt.Errorf("initramfs: invalid file name %q", f.Name)
		}
		switch {
		case f.Mode.IsDir():
			ents.dir(name, uint32(f.Mode.Perm()))
		case f.Mode&fs.ModeSymlink != 0:
			ents.add(&cpio.Header{Name: name, Mode: cpio.TypeSymlink | 0o777, Size: int64(len(f.Data))}, f.Data)
		case f.Mode.IsRegular():
			ents.file(name, unixPerm(f.Mode), f.Data)
		default:
			return nil, fmt.Errorf("initramfs: %s: unsupported file type %s", f.Name, f.Mode.Type())
		}
	}

	var archive bytes.Buffer
	cw := cpio.NewWriter(&archive)
	if err := ents.write(cw); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	res.ArchiveSize = int64(archive.Len())
	out, err := compress(archive.Bytes(), opts.Compression)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %s: %w", opts.Compression, err)
	}
	n, err := w.Write(out)
	res.Size = int64(n)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	return res, nil
}

// unixPerm converts permission and set-id bits to st_mode bits.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

func compress(data []byte, c Compression) ([]byte, error) {
	switch c {
	case None:
		return data, nil
	case Gzip:
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(data); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer enc.Close()
		return enc.EncodeAll(data, nil), nil
	}
	return nil, fmt.Errorf("unknown compression %d", int(c))
}

// readHelper reads the helper binary and checks that it can run as /init:
// a statically linked ELF file (no interpreter) built with the
// initramfs tag.
func readHelper(p string) ([]byte, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("initramfs: helper: %w", err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("initramfs: helper %s is not an ELF executable: %w", p, err)
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("initramfs: helper %s is dynamically linked; build it with CGO_ENABLED=0 go build -tags initramfs ./cmd/gostree-mount", p)
		}
	}
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("initramfs: helper %s: no Go build information: %w", p, err)
	}
	tagged := false
	for _, s := range bi.Settings {
		if s.Key == "-tags" && slices.Contains(strings.Split(s.Value, ","), "initramfs") {
			tagged = true
		}
	}
	if !tagged {
		return nil, fmt.Errorf("initramfs: helper %s was not built with -tags initramfs (that build links FUSE and the object store); build it with CGO_ENABLED=0 go build -tags initramfs -o %s ./cmd/gostree-mount", p, HelperName)
	}
	return data, nil
}

// FindHelper returns the helper binary to use when none is given: HelperName
// next to the running executable (exe, as from os.Executable), then in
// /usr/lib/gostree.
func FindHelper(exe string) (string, error) {
	var tried []string
	if exe != "" {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		tried = append(tried, filepath.Join(filepath.Dir(exe), HelperName))
	}
	tried = append(tried, filepath.Join("/usr/lib/gostree", HelperName))
	for _, p := range tried {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("initramfs: no helper binary (looked for %s); build one with CGO_ENABLED=0 go build -tags initramfs -o %s ./cmd/gostree-mount", strings.Join(tried, ", "), HelperName)
}

// tree collects archive entries by name.
type tree struct {
	m map[string]treeEntry
}

type treeEntry struct {
	h    cpio.Header
	data []byte
}

func newTree() *tree { return &tree{m: map[string]treeEntry{}} }

func (t *tree) add(h *cpio.Header, data []byte) {
	t.m[h.Name] = treeEntry{*h, data}
}

func (t *tree) file(name string, perm uint32, data []byte) {
	t.add(&cpio.Header{Name: name, Mode: cpio.TypeReg | perm, Size: int64(len(data))}, data)
}

func (t *tree) dir(name string, perm uint32) {
	t.add(&cpio.Header{Name: name, Mode: cpio.TypeDir | perm}, nil)
}

// write writes the entries sorted by name, after creating any missing
// parent directories (0755), so every directory precedes its contents.
func (t *tree) write(w *cpio.Writer) error {
	for name := range t.m {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := t.m[d]; !ok {
				t.dir(d, 0o755)
			}
		}
	}
	names := make([]string, 0, len(t.m))
	for n := range t.m {
		names = append(names, n)
	}
	// Compare path components, so "a/b" follows "a" even when "a-b"
	// exists ('-' sorts before '/').
	sort.Slice(names, func(i, j int) bool {
		return strings.ReplaceAll(names[i], "/", "\x00") < strings.ReplaceAll(names[j], "/", "\x00")
	})
	for _, n := range names {
		e := t.m[n]
		if p := path.Dir(n); p != "." && t.m[p].h.Mode&cpio.TypeMask != cpio.TypeDir {
			return fmt.Errorf("%s: parent %s is not a directory", n, p)
		}
		if err := w.WriteHeader(&e.h); err != nil {
			return err
		}
		if len(e.data) > 0 {
			if _, err := w.Write(e.data); err != nil {
				return err
			}
		}
	}
	return w.Close()
}
