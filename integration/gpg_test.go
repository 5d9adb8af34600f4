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
	if _, err := exec.LookPath("gpg"); err != nil {
		skipf(t, "gpg not installed (apt-get install gnupg)")
	}
	home, err := os.MkdirTemp("", "gostree-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	gpg := func(args ...string) string {
		out, err := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...).Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return string(out)
	}
	gpg("--quick-gen-key", "Import Test <import@example.invalid>", "ed25519", "sign", "0")
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
