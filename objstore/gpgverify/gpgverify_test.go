package gpgverify

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// testKeyring returns a keyring file with one fresh key, and the key.
func testKeyring(t testing.TB) (string, *openpgp.Entity) {
	t.Helper()
	e, err := openpgp.NewEntity("Test", "", "test@example.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "k.gpg")
	if _, err := Import(p, &pub, nil); err != nil {
		t.Fatal(err)
	}
	return p, e
}

func TestVerify(t *testing.T) {
	p, e := testKeyring(t)
	k, err := LoadKeyring(p, filepath.Join(t.TempDir(), "missing.gpg"))
	if err != nil || k.Len() != 1 {
		t.Fatalf("LoadKeyring = %v keys, %v", k, err)
	}
	data := []byte("commit bytes")
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, e, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(data, [][]byte{[]byte("junk"), sig.Bytes()}, time.Now()); err != nil {
		t.Errorf("a good signature after a bad one: %v", err)
	}
	if _, err := k.Verify(append(data, '!'), [][]byte{sig.Bytes()}, time.Now()); err == nil {
		t.Error("a signature of other data verified")
	}
	// Before the key existed the signature is not valid.
	if _, err := k.Verify(data, [][]byte{sig.Bytes()}, time.Now().Add(-48*time.Hour)); err == nil {
		t.Error("a signature from the future verified")
	}
}

// FuzzVerify: no input panics Verify or passes it without the key.
func FuzzVerify(f *testing.F) {
	p, e := testKeyring(f)
	k, err := LoadKeyring(p)
	if err != nil {
		f.Fatal(err)
	}
	var sig bytes.Buffer
	openpgp.DetachSign(&sig, e, bytes.NewReader([]byte("x")), nil)
	f.Add([]byte("y"), sig.Bytes())
	f.Add([]byte("x"), []byte{0x88, 0x00})
	f.Fuzz(func(t *testing.T, data, s []byte) {
		if _, err := k.Verify(data, [][]byte{s}, time.Now()); err == nil && !bytes.Equal(data, []byte("x")) {
			t.Errorf("Verify(%q, %x) passed", data, s)
		}
	})
}

// FuzzReadKeys: no keyring bytes panic ReadKeys.
func FuzzReadKeys(f *testing.F) {
	p, _ := testKeyring(f)
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	if data, err := readFileForSeed(p); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadKeys(bytes.NewReader(b))
	})
}

func readFileForSeed(p string) ([]byte, error) { return os.ReadFile(p) }

func TestSignedBy(t *testing.T) {
	_, e := testKeyring(t)
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, e, bytes.NewReader([]byte("x")), nil); err != nil {
		t.Fatal(err)
	}
	fp := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	id := fmt.Sprintf("%016X", e.PrimaryKey.KeyId)
	for _, c := range []struct {
		key  string
		want bool
	}{
		{fp, true}, {id, true}, {"0x" + id, true}, {id[8:], true}, {strings.ToLower(id), true},
		{"0123456789ABCDEF", false}, {"", false},
	} {
		if got := SignedBy(sig.Bytes(), c.key); got != c.want {
			t.Errorf("SignedBy(%q) = %v; want %v", c.key, got, c.want)
		}
	}
	if SignedBy([]byte("not a signature"), id) {
		t.Error("garbage counted as signed")
	}
}
