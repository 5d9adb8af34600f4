package integration_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces the package layering: imports point down, from
// cmd/ to the libraries, and siblings meet only at objstore and io/fs.
func TestImportRules(t *testing.T) {
	const mod = "github.com/gostree/gostree/"
	rules := []struct {
		pkg    string
		banned []string
		why    string
	}{
		{"internal/sha256x2", []string{mod}, "sha256x2 is a leaf: standard library and x/sys only"},
		{"fsverity", []string{mod}, "fsverity is a leaf: standard library, x/sys and internal/sha256x2 only"},
		{"gvariant", []string{mod}, "gvariant is a leaf: standard library only"},
		{"keyfile", []string{mod}, "keyfile is a leaf: standard library only"},
		{"objstore", []string{mod + "cmd", mod + "composefs", mod + "fusefs", mod + "deploy", mod + "initramfs", "net/http"}, "objstore is the core; transports live in objstore/pull"},
		{"composefs", []string{mod + "fusefs", mod + "objstore/pull", mod + "deploy", "net/http"}, "composefs meets fusefs and pull only through objstore"},
		{"fusefs", []string{mod + "composefs", mod + "objstore/pull", mod + "deploy", "net/http"}, "fusefs serves any fs.FS; it needs no image writer or network"},
		{"deploy", []string{mod + "objstore/pull", mod + "fusefs", "net/http"}, "deploy never pulls; cmd/gostree does (upgrade = pull, then deploy)"},
		{"initramfs", []string{mod + "objstore/pull", mod + "fusefs", "net/http"}, "initramfs must not link net/http or FUSE"},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", mod+r.pkg).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "cannot find package") || strings.Contains(string(out), "no required module provides") || strings.Contains(string(out), "matched no packages") || strings.Contains(string(out), "is not in std") {
				t.Logf("%s does not exist yet", r.pkg)
				continue
			}
			t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range r.banned {
				if dep == mod+r.pkg || !(dep == b || strings.HasPrefix(dep, b+"/") || strings.HasPrefix(b, mod) && strings.HasPrefix(dep, b)) {
					continue
				}
				if r.pkg == "objstore" && strings.HasPrefix(dep, mod+"objstore") {
					continue
				}
				if r.pkg == "fsverity" && dep == mod+"internal/sha256x2" {
					continue
				}
				t.Errorf("%s imports %s: %s", r.pkg, dep, r.why)
			}
		}
	}
}
