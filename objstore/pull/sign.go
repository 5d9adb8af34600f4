package pull

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gostree/gostree/objstore"
)

// signKeyEd25519 is the detached-metadata key of Ed25519 signatures (aay,
// each 64 bytes over the exact bytes of the commit or summary). It is part
// of ostree's format.
const signKeyEd25519 = "ostree.sign.ed25519"

// defaultTrustDirs are where ostree looks for trusted.ed25519,
// trusted.ed25519.d/*, revoked.ed25519 and revoked.ed25519.d/*.
func defaultTrustDirs() []string { return []string{"/etc/ostree", "/usr/share/ostree"} }

// verifier checks Ed25519 signatures for one remote.
type verifier struct {
	remote  string
	keys    []ed25519.PublicKey
	revoked []ed25519.PublicKey
}

// signTypes parses a sign-verify value: "true" means every type gostree
// knows, "false" none, otherwise a comma-separated list of types.
func signTypes(v string) ([]string, error) {
	switch strings.TrimSpace(v) {
	case "", "false", "0":
		return nil, nil
	case "true", "1":
		return []string{"ed25519"}, nil
	}
	var out []string
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t != "ed25519" {
			return nil, fmt.Errorf("signature type %q is not supported by gostree (only ed25519)", t)
		}
		out = append(out, t)
	}
	return out, nil
}

// newVerifier returns the Ed25519 verifier a remote's option (sign-verify
// or sign-verify-summary) asks for, or nil when the option is off. Keys come
// from verification-ed25519-key (base64), verification-ed25519-file (one
// base64 key per line), or else the trust directories.
func newVerifier(rm *objstore.Remote, option string, trustDirs []string) (*verifier, error) {
	types, err := signTypes(rm.Options[option])
	if err != nil {
		return nil, fmt.Errorf("remote %s: %s: %w", rm.Name, option, err)
	}
	if len(types) == 0 {
		return nil, nil
	}
	v := &verifier{remote: rm.Name}
	inline, file := rm.Options["verification-ed25519-key"], rm.Options["verification-ed25519-file"]
	if inline != "" {
		k, err := parseEd25519Key(inline)
		if err != nil {
			return nil, fmt.Errorf("remote %s: verification-ed25519-key: %w", rm.Name, err)
		}
		v.keys = append(v.keys, k)
	}
	if file != "" {
		keys, err := readEd25519Keys(file)
		if err != nil {
			return nil, fmt.Errorf("remote %s: verification-ed25519-file: %w", rm.Name, err)
		}
		v.keys = append(v.keys, keys...)
	}
	if inline == "" && file == "" {
		for _, dir := range trustDirs {
			keys, err := readKeyDir(dir, "trusted.ed25519")
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, keys...)
		}
	}
	for _, dir := range trustDirs {
		keys, err := readKeyDir(dir, "revoked.ed25519")
		if err != nil {
			return nil, err
		}
		v.revoked = append(v.revoked, keys...)
	}
	if len(v.keys) == 0 {
		return nil, fmt.Errorf("remote %s: %s is on, but no ed25519 public keys are configured (verification-ed25519-key, verification-ed25519-file or %s)",
			rm.Name, option, strings.Join(trustDirs, ", "))
	}
	return v, nil
}

func parseEd25519Key(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key of %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// readEd25519Keys reads one base64 public key per line; blank lines and
// lines starting with '#' are skipped.
func readEd25519Keys(path string) ([]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []ed25519.PublicKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseEd25519Key(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		keys = append(keys, k)
	}
	return keys, sc.Err()
}

// readKeyDir reads DIR/NAME and DIR/NAME.d/*, as ostree does; missing
// files are no keys.
func readKeyDir(dir, name string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	files := []string{filepath.Join(dir, name)}
	ents, err := os.ReadDir(filepath.Join(dir, name+".d"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, name+".d", e.Name()))
		}
	}
	for _, f := range files {
		k, err := readEd25519Keys(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return keys, nil
}

// ErrSignature is wrapped by errors of signature verification: no
// signature, or none by a trusted key.
var ErrSignature = errors.New("signature verification failed")

// verify checks that md (detached metadata of data, nil when there is
// none) holds an Ed25519 signature of data by a trusted, unrevoked key.
func (v *verifier) verify(what string, data []byte, md objstore.Metadata) error {
	val, ok := md.Lookup(signKeyEd25519)
	if !ok {
		return fmt.Errorf("%w: %s has no ed25519 signatures (remote %s requires them)", ErrSignature, what, v.remote)
	}
	sigs, _ := val.Value.([]any)
	if val.Type.String() != "aay" || len(sigs) == 0 {
		return fmt.Errorf("%w: %s has no ed25519 signatures (remote %s requires them)", ErrSignature, what, v.remote)
	}
	for _, s := range sigs {
		sig, _ := s.([]byte)
		if len(sig) != ed25519.SignatureSize {
			continue
		}
		for _, k := range v.keys {
			if slices.ContainsFunc(v.revoked, func(r ed25519.PublicKey) bool { return r.Equal(k) }) {
				continue
			}
			if ed25519.Verify(k, data, sig) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: no valid ed25519 signature of %s by a trusted key of remote %s", ErrSignature, what, v.remote)
}
