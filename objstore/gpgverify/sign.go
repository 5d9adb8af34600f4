package gpgverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Sign makes a binary detached OpenPGP signature of data with key (an ID
// or fingerprint) by running gpg, as ostree does through gpgme: the key's
// secret half lives in GnuPG (homedir, or GnuPG's default when empty) and
// its agent, which this package does not read.
func Sign(ctx context.Context, data []byte, key, homedir string) ([]byte, error) {
	args := []string{"--batch", "--no-tty", "--local-user", key, "--detach-sign", "--output", "-"}
	if homedir != "" {
		args = append([]string{"--homedir", homedir}, args...)
	}
	cmd := exec.CommandContext(ctx, "gpg", args...)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	sig, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("sign with GPG key %s: the gpg tool is needed (apt-get install gnupg): %w", key, err)
		}
		return nil, fmt.Errorf("sign with GPG key %s: gpg: %w: %s", key, err, strings.TrimSpace(stderr.String()))
	}
	return sig, nil
}

// SignedBy reports whether the signature sig was issued by key: a key ID
// (16 hex digits), a short ID (8) or a fingerprint, of the signing key.
func SignedBy(sig []byte, key string) bool {
	p, err := packet.Read(bytes.NewReader(sig))
	if err != nil {
		return false
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		return false
	}
	want := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(key, "0x"), "0X"))
	if s.IssuerFingerprint != nil && strings.EqualFold(fmt.Sprintf("%X", s.IssuerFingerprint), want) {
		return true
	}
	if s.IssuerKeyId != nil {
		id := fmt.Sprintf("%016X", *s.IssuerKeyId)
		return id == want || len(want) == 8 && strings.HasSuffix(id, want)
	}
	return false
}
