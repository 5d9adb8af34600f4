package prepareroot

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Deployment is the deployment an ostree= argument names.
type Deployment struct {
	// Dir is the deployment directory (an absolute path under the
	// sysroot).
	Dir string
	// RelDir is Dir relative to the sysroot:
	// ostree/deploy/OS/deploy/COMMIT.SERIAL.
	RelDir string
	// Stateroot is OS, the stateroot (osname).
	Stateroot string
	// Commit is the commit checksum, 64 hex digits.
	Commit string
	// Serial is the deployment serial.
	Serial int
}

// parseDeployDir splits ostree/deploy/OS/deploy/COMMIT.SERIAL (COMMIT 64
// lowercase hex digits, SERIAL decimal) into its parts. (A hand parse, not
// a regular expression: the helper starts faster without package regexp.)
func parseDeployDir(rel string) (stateroot, commit, serial string, ok bool) {
	rest, ok := strings.CutPrefix(rel, "ostree/deploy/")
	if !ok {
		return "", "", "", false
	}
	stateroot, rest, ok = strings.Cut(rest, "/")
	if !ok || stateroot == "" {
		return "", "", "", false
	}
	rest, ok = strings.CutPrefix(rest, "deploy/")
	if !ok || len(rest) < 66 || rest[64] != '.' {
		return "", "", "", false
	}
	commit, serial = rest[:64], rest[65:]
	for _, c := range []byte(commit) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", "", "", false
		}
	}
	for _, c := range []byte(serial) {
		if c < '0' || c > '9' {
			return "", "", "", false
		}
	}
	return stateroot, commit, serial, true
}

// maxSymlinks bounds symlink resolution, as the kernel's MAXSYMLINKS.
const maxSymlinks = 40

// ResolveDeployment resolves target (the ostree= value, such as
// /ostree/boot.1/OS/BOOTCSUM/0) inside sysroot, as ostree-prepare-root
// does: target must be a symlink, and what it leads to must be a
// deployment directory ostree/deploy/OS/deploy/COMMIT.SERIAL. Symlinks are
// followed inside sysroot only: absolute targets and ".." stop at its top,
// so a hostile link cannot point the boot outside the physical root.
func ResolveDeployment(sysroot, target string) (*Deployment, error) {
	if target == "" || !strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("ostree=%q: want an absolute path such as /ostree/boot.0/OS/CHECKSUM/0", target)
	}
	clean := path.Clean(target)
	link, err := lstatSymlink(filepath.Join(sysroot, clean))
	if err != nil {
		return nil, fmt.Errorf("ostree=%s: %w", target, err)
	}
	if !link {
		return nil, fmt.Errorf("ostree=%s: not a symlink", target)
	}
	rel, err := resolveIn(sysroot, clean)
	if err != nil {
		return nil, fmt.Errorf("ostree=%s: %w", target, err)
	}
	stateroot, commit, serialText, ok := parseDeployDir(rel)
	if !ok {
		return nil, fmt.Errorf("ostree=%s leads to /%s, which is not a deployment (ostree/deploy/OS/deploy/COMMIT.SERIAL)", target, rel)
	}
	serial, err := strconv.Atoi(serialText)
	if err != nil {
		return nil, fmt.Errorf("ostree=%s: deployment serial %q: %w", target, serialText, err)
	}
	dir := filepath.Join(sysroot, rel)
	if !isDir(dir) {
		return nil, fmt.Errorf("deployment %s is not a directory", rel)
	}
	return &Deployment{Dir: dir, RelDir: rel, Stateroot: stateroot, Commit: commit, Serial: serial}, nil
}

// resolveIn returns the path p (absolute, relative to root) leads to with
// every symlink followed, relative to root and without a leading "/".
// Absolute link targets and ".." are taken relative to root and never
// leave it.
func resolveIn(root, p string) (string, error) {
	todo := strings.Split(strings.Trim(p, "/"), "/")
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := append(done, c)
		full := filepath.Join(root, filepath.Join(cur...))
		link, err := lstatSymlink(full)
		if err != nil {
			return "", err
		}
		if !link {
			done = cur
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("too many levels of symbolic links at /%s", strings.Join(cur, "/"))
		}
		t, err := readlink(full)
		if err != nil {
			return "", err
		}
		if t == "" {
			return "", errors.New("empty symlink at /" + strings.Join(cur, "/"))
		}
		if strings.HasPrefix(t, "/") {
			done = nil
		}
		todo = append(strings.Split(strings.Trim(t, "/"), "/"), todo...)
	}
	return strings.Join(done, "/"), nil
}
