package prepareroot

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ComposefsMode is ostree's [composefs] enabled setting: whether the root
// is a composefs mount, and what it must prove.
type ComposefsMode int

const (
	// ComposefsMaybe mounts the image when the deployment has one, without
	// requiring fs-verity, and bind-mounts a checkout otherwise (ostree's
	// default).
	ComposefsMaybe ComposefsMode = iota
	// ComposefsNo bind-mounts the deployment directory (an ostree
	// hardlink checkout); gostree deployments have none, so they fail.
	ComposefsNo
	// ComposefsYes requires the image; object data is not checked.
	ComposefsYes
	// ComposefsVerity requires the image to be fs-verity protected (the
	// kernel's measurement, or a match with the commit's
	// ostree.composefs.digest.v0) and mounts with overlayfs verity=require,
	// so every file's data is checked against the image's digests.
	ComposefsVerity
	// ComposefsSigned is ComposefsVerity plus an ed25519 signature on the
	// commit from a key in KeyPath; the image must match the signed
	// commit's ostree.composefs.digest.v0.
	ComposefsSigned
)

// String returns the config-file spelling.
func (m ComposefsMode) String() string {
	switch m {
	case ComposefsMaybe:
		return "maybe"
	case ComposefsNo:
		return "no"
	case ComposefsYes:
		return "yes"
	case ComposefsVerity:
		return "verity"
	case ComposefsSigned:
		return "signed"
	}
	return fmt.Sprintf("ComposefsMode(%d)", int(m))
}

// requiresVerity reports whether the mode mounts with verity=require.
func (m ComposefsMode) requiresVerity() bool { return m == ComposefsVerity || m == ComposefsSigned }

// ParseComposefsMode parses a [composefs] enabled value or the
// ostree.prepare-root.composefs karg, with GKeyFile's boolean spellings.
func ParseComposefsMode(s string) (ComposefsMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "maybe":
		return ComposefsMaybe, nil
	case "no", "false", "0":
		return ComposefsNo, nil
	case "yes", "true", "1":
		return ComposefsYes, nil
	case "verity":
		return ComposefsVerity, nil
	case "signed":
		return ComposefsSigned, nil
	}
	return 0, fmt.Errorf("invalid composefs mode %q (want yes, no, maybe, verity or signed)", s)
}

// DefaultKeyPath is where ostree looks for the ed25519 public keys of
// composefs=signed, in the initramfs.
const DefaultKeyPath = "/etc/ostree/initramfs-root-binding.key"

// ConfigPaths returns the places of prepare-root.conf in the initramfs,
// most specific first; the first one that exists is used (ostree's order).
func ConfigPaths() []string {
	return []string{"/etc/ostree/prepare-root.conf", "/run/ostree/prepare-root.conf", "/usr/lib/ostree/prepare-root.conf"}
}

// Config is prepare-root.conf: how the deployment becomes the root.
type Config struct {
	// Composefs is [composefs] enabled.
	Composefs ComposefsMode
	// KeyPath is [composefs] keypath: a file of base64 ed25519 public
	// keys, one a line (composefs=signed).
	KeyPath string
	// SysrootReadOnly is [sysroot] readonly: the physical root at
	// /sysroot is made read-only once set up (/etc and /var stay
	// writable). When unset it follows ostree: true when composefs is used.
	SysrootReadOnly *bool
}

// ParseConfig parses prepare-root.conf (GKeyFile syntax: [group],
// key=value, # comments). Unknown groups and keys are ignored, as ostree
// does; settings gostree cannot honour ([root] transient, [etc]
// transient) are refused rather than silently ignored.
func ParseConfig(text string) (*Config, error) {
	c := &Config{KeyPath: DefaultKeyPath}
	group := ""
	for n, line := range strings.Split(text, "\n") {
		n++
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("prepare-root.conf line %d: bad group header %q", n, line)
			}
			group = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("prepare-root.conf line %d: expected key=value, got %q", n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var err error
		switch group + "." + k {
		case "composefs.enabled":
			c.Composefs, err = ParseComposefsMode(v)
		case "composefs.keypath":
			c.KeyPath = v
		case "sysroot.readonly":
			var b bool
			b, err = parseBool(v)
			c.SysrootReadOnly = &b
		case "root.transient", "root.transient-ro", "etc.transient":
			var b bool
			if b, err = parseBool(v); err == nil && b {
				err = errors.New("transient roots and /etc are not supported by gostree")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("prepare-root.conf line %d: [%s] %s: %w", n, group, k, err)
		}
	}
	return c, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}

// LoadConfig reads the first of paths that exists; with none it returns
// the defaults (composefs=maybe).
func LoadConfig(paths []string) (*Config, string, error) {
	for _, p := range paths {
		data, err := readFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, err
		}
		c, err := ParseConfig(string(data))
		if err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return c, p, nil
	}
	c, _ := ParseConfig("")
	return c, "", nil
}
