package objstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gostree/gostree/fsverity"
	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"
)

// smallFileMax is the size up to which file content is read into memory and
// hashed before anything is written, so unchanged content costs no write.
const smallFileMax = 1 << 20

// archiveLevel is the DEFLATE level of archive-z2 content; ostree uses zlib
// level 6. Any valid raw DEFLATE stream reads back identically.
const archiveLevel = 6

func sleepChan() <-chan time.Time { return time.After(20 * time.Millisecond) }

// Stats counts what a transaction wrote.
type Stats struct {
	MetaTotal, MetaWritten       int64
	ContentTotal, ContentWritten int64
	ContentBytesWritten          int64
}

// Transaction stages new objects in a private directory under tmp/ and makes
// them visible only on Commit: after their data is synced to disk, objects
// are renamed into objects/, then refs are updated atomically. A crash or an
// Abort before that leaves the repository as it was (the staging directory is
// removed by the next transaction or by Abort).
//
// Write methods are safe for concurrent use by multiple goroutines.
type Transaction struct {
	r       *Repo
	unlock  func()
	staging string
	tmpSeq  atomic.Int64
	// prefixState caches, per first checksum byte, whether objects/XX
	// existed: 0 unknown, 1 present, 2 absent.
	prefixState [256]atomic.Int32
	// umask is the process umask, read once, to create archive objects
	// with their final mode without an extra fchmod.
	umask     uint32
	stageDirs sync.Map // staging prefix directories already created

	mu     sync.Mutex
	staged map[ObjectName]bool
	known  map[ObjectName]bool // objects seen to exist in objects/
	refs   map[string]*ID      // nil value deletes
	stats  Stats
	done   bool
	// digests are the fs-verity digests of new bare object files, recorded
	// on Commit.
	digests map[ID]sealed
	// pending are objects whose digests wait for a batch (batchDigest).
	pending      []pendingDigest
	pendingBytes int

	verityMode        VerityMode
	verityUnsupported atomic.Bool
	noDigests         bool
}

// sealed is what the digest log records about a new object. The object
// file's inode, size and times are taken when it is sealed, in the worker
// that wrote it; renames into objects/ keep what the log compares (not the
// ctime). An object another writer published first is stat'ed again.
type sealed struct {
	digest fsverity.Digest
	header []byte
	st     fileStamp
}

// SkipVerityDigests stops the transaction from recording fs-verity digests
// of the objects it writes (they are then computed when a composefs image
// needs them). It must be called before any write; kernel verity, if the
// repository asks for it, is still enabled.
func (tx *Transaction) SkipVerityDigests() { tx.noDigests = true }

// recordsDigests reports whether new objects get their digest computed.
func (tx *Transaction) recordsDigests() bool {
	return tx.r.recordsVerity() && (!tx.noDigests || tx.verityMode != VerityNo)
}

// Begin starts a transaction. It holds the repository's shared lock until
// Commit or Abort.
func (r *Repo) Begin(ctx context.Context) (*Transaction, error) {
	unlock, err := r.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	r.cleanStaleStaging()
	staging, err := os.MkdirTemp(filepath.Join(r.path, "tmp"), "staging-gostree-")
	if err != nil {
		unlock()
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	vm, err := r.VerityMode()
	if err != nil {
		os.RemoveAll(staging)
		unlock()
		return nil, err
	}
	return &Transaction{r: r, unlock: unlock, staging: staging, staged: map[ObjectName]bool{}, known: map[ObjectName]bool{},
		refs: map[string]*ID{}, digests: map[ID]sealed{}, verityMode: vm, umask: readUmask()}, nil
}

// cleanStaleStaging removes staging directories of transactions that died
// (older than a day, like ostree's tmp-expiry-secs default).
func (r *Repo) cleanStaleStaging() {
	ents, err := os.ReadDir(filepath.Join(r.path, "tmp"))
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || len(e.Name()) < 16 || e.Name()[:16] != "staging-gostree-" {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			if err := os.RemoveAll(filepath.Join(r.path, "tmp", e.Name())); err != nil {
				r.log.Debug("remove stale staging dir", "dir", e.Name(), "err", err)
			}
		}
	}
}

// Repo returns the transaction's repository.
func (tx *Transaction) Repo() *Repo { return tx.r }

// Stats returns the counters so far.
func (tx *Transaction) Stats() Stats {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.stats
}

// Has reports whether the object is in the repository or staged.
func (tx *Transaction) Has(id ID, t ObjectType) (bool, error) {
	n := ObjectName{id, t}
	tx.mu.Lock()
	seen := tx.staged[n] || tx.known[n]
	tx.mu.Unlock()
	if seen {
		return true, nil
	}
	if tx.prefixAbsent(id) {
		return false, nil
	}
	ok, err := tx.r.HasObject(id, t)
	if ok && t != TypeFile {
		// Remember metadata objects (few, often repeated: dirmeta);
		// content objects are many and rarely repeat.
		tx.mu.Lock()
		tx.known[n] = true
		tx.mu.Unlock()
	}
	return ok, err
}

// prefixAbsent reports whether objects/XX for id's prefix did not exist when
// the transaction first looked: then no object with that prefix can be
// present (this transaction creates prefixes only on Commit), which spares
// a fresh repository one failed lookup per object. Another writer creating
// the prefix meanwhile only costs deduplication, never correctness.
func (tx *Transaction) prefixAbsent(id ID) bool {
	p := id[0]
	if v := tx.prefixState[p].Load(); v != 0 {
		return v == 2
	}
	var st unix.Stat_t
	err := unix.Lstat(filepath.Join(tx.r.path, "objects", id.String()[:2]), &st)
	state := int32(1)
	if errors.Is(err, unix.ENOENT) {
		state = 2
	}
	tx.prefixState[p].Store(state)
	return state == 2
}

func (tx *Transaction) stagedPath(n ObjectName) string {
	// Same prefix/name as in objects/ (with archive's .filez).
	return filepath.Join(tx.staging, stageKind(n.Type), tx.r.ObjectPath(n.ID, n.Type)[len("objects/"):])
}

// stageKind separates content from metadata in the staging directory, so
// that on Commit a whole content prefix directory can be renamed into
// objects/ in one step when objects/ has no such prefix yet.
func stageKind(t ObjectType) string {
	if t == TypeFile {
		return "content"
	}
	return "meta"
}

// ensureStageDir creates the staging prefix directory of an object.
func (tx *Transaction) ensureStageDir(n ObjectName) error {
	dir := filepath.Dir(tx.stagedPath(n))
	if _, ok := tx.stageDirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("stage %s: %w", n, err)
	}
	tx.stageDirs.Store(dir, true)
	return nil
}

// markStaged records a staged object; it returns false if another goroutine
// staged the same object first (the caller then discards its copy).
func (tx *Transaction) markStaged(n ObjectName, size int64) bool {
	if tx.ensureStageDir(n) != nil {
		return true // the create below fails with the reason
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.staged[n] {
		return false
	}
	tx.staged[n] = true
	if n.Type == TypeFile {
		tx.stats.ContentWritten++
		tx.stats.ContentBytesWritten += size
	} else {
		tx.stats.MetaWritten++
	}
	return true
}

// WriteMeta stores a metadata object and returns its checksum. data must be a
// normal-form GVariant of the type's format; it is not re-validated here.
func (tx *Transaction) WriteMeta(ctx context.Context, t ObjectType, data []byte) (ID, error) {
	if err := ctx.Err(); err != nil {
		return ID{}, err
	}
	if !t.IsMeta() || t == TypeCommitMeta || t == TypeTombstoneCommit {
		return ID{}, fmt.Errorf("write %s: not a content-addressed metadata type", t)
	}
	id := Hash(data)
	tx.mu.Lock()
	tx.stats.MetaTotal++
	tx.mu.Unlock()
	if ok, err := tx.Has(id, t); err != nil || ok {
		return id, err
	}
	n := ObjectName{id, t}
	if err := tx.stageBytes(n, data, 0o644); err != nil {
		return ID{}, err
	}
	return id, nil
}

// WriteCommitMeta stores (replacing) the detached metadata of a commit.
func (tx *Transaction) WriteCommitMeta(ctx context.Context, commit ID, md Metadata) error {
	data, err := EncodeMetadata(md)
	if err != nil {
		return fmt.Errorf("write commitmeta %s: %w", commit, err)
	}
	n := ObjectName{commit, TypeCommitMeta}
	tx.mu.Lock()
	delete(tx.staged, n)
	tx.mu.Unlock()
	os.Remove(tx.stagedPath(n))
	return tx.stageBytes(n, data, 0o644)
}

func (tx *Transaction) stageBytes(n ObjectName, data []byte, perm uint32) error {
	if !tx.markStaged(n, int64(len(data))) {
		return nil
	}
	path := tx.stagedPath(n)
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err == nil {
		err = writeAll(fd, data)
		if err == nil {
			err = unix.Fchmod(fd, perm)
		}
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tx.unstage(n, path)
		return fmt.Errorf("write %s: %w", n, err)
	}
	return nil
}

func (tx *Transaction) unstage(n ObjectName, path string) {
	tx.mu.Lock()
	delete(tx.staged, n)
	tx.mu.Unlock()
	unix.Unlink(path)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// ContentChecksum computes the content checksum of a file with metadata m
// and the given content (nil for symlinks), without storing anything.
func ContentChecksum(m *Meta, content io.Reader) (ID, error) {
	h := newContentHash(m)
	if m.IsRegular() && content != nil {
		if _, err := io.Copy(h, content); err != nil {
			return ID{}, err
		}
	}
	return ID(h.Sum(nil)), nil
}

func newContentHash(m *Meta) hash.Hash {
	return contentHash(encodeFileHeader(m))
}

// contentHash is newContentHash for a file header already encoded.
func contentHash(header []byte) hash.Hash {
	h := sha256.New()
	p := lengthPrefix(len(header))
	h.Write(p[:])
	h.Write(header)
	return h
}

// contentPrefix is what a content checksum hashes before the file's data:
// the length-prefixed file header.
func contentPrefix(m *Meta) []byte {
	header := encodeFileHeader(m)
	p := lengthPrefix(len(header))
	return append(p[:], header...)
}

// ErrSizeChanged means a file's length differed from what its stat said,
// usually because it changed while being committed.
var ErrSizeChanged = errors.New("file size changed while reading")

// WriteContent stores a content object (regular file or symlink) described
// by m, reading exactly m.Size bytes of content from r for regular files (r
// is ignored for symlinks). It returns the content checksum. The content is
// read once; small files are hashed before anything is written so existing
// objects cost no write.
func (tx *Transaction) WriteContent(ctx context.Context, m *Meta, r io.Reader) (ID, error) {
	if err := tx.checkContent(ctx, m); err != nil {
		return ID{}, err
	}
	if m.IsSymlink() {
		return tx.writeSymlink(m)
	}
	if m.Size <= smallFileMax {
		buf := make([]byte, m.Size+1)
		n, err := io.ReadFull(r, buf)
		if err != io.ErrUnexpectedEOF && err != io.EOF && err != nil {
			return ID{}, fmt.Errorf("read content: %w", err)
		}
		if int64(n) != m.Size {
			return ID{}, ErrSizeChanged
		}
		return tx.WriteContentBytes(ctx, m, buf[:n])
	}
	return tx.stageStream(m, r)
}

// WriteContentBytes is WriteContent for content already in memory.
func (tx *Transaction) WriteContentBytes(ctx context.Context, m *Meta, data []byte) (ID, error) {
	return tx.writeContentBytes(ctx, m, data, false)
}

// writeContentBytes is WriteContentBytes; owned says data is the
// transaction's to keep (nobody changes it later), so its fs-verity digest
// may be computed later, in a batch with other files'.
func (tx *Transaction) writeContentBytes(ctx context.Context, m *Meta, data []byte, owned bool) (ID, error) {
	if err := tx.checkContent(ctx, m); err != nil {
		return ID{}, err
	}
	if m.IsSymlink() {
		return tx.writeSymlink(m)
	}
	if int64(len(data)) != m.Size {
		return ID{}, ErrSizeChanged
	}
	// The checksum alone first: an object that exists (one in ten files of
	// a fresh /usr commit) then costs no fs-verity digest.
	header := encodeFileHeader(m) // for the checksum, and for the digest log
	h := contentHash(header)
	h.Write(data)
	id := ID(h.Sum(nil))
	if ok, err := tx.Has(id, TypeFile); err != nil || ok {
		return id, err
	}
	n := ObjectName{id, TypeFile}
	if !tx.markStaged(n, m.Size) {
		return id, nil
	}
	path := tx.stagedPath(n)
	if err := tx.writeRegularObject(id, path, m, header, data, owned); err != nil {
		tx.unstage(n, path)
		return ID{}, fmt.Errorf("write content %s: %w", id, err)
	}
	return id, nil
}

func (tx *Transaction) checkContent(ctx context.Context, m *Meta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateFileMeta(m); err != nil {
		return fmt.Errorf("write content: %w", err)
	}
	if tx.r.mode == ModeBareUserOnly {
		if m.IsRegular() && m.Mode&^(sIFMT|0o775) != 0 {
			return fmt.Errorf("write content: mode 0%o not allowed in a bare-user-only repository (only 0775 bits)", m.Mode&permAll)
		}
		if m.UID != 0 || m.GID != 0 || len(m.Xattrs) > 0 {
			return fmt.Errorf("write content: bare-user-only repositories hold no ownership or xattrs")
		}
	}
	tx.mu.Lock()
	tx.stats.ContentTotal++
	tx.mu.Unlock()
	return nil
}

// readUmask returns the process umask from /proc/self/status (reading it
// with umask(2) would change it); 0o777 (unknown: always chmod) on failure.
func readUmask() uint32 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(u)
			}
		}
	}
	return 0o777
}

// writeRegularObject creates path holding data in the repository's format,
// and for bare modes records the object file's fs-verity digest (in a batch
// with other files' when data is owned) and enables kernel verity when
// configured. header is m's encoded file header, or nil.
func (tx *Transaction) writeRegularObject(id ID, path string, m *Meta, header, data []byte, owned bool) error {
	// Create the file with its final permissions when the umask lets us,
	// which spares an fchmod per object.
	perm, final := uint32(0o600), tx.finalPerm(m)
	if final != 0 && final&^0o777 == 0 && final&tx.umask == 0 {
		perm = final
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, perm)
	if err != nil {
		return err
	}
	if tx.r.mode == ModeArchive {
		var b bytes.Buffer
		tx.writeArchiveHeader(&b, m)
		zw := tx.r.deflater(&b)
		zw.Write(data)
		zw.Close()
		tx.r.putDeflater(zw)
		data = b.Bytes()
	}
	err = writeAll(fd, data)
	if err == nil {
		err = tx.finishObject(fd, m, perm == final)
	}
	// The finished file's stamp for the digest log, unless enabling
	// verity below may still change the inode (then record takes it).
	var st fileStamp
	if err == nil && owned && !tx.noDigests && tx.verityMode == VerityNo {
		st, err = fstampOf(fd)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil || !tx.recordsDigests() {
		return err
	}
	if err := tx.enableVerity(path); err != nil || tx.noDigests {
		return err
	}
	if header == nil {
		header = encodeFileHeader(m)
	}
	if !owned {
		return tx.record(id, path, fsverity.Sum(data), header, fileStamp{})
	}
	return tx.batchDigest(pendingDigest{id, path, header, data, st})
}

// pendingDigest is an object whose digest waits for a batch.
type pendingDigest struct {
	id     ID
	path   string
	header []byte // the object's encoded file header
	data   []byte
	st     fileStamp // zero: record stats the file
}

// Digest batches: the blocks of many small files are hashed together, up
// to sixteen at a time (fsverity.SumMany), instead of one file at a time.
const (
	digestBatchFiles = 64
	digestBatchBytes = 4 << 20
)

// batchDigest adds p to the pending batch, and when the batch is full,
// computes and records its digests here.
func (tx *Transaction) batchDigest(p pendingDigest) error {
	tx.mu.Lock()
	tx.pending = append(tx.pending, p)
	tx.pendingBytes += len(p.data)
	var run []pendingDigest
	if len(tx.pending) >= digestBatchFiles || tx.pendingBytes >= digestBatchBytes {
		run, tx.pending, tx.pendingBytes = tx.pending, nil, 0
	}
	tx.mu.Unlock()
	return tx.sealBatch(run)
}

// sealBatch computes the digests of a batch and records them.
func (tx *Transaction) sealBatch(run []pendingDigest) error {
	if len(run) == 0 {
		return nil
	}
	data := make([][]byte, len(run))
	for i, p := range run {
		data[i] = p.data
	}
	for i, d := range fsverity.SumMany(data) {
		p := &run[i]
		if err := tx.record(p.id, p.path, d, p.header, p.st); err != nil {
			return fmt.Errorf("content %s: %w", p.id, err)
		}
	}
	return nil
}

// sealObject records the digest of a finished bare object file and enables
// kernel fs-verity on it when [ex-integrity] fsverity asks: "yes" fails where
// the kernel or filesystem cannot, "maybe" carries on.
func (tx *Transaction) sealObject(id ID, path string, d fsverity.Digest, m *Meta) error {
	if err := tx.enableVerity(path); err != nil {
		return err
	}
	if tx.noDigests {
		return nil
	}
	var header []byte
	if m != nil {
		header = encodeFileHeader(m)
	}
	return tx.record(id, path, d, header, fileStamp{})
}

// record notes the digest of the object file at path for the digest log,
// with its encoded file header and the file's stamp st, or, if st is zero,
// one taken now (after kernel verity was enabled, which may change the
// inode).
func (tx *Transaction) record(id ID, path string, d fsverity.Digest, header []byte, st fileStamp) error {
	s := sealed{digest: d, header: header, st: st}
	if s.st == (fileStamp{}) {
		var err error
		if s.st, err = stampOf(path); err != nil {
			return fmt.Errorf("record fs-verity digest: %w", err)
		}
	}
	tx.mu.Lock()
	tx.digests[id] = s
	tx.mu.Unlock()
	return nil
}

// enableVerity enables kernel fs-verity on the object file at path when
// [ex-integrity] fsverity asks: "yes" fails where the kernel or filesystem
// cannot, "maybe" carries on.
func (tx *Transaction) enableVerity(path string) error {
	if tx.verityMode == VerityNo || tx.verityMode == VerityMaybe && tx.verityUnsupported.Load() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = fsverity.Enable(f, nil)
	if err == nil {
		return nil
	}
	if errors.Is(err, fsverity.ErrNotSupported) && tx.verityMode == VerityMaybe {
		if !tx.verityUnsupported.Swap(true) {
			tx.r.log.Debug("fs-verity not supported here; continuing without it (fsverity=maybe)", "err", err)
		}
		return nil
	}
	return fmt.Errorf("enable fs-verity (repository config [ex-integrity] fsverity=yes): %w", err)
}

func (tx *Transaction) writeArchiveHeader(w io.Writer, m *Meta) error {
	header := encodeArchiveHeader(m)
	p := lengthPrefix(len(header))
	if _, err := w.Write(p[:]); err != nil {
		return err
	}
	_, err := w.Write(header)
	return err
}

// stageStream writes a large regular file through a temporary file while
// hashing it, then names it after its checksum (or drops it if the object
// exists).
func (tx *Transaction) stageStream(m *Meta, r io.Reader) (ID, error) {
	tmp := filepath.Join(tx.staging, fmt.Sprintf("tmp-%d", tx.tmpSeq.Add(1)))
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return ID{}, fmt.Errorf("write content: %w", err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	fail := func(err error) (ID, error) {
		f.Close()
		os.Remove(tmp)
		return ID{}, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	var w io.Writer = bw
	var zw *flate.Writer
	if tx.r.mode == ModeArchive {
		if err := tx.writeArchiveHeader(bw, m); err != nil {
			return fail(fmt.Errorf("write content: %w", err))
		}
		zw = tx.r.deflater(bw)
		defer tx.r.putDeflater(zw)
		w = zw
	}
	// The checksum, and in bare modes the fs-verity digest in the same passes.
	var vh *fsverity.Hasher
	var h hash.Hash
	if tx.recordsDigests() {
		vh = fsverity.NewWithSHA256(contentPrefix(m))
		w = io.MultiWriter(w, vh)
	} else {
		h = newContentHash(m)
		w = io.MultiWriter(w, h)
	}
	n, err := copyPooled(w, io.LimitReader(r, m.Size+1)) // 256 KiB writes: the digest hashes 16 blocks at a time
	if err != nil {
		return fail(fmt.Errorf("write content: %w", err))
	}
	if n != m.Size {
		return fail(ErrSizeChanged)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fail(fmt.Errorf("write content: %w", err))
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("write content: %w", err))
	}
	var id ID
	if vh != nil {
		id = ID(vh.SHA256())
	} else {
		id = ID(h.Sum(nil))
	}
	if ok, err := tx.Has(id, TypeFile); err != nil || ok {
		f.Close()
		os.Remove(tmp)
		return id, err
	}
	if err := tx.finishRegular(fd, m); err != nil {
		return fail(fmt.Errorf("write content %s: %w", id, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return ID{}, fmt.Errorf("write content %s: %w", id, err)
	}
	obj := ObjectName{id, TypeFile}
	if !tx.markStaged(obj, m.Size) {
		os.Remove(tmp)
		return id, nil
	}
	if err := os.Rename(tmp, tx.stagedPath(obj)); err != nil {
		tx.unstage(obj, tmp)
		return ID{}, fmt.Errorf("stage %s: %w", obj, err)
	}
	if vh != nil {
		if err := tx.sealObject(id, tx.stagedPath(obj), vh.Digest(), m); err != nil {
			tx.unstage(obj, tx.stagedPath(obj))
			return ID{}, fmt.Errorf("write content %s: %w", id, err)
		}
	}
	return id, nil
}

// finalPerm is the permission an object file gets in this repository's
// mode (0 when it depends on ownership, as in bare mode).
func (tx *Transaction) finalPerm(m *Meta) uint32 {
	switch tx.r.mode {
	case ModeArchive:
		return 0o644
	case ModeBareUser:
		if m.IsRegular() {
			return (m.Mode & 0o775) | 0o400
		}
		return 0o644
	case ModeBareUserOnly:
		return m.Mode & permAll
	}
	return 0
}

// finishRegular applies the per-mode metadata to a staged regular object.
func (tx *Transaction) finishRegular(fd int, m *Meta) error { return tx.finishObject(fd, m, false) }

// finishObject is finishRegular for a file whose permissions may already be
// final (permDone), in which case no fchmod is made.
func (tx *Transaction) finishObject(fd int, m *Meta, permDone bool) error {
	switch tx.r.mode {
	case ModeBare:
		if err := unix.Fchown(fd, int(m.UID), int(m.GID)); err != nil {
			return fmt.Errorf("fchown (bare repositories need root): %w", err)
		}
		if err := unix.Fchmod(fd, m.Mode&permAll); err != nil {
			return fmt.Errorf("fchmod: %w", err)
		}
		for _, x := range m.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s: %w", x.Name, err)
			}
		}
	case ModeBareUser:
		if err := unix.Fsetxattr(fd, "user.ostreemeta", encodeDirMeta(m), 0); err != nil {
			return fmt.Errorf("set user.ostreemeta: %w", err)
		}
		if !permDone {
			if err := unix.Fchmod(fd, tx.finalPerm(m)); err != nil {
				return fmt.Errorf("fchmod: %w", err)
			}
		}
	case ModeBareUserOnly:
		if !permDone {
			if err := unix.Fchmod(fd, m.Mode&permAll); err != nil {
				return fmt.Errorf("fchmod: %w", err)
			}
		}
	case ModeArchive:
		if !permDone {
			if err := unix.Fchmod(fd, 0o644); err != nil {
				return fmt.Errorf("fchmod: %w", err)
			}
		}
		return nil
	}
	// Bare objects have mtime 0, as ostree sets (OSTREE_TIMESTAMP).
	ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT}, {Sec: 0}}
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

func (tx *Transaction) writeSymlink(m *Meta) (ID, error) {
	id := ID(newContentHash(m).Sum(nil))
	if ok, err := tx.Has(id, TypeFile); err != nil || ok {
		return id, err
	}
	n := ObjectName{id, TypeFile}
	if !tx.markStaged(n, m.Size) {
		return id, nil
	}
	path := tx.stagedPath(n)
	if err := tx.stageSymlink(id, path, m); err != nil {
		tx.unstage(n, path)
		return ID{}, fmt.Errorf("write content %s: %w", id, err)
	}
	return id, nil
}

func (tx *Transaction) stageSymlink(id ID, path string, m *Meta) error {
	switch tx.r.mode {
	case ModeBareUser:
		// bare-user stores symlinks as regular files holding the target and a NUL.
		return tx.writeRegularObject(id, path, m, nil, append([]byte(m.Target), 0), true)
	case ModeArchive:
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		tx.writeArchiveHeader(&b, m)
		err = writeAll(fd, b.Bytes())
		if err == nil {
			err = unix.Fchmod(fd, 0o644)
		}
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
		return err
	}
	// bare and bare-user-only: a real symlink.
	if err := unix.Symlink(m.Target, path); err != nil {
		return err
	}
	if tx.r.mode == ModeBare {
		if err := unix.Lchown(path, int(m.UID), int(m.GID)); err != nil {
			return fmt.Errorf("lchown (bare repositories need root): %w", err)
		}
		for _, x := range m.Xattrs {
			if err := unix.Lsetxattr(path, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s: %w", x.Name, err)
			}
		}
	}
	ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT}, {Sec: 0}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// SetRef schedules a ref update applied on Commit: a branch ("main") or a
// remote ref ("origin:main").
func (tx *Transaction) SetRef(ref string, id ID) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	v := id
	tx.refs[ref] = &v
}

// Commit makes the staged objects durable and visible, then updates refs.
func (tx *Transaction) Commit(ctx context.Context) error {
	tx.mu.Lock()
	if tx.done {
		tx.mu.Unlock()
		return errors.New("transaction already finished")
	}
	tx.done = true
	tx.mu.Unlock()
	defer tx.cleanup()
	if err := ctx.Err(); err != nil {
		return err
	}
	// The last batch of digests.
	if err := tx.sealBatch(tx.pending); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	tx.pending = nil
	// 1. data of every staged object reaches the disk.
	if err := syncFS(tx.staging); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	// 2. move into objects/: content first, then dirmeta and dirtree, then
	// commits, so that a visible commit never names a missing object even
	// if we die midway. A content prefix directory that objects/ lacks is
	// moved whole.
	objdir := filepath.Join(tx.r.path, "objects")
	syncDirs := map[string]bool{}
	contentDir := filepath.Join(tx.staging, "content")
	prefixes, err := os.ReadDir(contentDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit transaction: %w", err)
	}
	for _, p := range prefixes {
		src, dst := filepath.Join(contentDir, p.Name()), filepath.Join(objdir, p.Name())
		err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
		if err == nil {
			syncDirs[objdir] = true
			continue
		}
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("commit transaction: store objects/%s: %w", p.Name(), err)
		}
		if err := tx.publishDir(src, dst, syncDirs); err != nil {
			return err
		}
	}
	var metas []ObjectName
	for n := range tx.staged {
		if n.Type != TypeFile {
			metas = append(metas, n)
		}
	}
	rank := func(t ObjectType) int {
		switch t {
		case TypeDirMeta, TypeDirTree:
			return 1
		case TypeCommit:
			return 2
		}
		return 3
	}
	slices.SortFunc(metas, func(a, b ObjectName) int { return rank(a.Type) - rank(b.Type) })
	for _, n := range metas {
		dst := filepath.Join(tx.r.path, tx.r.ObjectPath(n.ID, n.Type))
		if _, err := publishFile(tx.stagedPath(n), dst, n.Type == TypeCommitMeta, syncDirs); err != nil {
			return fmt.Errorf("commit transaction: store %s: %w", n, err)
		}
	}
	for d := range syncDirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("commit transaction: %w", err)
		}
	}
	if err := tx.r.appendVerity(tx.digests); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	// 3. refs, each atomically.
	for ref, id := range tx.refs {
		if err := tx.r.writeRef(ref, id); err != nil {
			return fmt.Errorf("commit transaction: %w", err)
		}
	}
	return nil
}

// publishDir moves every staged object of one prefix directory into dst.
func (tx *Transaction) publishDir(src, dst string, syncDirs map[string]bool) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	for _, e := range ents {
		to := filepath.Join(dst, e.Name())
		existed, err := publishFile(filepath.Join(src, e.Name()), to, false, syncDirs)
		if err != nil {
			return fmt.Errorf("commit transaction: store %s: %w", e.Name(), err)
		}
		if existed {
			if err := tx.restamp(filepath.Base(dst), e.Name(), to); err != nil {
				return err
			}
		}
	}
	return nil
}

// restamp stats the file of an object that another writer published first,
// so that the digest recorded for it describes that file, not the staged
// one; prefix and name are its staging directory and file name.
func (tx *Transaction) restamp(prefix, name, path string) error {
	id, err := ParseID(prefix + strings.TrimSuffix(name, ".file"))
	if err != nil {
		return nil // not a content object
	}
	s, ok := tx.digests[id]
	if !ok {
		return nil
	}
	if s.st, err = stampOf(path); err != nil {
		return fmt.Errorf("commit transaction: record fs-verity digest of %s: %w", id, err)
	}
	tx.digests[id] = s
	return nil
}

// publishFile renames one staged object into place; an object that is
// already there is kept (its content is the same), except detached
// metadata, which replaces.
func publishFile(src, dst string, replace bool, syncDirs map[string]bool) (existed bool, err error) {
	dir := filepath.Dir(dst)
	if !syncDirs[dir] {
		if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, err
		}
		syncDirs[dir] = true
	}
	if replace {
		return false, os.Rename(src, dst)
	}
	err = unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return true, nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		err = os.Rename(src, dst)
	}
	return false, err
}

// Abort discards everything staged. It is safe to call after Commit.
func (tx *Transaction) Abort() {
	tx.mu.Lock()
	done := tx.done
	tx.done = true
	tx.mu.Unlock()
	if !done {
		tx.cleanup()
	}
}

func (tx *Transaction) cleanup() {
	if err := os.RemoveAll(tx.staging); err != nil {
		tx.r.log.Debug("remove staging dir", "dir", tx.staging, "err", err)
	}
	tx.unlock()
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	return nil
}
