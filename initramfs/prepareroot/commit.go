package prepareroot

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gostree/gostree/gvariant"
)

// Keys of commit metadata and detached metadata that prepare-root reads.
const (
	// composefsDigestKey holds the fs-verity digest (ay, 32 bytes) of the
	// commit's composefs image (formats.md §7.6).
	composefsDigestKey = "ostree.composefs.digest.v0"
	// ed25519SigKey holds ed25519 signatures (aay, 64 bytes each) of the
	// commit object's bytes, in the .commitmeta detached metadata.
	ed25519SigKey = "ostree.sign.ed25519"
)

// The GVariant type is parsed when used (composefs=signed), not at package
// initialisation: the helper's start-up is part of the boot.
var metaType = sync.OnceValue(func() *gvariant.Type { return gvariant.MustParseType("a{sv}") })

// commitInfo is what prepare-root needs of a commit object.
type commitInfo struct {
	raw []byte
	// composefsDigest is ostree.composefs.digest.v0, nil when absent.
	composefsDigest []byte
}

// objectPath is the path of a loose object in a repository.
func objectPath(repo, checksum, ext string) string {
	return filepath.Join(repo, "objects", checksum[:2], checksum[2:]+"."+ext)
}

// readCommit loads a commit object from repo and checks that its SHA-256
// is its name, so a deployment named COMMIT.SERIAL is bound to exactly
// that commit's metadata.
func readCommit(repo, checksum string) (*commitInfo, error) {
	p := objectPath(repo, checksum, "commit")
	raw, err := readFile(p)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", checksum, err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != checksum {
		return nil, fmt.Errorf("commit object %s is corrupted: its SHA-256 is %x", p, sum)
	}
	sig, val, found, err := metadataValue(raw, composefsDigestKey)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", checksum, err)
	}
	c := &commitInfo{raw: raw}
	if found {
		if sig != "ay" || len(val) != 32 {
			return nil, fmt.Errorf("commit %s: %s is not 32 bytes", checksum, composefsDigestKey)
		}
		c.composefsDigest = val
	}
	return c, nil
}

// lookup returns the value of key in an a{sv} dictionary (the first
// entry, like GLib), unwrapped from its variant.
func lookup(dict []any, key string) (any, bool) {
	for _, e := range dict {
		de, ok := e.(gvariant.DictEntry)
		if !ok || de.Key != key {
			continue
		}
		if v, ok := de.Value.(gvariant.Variant); ok {
			return v.Value, true
		}
	}
	return nil, false
}

// readPublicKeys reads ed25519 public keys, base64, one a line; blank
// lines and # comments are skipped.
func readPublicKeys(path string) ([]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	var keys []ed25519.PublicKey
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s line %d: not a base64 ed25519 public key", path, i+1)
		}
		keys = append(keys, ed25519.PublicKey(k))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no public key", path)
	}
	return keys, nil
}

// errNoValidSignature is returned when no signature verifies.
var errNoValidSignature = errors.New("no valid ed25519 signature from a trusted key")

// verifySignature checks that the commit's detached metadata carries an
// ostree.sign.ed25519 signature of the commit object by one of keys.
func verifySignature(repo, checksum string, c *commitInfo, keys []ed25519.PublicKey) error {
	p := objectPath(repo, checksum, "commitmeta")
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit %s is not signed (no %s): %w", checksum, filepath.Base(p), errNoValidSignature)
	}
	if err != nil {
		return fmt.Errorf("read detached metadata of %s: %w", checksum, err)
	}
	v, err := gvariant.Decode(metaType(), raw)
	if err != nil {
		return fmt.Errorf("detached metadata of %s: %w", checksum, err)
	}
	sigs, ok := lookup(v.([]any), ed25519SigKey)
	if !ok {
		return fmt.Errorf("commit %s has no %s: %w", checksum, ed25519SigKey, errNoValidSignature)
	}
	list, _ := sigs.([]any)
	for _, s := range list {
		sig, _ := s.([]byte)
		if len(sig) != ed25519.SignatureSize {
			continue
		}
		for _, k := range keys {
			if ed25519.Verify(k, c.raw, sig) {
				return nil
			}
		}
	}
	return fmt.Errorf("commit %s: %d signature(s), %w", checksum, len(list), errNoValidSignature)
}

// bootedInfo is /run/ostree-booted: a GVariant a{sv} telling the booted
// system how it was set up (formats.md §5.5).
type bootedInfo struct {
	dev, ino        uint64
	composefs       bool
	composefsVerity bool
	signed          string
	sysrootRO       bool
}

// marshal serializes b as ostree writes /run/ostree-booted, with
// gvariant.AppendVardict rather than gvariant.Encode, whose type parser and
// generic encoder would run for the first and only time at boot;
// TestBootedInfoMarshal checks the bytes against gvariant.Encode.
func (b *bootedInfo) marshal() []byte {
	flag := func(v bool) []byte {
		if v {
			return []byte{1}
		}
		return []byte{0}
	}
	devino := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, b.dev), b.ino)
	entries := []gvariant.VardictEntry{
		{Key: "backing-root-device-inode", Sig: "(tt)", Value: devino},
		{Key: "composefs", Sig: "b", Value: flag(b.composefs)},
		{Key: "composefs.verity", Sig: "b", Value: flag(b.composefsVerity)},
	}
	if b.signed != "" {
		entries = append(entries, gvariant.VardictEntry{Key: "composefs.signed", Sig: "s", Value: append([]byte(b.signed), 0)})
	}
	entries = append(entries, gvariant.VardictEntry{Key: "sysroot-ro", Sig: "b", Value: flag(b.sysrootRO)})
	return gvariant.AppendVardict(nil, entries)
}
