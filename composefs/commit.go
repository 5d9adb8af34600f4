package composefs

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
	"sync"
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
	// The tree is read on jobs goroutines, and each file's recorded digest
	// is looked up as its entry is read. Digests that were not recorded are
	// computed afterwards, jobs files at a time: a directory is read by one
	// goroutine, and a big one would otherwise be digested serially.
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
			if d, ok := recordedDigest(repo, m.Content); ok {
				fd.Digest = &d
			}
		}
		return fd, nil
	}}
	root, err := buildTree(cfs, wopts, jobs)
	if err != nil {
		return fsverity.Digest{}, fmt.Errorf("composefs image of %s: %w", commit, err)
	}
	for _, name := range rootDirs {
		if root.lookup(name) == nil {
			if err := root.addChild(newNode(sIFDIR|0o755), name); err != nil {
				return fsverity.Digest{}, err
			}
		}
	}
	if !opts.NoDigests {
		if err := computeDigests(ctx, repo, root, jobs, log); err != nil {
			return fsverity.Digest{}, fmt.Errorf("composefs image of %s: %w", commit, err)
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

// recordedDigest returns the fs-verity digest recorded for a content
// object when the object was written, if the record is still valid. That is
// the digest its file must have: a file changed since then fails
// verification at mount time, which is what the image should make happen.
func recordedDigest(repo *objstore.Repo, id objstore.ID) (fsverity.Digest, bool) {
	if d, ok := repo.KnownDigest(id); ok {
		return d, true
	}
	if d, err := repo.RecordedVerity(id); err == nil {
		return d, true
	}
	return fsverity.Digest{}, false
}

// computeDigests computes the fs-verity digest of every external regular
// file that has none yet, from the object its payload names, jobs files at
// a time.
func computeDigests(ctx context.Context, repo *objstore.Repo, root *node, jobs int, log *slog.Logger) error {
	var todo []*node
	files := 0
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			if c.link != nil {
				continue
			}
			if c.typ() == sIFREG && c.size > 0 && c.content == nil && c.hasPayload {
				files++
				if !c.hasDigest {
					todo = append(todo, c)
				}
			}
			walk(c)
		}
	}
	walk(root)
	log.Debug("composefs object digests", "objects", files, "computed", len(todo))
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	for range min(jobs, len(todo)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(todo) {
					return
				}
				n := todo[i]
				d, err := computeDigest(ctx, repo, n.payload)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				n.digest, n.hasDigest = d, true
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// computeDigest computes the fs-verity digest of the object behind a
// payload: from its file in a bare repository, from its decompressed
// content otherwise.
func computeDigest(ctx context.Context, repo *objstore.Repo, payload string) (fsverity.Digest, error) {
	id, ok := parseObjectPayload(payload)
	if !ok {
		return fsverity.Digest{}, fmt.Errorf("payload %q does not name an object", payload)
	}
	if repo.Mode().IsBare() {
		return repo.VerityDigest(ctx, id)
	}
	_, rc, err := repo.OpenContent(ctx, id)
	if err != nil {
		return fsverity.Digest{}, fmt.Errorf("fs-verity digest of %s: %w", id, err)
	}
	defer rc.Close()
	h, err := fsverity.New(nil)
	if err != nil {
		return fsverity.Digest{}, err
	}
	if _, err := io.Copy(h, rc); err != nil {
		return fsverity.Digest{}, fmt.Errorf("fs-verity digest of %s: %w", id, err)
	}
	return h.Digest(), nil
}

// parseObjectPayload parses ObjectPayload's spelling of an object ID.
func parseObjectPayload(p string) (id objstore.ID, ok bool) {
	const n = 2*len(id) + len("/.file")
	if len(p) != n || p[2] != '/' || p[n-len(".file"):] != ".file" {
		return id, false
	}
	var h [2 * len(id)]byte
	copy(h[:2], p[:2])
	copy(h[2:], p[3:])
	_, err := hex.Decode(id[:], h[:])
	return id, err == nil
}
