package integration_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gostree/gostree/objstore/objtest"
	"golang.org/x/sys/unix"
)

// Environment knobs (style guide §8):
//
//	GOSTREE_TEST_NO_SKIP=1   every skip becomes a failure
//	GOSTREE_TEST_BIN=PATH    test this binary instead of building ./cmd/gostree; PATH=/usr/bin/ostree
//	                         runs the suite against the oracle itself, which checks the tests
//	-short                   small shared tree (no large file), slow tests skipped

const (
	// fixedTimestamp is 2020-01-01T00:00:00Z, the time every test commit claims.
	fixedTimestamp = "@1577836800"
	fixedISO       = "2020-01-01T00:00:00Z"
	gostreePkg     = "github.com/gostree/gostree/cmd/gostree"
	largeFileSize  = 110 << 20
	manyFiles      = 10000
	manyFilesShort = 500
)

var (
	testRoot   string // temp dir holding the binary, the shared tree and cached repos
	gostreeBin string
	gostreeErr error // why gostreeBin is unusable
	noMain     bool  // cmd/gostree has no main package yet: skip rather than fail
	ostreeBin  string
	ostreeErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	testRoot, err = os.MkdirTemp("", "gostree-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := objtest.MakeWritable(testRoot); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
		os.RemoveAll(testRoot)
	}()
	ostreeBin, ostreeErr = exec.LookPath("ostree")
	if b := os.Getenv("GOSTREE_TEST_BIN"); b != "" {
		gostreeBin = b
	} else {
		gostreeBin, gostreeErr = buildGostree(testRoot)
	}
	return m.Run()
}

// buildGostree builds ./cmd/gostree once. A package without Go files yet is reported as noMain,
// so the suite skips while the CLI is being written; any other build failure fails every test.
func buildGostree(dir string) (string, error) {
	bin := filepath.Join(dir, "gostree")
	cmd := exec.Command("go", "build", "-o", bin, gostreePkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("no Go files")) || bytes.Contains(out, []byte("no non-test Go files")) {
			noMain = true
		}
		return "", fmt.Errorf("go build %s: %v\n%s", gostreePkg, err, out)
	}
	return bin, nil
}

// skipf skips, or fails when GOSTREE_TEST_NO_SKIP=1.
func skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("GOSTREE_TEST_NO_SKIP") == "1" {
		t.Fatalf("GOSTREE_TEST_NO_SKIP=1, but: "+format, args...)
	}
	t.Skipf(format, args...)
}

func requireGostree(t testing.TB) {
	t.Helper()
	switch {
	case gostreeErr != nil && noMain:
		skipf(t, "cmd/gostree has no main package yet: %v", gostreeErr)
	case gostreeErr != nil:
		t.Fatalf("gostree binary unusable: %v", gostreeErr)
	}
}

func requireOstree(t testing.TB) {
	t.Helper()
	if ostreeErr != nil {
		skipf(t, "the ostree CLI (the test oracle) is not installed: %v", ostreeErr)
	}
}

// requireRoot skips unless the process can chown to other uids and set trusted.* xattrs,
// which bare repos and ownership checks need.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipf(t, "needs root: bare repos and ownership other than the caller's (euid %d)", os.Geteuid())
	}
}

func requireSlow(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow test, skipped with -short")
	}
}

// result is what one command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("%s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, clip(r.stdout), clip(r.stderr))
}

func clip(s string) string {
	if len(s) > 8000 {
		return s[:4000] + fmt.Sprintf("\n[... %d bytes ...]\n", len(s)-8000) + s[len(s)-4000:]
	}
	return s
}

// runBin runs bin with args and a fixed locale and time zone; it fails t only if bin cannot start.
func runBin(t testing.TB, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: append([]string{filepath.Base(bin)}, args...), stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", bin, err)
	}
	return r
}

// gostreeRun and ostreeRun run a tool and return what happened, whatever the exit code.
func gostreeRun(t testing.TB, args ...string) result {
	t.Helper()
	requireGostree(t)
	return runBin(t, gostreeBin, args...)
}

func ostreeRun(t testing.TB, args ...string) result {
	t.Helper()
	requireOstree(t)
	return runBin(t, ostreeBin, args...)
}

// gostree and ostree run a tool, fail t with both outputs on a non-zero exit, and return stdout.
func gostree(t testing.TB, args ...string) string {
	t.Helper()
	r := gostreeRun(t, args...)
	if r.code != 0 {
		t.Fatalf("gostree failed: %v", r)
	}
	return r.stdout
}

func ostree(t testing.TB, args ...string) string {
	t.Helper()
	r := ostreeRun(t, args...)
	if r.code != 0 {
		t.Fatalf("ostree failed: %v", r)
	}
	return r.stdout
}

// checksumOf returns the single 64-hex checksum a commit command printed.
func checksumOf(t testing.TB, out string) string {
	t.Helper()
	s := strings.TrimSpace(out)
	if len(s) != 64 {
		t.Fatalf("commit printed %q, want one 64-hex checksum", out)
	}
	if _, err := hex.DecodeString(s); err != nil {
		t.Fatalf("commit printed %q: %v", out, err)
	}
	return s
}

// noPanic fails t if a Go panic or runtime crash shows in r.
func noPanic(t testing.TB, r result) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime error", "SIGSEGV"} {
		if strings.Contains(r.stdout, bad) || strings.Contains(r.stderr, bad) {
			t.Errorf("output contains %q:\n%v", bad, r)
		}
	}
}

// sortedLines returns the lines of s sorted, without the empty last one.
func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	sort.Strings(lines)
	return lines
}

// diffText returns a short report of the first differing lines of want and got.
func diffText(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(wl), len(gl)) && n < 20; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  ostree:  %q\n  gostree: %q\n", i+1, w, g)
			n++
		}
	}
	fmt.Fprintf(&b, "(%d vs %d lines)", len(wl), len(gl))
	return b.String()
}

// Shared fixtures, made once per test binary run.

type sharedTree struct {
	dir  string
	info *objtest.TreeInfo
}

var (
	treeOnce sync.Once
	tree     sharedTree
	treeErr  error
)

// theTree returns the one generated tree every test commits: 10,000 small files and a 110 MiB
// sparse file (500 files and no large file with -short), plus everything MakeTree makes.
func theTree(t testing.TB) sharedTree {
	t.Helper()
	treeOnce.Do(func() {
		dir := filepath.Join(testRoot, "tree")
		if treeErr = os.Mkdir(dir, 0o755); treeErr != nil {
			return
		}
		opts := objtest.TreeOptions{ManyFiles: manyFiles, LargeFile: largeFileSize, Seed: 42}
		if testing.Short() {
			opts.ManyFiles, opts.LargeFile = manyFilesShort, 0
		}
		tree.dir = dir
		tree.info, treeErr = objtest.MakeTree(dir, opts)
	})
	if treeErr != nil {
		t.Fatalf("shared tree: %v", treeErr)
	}
	return tree
}

// commitArgs are the metadata flags both tools get for the shared tree.
func commitArgs(branch string) []string {
	return []string{
		"-b", branch,
		"-s", "Test subject",
		"--body=Body text\nsecond line",
		"--timestamp=" + fixedTimestamp,
		"--add-metadata-string=version=1.0",
	}
}

var repoModes = []string{"bare", "bare-user", "bare-user-only", "archive"}

// requireMode skips modes the process cannot write: bare needs root.
func requireMode(t testing.TB, mode string) {
	t.Helper()
	if mode == "bare" {
		requireRoot(t)
	}
}

type cachedRepo struct {
	path   string
	commit string
	err    error
	once   sync.Once
}

var (
	repoCacheMu sync.Mutex
	repoCache   = map[string]*cachedRepo{}
)

// ostreeRepo returns a repo of the given mode made by ostree init + ostree commit of the shared
// tree on branch "main", made once per run. Tests must not modify it.
func ostreeRepo(t testing.TB, mode string) (repo, commit string) {
	t.Helper()
	return cachedCommit(t, "ostree", mode)
}

// gostreeRepo is ostreeRepo with gostree doing init and commit.
func gostreeRepo(t testing.TB, mode string) (repo, commit string) {
	t.Helper()
	return cachedCommit(t, "gostree", mode)
}

func cachedCommit(t testing.TB, tool, mode string) (string, string) {
	t.Helper()
	if tool == "gostree" {
		requireGostree(t)
	} else {
		requireOstree(t)
	}
	requireMode(t, mode)
	tr := theTree(t)
	repoCacheMu.Lock()
	c := repoCache[tool+"/"+mode]
	if c == nil {
		c = &cachedRepo{}
		repoCache[tool+"/"+mode] = c
	}
	repoCacheMu.Unlock()
	c.once.Do(func() {
		c.path = filepath.Join(testRoot, "repo-"+tool+"-"+mode)
		bin := ostreeBin
		if tool == "gostree" {
			bin = gostreeBin
		}
		if r := runBin(t, bin, "init", "--repo="+c.path, "--mode="+mode); r.code != 0 {
			c.err = fmt.Errorf("%v", r)
			return
		}
		r := runBin(t, bin, append(append([]string{"commit", "--repo=" + c.path}, commitArgs("main")...), tr.dir)...)
		if r.code != 0 {
			c.err = fmt.Errorf("%v", r)
			return
		}
		c.commit = strings.TrimSpace(r.stdout)
	})
	if c.err != nil {
		t.Fatalf("%s repo in mode %s: %v", tool, mode, c.err)
	}
	return c.path, c.commit
}

// newRepo makes an empty repo with tool's init.
func newRepo(t testing.TB, tool, mode string) string {
	t.Helper()
	requireMode(t, mode)
	repo := filepath.Join(t.TempDir(), "repo")
	if tool == "gostree" {
		gostree(t, "init", "--repo="+repo, "--mode="+mode)
	} else {
		ostree(t, "init", "--repo="+repo, "--mode="+mode)
	}
	return repo
}

// tempDir is t.TempDir that a non-root process can also clean up when it holds 0555 dirs.
func tempDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	t.Cleanup(func() {
		if err := objtest.MakeWritable(d); err != nil {
			t.Logf("MakeWritable(%s): %v", d, err)
		}
	})
	return d
}

// Object surgery, for corruption and hostile-repo tests. Metadata objects are stored the same
// way in every mode: the file is the normal-form GVariant.

func objectPath(repo, sum, typ string) string {
	return filepath.Join(repo, "objects", sum[:2], sum[2:]+"."+typ)
}

// fileObjectPath returns the path of a content object: .filez in archive repos.
func fileObjectPath(t testing.TB, repo, sum string) string {
	t.Helper()
	for _, ext := range []string{"file", "filez"} {
		p := objectPath(repo, sum, ext)
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	t.Fatalf("no content object %s in %s", sum, repo)
	return ""
}

// writeObject stores data as a metadata object named by its SHA-256 and returns that checksum.
func writeObject(t testing.TB, repo, typ string, data []byte) string {
	t.Helper()
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	p := objectPath(repo, sum, typ)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return sum
}

func readObject(t testing.TB, repo, sum, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(objectPath(repo, sum, typ))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rawSum(t testing.TB, sum string) []byte {
	t.Helper()
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad checksum %q", sum)
	}
	return b
}

// lsChecksums asks ostree for the checksums of path in rev: a file's content checksum, or a
// directory's dirtree and dirmeta checksums.
func lsChecksums(t testing.TB, repo, rev, path string) (content, dirtree, dirmeta string) {
	t.Helper()
	out := ostree(t, "ls", "--repo="+repo, "-C", "-d", rev, path)
	f := strings.Fields(strings.TrimSuffix(out, "\n"))
	// file:  MODE UID GID SIZE CHECKSUM PATH [-> TARGET]
	// dir:   MODE UID GID SIZE DIRTREE DIRMETA PATH
	if len(f) < 6 {
		t.Fatalf("ostree ls -C -d %s %s = %q", rev, path, out)
	}
	if strings.HasPrefix(f[0], "d") {
		return "", f[4], f[5]
	}
	return f[4], "", ""
}

// rewriteTree replaces the dirtree of dir (an absolute path inside rev, "/" for the root) by
// mutate(old bytes), re-hashes every ancestor dirtree and the commit, writes the new objects,
// points refs/heads/branch at the new commit and returns it. The commit's other fields are kept.
func rewriteTree(t testing.TB, repo, rev, dir, branch string, mutate func([]byte) []byte) string {
	t.Helper()
	commit := strings.TrimSpace(ostree(t, "rev-parse", "--repo="+repo, rev))
	chain := []string{"/"}
	if dir != "/" {
		parts := strings.Split(strings.Trim(dir, "/"), "/")
		for i := range parts {
			chain = append(chain, "/"+strings.Join(parts[:i+1], "/"))
		}
	}
	sums := make([]string, len(chain))
	for i, p := range chain {
		_, sums[i], _ = lsChecksums(t, repo, commit, p)
	}
	newSum := writeObject(t, repo, "dirtree", mutate(readObject(t, repo, sums[len(sums)-1], "dirtree")))
	for i := len(chain) - 2; i >= 0; i-- {
		data := readObject(t, repo, sums[i], "dirtree")
		if !bytes.Contains(data, rawSum(t, sums[i+1])) {
			t.Fatalf("dirtree of %s does not reference %s", chain[i], sums[i+1])
		}
		data = bytes.ReplaceAll(data, rawSum(t, sums[i+1]), rawSum(t, newSum))
		newSum = writeObject(t, repo, "dirtree", data)
	}
	data := readObject(t, repo, commit, "commit")
	if bytes.Count(data, rawSum(t, sums[0])) != 1 {
		t.Fatalf("commit %s does not reference root dirtree %s exactly once", commit, sums[0])
	}
	newCommit := writeObject(t, repo, "commit", bytes.Replace(data, rawSum(t, sums[0]), rawSum(t, newSum), 1))
	writeRef(t, repo, branch, newCommit)
	return newCommit
}

func writeRef(t testing.TB, repo, branch, sum string) {
	t.Helper()
	p := filepath.Join(repo, "refs", "heads", filepath.FromSlash(branch))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(sum+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every path under dir (except those under skip) with its type, mode, size and
// content hash, for "nothing outside DEST changed" checks.
func snapshot(t testing.TB, dir string, skip string) []string {
	t.Helper()
	entries, err := objtest.ScanTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Path == skip || strings.HasPrefix(e.Path, skip+"/") {
			continue
		}
		out = append(out, fmt.Sprintf("%s %o %d %x %s", e.Path, e.Mode, e.Size, e.Sum[:4], e.Target))
	}
	return out
}

func equalLines(a, b []string) bool { return slices.Equal(a, b) }

func getXattrs(t testing.TB, p string) map[string][]byte {
	t.Helper()
	sz, err := unix.Llistxattr(p, nil)
	if err != nil {
		t.Fatalf("llistxattr %s: %v", p, err)
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(p, buf); err != nil {
		t.Fatalf("llistxattr %s: %v", p, err)
	}
	out := map[string][]byte{}
	for _, n := range strings.Split(string(buf[:sz]), "\x00") {
		if n == "" {
			continue
		}
		vsz, err := unix.Lgetxattr(p, n, nil)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", p, n, err)
		}
		v := make([]byte, vsz)
		if vsz > 0 {
			if vsz, err = unix.Lgetxattr(p, n, v); err != nil {
				t.Fatalf("lgetxattr %s %s: %v", p, n, err)
			}
		}
		out[n] = v[:vsz]
	}
	return out
}

func setXattrs(t testing.TB, p string, x map[string][]byte) {
	t.Helper()
	for n, v := range x {
		if err := unix.Lsetxattr(p, n, v, 0); err != nil {
			t.Fatalf("lsetxattr %s %s: %v", p, n, err)
		}
	}
}

// copyRepo makes two copies of the repository base, one for each tool to
// change: ostree's and gostree's.
func copyRepo(t *testing.T, base string) (orepo, grepo string) {
	t.Helper()
	orepo, grepo = filepath.Join(t.TempDir(), "o"), filepath.Join(t.TempDir(), "g")
	for _, dst := range []string{orepo, grepo} {
		if out, err := exec.Command("cp", "-a", base, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
	}
	return orepo, grepo
}
