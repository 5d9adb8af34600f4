package objstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gostree/gostree/keyfile"
)

// ErrRemoteNotFound is wrapped by errors for remotes that are not
// configured; it matches fs.ErrNotExist too.
var ErrRemoteNotFound = fmt.Errorf("remote not found: %w", fs.ErrNotExist)

// Remote is a configured remote repository: a [remote "NAME"] group in the
// repository config, or in a *.conf file of a remotes.d directory, exactly
// as ostree stores it, so ostree's remote configuration works unchanged.
type Remote struct {
	Name string
	// URL serves config, summary, refs and detached metadata; a
	// "file:///path" URL names a local repository.
	URL string
	// ContentURL serves objects/ when set (ostree's contenturl).
	ContentURL string
	// Branches are pulled when a pull names no refs.
	Branches []string
	// CollectionID is the remote's collection-id, or "".
	CollectionID string
	// GPGVerify and GPGVerifySummary are ostree's gpg-verify (default true)
	// and gpg-verify-summary (default false).
	GPGVerify        bool
	GPGVerifySummary bool
	// Options holds every key of the group, unescaped, including the above.
	Options map[string]string
	// File is the remotes.d file that defines the remote, "" for the
	// repository config.
	File string
}

// ObjectsURL returns the base URL objects are fetched from: ContentURL, or
// URL when there is none.
func (rm *Remote) ObjectsURL() string {
	if rm.ContentURL != "" {
		return rm.ContentURL
	}
	return rm.URL
}

// RemotesOptions say where remotes are configured besides the repository
// config. The zero value and nil mean the config only.
type RemotesOptions struct {
	// Dir is a remotes.d directory whose *.conf files define more remotes,
	// as ostree reads /etc/ostree/remotes.d for the system repository.
	Dir string
}

// remoteGroup is the key-file group of a remote.
func remoteGroup(name string) string { return `remote "` + name + `"` }

// remoteName returns the name in a `remote "NAME"` group, or "".
func remoteName(group string) string {
	if rest, ok := strings.CutPrefix(group, `remote "`); ok {
		if name, ok := strings.CutSuffix(rest, `"`); ok {
			return name
		}
	}
	return ""
}

// ValidateRemoteName checks a remote name against ostree's grammar (one ref
// component: a letter, digit or '_', then letters, digits, '_', '-' or '.').
func ValidateRemoteName(name string) error {
	if err := validateFrag(name); err != nil {
		return fmt.Errorf("invalid remote name %q: %w", name, err)
	}
	return nil
}

func parseRemote(kf *keyfile.File, group, file string) (*Remote, error) {
	name := remoteName(group)
	rm := &Remote{Name: name, File: file, Options: map[string]string{}}
	for _, k := range kf.Keys(group) {
		v, _ := kf.Value(group, k)
		rm.Options[k] = v
	}
	rm.URL = rm.Options["url"]
	rm.ContentURL = rm.Options["contenturl"]
	rm.CollectionID = rm.Options["collection-id"]
	rm.Branches = kf.List(group, "branches")
	var err error
	if rm.GPGVerify, err = kf.Bool(group, "gpg-verify", true); err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	if rm.GPGVerifySummary, err = kf.Bool(group, "gpg-verify-summary", false); err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	return rm, nil
}

// Remotes returns the configured remotes sorted by name. A remote in the
// repository config hides one of the same name in the remotes.d directory.
func (r *Repo) Remotes(opts *RemotesOptions) ([]*Remote, error) {
	if opts == nil {
		opts = &RemotesOptions{}
	}
	byName := map[string]*Remote{}
	add := func(kf *keyfile.File, file string) error {
		for _, g := range kf.Groups() {
			name := remoteName(g)
			if name == "" {
				continue
			}
			if _, dup := byName[name]; dup {
				if file == "" {
					return fmt.Errorf("repository config defines remote %q twice", name)
				}
				r.log.Debug("remote defined again; keeping the first definition", "remote", name, "file", file)
				continue
			}
			rm, err := parseRemote(kf, g, file)
			if err != nil {
				if file != "" {
					return fmt.Errorf("%s: %w", file, err)
				}
				return err
			}
			byName[name] = rm
		}
		return nil
	}
	if err := add(r.config, ""); err != nil {
		return nil, err
	}
	if opts.Dir != "" {
		ents, err := os.ReadDir(opts.Dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read remotes directory: %w", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			path := filepath.Join(opts.Dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read remote config: %w", err)
			}
			kf, err := keyfile.ParseBytes(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if err := add(kf, path); err != nil {
				return nil, err
			}
		}
	}
	out := make([]*Remote, 0, len(byName))
	for _, rm := range byName {
		out = append(out, rm)
	}
	slices.SortFunc(out, func(a, b *Remote) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remote returns the named remote; the error wraps ErrRemoteNotFound when
// there is none.
func (r *Repo) Remote(name string, opts *RemotesOptions) (*Remote, error) {
	if err := ValidateRemoteName(name); err != nil {
		return nil, err
	}
	all, err := r.Remotes(opts)
	if err != nil {
		return nil, err
	}
	for _, rm := range all {
		if rm.Name == name {
			return rm, nil
		}
	}
	return nil, fmt.Errorf("remote %q: %w", name, ErrRemoteNotFound)
}

// RemoteSetting is one key=value of a remote's configuration.
type RemoteSetting struct {
	Key, Value string
}

// AddRemoteOptions configure AddRemote.
type AddRemoteOptions struct {
	RemotesOptions
	// Branches are stored as the remote's branches list.
	Branches []string
	// NoGPGVerify writes gpg-verify=false (ostree remote add --no-gpg-verify).
	NoGPGVerify bool
	// ContentURL and CollectionID set contenturl and collection-id.
	ContentURL, CollectionID string
	// Settings are more keys (ostree remote add --set=KEY=VALUE), in order.
	Settings []RemoteSetting
	// IfNotExists makes adding an existing remote a no-op; Force replaces
	// it instead.
	IfNotExists, Force bool
	// InDir writes the remote to Dir/NAME.conf rather than the repository
	// config (ostree's [core] add-remotes-config-dir).
	InDir bool
}

// AddRemote configures a remote as `ostree remote add` does: the group
// holds url, branches, contenturl, the extra settings, gpg-verify and
// collection-id, in that order.
func (r *Repo) AddRemote(name, url string, opts *AddRemoteOptions) error {
	if opts == nil {
		opts = &AddRemoteOptions{}
	}
	if err := ValidateRemoteName(name); err != nil {
		return err
	}
	if opts.IfNotExists && opts.Force {
		return errors.New("add remote: IfNotExists and Force are exclusive")
	}
	if url == "" {
		return fmt.Errorf("add remote %s: empty URL", name)
	}
	if err := validateRemoteURL(url); err != nil {
		return fmt.Errorf("add remote %s: %w", name, err)
	}
	for _, b := range opts.Branches {
		if err := ValidateRef(b); err != nil {
			return fmt.Errorf("add remote %s: %w", name, err)
		}
	}
	existing, err := r.Remote(name, &opts.RemotesOptions)
	switch {
	case err == nil && opts.IfNotExists:
		return nil
	case err == nil && !opts.Force:
		where := "in config"
		if existing.File != "" {
			where = existing.File
		}
		return fmt.Errorf("remote configuration for %q already exists: %s", name, where)
	case err != nil && !errors.Is(err, ErrRemoteNotFound):
		return err
	}
	if err == nil && opts.Force {
		if err := r.deleteRemote(existing); err != nil {
			return err
		}
	}
	fill := func(kf *keyfile.File) {
		g := remoteGroup(name)
		kf.DeleteGroup(g)
		if u, ok := strings.CutPrefix(url, "metalink="); ok {
			kf.Set(g, "metalink", u)
		} else {
			kf.Set(g, "url", url)
		}
		if len(opts.Branches) > 0 {
			kf.SetList(g, "branches", opts.Branches)
		}
		if opts.ContentURL != "" {
			kf.Set(g, "contenturl", opts.ContentURL)
		}
		for _, s := range opts.Settings {
			kf.Set(g, s.Key, s.Value)
		}
		if opts.NoGPGVerify {
			kf.Set(g, "gpg-verify", "false")
		}
		if opts.CollectionID != "" {
			kf.Set(g, "collection-id", opts.CollectionID)
		}
	}
	if opts.InDir && opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return fmt.Errorf("add remote %s: %w", name, err)
		}
		kf := keyfile.New()
		fill(kf)
		if err := WriteFileAtomic(filepath.Join(opts.Dir, name+".conf"), kf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("add remote %s: %w", name, err)
		}
		return nil
	}
	return r.UpdateConfig(func(kf *keyfile.File) error {
		fill(kf)
		return nil
	})
}

// validateRemoteURL accepts the URL forms ostree does: http(s) and file
// URLs, with metalink= and mirrorlist= prefixes.
func validateRemoteURL(u string) error {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "metalink="), "mirrorlist=")
	for _, scheme := range []string{"http://", "https://", "file://"} {
		if strings.HasPrefix(u, scheme) {
			return nil
		}
	}
	return fmt.Errorf("unsupported URL %q (want http://, https:// or file://)", u)
}

// DeleteRemoteOptions configure DeleteRemote.
type DeleteRemoteOptions struct {
	RemotesOptions
	// IfExists makes deleting a missing remote a no-op.
	IfExists bool
}

// DeleteRemote removes a remote's configuration (its group in the config, or
// its remotes.d file). Refs pulled from it are kept, as ostree keeps them.
func (r *Repo) DeleteRemote(name string, opts *DeleteRemoteOptions) error {
	if opts == nil {
		opts = &DeleteRemoteOptions{}
	}
	rm, err := r.Remote(name, &opts.RemotesOptions)
	if err != nil {
		if opts.IfExists && errors.Is(err, ErrRemoteNotFound) {
			return nil
		}
		return err
	}
	return r.deleteRemote(rm)
}

func (r *Repo) deleteRemote(rm *Remote) error {
	if rm.File != "" {
		if err := os.Remove(rm.File); err != nil {
			return fmt.Errorf("delete remote %s: %w", rm.Name, err)
		}
	} else if err := r.UpdateConfig(func(kf *keyfile.File) error {
		kf.DeleteGroup(remoteGroup(rm.Name))
		return nil
	}); err != nil {
		return err
	}
	// ostree keeps a remote's GPG keyring beside the config; it goes too.
	if err := os.Remove(filepath.Join(r.path, rm.Name+".trustedkeys.gpg")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete remote %s: %w", rm.Name, err)
	}
	return nil
}
