package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/keyfile"
)

// MaxMetadataSize is the largest metadata object (dirtree, commit, ...) that
// is read, ostree's OSTREE_MAX_METADATA_SIZE (128 MiB). Raising it lets a
// hostile object make readers allocate more.
const MaxMetadataSize = 128 << 20

// Options configure an opened repository. The zero value and nil are defaults.
type Options struct {
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// InitOptions configure Init.
type InitOptions struct {
	Options
	// Mode is the repository mode; empty means bare.
	Mode Mode
	// CollectionID is written as [core] collection-id when set.
	CollectionID string
}

// Repo is an OSTree repository on disk. Its methods are safe for concurrent
// use; writes happen through a Transaction.
type Repo struct {
	path   string
	mode   Mode
	config *keyfile.File
	log    *slog.Logger
	// euid is the writing user; bare repos need root to record ownership.
	euid int
	// verity is the lazily loaded fs-verity digest log.
	verity *verityIndex
	// deflaters reuses archive-z2 compressors: a flate.Writer holds
	// hundreds of KiB of state, too much to allocate per small file.
	deflaters sync.Pool
}

// deflater returns a raw DEFLATE writer (archive-z2's level) writing to w;
// give it back with putDeflater after Close.
func (r *Repo) deflater(w io.Writer) *flate.Writer {
	if zw, ok := r.deflaters.Get().(*flate.Writer); ok {
		zw.Reset(w)
		return zw
	}
	zw, _ := flate.NewWriter(w, archiveLevel) // the level is valid
	return zw
}

func (r *Repo) putDeflater(zw *flate.Writer) { r.deflaters.Put(zw) }

// repoDirs are created by Init, as `ostree init` does.
var repoDirs = []string{"objects", "tmp", "tmp/cache", "extensions", "state", "refs", "refs/heads", "refs/mirrors", "refs/remotes"}

// Init creates a repository at path (which may exist and be empty) and opens it.
func Init(ctx context.Context, path string, opts *InitOptions) (*Repo, error) {
	if opts == nil {
		opts = &InitOptions{}
	}
	mode := opts.Mode
	if mode == "" {
		mode = ModeBare
	}
	if _, err := ParseMode(string(mode)); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(path, "objects")); err == nil {
		// ostree init on an existing repo is a no-op when the mode matches.
		r, err := Open(path, &opts.Options)
		if err != nil {
			return nil, err
		}
		if r.mode != mode {
			return nil, fmt.Errorf("init %s: repository exists with mode %s", path, r.mode)
		}
		return r, nil
	}
	if err := os.MkdirAll(path, 0o777); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	cfg := keyfile.New()
	cfg.Set("core", "repo_version", "1")
	cfg.Set("core", "mode", string(mode))
	if opts.CollectionID != "" {
		cfg.Set("core", "collection-id", opts.CollectionID)
	}
	if err := WriteFileAtomic(filepath.Join(path, "config"), cfg.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	// objects/ goes last: a repository exists iff objects/ exists.
	for _, d := range repoDirs[1:] {
		if err := os.Mkdir(filepath.Join(path, d), 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("init %s: %w", path, err)
		}
	}
	if err := os.Mkdir(filepath.Join(path, "objects"), 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return Open(path, &opts.Options)
}

// Open opens an existing repository.
func Open(path string, opts *Options) (*Repo, error) {
	if opts == nil {
		opts = &Options{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if fi, err := os.Stat(filepath.Join(path, "objects")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("open repository %s: not an OSTree repository (no objects/ directory)", path)
	}
	data, err := os.ReadFile(filepath.Join(path, "config"))
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	cfg, err := keyfile.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: config: %w", path, err)
	}
	if v := cfg.String("core", "repo_version", ""); v != "1" {
		return nil, fmt.Errorf("open repository %s: unsupported repo_version %q", path, v)
	}
	mode, err := ParseMode(cfg.String("core", "mode", "bare"))
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &Repo{path: abs, mode: mode, config: cfg, log: log, euid: os.Geteuid(), verity: &verityIndex{}}, nil
}

// Path returns the repository's absolute path.
func (r *Repo) Path() string { return r.path }

// Mode returns the repository mode.
func (r *Repo) Mode() Mode { return r.mode }

// Config returns the parsed config file. Callers must not modify it; use
// UpdateConfig.
func (r *Repo) Config() *keyfile.File { return r.config }

// UpdateConfig applies fn to a fresh copy of the config and writes it atomically.
func (r *Repo) UpdateConfig(fn func(*keyfile.File) error) error {
	data, err := os.ReadFile(filepath.Join(r.path, "config"))
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfg, err := keyfile.ParseBytes(data)
	if err != nil {
		return fmt.Errorf("parse config: %w", err)
	}
	if err := fn(cfg); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(r.path, "config"), cfg.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	r.config = cfg
	return nil
}

// CollectionID returns [core] collection-id, or "".
func (r *Repo) CollectionID() string { return r.config.String("core", "collection-id", "") }

// ObjectPath returns the path of a loose object, relative to the repository.
func (r *Repo) ObjectPath(id ID, t ObjectType) string {
	return objectRelPath(id, t, r.mode)
}

func objectRelPath(id ID, t ObjectType, mode Mode) string {
	s := id.String()
	ext := t.String()
	if t == TypeFile && mode == ModeArchive {
		ext = "filez"
	}
	return "objects/" + s[:2] + "/" + s[2:] + "." + ext
}

// HasObject reports whether the object is stored.
func (r *Repo) HasObject(id ID, t ObjectType) (bool, error) {
	_, err := os.Lstat(filepath.Join(r.path, r.ObjectPath(id, t)))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("stat %s.%s: %w", id, t, err)
}

// ErrObjectNotFound is wrapped by errors for objects that are not in the
// repository; it matches fs.ErrNotExist too.
var ErrObjectNotFound = fmt.Errorf("object not found: %w", fs.ErrNotExist)

// ReadMetaObject returns the bytes of a metadata object, verifying nothing but
// its size. Use LoadCommit, LoadDirTree and LoadDirMeta for parsed objects.
func (r *Repo) ReadMetaObject(ctx context.Context, id ID, t ObjectType) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(r.path, r.ObjectPath(id, t)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s.%s: %w", id, t, ErrObjectNotFound)
		}
		return nil, fmt.Errorf("read %s.%s: %w", id, t, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", id, t, err)
	}
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("read %s.%s: larger than %d bytes", id, t, MaxMetadataSize)
	}
	return data, nil
}

// LoadCommit reads and parses a commit object, checking its checksum.
func (r *Repo) LoadCommit(ctx context.Context, id ID) (*Commit, error) {
	data, err := r.readVerifiedMeta(ctx, id, TypeCommit)
	if err != nil {
		return nil, err
	}
	c, err := DecodeCommit(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", id, err)
	}
	return c, nil
}

// LoadDirTree reads and parses a dirtree object, checking its checksum.
func (r *Repo) LoadDirTree(ctx context.Context, id ID) (*DirTree, error) {
	data, err := r.readVerifiedMeta(ctx, id, TypeDirTree)
	if err != nil {
		return nil, err
	}
	t, err := DecodeDirTree(data)
	if err != nil {
		return nil, fmt.Errorf("dirtree %s: %w", id, err)
	}
	return t, nil
}

// LoadDirMeta reads and parses a dirmeta object, checking its checksum.
func (r *Repo) LoadDirMeta(ctx context.Context, id ID) (*Meta, error) {
	data, err := r.readVerifiedMeta(ctx, id, TypeDirMeta)
	if err != nil {
		return nil, err
	}
	m, err := decodeDirMeta(data)
	if err != nil {
		return nil, fmt.Errorf("dirmeta %s: %w", id, err)
	}
	return m, nil
}

// LoadCommitMeta reads the detached metadata of a commit; it returns nil, nil
// when the commit has none.
func (r *Repo) LoadCommitMeta(ctx context.Context, commit ID) (Metadata, error) {
	data, err := r.ReadMetaObject(ctx, commit, TypeCommitMeta)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	md, err := DecodeMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("commitmeta %s: %w", commit, err)
	}
	return md, nil
}

// DigestMismatchError reports an object whose bytes do not hash to its name.
type DigestMismatchError struct {
	Object ObjectName
	Got    ID
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("corrupted object %s: checksum is %s", e.Object, e.Got)
}

func (r *Repo) readVerifiedMeta(ctx context.Context, id ID, t ObjectType) ([]byte, error) {
	data, err := r.ReadMetaObject(ctx, id, t)
	if err != nil {
		return nil, err
	}
	if got := Hash(data); got != id {
		return nil, &DigestMismatchError{Object: ObjectName{id, t}, Got: got}
	}
	return data, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory: write, fsync, rename, fsync the directory. Readers see the old
// or the new file, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// lock takes the repository lock (.lock, flock): shared for transactions,
// exclusive for operations that delete objects, as ostree does.
func (r *Repo) lock(ctx context.Context, exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.path, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open repository lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock repository: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock repository: %w", ctx.Err())
		case <-sleepChan():
		}
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// ListObjects calls fn for every loose object in the repository (the type is
// taken from the file extension). Unknown files are skipped.
func (r *Repo) ListObjects(ctx context.Context, fn func(ObjectName) error) error {
	objdir := filepath.Join(r.path, "objects")
	prefixes, err := os.ReadDir(objdir)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	for _, p := range prefixes {
		if len(p.Name()) != 2 || !p.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(filepath.Join(objdir, p.Name()))
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		for _, e := range ents {
			base, ext, ok := strings.Cut(e.Name(), ".")
			if !ok || len(base) != 62 {
				continue
			}
			if ext == "filez" {
				ext = "file"
			}
			t, err := ParseObjectType(ext)
			if err != nil {
				continue
			}
			id, err := ParseID(p.Name() + base)
			if err != nil {
				continue
			}
			if err := fn(ObjectName{id, t}); err != nil {
				return err
			}
		}
	}
	return nil
}

func trimNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
