package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ValidateRef checks a ref name against ostree's grammar: one or more
// '/'-separated fragments, each starting with a letter, digit or '_' and
// continuing with letters, digits, '_', '-' or '.'.
func ValidateRef(ref string) error {
	if ref == "" {
		return errors.New("invalid ref: empty")
	}
	for _, frag := range strings.Split(ref, "/") {
		if err := validateFrag(frag); err != nil {
			return fmt.Errorf("invalid ref %q: %w", ref, err)
		}
	}
	return nil
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func validateFrag(frag string) error {
	if frag == "" {
		return errors.New("empty path component")
	}
	if !isWord(frag[0]) {
		return fmt.Errorf("component %q must start with a letter, digit or '_'", frag)
	}
	for i := 1; i < len(frag); i++ {
		if c := frag[i]; !isWord(c) && c != '-' && c != '.' {
			return fmt.Errorf("component %q contains %q", frag, c)
		}
	}
	return nil
}

// ParseRefspec splits "REMOTE:REF" into its parts; remote is "" for a local ref.
func ParseRefspec(spec string) (remote, ref string, err error) {
	remote, ref, ok := strings.Cut(spec, ":")
	if !ok {
		remote, ref = "", spec
	} else if err := validateFrag(remote); err != nil {
		return "", "", fmt.Errorf("invalid remote name in %q: %w", spec, err)
	}
	if err := ValidateRef(ref); err != nil {
		return "", "", err
	}
	return remote, ref, nil
}

// refFile maps a refspec to its file under refs/.
func refFile(spec string) (string, error) {
	remote, ref, err := ParseRefspec(spec)
	if err != nil {
		return "", err
	}
	if remote != "" {
		return filepath.Join("refs", "remotes", remote, ref), nil
	}
	return filepath.Join("refs", "heads", ref), nil
}

// ResolveRef returns the commit a refspec ("main" or "origin:main") points at.
// It wraps fs.ErrNotExist when there is no such ref.
func (r *Repo) ResolveRef(spec string) (ID, error) {
	rel, err := refFile(spec)
	if err != nil {
		return ID{}, err
	}
	data, err := os.ReadFile(filepath.Join(r.path, rel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// ostree also looks for mirrored refs by name.
			if id, err2 := r.resolveMirror(spec); err2 == nil {
				return id, nil
			}
			return ID{}, fmt.Errorf("refspec %q not found: %w", spec, fs.ErrNotExist)
		}
		return ID{}, fmt.Errorf("read ref %s: %w", spec, err)
	}
	id, err := ParseID(strings.TrimSpace(string(data)))
	if err != nil {
		return ID{}, fmt.Errorf("ref %s: %w", spec, err)
	}
	return id, nil
}

func (r *Repo) resolveMirror(ref string) (ID, error) {
	dirs, err := os.ReadDir(filepath.Join(r.path, "refs", "mirrors"))
	if err != nil {
		return ID{}, err
	}
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(r.path, "refs", "mirrors", d.Name(), ref))
		if err == nil {
			return ParseID(strings.TrimSpace(string(data)))
		}
	}
	return ID{}, fs.ErrNotExist
}

// ResolveRev resolves a revision as `ostree rev-parse` does: a full checksum,
// a unique checksum prefix of a stored commit (checked before refs, as
// ostree does, so a hex-looking ref name like "a" or "cafe" can be
// shadowed), a refspec, and a trailing "^" for the parent.
func (r *Repo) ResolveRev(ctx context.Context, rev string) (ID, error) {
	if strings.HasSuffix(rev, "^") {
		id, err := r.ResolveRev(ctx, rev[:len(rev)-1])
		if err != nil {
			return ID{}, err
		}
		c, err := r.LoadCommit(ctx, id)
		if err != nil {
			return ID{}, err
		}
		if !c.HasParent() {
			return ID{}, fmt.Errorf("commit %s has no parent", id)
		}
		return c.Parent, nil
	}
	if len(rev) == 64 {
		if id, err := ParseID(rev); err == nil {
			return id, nil
		}
	}
	// As ostree: what reads as a checksum prefix is one first, even of a
	// single character, and beats a ref of the same name; an ambiguous
	// prefix is an error; only a prefix of no commit falls back to refs.
	if isHexPrefix(rev) {
		if id, err := r.resolvePrefix(rev); err == nil {
			return id, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ID{}, err
		}
	}
	id, err := r.ResolveRef(rev)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return ID{}, err
	}
	return ID{}, fmt.Errorf("refspec %q not found: %w", rev, fs.ErrNotExist)
}

func isHexPrefix(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (r *Repo) resolvePrefix(prefix string) (ID, error) {
	dirs := []string{prefix}
	if len(prefix) == 1 {
		dirs = dirs[:0]
		for _, c := range "0123456789abcdef" {
			dirs = append(dirs, prefix+string(c))
		}
	}
	var found []ID
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join(r.path, "objects", d[:2]))
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := d[:2] + e.Name()
			if strings.HasSuffix(name, ".commit") && strings.HasPrefix(name, prefix) {
				if id, err := ParseID(strings.TrimSuffix(name, ".commit")); err == nil {
					found = append(found, id)
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return ID{}, fs.ErrNotExist
	case 1:
		return found[0], nil
	}
	return ID{}, fmt.Errorf("refspec %s not unique (%d commits start with it)", prefix, len(found))
}

// writeRef writes or deletes (id == nil) one ref file atomically.
func (r *Repo) writeRef(spec string, id *ID) error {
	rel, err := refFile(spec)
	if err != nil {
		return err
	}
	path := filepath.Join(r.path, rel)
	if id == nil {
		if err := os.Remove(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("delete ref %s: %w", spec, err)
			}
			return fmt.Errorf("delete ref %s: %w", spec, err)
		}
		return syncDir(r.pruneRefDirs(filepath.Dir(path)))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return fmt.Errorf("write ref %s: %w", spec, err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("write ref %s: a ref directory of that name exists", spec)
	}
	if err := WriteFileAtomic(path, []byte(id.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("write ref %s: %w", spec, err)
	}
	return nil
}

// pruneRefDirs removes now-empty directories between dir and refs/heads (or
// refs/remotes/REMOTE), as ostree does when deleting nested refs. It returns
// the deepest directory that still exists.
func (r *Repo) pruneRefDirs(dir string) string {
	stop := map[string]bool{
		filepath.Join(r.path, "refs", "heads"):   true,
		filepath.Join(r.path, "refs", "remotes"): true,
	}
	for !stop[dir] && strings.HasPrefix(dir, filepath.Join(r.path, "refs")+"/") {
		if filepath.Dir(dir) == filepath.Join(r.path, "refs", "remotes") {
			return dir
		}
		if err := os.Remove(dir); err != nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	return dir
}

// SetRef points a ref at a commit (or deletes it when id is nil), under the
// repository lock. The commit must exist.
func (r *Repo) SetRef(ctx context.Context, spec string, id *ID) error {
	unlock, err := r.lock(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	if id != nil {
		if ok, err := r.HasObject(*id, TypeCommit); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("set ref %s: commit %s: %w", spec, id, ErrObjectNotFound)
		}
	}
	return r.writeRef(spec, id)
}

// Refs lists refs: local branches as "name", remote refs as "remote:name".
func (r *Repo) Refs(ctx context.Context) (map[string]ID, error) {
	out := map[string]ID{}
	heads := filepath.Join(r.path, "refs", "heads")
	if err := walkRefs(heads, "", func(name string, id ID) { out[name] = id }); err != nil {
		return nil, err
	}
	remotes := filepath.Join(r.path, "refs", "remotes")
	rems, err := os.ReadDir(remotes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	for _, rem := range rems {
		if !rem.IsDir() {
			continue
		}
		prefix := rem.Name() + ":"
		if err := walkRefs(filepath.Join(remotes, rem.Name()), "", func(name string, id ID) { out[prefix+name] = id }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func walkRefs(dir, prefix string, fn func(string, ID)) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list refs: %w", err)
	}
	for _, e := range ents {
		name := prefix + e.Name()
		if e.IsDir() {
			if err := walkRefs(filepath.Join(dir, e.Name()), name+"/", fn); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read ref %s: %w", name, err)
		}
		id, err := ParseID(strings.TrimSpace(string(data)))
		if err != nil {
			return fmt.Errorf("ref %s: %w", name, err)
		}
		fn(name, id)
	}
	return nil
}

// SortedRefNames returns the keys of refs in strcmp order.
func SortedRefNames(refs map[string]ID) []string {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
