package deploy_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gostree/gostree/deploy"
)

// spec describes an /etc tree: "f:CONTENT", "l:TARGET", "d" per path; an
// optional "@MODE" suffix (octal) sets the permission bits.
type spec map[string]string

func writeSpec(t *testing.T, root string, s spec) {
	t.Helper()
	paths := make([]string, 0, len(s))
	for p := range s {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		v, mode := s[p], ""
		if i := strings.LastIndex(v, "@"); i >= 0 {
			v, mode = v[:i], v[i+1:]
		}
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		var err error
		switch {
		case v == "d":
			err = os.MkdirAll(full, 0o755)
		case strings.HasPrefix(v, "f:"):
			err = os.WriteFile(full, []byte(v[2:]), 0o644)
		case strings.HasPrefix(v, "l:"):
			err = os.Symlink(v[2:], full)
		}
		if err != nil {
			t.Fatal(err)
		}
		if mode != "" {
			var m uint32
			for _, c := range mode {
				m = m*8 + uint32(c-'0')
			}
			os.Chmod(full, os.FileMode(m))
		}
	}
}

func readSpec(t *testing.T, root string) spec {
	t.Helper()
	out := spec{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "l:" + target
		case fi.IsDir():
			out[rel] = "d"
		default:
			data, _ := os.ReadFile(p)
			out[rel] = "f:" + string(data)
		}
		if perm := fi.Mode().Perm(); !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 && perm != 0o644 || fi.IsDir() && perm != 0o755 {
			out[rel] += "@" + strings.TrimPrefix(strings.TrimPrefix(fi.Mode().Perm().String(), "-"), "d")
		}
		return nil
	})
	return out
}

func TestEtcMerge(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name       string
		oldDefault spec
		local      func(etc string)
		newDefault spec
		want       spec
	}{
		{"modified locally wins", spec{"a": "f:1"}, func(e string) { os.WriteFile(e+"/a", []byte("mine"), 0o644) }, spec{"a": "f:2"}, spec{"a": "f:mine"}},
		{"deleted locally stays deleted", spec{"a": "f:1", "b": "f:b"}, func(e string) { os.Remove(e + "/a") }, spec{"a": "f:2", "b": "f:b"}, spec{"b": "f:b"}},
		{"added locally is kept", spec{"a": "f:1"}, func(e string) { os.WriteFile(e+"/new", []byte("n"), 0o644) }, spec{"a": "f:1"}, spec{"a": "f:1", "new": "f:n"}},
		{"changed upstream, untouched locally", spec{"a": "f:1"}, func(string) {}, spec{"a": "f:2"}, spec{"a": "f:2"}},
		{"added upstream", spec{"a": "f:1"}, func(string) {}, spec{"a": "f:1", "b": "f:new"}, spec{"a": "f:1", "b": "f:new"}},
		{"removed upstream", spec{"a": "f:1", "b": "f:b"}, func(string) {}, spec{"a": "f:1"}, spec{"a": "f:1"}},
		{"file became dir locally", spec{"x": "f:1"}, func(e string) {
			os.Remove(e + "/x")
			os.Mkdir(e+"/x", 0o755)
			os.WriteFile(e+"/x/in", []byte("i"), 0o644)
		}, spec{"x": "f:2"}, spec{"x": "d", "x/in": "f:i"}},
		{"dir became symlink locally", spec{"d": "d", "d/f": "f:1"}, func(e string) { os.RemoveAll(e + "/d"); os.Symlink("/elsewhere", e+"/d") }, spec{"d": "d", "d/f": "f:2"}, spec{"d": "l:/elsewhere"}},
		{"symlink retargeted locally", spec{"l": "l:a"}, func(e string) { os.Remove(e + "/l"); os.Symlink("b", e+"/l") }, spec{"l": "l:c"}, spec{"l": "l:b"}},
		{"permissions changed locally", spec{"p": "f:1"}, func(e string) { os.Chmod(e+"/p", 0o600) }, spec{"p": "f:2"}, spec{"p": "f:1@rw-------"}},
		{"added local dir is copied whole", spec{}, func(e string) { os.MkdirAll(e+"/n/m", 0o755); os.WriteFile(e+"/n/m/f", []byte("deep"), 0o644) }, spec{"z": "f:z"}, spec{"n": "d", "n/m": "d", "n/m/f": "f:deep", "z": "f:z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := newSysroot(t, nil)
			mk := func(sp spec) string {
				dir := osTree(t, 1)
				os.RemoveAll(filepath.Join(dir, "usr/etc"))
				os.Mkdir(filepath.Join(dir, "usr/etc"), 0o755)
				writeSpec(t, filepath.Join(dir, "usr/etc"), sp)
				return dir
			}
			commitTree(t, s.Repo(), mk(tt.oldDefault), "testos/stable", "1", 1577836800)
			d1, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"})
			if err != nil {
				t.Fatal(err)
			}
			tt.local(filepath.Join(s.Path(), d1.RelDir(), "etc"))
			commitTree(t, s.Repo(), mk(tt.newDefault), "testos/stable", "2", 1577836900)
			d2, err := s.Deploy(ctx, &deploy.DeployOptions{Revision: "testos/stable"})
			if err != nil {
				t.Fatal(err)
			}
			got := readSpec(t, filepath.Join(s.Path(), d2.RelDir(), "etc"))
			if strings.Join(specLines(got), "\n") != strings.Join(specLines(tt.want), "\n") {
				t.Errorf("merged /etc =\n%s\nwant\n%s", strings.Join(specLines(got), "\n"), strings.Join(specLines(tt.want), "\n"))
			}
		})
	}
}

func specLines(s spec) []string {
	var out []string
	for p, v := range s {
		out = append(out, p+" = "+v)
	}
	sort.Strings(out)
	return out
}
