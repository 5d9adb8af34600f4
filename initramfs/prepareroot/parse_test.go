package prepareroot

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gostree/gostree/gvariant"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want Cmdline
	}{
		{"", nil},
		{"  ro  quiet\n", Cmdline{{Key: "ro"}, {Key: "quiet"}}},
		{"root=LABEL=root rw ostree=/ostree/boot.1/os/abc/0",
			Cmdline{{"root", "LABEL=root", true}, {Key: "rw"}, {"ostree", "/ostree/boot.1/os/abc/0", true}}},
		{`a="b c" "d=e f" g=`, Cmdline{{"a", "b c", true}, {"d", "e f", true}, {"g", "", true}}},
		{"x=1\ty=2", Cmdline{{"x", "1", true}, {"y", "2", true}}},
	}
	for _, tt := range tests {
		if got := ParseCmdline(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCmdline(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	c := ParseCmdline("ostree.prepare-root.composefs=no ostree=/a ostree.prepare-root.composefs=verity rw")
	if v, ok := c.Get("ostree.prepare-root.composefs"); !ok || v != "verity" {
		t.Errorf("Get = %q, %v; want the last value, verity", v, ok)
	}
	if _, ok := c.Get("rw"); ok || !c.Has("rw") || c.Has("ro") {
		t.Error("Has/Get of a flag without value")
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add(`root=/dev/vda rw ostree="/ostree/boot.0/x/y/0" quiet`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range ParseCmdline(s) {
			if a.Key == "" && !a.HasValue {
				t.Fatalf("empty argument from %q", s)
			}
			if strings.ContainsRune(a.Key, '"') || strings.ContainsRune(a.Value, '"') {
				t.Fatalf("quote kept in %+v from %q", a, s)
			}
		}
	})
}

func TestParseConfig(t *testing.T) {
	yes := true
	tests := []struct {
		in   string
		want Config
		err  string
	}{
		{"", Config{Composefs: ComposefsMaybe, KeyPath: DefaultKeyPath}, ""},
		{"[composefs]\nenabled = verity\n", Config{Composefs: ComposefsVerity, KeyPath: DefaultKeyPath}, ""},
		{"# c\n[composefs]\nenabled=signed\nkeypath=/etc/k\n[sysroot]\nreadonly=true\n[other]\nx=y\n",
			Config{Composefs: ComposefsSigned, KeyPath: "/etc/k", SysrootReadOnly: &yes}, ""},
		{"[composefs]\nenabled = true\n", Config{Composefs: ComposefsYes, KeyPath: DefaultKeyPath}, ""},
		{"[composefs]\nenabled = 0\n", Config{Composefs: ComposefsNo, KeyPath: DefaultKeyPath}, ""},
		{"[root]\ntransient = false\n", Config{Composefs: ComposefsMaybe, KeyPath: DefaultKeyPath}, ""},
		{"[composefs]\nenabled = sometimes\n", Config{}, "invalid composefs mode"},
		{"[root]\ntransient = true\n", Config{}, "not supported"},
		{"[etc]\ntransient = yes\n", Config{}, "not supported"},
		{"[sysroot]\nreadonly = maybe\n", Config{}, "invalid boolean"},
		{"[composefs\n", Config{}, "bad group header"},
		{"[composefs]\nenabled\n", Config{}, "expected key=value"},
	}
	for _, tt := range tests {
		got, err := ParseConfig(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseConfig(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("ParseConfig(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")
	os.WriteFile(b, []byte("[composefs]\nenabled=yes\n"), 0o644)
	c, p, err := LoadConfig([]string{a, b})
	if err != nil || p != b || c.Composefs != ComposefsYes {
		t.Errorf("LoadConfig = %+v, %q, %v; want b.conf's yes", c, p, err)
	}
	c, p, err = LoadConfig([]string{a})
	if err != nil || p != "" || c.Composefs != ComposefsMaybe {
		t.Errorf("LoadConfig(none) = %+v, %q, %v; want the defaults", c, p, err)
	}
}

const commitA = "aaaa7c3e5a00f7a5cbbc4c9d98f0d3a0ab1e1d0fe5c9b86bf0b2a8e2c3d4e5f6"

// fakeSysroot makes the ostree layout of one deployment, with the boot
// symlinks ostree writes.
func fakeSysroot(t *testing.T) string {
	t.Helper()
	s := t.TempDir()
	dep := filepath.Join(s, "ostree/deploy/os/deploy", commitA+".0")
	for _, d := range []string{dep, filepath.Join(s, "ostree/boot.1.1/os/csum"), filepath.Join(s, "ostree/deploy/os/var")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"ostree/boot.1":              "boot.1.1",
		"ostree/boot.1.1/os/csum/0":  "../../../deploy/os/deploy/" + commitA + ".0",
		"ostree/boot.1.1/os/csum/1":  "/ostree/deploy/os/deploy/" + commitA + ".0", // absolute: inside the sysroot
		"ostree/boot.1.1/os/csum/2":  "../../../../../../../../etc",                // climbs out: clamped to the sysroot
		"ostree/boot.1.1/os/csum/3":  "3",                                          // loop
		"ostree/boot.1.1/os/csum/4":  "../../../deploy/os/var",
		"ostree/boot.1.1/os/csum/5":  "nowhere",
		"ostree/boot.1.1/os/csum/up": "../../../deploy/os/deploy/" + commitA + ".0/..",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(s, l)); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(s, "etc"), 0o755)
	os.WriteFile(filepath.Join(s, "ostree/boot.1.1/os/csum/plain"), nil, 0o644)
	return s
}

func TestResolveDeployment(t *testing.T) {
	s := fakeSysroot(t)
	for _, target := range []string{"/ostree/boot.1/os/csum/0", "/ostree/boot.1/os/csum/1", "//ostree/boot.1/./os/csum/0"} {
		d, err := ResolveDeployment(s, target)
		if err != nil {
			t.Errorf("ResolveDeployment(%s): %v", target, err)
			continue
		}
		want := &Deployment{Dir: filepath.Join(s, "ostree/deploy/os/deploy", commitA+".0"), RelDir: "ostree/deploy/os/deploy/" + commitA + ".0",
			Stateroot: "os", Commit: commitA, Serial: 0}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("ResolveDeployment(%s) = %+v, want %+v", target, d, want)
		}
	}
	for target, want := range map[string]string{
		"":                             "want an absolute path",
		"ostree/boot.1/os/csum/0":      "want an absolute path",
		"/ostree/boot.1/os/csum/2":     "leads to /etc, which is not a deployment",
		"/ostree/boot.1/os/csum/3":     "too many levels of symbolic links",
		"/ostree/boot.1/os/csum/4":     "leads to /ostree/deploy/os/var, which is not a deployment",
		"/ostree/boot.1/os/csum/5":     "no such file",
		"/ostree/boot.1/os/csum/up":    "which is not a deployment",
		"/ostree/boot.1/os/csum/9":     "no such file",
		"/ostree/boot.1/os/csum/plain": "not a symlink",
	} {
		if _, err := ResolveDeployment(s, target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveDeployment(%q) error = %v, want %q", target, err, want)
		}
	}
}

func TestBootedInfo(t *testing.T) {
	b := (&bootedInfo{dev: 2049, ino: 77, composefs: true, composefsVerity: true, signed: "/etc/k", sysrootRO: true}).marshal()
	v, err := gvariant.Decode(gvariant.MustParseType("a{sv}"), b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, e := range v.([]any) {
		de := e.(gvariant.DictEntry)
		got[de.Key.(string)] = de.Value.(gvariant.Variant).Value
	}
	want := map[string]any{"backing-root-device-inode": []any{uint64(2049), uint64(77)}, "composefs": true,
		"composefs.verity": true, "composefs.signed": "/etc/k", "sysroot-ro": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ostree-booted = %v, want %v", got, want)
	}
}

func TestParseDeployDir(t *testing.T) {
	c := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		rel                       string
		stateroot, commit, serial string
		ok                        bool
	}{
		{"ostree/deploy/os/deploy/" + c + ".0", "os", c, "0", true},
		{"ostree/deploy/fedora-coreos/deploy/" + c + ".12", "fedora-coreos", c, "12", true},
		{"ostree/deploy/os/deploy/" + c + ".", "", "", "", false},
		{"ostree/deploy/os/deploy/" + c, "", "", "", false},
		{"ostree/deploy/os/deploy/" + c + ".0/", "", "", "", false},
		{"ostree/deploy/os/deploy/" + c + ".-1", "", "", "", false},
		{"ostree/deploy/os/deploy/" + strings.ToUpper(c) + ".0", "", "", "", false},
		{"ostree/deploy/os/deploy/" + c[:63] + "g.0", "", "", "", false},
		{"ostree/deploy/os/deploy/" + c[:63] + ".0", "", "", "", false},
		{"ostree/deploy/a/b/deploy/" + c + ".0", "", "", "", false},
		{"ostree/deploy//deploy/" + c + ".0", "", "", "", false},
		{"ostree/deploy/os/var", "", "", "", false},
		{"/ostree/deploy/os/deploy/" + c + ".0", "", "", "", false},
		{"", "", "", "", false},
	} {
		s, cm, se, ok := parseDeployDir(tc.rel)
		if ok != tc.ok || s != tc.stateroot || cm != tc.commit || se != tc.serial {
			t.Errorf("parseDeployDir(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.rel, s, cm, se, ok, tc.stateroot, tc.commit, tc.serial, tc.ok)
		}
	}
}

func TestParseKmsgRecord(t *testing.T) {
	for _, tc := range []struct {
		rec  string
		at   time.Duration
		text string
		ok   bool
	}{
		{"6,339,2403644,-;Run /init as init process\n", 2403644 * time.Microsecond, "Run /init as init process", true},
		{"3,12,5,-;overlayfs: lower file has no fs-verity digest\n SUBSYSTEM=block\n DEVICE=b254:0\n", 5 * time.Microsecond, "overlayfs: lower file has no fs-verity digest", true},
		{"6,1,0,c;a;b\n", 0, "a;b", true},
		{"6,1,x,-;bad time\n", 0, "bad time", true},
		{"6,1,-5,-;negative\n", 0, "negative", true},
		{"6,1;short prefix", 0, "short prefix", true},
		{"no separator at all\n", 0, "", false},
		{"", 0, "", false},
	} {
		at, text, ok := parseKmsgRecord(tc.rec)
		if at != tc.at || text != tc.text || ok != tc.ok {
			t.Errorf("parseKmsgRecord(%q) = %v, %q, %v; want %v, %q, %v", tc.rec, at, text, ok, tc.at, tc.text, tc.ok)
		}
	}
}

func FuzzParseKmsgRecord(f *testing.F) {
	f.Add("6,339,2403644,-;Run /init as init process\n")
	f.Add("3,12,5,-;text\n KEY=v\n")
	f.Fuzz(func(t *testing.T, rec string) {
		at, text, ok := parseKmsgRecord(rec)
		if at < 0 {
			t.Fatalf("negative time %v from %q", at, rec)
		}
		if strings.Contains(text, "\n") {
			t.Fatalf("text %q has a newline", text)
		}
		if ok != strings.Contains(rec, ";") {
			t.Fatalf("ok = %v for %q", ok, rec)
		}
	})
}

func TestStepsString(t *testing.T) {
	for _, c := range []struct {
		s    Steps
		want string
	}{
		{nil, ""},
		{Steps{{"resolve", 1500 * time.Microsecond}}, "resolve:1.5"},
		{Steps{{"early", 12345 * time.Microsecond}, {"modules", 0}, {"switch", 2 * time.Second}}, "early:12.3,modules:0.0,switch:2000.0"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%v.String() = %q; want %q", []Step(c.s), got, c.want)
		}
	}
}
