package prepareroot

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// ModuleResult is the outcome of loading one module.
type ModuleResult struct {
	Path string
	Err  error // nil when loaded or already there
}

// LoadModules loads the modules listed in the file at list with
// finit_module(2), in order. Compressed modules (.ko.xz, .ko.zst,
// .ko.gz) are passed with MODULE_INIT_COMPRESSED_FILE, so the kernel
// decompresses them (CONFIG_MODULE_DECOMPRESS); EEXIST (already loaded or
// built in) counts as success. A failure does not stop the others: the
// results say which failed, and a later step fails with its own error if
// it needed the module.
func LoadModules(list string) ([]ModuleResult, error) {
	data, err := readFile(list)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ModuleResult
	for _, line := range strings.Split(string(data), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || p[0] == '#' {
			continue
		}
		out = append(out, ModuleResult{Path: p, Err: loadModule(p)})
	}
	return out, nil
}

func loadModule(p string) error {
	fd, err := openRetry(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer sysClose(fd)
	flags := 0
	if strings.HasSuffix(p, ".xz") || strings.HasSuffix(p, ".zst") || strings.HasSuffix(p, ".gz") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	err = sysFinitModule(fd, "", flags)
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case flags != 0 && errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("finit_module %s: %w (the kernel cannot decompress modules: build the initramfs from decompressed modules)", p, err)
	}
	return fmt.Errorf("finit_module %s: %w", p, err)
}
