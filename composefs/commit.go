package composefs

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
	"sync/atomic"

	"github.com/gostree/gostree/fsverity"
	"github.com/gostree/gostree/objstore"
)

// DigestKey is the commit metadata key under which ostree records the
// composefs digest of a commit's tree: an "ay" of 32 bytes, the fs-verity
// digest of the image WriteCommit writes.
const DigestKey = "ostree.composefs.digest.v0"

// rootDirs are the top-level directories ostree adds to every deployment
// image when the commit lacks them, for bind mounts (ostree-repo-composefs.c).
var rootDirs = [...]string{"usr", "etc", "boot", "var", "sysroot"}

// CommitOptions configure WriteCommitOpts. The zero value and nil are what
// ostree does for `ostree.composefs.digest.v0`.
type CommitOptions struct {
	// NoDigests leaves the fs-verity digests out of the metacopy xattrs
	// (ostree's verity=0). The image then cannot be mounted with
	// verity=require, and its digest is not the commit's composefs digest.
	NoDigests bool
	// Jobs is how many goroutines read the tree and look up (or, when not
	// recorded, compute) object digests; 0 means GOMAXPROCS.
	Jobs int
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// ObjectPayload is the redirect payload ostree uses for a content object:
// its path in a bare repository's objects directory, "ab/cdef….file".
func ObjectPayload(id objstore.ID) string {
	var b [2*len(id) + len("/.file")]byte
	hex.Encode(b[:2], id[:1])
	b[2] = '/'
	hex.Encode(b[3:], id[1:])
	copy(b[3+2*(len(id)-1):], ".file")
	return string(b[:])
}

// WriteCommit writes the composefs image of a commit to w, as ostree builds
// it for a deployment and for `ostree.composefs.digest.v0` (verity=2): each
// regular file redirects to its bare object ("ab/cdef….file" under the
// repository's objects directory) and carries that object's fs-verity
// digest. It returns the image's fs-verity digest, the composefs digest.
func WriteCommit(ctx context.Context, repo *objstore.Repo, commit objstore.ID, w io.Writer) (fsverity.Digest, error) {
	return WriteCommitOpts(ctx, repo, commit, w, nil)
}

// WriteCommitOpts is WriteCommit with options.
//
// Object digests come from the repository's record when it is still valid
// (no file data is read then); otherwise they are computed from the object,
// opts.Jobs at a time, as the tree is read. For an archive repository they
// are computed from the decompressed content, so the image is the one a
// bare copy of the repository would give.
func WriteCommitOpts(ctx context.Context, repo *objstore.Repo, commit objstore.ID, w io.Writer, opts *CommitOptions) (fsverity.Digest, error) {
	cfs, err := repo.CommitFS(ctx, commit)
	if err != nil {
		return fsverity.Digest{}, fmt.Errorf("composefs image of %s: %w", commit, err)
	}
	return WriteTreeFS(ctx, repo, cfs, w, opts)
}

// WriteTreeFS is WriteCommitOpts for any tree of the repository, e.g.
// repo.TreeFS(dirtree, dirmeta, objstore.ID{}) before its commit object
// exists (ostree commit --generate-composefs-metadata).
func WriteTreeFS(ctx context.Context, repo *objstore.Repo, cfs *objstore.CommitFS, w io.Writer, opts *CommitOptions) (fsverity.Digest, error) {
	if opts == nil {
		opts = &CommitOptions{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	commit := cfs.Commit()
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	// The tree is read on jobs goroutines, and each file's digest is looked
	// up (or computed) as its entry is read.
	var computed, digested atomic.Int64
	wopts := &Options{Logger: log, File: func(name string, fi fs.FileInfo) (FileData, error) {
		if err := ctx.Err(); err != nil {
			return FileData{}, err
		}
		m := objstore.MetaOf(fi)
		if m.Content.IsZero() {
			return FileData{}, fmt.Errorf("no content object")
		}
		fd := FileData{Payload: ObjectPayload(m.Content)}
		if !opts.NoDigests {
			d, fresh, err := objectDigest(ctx, repo, m.Content)
			if err != nil {
				return FileData{}, err
			}
			if fresh {
				computed.Add(1)
			}
			digested.Add(1)
			fd.Digest = &d
		}
		return fd, nil
	}}
	root, err := buildTree(cfs, wopts, jobs)
	if err != nil {
		return fsverity.Digest{}, fmt.Errorf("composefs image of %s: %w", commit, err)
	}
	if !opts.NoDigests {
		log.Debug("composefs object digests", "objects", digested.Load(), "computed", computed.Load())
	}
	for _, name := range rootDirs {
		if root.lookup(name) == nil {
			if err := root.addChild(newNode(sIFDIR|0o755), name); err != nil {
				return fsverity.Digest{}, err
			}
		}
	}
	h, err := fsverity.New(nil)
	if err != nil {
		return fsverity.Digest{}, err
	}
	if err := (&Tree{root: root}).write(io.MultiWriter(w, h), wopts); err != nil {
		return fsverity.Digest{}, fmt.Errorf("composefs image of %s: %w", commit, err)
	}
	return h.Digest(), nil
}

// objectDigest returns the fs-verity digest of a content object and
// whether it had to be computed.
func objectDigest(ctx context.Context, repo *objstore.Repo, id objstore.ID) (fsverity.Digest, bool, error) {
	// The digest recorded when the object was written is the one its file
	// must have; a file changed since then fails verification at mount
	// time, which is what the image should make happen.
	if _, d, ok := repo.KnownContent(id); ok {
		return d, false, nil
	}
	if d, err := repo.RecordedVerity(id); err == nil {
		return d, false, nil
	}
	if err := ctx.Err(); err != nil {
		return fsverity.Digest{}, false, err
	}
	if repo.Mode().IsBare() {
		d, err := repo.VerityDigest(ctx, id)
		return d, true, err
	}
	_, rc, err := repo.OpenContent(ctx, id)
	if err != nil {
		return fsverity.Digest{}, false, fmt.Errorf("fs-verity digest of %s: %w", id, err)
	}
	defer rc.Close()
	h, err := fsverity.New(nil)
	if err != nil {
		return fsverity.Digest{}, false, err
	}
	if _, err := io.Copy(h, rc); err != nil {
		return fsverity.Digest{}, false, fmt.Errorf("fs-verity digest of %s: %w", id, err)
	}
	return h.Digest(), true, nil
}
