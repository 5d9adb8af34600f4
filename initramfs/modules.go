package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// DefaultModules are included when Options.Modules is nil: what a
// composefs root needs (erofs, overlay, loop for kernels without
// file-backed EROFS) plus common root filesystems and disk drivers.
// Those a kernel does not have (built in, or not built) are skipped.
func DefaultModules() []string {
	return []string{
		"erofs", "overlay", "loop",
		"ext4", "xfs", "btrfs",
		"virtio_blk", "virtio_scsi", "sd_mod", "nvme", "ahci",
	}
}

// moduleIndex is what depmod wrote about a kernel's modules.
type moduleIndex struct {
	byName  map[string]string   // normalized name -> path relative to the module dir
	deps    map[string][]string // path -> dependency paths, as listed
	nameOf  map[string]string   // path -> normalized name
	builtin map[string]bool
	aliases [][2]string         // pattern, module name
	pre     map[string][]string // softdep pre: targets (names or aliases)
	post    map[string][]string // softdep post:
}

// moduleName normalizes a module file name or module name: the base name
// without .ko and its compression suffix, with '-' read as '_' (as kmod
// does).
func moduleName(s string) string {
	s = path.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// loadModuleIndex reads modules.dep (required), and modules.builtin,
// modules.alias and modules.softdep (optional) from the module directory.
func loadModuleIndex(fsys fs.FS) (*moduleIndex, error) {
	ix := &moduleIndex{byName: map[string]string{}, deps: map[string][]string{}, nameOf: map[string]string{},
		builtin: map[string]bool{}, pre: map[string][]string{}, post: map[string][]string{}}
	dep, err := fs.ReadFile(fsys, "modules.dep")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no modules.dep in the module directory (run depmod)")
		}
		return nil, err
	}
	err = eachLine(dep, func(line string) error {
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("modules.dep: malformed line %q", line)
		}
		mod = strings.TrimSpace(mod)
		n := moduleName(mod)
		if _, dup := ix.byName[n]; !dup {
			ix.byName[n] = mod
		}
		ix.nameOf[mod] = n
		ix.deps[mod] = strings.Fields(rest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if b, err := fs.ReadFile(fsys, "modules.builtin"); err == nil {
		eachLine(b, func(line string) error { ix.builtin[moduleName(line)] = true; return nil })
	}
	if b, err := fs.ReadFile(fsys, "modules.alias"); err == nil {
		eachLine(b, func(line string) error {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "alias" {
				ix.aliases = append(ix.aliases, [2]string{f[1], moduleName(f[2])})
			}
			return nil
		})
	}
	if b, err := fs.ReadFile(fsys, "modules.softdep"); err == nil {
		eachLine(b, func(line string) error {
			f := strings.Fields(line)
			if len(f) < 3 || f[0] != "softdep" {
				return nil
			}
			n := moduleName(f[1])
			dst := &ix.pre // modprobe.d syntax: "pre:" and "post:" switch lists
			for _, w := range f[2:] {
				switch w {
				case "pre:":
					dst = &ix.pre
				case "post:":
					dst = &ix.post
				default:
					(*dst)[n] = append((*dst)[n], w)
				}
			}
			return nil
		})
	}
	return ix, nil
}

func eachLine(b []byte, fn func(string) error) error {
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// resolution is the ordered module set of an initramfs.
type resolution struct {
	ix      *moduleIndex
	order   []string // paths, dependencies first
	state   map[string]int
	builtin []string
	missing []string // optional requests not found
}

// resolveModules orders the requested modules with their dependencies
// (modules.dep, each module after what it needs) and soft dependencies
// ("pre:" before, "post:" after; missing ones skipped, as modprobe does).
// A request is a module name (ext4, crc32c-intel), an alias
// (crypto-crc32c: every module providing it) or a path relative to the
// module directory. Requests for built-in modules are satisfied as they
// are. With optional set, unknown requests are skipped instead of failing.
func resolveModules(ix *moduleIndex, requests []string, optional bool) (*resolution, error) {
	r := &resolution{ix: ix, state: map[string]int{}}
	for _, q := range requests {
		if err := r.request(q, optional, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// request adds the module(s) q names. A soft dependency (soft) that
// cannot be found is skipped without a trace, as modprobe does.
func (r *resolution) request(q string, optional, soft bool) error {
	if _, ok := r.ix.deps[q]; ok { // a path
		return r.add(q)
	}
	n := moduleName(q)
	if p, ok := r.ix.byName[n]; ok {
		return r.add(p)
	}
	if r.ix.builtin[n] {
		if !slices.Contains(r.builtin, n) {
			r.builtin = append(r.builtin, n)
		}
		return nil
	}
	found := false
	for _, a := range r.ix.aliases {
		if ok, _ := path.Match(a[0], q); !ok {
			continue
		}
		if p, ok := r.ix.byName[a[1]]; ok {
			found = true
			if err := r.add(p); err != nil {
				return err
			}
		} else if r.ix.builtin[a[1]] {
			found = true
		}
	}
	if found {
		return nil
	}
	if soft {
		return nil
	}
	if optional {
		r.missing = append(r.missing, q)
		return nil
	}
	return fmt.Errorf("module %q is not in modules.dep, modules.builtin or modules.alias", q)
}

const (
	visiting = 1
	done     = 2
)

func (r *resolution) add(p string) error {
	switch r.state[p] {
	case done, visiting: // visiting: a cycle through soft dependencies; modprobe ignores it too
		return nil
	}
	r.state[p] = visiting
	n := r.ix.nameOf[p]
	for _, s := range r.ix.pre[n] {
		if err := r.request(s, true, true); err != nil {
			return err
		}
	}
	// modules.dep lists the whole closure; modprobe loads it last to
	// first, and the recursion makes every module follow its own needs.
	deps := r.ix.deps[p]
	for i := len(deps) - 1; i >= 0; i-- {
		d := deps[i]
		if _, ok := r.ix.deps[d]; !ok {
			return fmt.Errorf("modules.dep: %s needs %s, which has no entry", p, d)
		}
		if err := r.add(d); err != nil {
			return err
		}
	}
	r.state[p] = done
	r.order = append(r.order, p)
	for _, s := range r.ix.post[n] {
		if err := r.request(s, true, true); err != nil {
			return err
		}
	}
	return nil
}
