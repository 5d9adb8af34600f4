package pull_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/gpgverify"
	"github.com/gostree/gostree/objstore/objtest"
	"github.com/gostree/gostree/objstore/pull"
)

// gpgKey is a signing key in its own GnuPG home.
type gpgKey struct {
	home, fpr string
	public    []byte // binary, as gpg --export writes it
}

// newGPGKey makes an unprotected signing key with the gpg tool (kind:
// ed25519 or rsa2048), or skips the test without gpg.
func newGPGKey(t *testing.T, kind, name string) *gpgKey {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		skipOrFail(t, "gpg not installed (apt-get install gnupg): %v", err)
	}
	home, err := os.MkdirTemp("", "gostree-gpg-") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	gpg := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	gpg("--quick-gen-key", name+" <"+strings.ToLower(strings.ReplaceAll(name, " ", "."))+"@example.invalid>", kind, "sign", "0")
	var fpr string
	for _, l := range strings.Split(string(gpg("--list-keys", "--with-colons")), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			fpr = strings.Split(l, ":")[9]
			break
		}
	}
	return &gpgKey{home: home, fpr: fpr, public: gpg("--export", fpr)}
}

// sign returns a binary detached signature of data.
func (k *gpgKey) sign(t *testing.T, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("gpg", "--homedir", k.home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--local-user", k.fpr, "--detach-sign", "-o", "-")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	sig, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg --detach-sign: %v\n%s", err, stderr.String())
	}
	return sig
}

// gpgSignCommit adds a signature to the commit's ostree.gpgsigs, as ostree
// gpg-sign does.
func gpgSignCommit(t *testing.T, r *objstore.Repo, commit objstore.ID, k *gpgKey) {
	t.Helper()
	addCommitSignature(t, r, commit, gpgverify.SignaturesKey, func(data []byte) []byte { return k.sign(t, data) })
}

func gpgSignSummary(t *testing.T, r *objstore.Repo, k *gpgKey) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Path(), "summary"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := objstore.EncodeMetadata(objstore.Metadata{{Key: gpgverify.SignaturesKey, Value: gvariant.NewVariant("aay", []any{k.sign(t, data)})}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Path(), "summary.sig"), sig, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPullGPG(t *testing.T) {
	key := newGPGKey(t, "ed25519", "Trusted Signer")
	other := newGPGKey(t, "rsa2048", "Someone Else")
	src, commit := sourceRepo(t, 3)
	unsigned := commitTree(t, src, smallTree(t, 1), "unsigned")
	gpgSignCommit(t, src, commit, other) // a signature by an untrusted key first
	gpgSignCommit(t, src, commit, key)
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	gpgSignSummary(t, src, key)
	srv := newServer(t, src.Path())

	dir := t.TempDir()
	writeKeyring := func(name string, keys ...*gpgKey) string {
		p := filepath.Join(dir, name)
		for _, k := range keys {
			if _, err := gpgverify.Import(p, bytes.NewReader(k.public), nil); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	trusted := writeKeyring("trusted.gpg", key)
	// A third key, which signed nothing here.
	untrusted := writeKeyring("stranger.gpg", newGPGKey(t, "ed25519", "Stranger"))
	globalDir := filepath.Join(dir, "trusted.gpg.d")
	os.MkdirAll(globalDir, 0o755)
	os.WriteFile(filepath.Join(globalDir, "vendor.gpg"), key.public, 0o644)

	cases := []struct {
		name     string
		settings []objstore.RemoteSetting
		keyring  string // copied to REPO/origin.trustedkeys.gpg
		global   []string
		ref      string
		want     string // "" = success, else in the error
	}{
		{"remote keyring", nil, trusted, nil, "main", ""},
		{"gpg-keypath", []objstore.RemoteSetting{{Key: "gpg-keypath", Value: trusted}}, "", nil, "main", ""},
		{"global keyring dir", nil, "", []string{globalDir}, "main", ""},
		{"signed summary", []objstore.RemoteSetting{{Key: "gpg-verify-summary", Value: "true"}}, trusted, nil, "main", ""},
		{"keyring of a key that did not sign", nil, untrusted, nil, "main", "no valid GPG signature"},
		{"unsigned commit", nil, trusted, nil, "unsigned", "no GPG signatures"},
		{"no keys", nil, "", nil, "main", "has no GPG keys"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := objtest.NewRepo(t, objstore.ModeArchive)
			if err := dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{Settings: tc.settings}); err != nil {
				t.Fatal(err)
			}
			if tc.keyring != "" {
				data, _ := os.ReadFile(tc.keyring)
				os.WriteFile(filepath.Join(dst.Path(), "origin.trustedkeys.gpg"), data, 0o644)
			}
			opts := &pull.Options{GPGKeyringDirs: tc.global}
			if opts.GPGKeyringDirs == nil {
				opts.GPGKeyringDirs = []string{}
			}
			checkVerifiedPull(t, src, dst, tc.ref, opts, tc.want, commit, unsigned)
		})
	}

	// A summary signed by the untrusted key, or a tampered signature, is
	// refused.
	gpgSignSummary(t, src, other)
	dst := objtest.NewRepo(t, objstore.ModeArchive)
	dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{Settings: []objstore.RemoteSetting{{Key: "gpg-verify-summary", Value: "true"}}})
	data, _ := os.ReadFile(trusted)
	os.WriteFile(filepath.Join(dst.Path(), "origin.trustedkeys.gpg"), data, 0o644)
	opts := &pull.Options{GPGKeyringDirs: []string{}}
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, opts); !errors.Is(err, pull.ErrSignature) {
		t.Errorf("summary signed by another key: error = %v, want ErrSignature", err)
	}
	if _, _, err := pull.FetchSummary(t.Context(), dst, "origin", opts); !errors.Is(err, pull.ErrSignature) {
		t.Errorf("FetchSummary: error = %v, want ErrSignature", err)
	}
}

// A signature over other bytes, or a corrupted one, does not verify.
func TestGPGVerifyTampered(t *testing.T) {
	key := newGPGKey(t, "ed25519", "Trusted Signer")
	p := filepath.Join(t.TempDir(), "k.gpg")
	if n, err := gpgverify.Import(p, bytes.NewReader(key.public), nil); err != nil || n != 1 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if n, err := gpgverify.Import(p, bytes.NewReader(key.public), nil); err != nil || n != 0 {
		t.Errorf("re-Import = %d, %v; want 0 new keys", n, err)
	}
	if _, err := gpgverify.Import(p, bytes.NewReader(key.public), []string{"0123456789ABCDEF"}); err == nil {
		t.Error("importing a key ID not in the keys succeeded")
	}
	k, err := gpgverify.LoadKeyring(p)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("the commit object")
	sig := key.sign(t, data)
	if fp, err := k.Verify(data, [][]byte{sig}, timeNow()); err != nil || fp != key.fpr {
		t.Fatalf("Verify = %s, %v; want %s", fp, err, key.fpr)
	}
	if _, err := k.Verify([]byte("another object"), [][]byte{sig}, timeNow()); !errors.Is(err, gpgverify.ErrUntrusted) {
		t.Errorf("signature of other data: %v", err)
	}
	bad := bytes.Clone(sig)
	bad[len(bad)-5] ^= 0x40
	if _, err := k.Verify(data, [][]byte{bad}, timeNow()); err == nil {
		t.Error("a corrupted signature verified")
	}
	if _, err := k.Verify(data, [][]byte{[]byte("garbage")}, timeNow()); err == nil {
		t.Error("garbage verified")
	}
	if _, err := k.Verify(data, nil, timeNow()); !errors.Is(err, gpgverify.ErrNoSignature) {
		t.Errorf("no signatures: %v", err)
	}
	// An armored keyring reads too.
	cmd := exec.Command("gpg", "--homedir", key.home, "--export", "--armor", key.fpr)
	armored, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	ap := filepath.Join(t.TempDir(), "k.asc")
	os.WriteFile(ap, armored, 0o644)
	if ka, err := gpgverify.LoadKeyring(ap); err != nil || ka.Len() != 1 {
		t.Fatalf("armored keyring: %v", err)
	} else if _, err := ka.Verify(data, [][]byte{sig}, timeNow()); err != nil {
		t.Errorf("armored keyring: %v", err)
	}
}

func timeNow() time.Time { return time.Now() }

// TestPullGPGInterop: commits and summaries signed by ostree (gpgme) verify
// in gostree's pull, and ostree pulls with a keyring gostree wrote.
func TestPullGPGInterop(t *testing.T) {
	requireOstree(t)
	key := newGPGKey(t, "rsa2048", "Ostree Signer")
	src := filepath.Join(t.TempDir(), "src")
	run(t, "ostree", "--repo="+src, "init", "--mode=archive")
	tree := smallTree(t, 2)
	commit := strings.TrimSpace(run(t, "ostree", "--repo="+src, "commit", "-b", "main", "--tree=dir="+tree))
	run(t, "ostree", "--repo="+src, "gpg-sign", "--gpg-homedir="+key.home, commit, key.fpr)
	bad := strings.TrimSpace(run(t, "ostree", "--repo="+src, "commit", "-b", "unsigned", "--tree=dir="+smallTree(t, 1)))
	run(t, "ostree", "--repo="+src, "summary", "-u", "--gpg-sign="+key.fpr, "--gpg-homedir="+key.home)
	srv := newServer(t, src)

	dst := objtest.NewRepo(t, objstore.ModeBareUser)
	if err := dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{Settings: []objstore.RemoteSetting{{Key: "gpg-verify-summary", Value: "true"}}}); err != nil {
		t.Fatal(err)
	}
	keyring := filepath.Join(dst.Path(), "origin.trustedkeys.gpg")
	if _, err := gpgverify.Import(keyring, bytes.NewReader(key.public), []string{key.fpr}); err != nil {
		t.Fatal(err)
	}
	opts := &pull.Options{GPGKeyringDirs: []string{}}
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, opts); err != nil {
		t.Fatalf("pull of an ostree-signed commit: %v", err)
	}
	if got, err := dst.ResolveRef("origin:main"); err != nil || got.String() != commit {
		t.Errorf("origin:main = %s, %v; want %s", got, err, commit)
	}
	if _, err := pull.Pull(t.Context(), dst, "origin", []string{"unsigned"}, opts); !errors.Is(err, pull.ErrSignature) {
		t.Errorf("pull of an unsigned commit: %v", err)
	}
	if id, err := objstore.ParseID(bad); err == nil {
		if ok, _ := dst.HasObject(id, objstore.TypeCommit); ok {
			t.Error("the unsigned commit was stored")
		}
	}

	// ostree reads the keyring gostree wrote.
	odst := filepath.Join(t.TempDir(), "ostree-dst")
	run(t, "ostree", "--repo="+odst, "init", "--mode=archive")
	run(t, "ostree", "--repo="+odst, "remote", "add", "--set=gpg-verify-summary=true", "origin", srv.URL)
	data, _ := os.ReadFile(keyring)
	os.WriteFile(filepath.Join(odst, "origin.trustedkeys.gpg"), data, 0o644)
	run(t, "ostree", "--repo="+odst, "pull", "origin", "main")
	if out, err := exec.Command("ostree", "--repo="+odst, "pull", "origin", "unsigned").CombinedOutput(); err == nil {
		t.Errorf("ostree pulled the unsigned commit: %s", out)
	}
}
