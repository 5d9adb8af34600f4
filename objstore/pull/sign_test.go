package pull_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/gvariant"
	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/objtest"
	"github.com/gostree/gostree/objstore/pull"
)

// signCommit adds an Ed25519 signature of the commit to its detached
// metadata, as `ostree sign` does.
func signCommit(t *testing.T, r *objstore.Repo, commit objstore.ID, key ed25519.PrivateKey) {
	t.Helper()
	addCommitSignature(t, r, commit, "ostree.sign.ed25519", func(data []byte) []byte { return ed25519.Sign(key, data) })
}

// addCommitSignature appends sign(commit object) to the "aay" entry mdKey
// of the commit's detached metadata.
func addCommitSignature(t *testing.T, r *objstore.Repo, commit objstore.ID, mdKey string, sign func([]byte) []byte) {
	t.Helper()
	data, err := r.ReadMetaObject(t.Context(), commit, objstore.TypeCommit)
	if err != nil {
		t.Fatal(err)
	}
	md, err := r.LoadCommitMeta(t.Context(), commit)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []any
	if v, ok := md.Lookup(mdKey); ok {
		sigs = v.Value.([]any)
	}
	md.Set(mdKey, gvariant.NewVariant("aay", append(sigs, sign(data))))
	tx, err := r.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.WriteCommitMeta(t.Context(), commit, md); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// signSummary writes summary.sig for the current summary.
func signSummary(t *testing.T, r *objstore.Repo, key ed25519.PrivateKey) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Path(), "summary"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := objstore.EncodeMetadata(objstore.Metadata{{Key: "ostree.sign.ed25519", Value: gvariant.NewVariant("aay", []any{ed25519.Sign(key, data)})}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Path(), "summary.sig"), sig, 0o644); err != nil {
		t.Fatal(err)
	}
}

func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	priv := ed25519.NewKeyFromSeed(s)
	return priv.Public().(ed25519.PublicKey), priv
}

func TestPullEd25519(t *testing.T) {
	pub, priv := testKey(1)
	otherPub, otherPriv := testKey(2)
	b64 := base64.StdEncoding.EncodeToString
	src, commit := sourceRepo(t, 3)
	unsigned := commitTree(t, src, smallTree(t, 1), "unsigned")
	signCommit(t, src, commit, otherPriv) // a signature by another key first
	signCommit(t, src, commit, priv)
	if _, err := src.UpdateSummary(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	signSummary(t, src, priv)
	srv := newServer(t, src.Path())

	keyFile := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keyFile, []byte("# trusted\n"+b64(otherPub)+"\n"+b64(pub)+"\n"), 0o644)
	trust := t.TempDir()
	os.MkdirAll(filepath.Join(trust, "trusted.ed25519.d"), 0o755)
	os.WriteFile(filepath.Join(trust, "trusted.ed25519.d", "vendor"), []byte(b64(pub)+"\n"), 0o644)
	revokedDir := t.TempDir()
	os.WriteFile(filepath.Join(revokedDir, "trusted.ed25519"), []byte(b64(pub)+"\n"), 0o644)
	os.WriteFile(filepath.Join(revokedDir, "revoked.ed25519"), []byte(b64(pub)+"\n"), 0o644)

	set := func(kv ...string) []objstore.RemoteSetting {
		var out []objstore.RemoteSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, objstore.RemoteSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		name     string
		settings []objstore.RemoteSetting
		trust    string
		ref      string
		want     string // "" = success, else in the error
	}{
		{"inline key", set("sign-verify", "ed25519", "verification-ed25519-key", b64(pub)), "", "main", ""},
		{"key file", set("sign-verify", "true", "verification-ed25519-file", keyFile), "", "main", ""},
		{"trust dir", set("sign-verify", "ed25519"), trust, "main", ""},
		{"signed summary", set("sign-verify-summary", "true", "verification-ed25519-key", b64(pub)), "", "main", ""},
		{"wrong key", set("sign-verify", "ed25519", "verification-ed25519-key", b64(make([]byte, 32))), "", "main", "no valid ed25519 signature"},
		{"unsigned commit", set("sign-verify", "ed25519", "verification-ed25519-key", b64(pub)), "", "unsigned", "no ed25519 signatures"},
		{"revoked key", set("sign-verify", "ed25519"), revokedDir, "main", "no valid ed25519 signature"},
		{"no keys", set("sign-verify", "ed25519"), t.TempDir(), "main", "no ed25519 public keys"},
		{"unsupported type", set("sign-verify", "spki"), "", "main", "not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := objtest.NewRepo(t, objstore.ModeArchive)
			if err := dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{NoGPGVerify: true, Settings: tc.settings}); err != nil {
				t.Fatal(err)
			}
			opts := &pull.Options{TrustDirs: []string{t.TempDir()}}
			if tc.trust != "" {
				opts.TrustDirs = []string{tc.trust}
			}
			checkVerifiedPull(t, src, dst, tc.ref, opts, tc.want, commit, unsigned)
		})
	}

	// A summary signed by someone else is refused.
	signSummary(t, src, otherPriv)
	dst := objtest.NewRepo(t, objstore.ModeArchive)
	dst.AddRemote("origin", srv.URL, &objstore.AddRemoteOptions{NoGPGVerify: true, Settings: set("sign-verify-summary", "true", "verification-ed25519-key", b64(pub))})
	_, err := pull.Pull(t.Context(), dst, "origin", []string{"main"}, &pull.Options{TrustDirs: []string{}})
	if !errors.Is(err, pull.ErrSignature) {
		t.Errorf("summary signed by another key: error = %v, want ErrSignature", err)
	}
	if _, _, err := pull.FetchSummary(t.Context(), dst, "origin", &pull.Options{TrustDirs: []string{}}); !errors.Is(err, pull.ErrSignature) {
		t.Errorf("FetchSummary: error = %v, want ErrSignature", err)
	}
}

// checkVerifiedPull pulls ref from origin and checks the outcome: with want
// empty, a complete copy of commit; otherwise an error containing want, no
// ref written, the unsigned commit not stored and a clean repository.
func checkVerifiedPull(t *testing.T, src, dst *objstore.Repo, ref string, opts *pull.Options, want string, commit, unsigned objstore.ID) {
	t.Helper()
	_, err := pull.Pull(t.Context(), dst, "origin", []string{ref}, opts)
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		checkComplete(t, src, dst, commit)
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if _, err := dst.ResolveRef("origin:" + ref); err == nil {
		t.Error("ref written despite the failed verification")
	}
	if ok, _ := dst.HasObject(unsigned, objstore.TypeCommit); ok {
		t.Error("unsigned commit stored")
	}
	fsckClean(t, dst)
}
