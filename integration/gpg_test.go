package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoteGPGImportMatchesOstree: remote add --gpg-import and remote
// gpg-import print what ostree prints, and each tool's keyring holds the
// key for the other (ostree lists it through gpgme).
func TestRemoteGPGImportMatchesOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	_, gpg := newGPGHome(t, "Import Test <import@example.invalid>", "ed25519")
	dir := t.TempDir()
	asc, bin := filepath.Join(dir, "pub.asc"), filepath.Join(dir, "pub.gpg")
	os.WriteFile(asc, []byte(gpg("--export", "--armor")), 0o644)
	os.WriteFile(bin, []byte(gpg("--export")), 0o644)

	orepo, grepo := newRepo(t, "ostree", "archive"), newRepo(t, "gostree", "archive")
	for _, step := range [][]string{
		{"remote", "add", "--gpg-import=" + asc, "origin", "http://127.0.0.1:1/repo"},
		{"remote", "gpg-import", "origin", "--keyring=" + bin},
		{"remote", "gpg-import", "nosuch", "--keyring=" + bin},
	} {
		o := ostreeRun(t, append(step, "--repo="+orepo)...)
		g := gostreeRun(t, append(step, "--repo="+grepo)...)
		if (o.code == 0) != (g.code == 0) || o.stdout != g.stdout {
			t.Errorf("%s:\nostree %v\ngostree %v", strings.Join(step, " "), o, g)
		}
	}
	// gostree's keyring, given to ostree's repository, lists the key.
	data, err := os.ReadFile(filepath.Join(grepo, "origin.trustedkeys.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(orepo, "origin.trustedkeys.gpg"), data, 0o644)
	if out := ostree(t, "remote", "gpg-list-keys", "--repo="+orepo, "origin"); !strings.Contains(out, "Import Test") {
		t.Errorf("ostree remote gpg-list-keys with gostree's keyring:\n%s", out)
	}
}

// TestGPGSignVerifiedByOstree: commits and summaries gostree signs (commit
// --gpg-sign, gpg-sign, summary -u --gpg-sign) pass ostree's GPG checks
// (pull-local --gpg-verify --gpg-verify-summary), and gpg-sign --delete
// takes the signature away.
func TestGPGSignVerifiedByOstree(t *testing.T) {
	requireGostree(t)
	requireOstree(t)
	home, gpg := newGPGHome(t, "Gostree Signer <signer@example.invalid>", "rsa2048")
	var fpr string
	for _, l := range strings.Split(gpg("--list-keys", "--with-colons"), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			fpr = strings.Split(l, ":")[9]
			break
		}
	}
	pub := filepath.Join(t.TempDir(), "pub.asc")
	os.WriteFile(pub, []byte(gpg("--export", "--armor")), 0o644)

	src := newRepo(t, "gostree", "archive")
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "f"), []byte("signed\n"), 0o644)
	commit := checksumOf(t, gostree(t, "commit", "--repo="+src, "-b", "main", "--gpg-sign="+fpr, "--gpg-homedir="+home, "--timestamp="+fixedTimestamp, tree))
	unsigned := checksumOf(t, gostree(t, "commit", "--repo="+src, "-b", "unsigned", "--timestamp="+fixedTimestamp, t.TempDir()))
	gostree(t, "summary", "--repo="+src, "-u", "--gpg-sign="+fpr, "--gpg-homedir="+home)

	// Both tools' pull-local --gpg-verify agree on every state.
	verify := func(ref string) result {
		dst := newRepo(t, "ostree", "archive")
		ostree(t, "remote", "add", "--repo="+dst, "--gpg-import="+pub, "origin", "http://127.0.0.1:1/unused")
		o := ostreeRun(t, "pull-local", "--repo="+dst, "--gpg-verify", "--gpg-verify-summary", "--remote=origin", src, ref)
		gdst := newRepo(t, "gostree", "archive")
		gostree(t, "remote", "add", "--repo="+gdst, "--gpg-import="+pub, "origin", "http://127.0.0.1:1/unused")
		g := gostreeRun(t, "pull-local", "--repo="+gdst, "--gpg-verify", "--gpg-verify-summary", "--remote=origin", src, ref)
		if (o.code == 0) != (g.code == 0) {
			t.Errorf("pull-local --gpg-verify %s: ostree exit %d, gostree exit %d (%s)", ref, o.code, g.code, strings.TrimSpace(g.stderr))
		}
		return o
	}
	if r := verify("main"); r.code != 0 {
		t.Fatalf("ostree refuses gostree's signed commit: %v", r)
	}
	if r := verify("unsigned"); r.code == 0 {
		t.Errorf("ostree accepted the unsigned commit %s", unsigned)
	}
	if out := gostree(t, "gpg-sign", "--repo="+src, "--delete", commit, fpr[len(fpr)-16:]); out != "Signatures deleted: 1\n" {
		t.Errorf("gpg-sign --delete printed %q", out)
	}
	if r := verify("main"); r.code == 0 {
		t.Error("ostree accepted the commit after its signature was deleted")
	}
	gostree(t, "gpg-sign", "--repo="+src, "--gpg-homedir="+home, commit, fpr)
	if r := verify("main"); r.code != 0 {
		t.Errorf("ostree refuses the re-signed commit: %v", r)
	}
}

// newGPGHome makes a GnuPG home holding one unprotected signing key and
// returns it with a runner of gpg on it, or skips without gpg.
func newGPGHome(t *testing.T, uid, algo string) (string, func(args ...string) string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		skipf(t, "gpg not installed (apt-get install gnupg)")
	}
	home, err := os.MkdirTemp("", "gostree-gpg-") // short: the agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	gpg := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...).Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return string(out)
	}
	gpg("--quick-gen-key", uid, algo, "sign", "0")
	return home, gpg
}
