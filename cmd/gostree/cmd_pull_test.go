package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// cli runs gostree in-process and returns stdout, stderr and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// mustCLI runs gostree and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("gostree %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// syncBuffer is a goroutine-safe writer for a server's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveRepo runs `gostree serve --port=0 REPO` until the test ends and
// returns its URL.
func serveRepo(t *testing.T, repo string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--port=0", repo}, out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	})
	re := regexp.MustCompile(`on (http://\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return strings.TrimSuffix(m[1], "/")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("serve printed no address: %q", out.String())
	return ""
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCLIRemote(t *testing.T) {
	repo := "--repo=" + filepath.Join(t.TempDir(), "repo")
	mustCLI(t, repo, "init", "--mode=archive")
	mustCLI(t, repo, "remote", "add", "--no-gpg-verify", "--set=foo=bar", "origin", "http://127.0.0.1:9/", "main", "stable")
	mustCLI(t, repo, "remote", "add", "long-name", "file:///srv/repo")
	if out := mustCLI(t, repo, "remote", "list"); out != "long-name\norigin\n" {
		t.Errorf("remote list = %q", out)
	}
	if out := mustCLI(t, repo, "remote", "list", "-u"); out != "long-name  file:///srv/repo\norigin     http://127.0.0.1:9/\n" {
		t.Errorf("remote list -u = %q", out)
	}
	if out := mustCLI(t, repo, "remote", "show-url", "origin"); out != "http://127.0.0.1:9/\n" {
		t.Errorf("remote show-url = %q", out)
	}
	if _, errs, code := cli(t, repo, "remote", "add", "origin", "http://x/"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate add: exit %d, %q", code, errs)
	}
	if _, _, code := cli(t, repo, "remote", "add", "onlyname"); code != 2 {
		t.Errorf("remote add without URL: exit %d, want 2", code)
	}
	mustCLI(t, repo, "remote", "delete", "origin")
	if _, errs, code := cli(t, repo, "remote", "delete", "origin"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("second delete: exit %d, %q", code, errs)
	}
	mustCLI(t, repo, "remote", "delete", "--if-exists", "origin")
	if _, errs, code := cli(t, repo, "remote", "refs", "long-name"); code != 1 || errs == "" {
		t.Errorf("remote refs of a missing file:// repo: exit %d, %q", code, errs)
	}
}

// TestCLIPullFromServe commits, writes the summary, serves the repository
// with `gostree serve`, and pulls it with `gostree pull` (and ostree pull
// when installed).
func TestCLIPullFromServe(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mustCLI(t, "--repo="+src, "init", "--mode=archive")
	tree := writeTree(t, map[string]string{"etc/os-release": "ID=test\n", "usr/bin/x": strings.Repeat("x", 100000)})
	mustCLI(t, "--repo="+src, "commit", "-b", "main", "--tree=dir="+tree, "-s", "first", "--timestamp=2020-01-01T00:00:00Z")
	commit := strings.TrimSpace(mustCLI(t, "--repo="+src, "rev-parse", "main"))
	mustCLI(t, "--repo="+src, "summary", "-u", "-m", "custom='hello'", "-m", "n=uint64 5")
	view := mustCLI(t, "--repo="+src, "summary", "--view")
	for _, want := range []string{"* main\n", "      " + commit + "\n", "Repository Mode (ostree.summary.mode): archive-z2\n", "custom: 'hello'\n", "n: 5\n"} {
		if !strings.Contains(view, want) {
			t.Errorf("summary --view lacks %q:\n%s", want, view)
		}
	}
	if raw := mustCLI(t, "--repo="+src, "summary", "--raw"); !strings.HasPrefix(raw, "([('main', (uint64 ") {
		t.Errorf("summary --raw = %q", raw)
	}
	url := serveRepo(t, src)

	dst := "--repo=" + filepath.Join(dir, "dst")
	mustCLI(t, dst, "init", "--mode=bare-user")
	mustCLI(t, dst, "remote", "add", "--no-gpg-verify", "origin", url)
	if out := mustCLI(t, dst, "remote", "refs", "origin"); out != "origin:main\n" {
		t.Errorf("remote refs = %q", out)
	}
	if out := mustCLI(t, dst, "remote", "summary", "origin"); !strings.Contains(out, commit) {
		t.Errorf("remote summary:\n%s", out)
	}
	out := mustCLI(t, dst, "pull", "--dry-run", "origin", "main")
	if !strings.Contains(out, "Dry run: 2 content objects to fetch") {
		t.Errorf("pull --dry-run printed %q", out)
	}
	out = mustCLI(t, dst, "pull", "origin", "main")
	if !regexp.MustCompile(`\d+ metadata, 2 content objects fetched; .* transferred in \d+ seconds; .* content written`).MatchString(out) {
		t.Errorf("pull printed %q", out)
	}
	if got := strings.TrimSpace(mustCLI(t, dst, "rev-parse", "origin:main")); got != commit {
		t.Errorf("origin:main = %s, want %s", got, commit)
	}
	mustCLI(t, dst, "fsck")
	if out := mustCLI(t, dst, "pull", "-q", "origin:main"); out != "" {
		t.Errorf("pull -q printed %q", out)
	}
	if _, errs, code := cli(t, dst, "pull", "origin", "nosuch"); code != 1 || !strings.Contains(errs, "nosuch") {
		t.Errorf("pull of a missing ref: exit %d, %q", code, errs)
	}
	if _, _, code := cli(t, dst, "pull"); code != 2 {
		t.Errorf("pull without a remote: exit %d, want 2", code)
	}

	// pull-local of the pulled repository into a third.
	third := "--repo=" + filepath.Join(dir, "third")
	mustCLI(t, third, "init", "--mode=archive")
	out = mustCLI(t, third, "pull-local", "--remote=copy", src, "main")
	if !strings.Contains(out, "2 content objects imported") {
		t.Errorf("pull-local printed %q", out)
	}
	if got := strings.TrimSpace(mustCLI(t, third, "rev-parse", "copy:main")); got != commit {
		t.Errorf("pull-local --remote=copy: copy:main = %s, want %s", got, commit)
	}
	if _, errs, code := cli(t, third, "pull-local", src, "nosuch"); code != 1 || errs == "" {
		t.Errorf("pull-local of a missing ref: exit %d", code)
	}
	mustCLI(t, third, "pull-local", src)
	if got := strings.TrimSpace(mustCLI(t, third, "rev-parse", "main")); got != commit {
		t.Errorf("pull-local: main = %s, want %s", got, commit)
	}
	mustCLI(t, third, "fsck")

	if _, err := exec.LookPath("ostree"); err != nil {
		t.Log("ostree not installed: skipping ostree pull from gostree serve")
		return
	}
	ostreeRepo := filepath.Join(dir, "ostree")
	for _, args := range [][]string{
		{"init", "--mode=bare-user"},
		{"remote", "add", "--no-gpg-verify", "origin", url},
		{"pull", "origin", "main"},
		{"fsck"},
	} {
		if out, err := exec.Command("ostree", append([]string{"--repo=" + ostreeRepo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
	}
	got, _ := exec.Command("ostree", "--repo="+ostreeRepo, "rev-parse", "origin:main").Output()
	if strings.TrimSpace(string(got)) != commit {
		t.Errorf("ostree pulled %q, want %s", got, commit)
	}
}

func TestParseVariantText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"'text'", "<'text'>"},
		{`"it's"`, `<"it's">`},
		{"true", "<true>"},
		{"5", "<5>"},
		{"uint64 5", "<uint64 5>"},
		{"int64 -3", "<int64 -3>"},
		{"byte 7", "<byte 0x07>"},
	} {
		v, err := parseVariantText(tc.in)
		if err != nil {
			t.Errorf("parseVariantText(%q): %v", tc.in, err)
			continue
		}
		if got := v.String(); got != tc.want {
			t.Errorf("parseVariantText(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"bare", "uint8 300", "uint64 x"} {
		if _, err := parseVariantText(bad); err == nil {
			t.Errorf("parseVariantText(%q) succeeded", bad)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{{0, "0 bytes"}, {1, "1 byte"}, {158, "158 bytes"}, {1000, "1.0\u00a0kB"}, {1500000, "1.5\u00a0MB"}, {999950, "1000.0\u00a0kB"}, {1234567890123, "1.2\u00a0TB"}} {
		if got := formatSize(tc.n); got != tc.want {
			t.Errorf("formatSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
