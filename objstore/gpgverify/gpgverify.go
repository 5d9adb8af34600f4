// Package gpgverify checks OpenPGP signatures the way ostree's gpg-verify
// does: detached signatures of a commit object (the "ostree.gpgsigs" entry
// of its detached metadata) or of a summary (summary.sig), made by a key
// of a remote's keyring (REPO/REMOTE.trustedkeys.gpg, gpg-keypath, and
// the global /usr/share/ostree/trusted.gpg.d). It also imports keys into
// such a keyring, as ostree remote add --gpg-import does.
//
// We use github.com/ProtonMail/go-crypto/openpgp for the OpenPGP packet
// formats and signature checks; signing (which ostree does through gpgme
// and the GnuPG agent) is not provided.
package gpgverify

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SignaturesKey is the detached-metadata (and summary.sig) key holding
// the binary OpenPGP signatures, an "aay".
const SignaturesKey = "ostree.gpgsigs"

// GlobalKeyringDir is ostree's keyring directory for all remotes.
const GlobalKeyringDir = "/usr/share/ostree/trusted.gpg.d"

// ErrNoSignature and ErrUntrusted are wrapped by Verify's errors.
var (
	ErrNoSignature = errors.New("no GPG signatures")
	ErrUntrusted   = errors.New("no valid GPG signature by a trusted key")
)

// ReadKeys reads the public keys of an OpenPGP keyring, binary (as gpg
// --export and ostree write them) or ASCII-armored.
func ReadKeys(r io.Reader) (openpgp.EntityList, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(64)
	if bytes.HasPrefix(bytes.TrimSpace(head), []byte("-----BEGIN PGP")) {
		var all openpgp.EntityList
		for {
			el, err := openpgp.ReadArmoredKeyRing(br)
			if err != nil {
				if len(all) > 0 && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF")) {
					return all, nil
				}
				if len(all) > 0 {
					return all, nil
				}
				return nil, err
			}
			all = append(all, el...)
		}
	}
	return openpgp.ReadKeyRing(br)
}

// Keyring is the set of keys a remote trusts.
type Keyring struct {
	keys    openpgp.EntityList
	sources []string
}

// Len returns the number of primary keys.
func (k *Keyring) Len() int { return len(k.keys) }

// Sources are the keyring files read.
func (k *Keyring) Sources() []string { return k.sources }

// LoadKeyring reads every keyring file given, and every *.gpg file of the
// directories given; missing files and directories are skipped.
func LoadKeyring(paths ...string) (*Keyring, error) {
	k := &Keyring{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if fi.IsDir() {
			m, err := filepath.Glob(filepath.Join(p, "*.gpg"))
			if err != nil {
				return nil, err
			}
			slices.Sort(m)
			files = m
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			el, err := ReadKeys(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("keyring %s: %w", f, err)
			}
			k.keys = append(k.keys, el...)
			k.sources = append(k.sources, f)
		}
	}
	return k, nil
}

// Verify checks that one of sigs (binary detached OpenPGP signatures) is a
// valid signature of data by a key of the keyring, unexpired and
// unrevoked at now. It returns the signing key's fingerprint.
func (k *Keyring) Verify(data []byte, sigs [][]byte, now time.Time) (string, error) {
	if len(sigs) == 0 {
		return "", ErrNoSignature
	}
	if len(k.keys) == 0 {
		return "", fmt.Errorf("%w: the keyring is empty", ErrUntrusted)
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	var last error
	for _, sig := range sigs {
		signer, err := openpgp.CheckDetachedSignature(k.keys, bytes.NewReader(data), bytes.NewReader(sig), cfg)
		if err == nil && signer != nil {
			return strings.ToUpper(hex.EncodeToString(signer.PrimaryKey.Fingerprint)), nil
		}
		last = err
	}
	return "", fmt.Errorf("%w (%d signatures: %v)", ErrUntrusted, len(sigs), last)
}

// Import adds the public keys read from src (binary or armored) to the
// keyring file dst, creating it: only the keys whose ID (16 hex digits),
// short ID (8) or fingerprint is in keyIDs when keyIDs is not empty. Keys
// already in dst are replaced by the imported copy. dst is written
// atomically, binary. It returns how many keys were new to dst (as gpg
// counts imports).
func Import(dst string, src io.Reader, keyIDs []string) (int, error) {
	in, err := ReadKeys(src)
	if err != nil {
		return 0, fmt.Errorf("read keys: %w", err)
	}
	var picked openpgp.EntityList
	for _, e := range in {
		if len(keyIDs) == 0 || slices.ContainsFunc(keyIDs, func(id string) bool { return matchesID(e, id) }) {
			picked = append(picked, e)
		}
	}
	if len(keyIDs) > 0 {
		for _, id := range keyIDs {
			if !slices.ContainsFunc(picked, func(e *openpgp.Entity) bool { return matchesID(e, id) }) {
				return 0, fmt.Errorf("key %s is not in the keys given", id)
			}
		}
	}
	if len(picked) == 0 {
		return 0, errors.New("no keys to import")
	}
	var existing openpgp.EntityList
	if data, err := os.ReadFile(dst); err == nil {
		if existing, err = ReadKeys(bytes.NewReader(data)); err != nil {
			return 0, fmt.Errorf("keyring %s: %w", dst, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	var buf bytes.Buffer
	for _, e := range existing {
		if !slices.ContainsFunc(picked, func(p *openpgp.Entity) bool {
			return bytes.Equal(p.PrimaryKey.Fingerprint, e.PrimaryKey.Fingerprint)
		}) {
			if err := e.Serialize(&buf); err != nil {
				return 0, err
			}
		}
	}
	for _, e := range picked {
		if err := e.Serialize(&buf); err != nil {
			return 0, fmt.Errorf("write key %X: %w", e.PrimaryKey.KeyId, err)
		}
	}
	if err := writeAtomic(dst, buf.Bytes()); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range picked {
		if !slices.ContainsFunc(existing, func(x *openpgp.Entity) bool {
			return bytes.Equal(x.PrimaryKey.Fingerprint, e.PrimaryKey.Fingerprint)
		}) {
			n++
		}
	}
	return n, nil
}

func matchesID(e *openpgp.Entity, id string) bool {
	id = strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(id, "0x"), "0X"))
	fp := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
	return id != "" && (fp == id || strings.HasSuffix(fp, id) && (len(id) == 16 || len(id) == 8))
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
