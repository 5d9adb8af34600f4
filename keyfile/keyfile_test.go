package keyfile

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []string{
		"[core]\nrepo_version=1\nmode=bare-user\n",
		"# head comment\n[core]\nrepo_version=1\n\n[remote \"origin\"]\nurl=http://127.0.0.1:8080/repo\ngpg-verify=false\n",
		"[a]\n# inner\nk=v\n",
	}
	for _, in := range tests {
		f, err := ParseBytes([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := string(f.Bytes()); got != in {
			t.Errorf("round trip of %q = %q", in, got)
		}
	}
}

func TestValues(t *testing.T) {
	f, err := ParseBytes([]byte("[g]\ns=\\sa\\nb\\\\c\nb=true\nn=42\nl=x;y\\;z;w;\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Value("g", "s"); got != " a\nb\\c" {
		t.Errorf("Value(s) = %q", got)
	}
	if b, err := f.Bool("g", "b", false); err != nil || !b {
		t.Errorf("Bool(b) = %v, %v", b, err)
	}
	if n, err := f.Int("g", "n", 0); err != nil || n != 42 {
		t.Errorf("Int(n) = %v, %v", n, err)
	}
	if l := f.List("g", "l"); len(l) != 3 || l[0] != "x" || l[1] != "y;z" || l[2] != "w" {
		t.Errorf("List(l) = %q", l)
	}
	if _, err := f.Bool("g", "n", false); err == nil {
		t.Errorf("Bool(n) accepted 42")
	}
}

func TestSetAndDelete(t *testing.T) {
	f := New()
	f.Set("core", "repo_version", "1")
	f.Set("core", "mode", "archive-z2")
	f.Set(`remote "o"`, "url", "http://x")
	f.Set("core", "mode", "bare")
	want := "[core]\nrepo_version=1\nmode=bare\n\n[remote \"o\"]\nurl=http://x\n"
	if got := string(f.Bytes()); got != want {
		t.Errorf("Bytes() = %q, want %q", got, want)
	}
	if !f.DeleteGroup(`remote "o"`) || f.HasGroup(`remote "o"`) {
		t.Errorf("DeleteGroup failed")
	}
	if !f.DeleteKey("core", "mode") || f.DeleteKey("core", "mode") {
		t.Errorf("DeleteKey failed")
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"k=v\n", "[g\nk=v\n", "[g]\nnovalue\n", "[g]\n=v\n"} {
		if _, err := ParseBytes([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("[core]\nrepo_version=1\nmode=bare\n"))
	f.Add([]byte("# c\n[a b]\nx=\\s\\n;\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseBytes(data)
		if err != nil {
			return
		}
		out := kf.Bytes()
		kf2, err := ParseBytes(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !bytes.Equal(kf2.Bytes(), out) {
			t.Fatalf("not stable: %q vs %q", out, kf2.Bytes())
		}
	})
}

// Set escapes as g_key_file_set_string does (checked with ostree config
// set): the leading run of spaces and tabs, newlines, carriage returns and
// backslashes; Value reads every one back.
func TestSetEscapes(t *testing.T) {
	for _, c := range []struct{ in, raw string }{
		{"plain", "plain"},
		{" lead", `\slead`},
		{"  \t two spaces and a tab", `\s\s\t\stwo spaces and a tab`},
		{"inner\ttab and  spaces ", "inner\ttab and  spaces "},
		{"\tleading tab", `\tleading tab`},
		{"multi\nline\r", `multi\nline\r`},
		{`back\slash`, `back\\slash`},
	} {
		f := New()
		f.Set("g", "k", c.in)
		want := "[g]\nk=" + c.raw + "\n"
		if got := string(f.Bytes()); got != want {
			t.Errorf("Set(%q) wrote %q; want %q", c.in, got, want)
		}
		back, err := ParseBytes(f.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := back.Value("g", "k"); v != c.in {
			t.Errorf("Set(%q) then Value = %q", c.in, v)
		}
	}
}
