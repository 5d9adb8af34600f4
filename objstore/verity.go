package objstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fsverity"
)

// verityLogMagic starts the digest log; changing the record layout must
// change it.
const verityLogMagic = "gostree-verity-v2\n"

// verityFixedSize is the fixed part of one log record: object id, digest,
// inode, size, mtime and ctime of the object file when recorded, and the
// length of the content header that follows. The header (the object's
// metadata as hashed into its checksum) and a CRC-32C of the whole record
// come after it.
const verityFixedSize = 32 + 32 + 4*8 + 4

// maxRecordHeader bounds a recorded content header (metadata and xattrs).
const maxRecordHeader = 1 << 20

// VerityLogPath is where a bare repository records the fs-verity digests of
// its content objects, relative to the repository.
const VerityLogPath = "extensions/gostree/verity.log"

// VerityMode is the [ex-integrity] fsverity setting: whether kernel fs-verity
// is enabled on content objects as they are written.
type VerityMode int

// The tristate values ostree accepts for [ex-integrity] fsverity.
const (
	VerityNo VerityMode = iota
	VerityMaybe
	VerityYes
)

// VerityMode returns the repository's [ex-integrity] fsverity setting
// (yes|true|1, maybe, no|false|0; default no).
func (r *Repo) VerityMode() (VerityMode, error) {
	v, ok := r.config.Value("ex-integrity", "fsverity")
	if !ok {
		return VerityNo, nil
	}
	switch strings.TrimSpace(v) {
	case "yes", "true", "1":
		return VerityYes, nil
	case "maybe":
		return VerityMaybe, nil
	case "no", "false", "0":
		return VerityNo, nil
	}
	return VerityNo, fmt.Errorf("config [ex-integrity] fsverity: invalid value %q (want yes, maybe or no)", v)
}

type verityRecord struct {
	digest fsverity.Digest
	fileStamp
	// header is the content object's file header (uuuusa(ayay)); the
	// metadata it holds is fixed by the object's checksum, so it never goes
	// stale while the object exists.
	header []byte
}

// matches reports whether st still describes the object file as recorded.
// Any write changes mtime, a replacement changes the inode, so a digest
// recorded for a later-changed object is not trusted. ctime is recorded but
// not compared: hardlinking an object into a checkout changes it.
func (f fileStamp) matches(st *unix.Stat_t) bool {
	return f.ino == st.Ino && f.size == st.Size && f.mtimeNs == st.Mtim.Nano()
}

// verityIndex is the in-memory view of the digest log. Its map holds no
// pointers (the headers live in one arena), so the garbage collector never
// scans it: a FUSE mount of a large repository keeps hundreds of thousands
// of records.
type verityIndex struct {
	once    sync.Once
	err     error
	mu      sync.RWMutex
	m       map[ID]indexedRecord
	headers []byte // the records' headers, back to back; never changed in place
}

// indexedRecord is a verityRecord whose header is headers[hoff:hoff+hlen].
type indexedRecord struct {
	digest fsverity.Digest
	fileStamp
	hoff int64
	hlen uint32
}

// put adds or replaces a record; the caller holds mu (or has the index to
// itself).
func (idx *verityIndex) put(id ID, vr verityRecord) {
	idx.m[id] = indexedRecord{digest: vr.digest, fileStamp: vr.fileStamp, hoff: int64(len(idx.headers)), hlen: uint32(len(vr.header))}
	idx.headers = append(idx.headers, vr.header...)
}

// get returns the record of id; its header aliases the arena and must not
// be changed.
func (idx *verityIndex) get(id ID) (verityRecord, bool) {
	idx.mu.RLock()
	ir, ok := idx.m[id]
	var h []byte
	if ok {
		end := ir.hoff + int64(ir.hlen)
		h = idx.headers[ir.hoff:end:end]
	}
	idx.mu.RUnlock()
	if !ok {
		return verityRecord{}, false
	}
	return verityRecord{digest: ir.digest, fileStamp: ir.fileStamp, header: h}, true
}

func (r *Repo) verityIdx() (*verityIndex, error) {
	idx := r.verity
	idx.once.Do(func() {
		idx.m = map[ID]indexedRecord{}
		idx.err = readVerityLog(filepath.Join(r.path, VerityLogPath), idx.put)
		if errors.Is(idx.err, os.ErrNotExist) {
			idx.err = nil
		}
	})
	return idx, idx.err
}

// readVerityLog loads records, passing each to put (which must copy the
// header); a torn or corrupt record (a crash during an append) ends the log:
// what follows it is ignored.
func readVerityLog(path string, put func(ID, verityRecord)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(verityLogMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != verityLogMagic {
		return fmt.Errorf("read %s: bad header (an older format is ignored)", path)
	}
	var fixed [verityFixedSize]byte
	var crcb [4]byte
	buf := make([]byte, maxRecordHeader)
	for {
		if _, err := io.ReadFull(br, fixed[:]); err != nil {
			return nil
		}
		n := binary.LittleEndian.Uint32(fixed[96:])
		if n > maxRecordHeader {
			return nil
		}
		header := buf[:n]
		if _, err := io.ReadFull(br, header); err != nil {
			return nil
		}
		if _, err := io.ReadFull(br, crcb[:]); err != nil {
			return nil
		}
		crc := crc32.Update(crc32.Checksum(fixed[:], crcTable), crcTable, header)
		if crc != binary.LittleEndian.Uint32(crcb[:]) {
			return nil
		}
		var id ID
		vr := verityRecord{header: header}
		copy(id[:], fixed[0:32])
		copy(vr.digest[:], fixed[32:64])
		vr.ino = binary.LittleEndian.Uint64(fixed[64:])
		vr.size = int64(binary.LittleEndian.Uint64(fixed[72:]))
		vr.mtimeNs = int64(binary.LittleEndian.Uint64(fixed[80:]))
		vr.ctimeNs = int64(binary.LittleEndian.Uint64(fixed[88:]))
		put(id, vr)
	}
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encodeVerityRecord(dst []byte, id ID, vr verityRecord) []byte {
	var fixed [verityFixedSize]byte
	copy(fixed[0:], id[:])
	copy(fixed[32:], vr.digest[:])
	binary.LittleEndian.PutUint64(fixed[64:], vr.ino)
	binary.LittleEndian.PutUint64(fixed[72:], uint64(vr.size))
	binary.LittleEndian.PutUint64(fixed[80:], uint64(vr.mtimeNs))
	binary.LittleEndian.PutUint64(fixed[88:], uint64(vr.ctimeNs))
	binary.LittleEndian.PutUint32(fixed[96:], uint32(len(vr.header)))
	crc := crc32.Update(crc32.Checksum(fixed[:], crcTable), crcTable, vr.header)
	dst = append(dst, fixed[:]...)
	dst = append(dst, vr.header...)
	return binary.LittleEndian.AppendUint32(dst, crc)
}

// recordsVerity reports whether the repository keeps fs-verity digests: the
// bare modes, whose object files are what composefs images point at.
func (r *Repo) recordsVerity() bool { return r.mode.IsBare() }

// fileStamp identifies an object file's inode and its last change, so that
// a digest recorded for it is not trusted once the file has changed.
type fileStamp struct {
	ino              uint64
	size             int64
	mtimeNs, ctimeNs int64
}

// stampOf lstats path.
func stampOf(path string) (fileStamp, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileStamp{}, err
	}
	return stampFrom(&st), nil
}

// fstampOf fstats fd.
func fstampOf(fd int) (fileStamp, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileStamp{}, err
	}
	return stampFrom(&st), nil
}

func stampFrom(st *unix.Stat_t) fileStamp {
	return fileStamp{ino: st.Ino, size: st.Size, mtimeNs: st.Mtim.Nano(), ctimeNs: st.Ctim.Nano()}
}

// appendVerity appends the records of freshly published objects (each
// stamped when it was sealed, see Transaction.record) to the log (fsync'd),
// then adds them to the in-memory index.
func (r *Repo) appendVerity(digests map[ID]sealed) error {
	if len(digests) == 0 {
		return nil
	}
	idx, err := r.verityIdx()
	if err != nil {
		return err
	}
	recs := make(map[ID]verityRecord, len(digests))
	buf := make([]byte, 0, len(digests)*(verityFixedSize+64))
	for id, d := range digests {
		vr := verityRecord{digest: d.digest, fileStamp: d.st, header: d.header}
		recs[id] = vr
		buf = encodeVerityRecord(buf, id, vr)
	}
	path := filepath.Join(r.path, VerityLogPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	// Appenders take the log's own lock: a torn record left by a crash is
	// cut off before new records go after it.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", VerityLogPath, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		buf = append([]byte(verityLogMagic), buf...)
	} else if valid := validLogSize(path); valid != fi.Size() {
		if valid < int64(len(verityLogMagic)) {
			if err := f.Truncate(0); err != nil {
				return err
			}
			buf = append([]byte(verityLogMagic), buf...)
		} else if err := f.Truncate(valid); err != nil {
			return err
		}
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("append %s: %w", VerityLogPath, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", VerityLogPath, err)
	}
	idx.mu.Lock()
	for id, vr := range recs {
		idx.put(id, vr)
	}
	idx.mu.Unlock()
	return nil
}

// compactVerityLog rewrites the digest log with the newest record of each
// content object keep accepts, and drops the others from the index too. It
// returns how many records went (a torn tail counts as none). The new log
// is written beside the old one, synced and renamed over it, so a crash
// leaves one or the other whole; the caller holds the repository's
// exclusive lock, so no transaction appends meanwhile (and appenders also
// wait for the log's own lock, held here throughout).
func (r *Repo) compactVerityLog(keep func(ID) bool) (int, error) {
	path := filepath.Join(r.path, VerityLogPath)
	old, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer old.Close()
	if err := unix.Flock(int(old.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock %s: %w", VerityLogPath, err)
	}
	idx, err := r.verityIdx()
	if err != nil {
		return 0, err
	}
	// Read the log itself, not this process's index: another process may
	// have appended since the index was loaded.
	fresh := &verityIndex{m: map[ID]indexedRecord{}}
	records := 0
	if err := readVerityLog(path, func(id ID, vr verityRecord) { records++; fresh.put(id, vr) }); err != nil {
		return 0, err
	}
	ids := make([]ID, 0, len(fresh.m))
	for id := range fresh.m {
		if keep(id) {
			ids = append(ids, id)
		} else {
			delete(fresh.m, id)
		}
	}
	if len(ids) == records {
		return 0, nil // nothing to drop: every record is the newest of a kept object
	}
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	buf := []byte(verityLogMagic)
	for _, id := range ids {
		ir := fresh.m[id]
		end := ir.hoff + int64(ir.hlen)
		buf = encodeVerityRecord(buf, id, verityRecord{digest: ir.digest, fileStamp: ir.fileStamp, header: fresh.headers[ir.hoff:end:end]})
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".verity.log-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(buf); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("write %s: %w", VerityLogPath, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("sync %s: %w", VerityLogPath, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("replace %s: %w", VerityLogPath, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return 0, err
	}
	// The index becomes what the new log holds. Headers handed out before
	// alias the old arena, which is left as it was.
	idx.mu.Lock()
	idx.m, idx.headers = fresh.m, fresh.headers
	idx.mu.Unlock()
	return records - len(ids), nil
}

// validLogSize returns the length of the log's intact prefix.
func validLogSize(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(verityLogMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != verityLogMagic {
		return 0
	}
	size := int64(len(magic))
	var fixed [verityFixedSize]byte
	for {
		if _, err := io.ReadFull(br, fixed[:]); err != nil {
			return size
		}
		n := binary.LittleEndian.Uint32(fixed[96:])
		if n > maxRecordHeader {
			return size
		}
		rest := make([]byte, n+4)
		if _, err := io.ReadFull(br, rest); err != nil {
			return size
		}
		crc := crc32.Update(crc32.Checksum(fixed[:], crcTable), crcTable, rest[:n])
		if crc != binary.LittleEndian.Uint32(rest[n:]) {
			return size
		}
		size += int64(verityFixedSize) + int64(n) + 4
	}
}

// KnownContent returns what the digest log recorded about a content object
// when it was written: its metadata (fixed by its checksum) and the
// fs-verity digest its file must have. It makes no system call; it does not
// check that the object file is still present or intact (RecordedVerity and
// FsckVerity do).
func (r *Repo) KnownContent(id ID) (*Meta, fsverity.Digest, bool) {
	if !r.recordsVerity() {
		return nil, fsverity.Digest{}, false
	}
	idx, err := r.verityIdx()
	if err != nil {
		return nil, fsverity.Digest{}, false
	}
	vr, ok := idx.get(id)
	if !ok || len(vr.header) == 0 {
		return nil, fsverity.Digest{}, false
	}
	m, err := decodeFileHeaderFast(vr.header)
	if err != nil {
		return nil, fsverity.Digest{}, false
	}
	if m.IsRegular() {
		m.Size = vr.size
	}
	m.Content = id
	return m, vr.digest, true
}

// KnownDigest returns the fs-verity digest recorded for a content object's
// file when it was written, without a system call or decoding its metadata
// (see KnownContent).
func (r *Repo) KnownDigest(id ID) (fsverity.Digest, bool) {
	if !r.recordsVerity() {
		return fsverity.Digest{}, false
	}
	idx, err := r.verityIdx()
	if err != nil {
		return fsverity.Digest{}, false
	}
	idx.mu.RLock()
	vr, ok := idx.m[id]
	idx.mu.RUnlock()
	return vr.digest, ok
}

// ErrNoVerityDigest means a content object has no usable recorded digest.
var ErrNoVerityDigest = errors.New("no recorded fs-verity digest")

// RecordedVerity returns the fs-verity digest recorded for a content
// object's file, if the record still matches the file (same inode, size,
// mtime and ctime). It never reads the object's data.
func (r *Repo) RecordedVerity(id ID) (fsverity.Digest, error) {
	if !r.recordsVerity() {
		return fsverity.Digest{}, fmt.Errorf("%s: %w (repository mode %s keeps none)", id, ErrNoVerityDigest, r.mode)
	}
	idx, err := r.verityIdx()
	if err != nil {
		return fsverity.Digest{}, err
	}
	vr, ok := idx.get(id)
	if !ok {
		return fsverity.Digest{}, fmt.Errorf("%s: %w", id, ErrNoVerityDigest)
	}
	var st unix.Stat_t
	if err := unix.Lstat(r.ContentPath(id), &st); err != nil {
		return fsverity.Digest{}, fmt.Errorf("stat %s.file: %w", id, err)
	}
	if !vr.matches(&st) {
		return fsverity.Digest{}, fmt.Errorf("%s: %w: the object file changed after its digest was recorded", id, ErrNoVerityDigest)
	}
	return vr.digest, nil
}

// VerityDigest returns the fs-verity digest of a content object's file: the
// recorded one when it is still valid, else computed from the data.
func (r *Repo) VerityDigest(ctx context.Context, id ID) (fsverity.Digest, error) {
	if d, err := r.RecordedVerity(id); err == nil {
		return d, nil
	}
	if !r.mode.IsBare() {
		return fsverity.Digest{}, fmt.Errorf("fs-verity digest of %s: archive objects are compressed; the digest applies to bare objects", id)
	}
	if err := ctx.Err(); err != nil {
		return fsverity.Digest{}, err
	}
	b, err := fsverity.DigestFile(r.ContentPath(id), nil)
	if err != nil {
		return fsverity.Digest{}, fmt.Errorf("fs-verity digest of %s: %w", id, err)
	}
	var d fsverity.Digest
	copy(d[:], b)
	return d, nil
}

// VerityProblem is a mismatch found by FsckVerity.
type VerityProblem struct {
	Object ID
	Err    error
}

// FsckVerity recomputes the fs-verity digest of every content object that
// has a recorded digest, and compares it with the record (even a record whose
// stamp no longer matches: that is reported too) and, where kernel verity is
// enabled on the object, with the kernel's measurement. It returns how many
// objects it checked and how many had no record.
func (r *Repo) FsckVerity(ctx context.Context, report func(VerityProblem)) (checked, unrecorded int, err error) {
	if !r.recordsVerity() {
		return 0, 0, nil
	}
	idx, err := r.verityIdx()
	if err != nil {
		return 0, 0, err
	}
	idx.mu.RLock()
	recs := maps.Clone(idx.m)
	idx.mu.RUnlock()
	err = r.ListObjects(ctx, func(n ObjectName) error {
		if n.Type != TypeFile {
			return nil
		}
		path := r.ContentPath(n.ID)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			report(VerityProblem{n.ID, err})
			return nil
		}
		if st.Mode&sIFMT != sIFREG {
			return nil // symlink objects have no verity
		}
		vr, ok := recs[n.ID]
		if !ok {
			unrecorded++
			return nil
		}
		checked++
		f, err := os.Open(path)
		if err != nil {
			report(VerityProblem{n.ID, err})
			return nil
		}
		defer f.Close()
		got, err := fsverity.DigestReader(f, nil)
		if err != nil {
			report(VerityProblem{n.ID, err})
			return nil
		}
		if !bytes.Equal(got, vr.digest[:]) {
			report(VerityProblem{n.ID, fmt.Errorf("fs-verity digest is %x, recorded %s", got, vr.digest)})
			return nil
		}
		if !vr.matches(&st) {
			report(VerityProblem{n.ID, errors.New("object file changed (inode, size or mtime) after its digest was recorded")})
		}
		if _, kd, err := fsverity.Measure(f); err == nil && !bytes.Equal(kd, vr.digest[:]) {
			report(VerityProblem{n.ID, fmt.Errorf("kernel fs-verity measures %x, recorded %s", kd, vr.digest)})
		}
		return nil
	})
	return checked, unrecorded, err
}
