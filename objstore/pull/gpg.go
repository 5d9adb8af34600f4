package pull

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gostree/gostree/objstore"
	"github.com/gostree/gostree/objstore/gpgverify"
)

// sigCheck checks the signatures of a commit or summary in its detached
// metadata.
type sigCheck interface {
	verify(what string, data []byte, md objstore.Metadata) error
}

// allChecks passes when every check passes (ostree checks gpg-verify and
// sign-verify independently).
type allChecks []sigCheck

func (c allChecks) verify(what string, data []byte, md objstore.Metadata) error {
	for _, v := range c {
		if err := v.verify(what, data, md); err != nil {
			return err
		}
	}
	return nil
}

// gpgCheck checks OpenPGP signatures (ostree.gpgsigs) against a remote's
// keyring.
type gpgCheck struct {
	remote  string
	keyring *gpgverify.Keyring
	p       *puller
}

func (g *gpgCheck) verify(what string, data []byte, md objstore.Metadata) error {
	var sigs [][]byte
	if val, ok := md.Lookup(gpgverify.SignaturesKey); ok && val.Type.String() == "aay" {
		list, _ := val.Value.([]any)
		for _, s := range list {
			if b, ok := s.([]byte); ok {
				sigs = append(sigs, b)
			}
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: %s has no GPG signatures (remote %s requires them: gpg-verify)", ErrSignature, what, g.remote)
	}
	fp, err := g.keyring.Verify(data, sigs, g.p.now())
	if err != nil {
		return fmt.Errorf("%w: %s: %w (remote %s, keyring %s)", ErrSignature, what, err, g.remote, strings.Join(g.keyring.Sources(), ", "))
	}
	g.p.log.Debug("GPG signature verified", "what", what, "key", fp)
	return nil
}

// gpgKeyring loads the keys a remote trusts, as ostree gathers them: the
// repository's REMOTE.trustedkeys.gpg, the files and directories of the
// remote's gpg-keypath (separated by ';' or ','), and the global keyring
// directory.
func (p *puller) gpgKeyring(rm *objstore.Remote) (*gpgverify.Keyring, error) {
	paths := []string{filepath.Join(p.repo.Path(), rm.Name+".trustedkeys.gpg")}
	for _, kp := range strings.FieldsFunc(rm.Options["gpg-keypath"], func(r rune) bool { return r == ';' || r == ',' }) {
		if kp = strings.TrimSpace(kp); kp != "" {
			paths = append(paths, kp)
		}
	}
	dirs := p.opts.GPGKeyringDirs
	if dirs == nil {
		dirs = []string{gpgverify.GlobalKeyringDir}
	}
	paths = append(paths, dirs...)
	k, err := gpgverify.LoadKeyring(paths...)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", rm.Name, err)
	}
	if k.Len() == 0 {
		return nil, fmt.Errorf("remote %s: gpg-verify is on, but it has no GPG keys: import them with `remote add --gpg-import=FILE` or `remote gpg-import %s --keyring=FILE` (or add the remote with --no-gpg-verify)", rm.Name, rm.Name)
	}
	return k, nil
}

// gpgChecks returns the GPG checks of rm's keyring for commits and for
// summaries, each empty unless asked for.
func (p *puller) gpgChecks(rm *objstore.Remote, commits, summaries bool) (commit, summary allChecks, err error) {
	if !commits && !summaries {
		return nil, nil, nil
	}
	k, err := p.gpgKeyring(rm)
	if err != nil {
		return nil, nil, err
	}
	g := &gpgCheck{remote: rm.Name, keyring: k, p: p}
	if commits {
		commit = allChecks{g}
	}
	if summaries {
		summary = allChecks{g}
	}
	return commit, summary, nil
}
