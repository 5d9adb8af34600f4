package prepareroot

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostree/gostree/gvariant"
)

// writeCommit stores a commit object with the given metadata in repo and
// returns its checksum.
func writeCommit(t *testing.T, repo string, md []any) (string, []byte) {
	t.Helper()
	raw, err := gvariant.Encode(commitType(), []any{md, []byte{}, []any{}, "subject", "", uint64(0), make([]byte, 32), make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	c := hex.EncodeToString(sum[:])
	p := objectPath(repo, c, "commit")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return c, raw
}

func writeCommitmeta(t *testing.T, repo, c string, sigs ...[]byte) {
	t.Helper()
	var list []any
	for _, s := range sigs {
		list = append(list, s)
	}
	raw, err := gvariant.Encode(metaType(), []any{gvariant.DictEntry{Key: ed25519SigKey, Value: gvariant.NewVariant("aay", list)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(objectPath(repo, c, "commitmeta"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadCommit(t *testing.T) {
	repo := t.TempDir()
	digest := bytes.Repeat([]byte{0xab}, 32)
	c, _ := writeCommit(t, repo, []any{
		gvariant.DictEntry{Key: "version", Value: gvariant.NewVariant("s", "1")},
		gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", digest)},
	})
	ci, err := readCommit(repo, c)
	if err != nil || !bytes.Equal(ci.composefsDigest, digest) {
		t.Fatalf("readCommit = %+v, %v; want digest %x", ci, err, digest)
	}
	plain, _ := writeCommit(t, repo, []any{})
	if ci, err := readCommit(repo, plain); err != nil || ci.composefsDigest != nil {
		t.Errorf("commit without digest: %+v, %v", ci, err)
	}
	short, _ := writeCommit(t, repo, []any{gvariant.DictEntry{Key: composefsDigestKey, Value: gvariant.NewVariant("ay", []byte{1, 2})}})
	if _, err := readCommit(repo, short); err == nil || !strings.Contains(err.Error(), "not 32 bytes") {
		t.Errorf("short digest: %v", err)
	}
	p := objectPath(repo, c, "commit")
	raw, _ := os.ReadFile(p)
	raw[len(raw)-1] ^= 1
	os.WriteFile(p, raw, 0o644)
	if _, err := readCommit(repo, c); err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Errorf("corrupted commit: %v", err)
	}
	if _, err := readCommit(repo, strings.Repeat("0", 64)); err == nil {
		t.Error("missing commit read")
	}
}

func TestVerifySignature(t *testing.T) {
	repo := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	keyFile := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keyFile, []byte("# trusted\n"+base64.StdEncoding.EncodeToString(otherPub)+"\n\n"+base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)
	keys, err := readPublicKeys(keyFile)
	if err != nil || len(keys) != 2 {
		t.Fatalf("readPublicKeys = %d keys, %v", len(keys), err)
	}
	c, raw := writeCommit(t, repo, []any{})
	ci, err := readCommit(repo, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifySignature(repo, c, ci, keys); !errors.Is(err, errNoValidSignature) || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned commit: %v", err)
	}
	_, strangerPriv, _ := ed25519.GenerateKey(nil)
	writeCommitmeta(t, repo, c, ed25519.Sign(strangerPriv, raw), []byte("short"))
	if err := verifySignature(repo, c, ci, keys); !errors.Is(err, errNoValidSignature) {
		t.Errorf("signature by an untrusted key: %v", err)
	}
	writeCommitmeta(t, repo, c, ed25519.Sign(strangerPriv, raw), ed25519.Sign(priv, raw))
	if err := verifySignature(repo, c, ci, keys); err != nil {
		t.Errorf("signature by a trusted key: %v", err)
	}
	writeCommitmeta(t, repo, c, ed25519.Sign(otherPriv, []byte("another commit")))
	if err := verifySignature(repo, c, ci, keys); !errors.Is(err, errNoValidSignature) {
		t.Errorf("signature of other data: %v", err)
	}
	for name, content := range map[string]string{"empty": "# nothing\n", "bad": "not base64!\n", "short": base64.StdEncoding.EncodeToString([]byte("abc")) + "\n"} {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := readPublicKeys(p); err == nil {
			t.Errorf("readPublicKeys(%s) accepted %q", name, content)
		}
	}
}
