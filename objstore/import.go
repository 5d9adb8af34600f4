package objstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/fsverity"
)

// This file holds the verified-import side of a Transaction: storing objects
// that come from somewhere else (a remote over HTTP, another repository)
// under the checksum the sender claimed. Every object is checked completely
// before anything is staged under its name, so a corrupt object never
// reaches objects/, not even on Commit.

// ErrInvalidObject is wrapped by import errors for data that is not a valid
// object of its type: a malformed header or GVariant, trailing bytes, a
// truncated or oversized stream. A checksum mismatch is reported as a
// *DigestMismatchError instead.
var ErrInvalidObject = errors.New("invalid object")

// Buffers and inflaters are reused across imports: a pull imports many
// small objects, and allocating a 64 KiB read buffer and a 32 KiB window for
// each one dominated its garbage. The pools are caches, not state.
var (
	bufReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	inflaters  = sync.Pool{}
	copyBufs   = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
)

// getBufReader returns a pooled bufio.Reader reading r.
func getBufReader(r io.Reader) *bufio.Reader {
	br := bufReaders.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putBufReader(br *bufio.Reader) {
	br.Reset(nil)
	bufReaders.Put(br)
}

// getInflater returns a pooled raw-DEFLATE reader of r.
func getInflater(r io.Reader) io.ReadCloser {
	if zr, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := zr.(flate.Resetter).Reset(r, nil); err == nil {
			return zr
		}
	}
	return flate.NewReader(r)
}

func putInflater(zr io.ReadCloser) { inflaters.Put(zr) }

// copyPooled is io.Copy with a pooled buffer.
func copyPooled(w io.Writer, r io.Reader) (int64, error) {
	b := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(b)
	return io.CopyBuffer(w, struct{ io.Reader }{r}, *b)
}

// importMemMax is the largest archive stream that is verified in memory;
// larger ones are verified while being written to a private temporary file.
const importMemMax = 1 << 20

// VerifyMeta checks metadata received for name before it is stored: its
// size, its checksum (for content-addressed types) and its structure
// (normal-form GVariant, valid names, sorted entries). Detached metadata
// (commitmeta) is named after its commit, so only its structure is checked.
func VerifyMeta(name ObjectName, data []byte) error {
	if len(data) > MaxMetadataSize {
		return fmt.Errorf("%s: %w: %d bytes is larger than the %d-byte limit", name, ErrInvalidObject, len(data), MaxMetadataSize)
	}
	var err error
	switch name.Type {
	case TypeCommit, TypeDirTree, TypeDirMeta:
		if got := Hash(data); got != name.ID {
			return &DigestMismatchError{Object: name, Got: got}
		}
		switch name.Type {
		case TypeCommit:
			_, err = DecodeCommit(data)
		case TypeDirTree:
			_, err = DecodeDirTree(data)
		default:
			_, err = decodeDirMeta(data)
		}
	case TypeCommitMeta:
		_, err = DecodeMetadata(data)
	default:
		return fmt.Errorf("%s: cannot import objects of type %s", name, name.Type)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", name, ErrInvalidObject, err)
	}
	return nil
}

// ImportMeta stores a metadata object (commit, dirtree, dirmeta or
// commitmeta) received from elsewhere after VerifyMeta accepts it. Detached
// metadata replaces any the commit already has.
func (tx *Transaction) ImportMeta(ctx context.Context, name ObjectName, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := VerifyMeta(name, data); err != nil {
		return err
	}
	if name.Type != TypeCommitMeta {
		_, err := tx.WriteMeta(ctx, name.Type, data)
		return err
	}
	tx.mu.Lock()
	delete(tx.staged, name)
	tx.mu.Unlock()
	if err := os.Remove(tx.stagedPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return tx.stageBytes(name, data, 0o644)
}

// ImportContent stores content object want from its metadata and its
// uncompressed content r (ignored for symlinks), as read from another
// repository. The object is hashed completely before it is staged; on a
// mismatch nothing is stored and a *DigestMismatchError is returned. r must
// hold exactly m.Size bytes.
func (tx *Transaction) ImportContent(ctx context.Context, want ID, m *Meta, r io.Reader) error {
	if ok, err := tx.Has(want, TypeFile); err != nil || ok {
		return err
	}
	var content io.Reader
	src := &sourceReader{r: r}
	if m.IsRegular() {
		if r == nil {
			return fmt.Errorf("import %s.file: no content reader for a regular file", want)
		}
		content = &exactReader{r: src, left: m.Size}
	}
	return src.classify(tx.importVerified(ctx, want, m, content, nil))
}

// sourceReader remembers whether reading the input failed, so that
// import errors can be classified: a failing input is the caller's
// (transport) problem and passes through; anything else the data caused
// wraps ErrInvalidObject.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *sourceReader) classify(err error) error {
	if err == nil || s.err != nil || errors.Is(err, ErrInvalidObject) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var dm *DigestMismatchError
	var pe *fs.PathError
	if errors.As(err, &dm) || errors.As(err, &pe) || isErrno(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidObject, err)
}

// isErrno reports a system call failure (disk full, I/O error) on our
// side, which is not the object's fault.
func isErrno(err error) bool {
	var errno unix.Errno
	return errors.As(err, &errno)
}

// ImportArchiveContent stores content object want from an archive-z2 .filez
// stream (length-prefixed header, then raw DEFLATE content), as served by
// archive repositories. The stream is read to its end and checked for a
// well-formed header, a compressed stream that inflates to exactly the
// recorded size, no trailing bytes, and the checksum; only then is the
// object staged. An archive repository stores the verified stream as it
// came; other modes store the inflated content.
//
// Errors reading r are returned wrapped, so callers can tell transport
// failures from bad data (ErrInvalidObject, *DigestMismatchError).
func (tx *Transaction) ImportArchiveContent(ctx context.Context, want ID, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ok, err := tx.Has(want, TypeFile); err != nil || ok {
		return err
	}
	src := &sourceReader{r: r}
	if tx.r.mode == ModeArchive {
		return src.classify(tx.importArchiveVerbatim(ctx, want, src))
	}
	return src.classify(tx.importArchiveInflated(ctx, want, src))
}

// importArchiveInflated stores a .filez stream into a bare-mode repository.
func (tx *Transaction) importArchiveInflated(ctx context.Context, want ID, r io.Reader) error {
	br := getBufReader(r)
	defer putBufReader(br)
	m, err := readArchiveHeaderStrict(br)
	if err != nil {
		return fmt.Errorf("import %s.file: %w", want, err)
	}
	if m.IsSymlink() {
		if err := expectEOF(br); err != nil {
			return fmt.Errorf("import %s.file: %w", want, err)
		}
		return tx.importVerified(ctx, want, m, nil, nil)
	}
	bounded := &boundedByteReader{r: br, left: deflateBound(m.Size)}
	zr := getInflater(bounded)
	defer putInflater(zr)
	finish := func() error { return expectEOF(bounded) }
	return tx.importVerified(ctx, want, m, &exactReader{r: zr, left: m.Size}, finish)
}

// deflateBound is the largest compressed stream accepted for content of
// the given size: DEFLATE's worst-case expansion (stored blocks add 5 bytes
// per 64 KiB) with generous slack. It stops a hostile stream of empty
// blocks from filling the disk.
func deflateBound(size int64) int64 {
	return size + size/64 + 4096
}

// readArchiveHeaderStrict reads the length-prefixed archive header: a
// big-endian u32 length, four zero bytes, and the normal-form header.
func readArchiveHeaderStrict(r io.Reader) (*Meta, error) {
	var p [8]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return nil, truncatedInput(err)
	}
	n := binary.BigEndian.Uint32(p[:4])
	if n > maxHeaderSize {
		return nil, fmt.Errorf("%w: archive header of %d bytes is too large", ErrInvalidObject, n)
	}
	if binary.BigEndian.Uint32(p[4:]) != 0 {
		return nil, fmt.Errorf("%w: nonzero padding after the archive header length", ErrInvalidObject)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, truncatedInput(err)
	}
	m, err := decodeArchiveHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidObject, err)
	}
	return m, nil
}

// truncatedInput reports a stream that ended early as an invalid object and
// passes other read errors through.
func truncatedInput(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrInvalidObject)
	}
	return err
}

// expectEOF fails if r has any bytes left.
func expectEOF(r io.Reader) error {
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n > 0 {
			return fmt.Errorf("%w: trailing data after the object", ErrInvalidObject)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// boundedByteReader is a bufio.Reader that fails once more than left bytes
// are read. It keeps io.ByteReader so that flate reads no further than the
// end of its stream.
type boundedByteReader struct {
	r    byteReader
	left int64
}

// byteReader is a buffered input that can report EOF without consuming:
// *bufio.Reader, or *bytes.Reader for objects held in memory.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// atEOF reports whether br has no more bytes, consuming nothing.
func atEOF(br byteReader) error {
	if b, ok := br.(*bytes.Reader); ok {
		if b.Len() == 0 {
			return io.EOF
		}
		return nil
	}
	_, err := br.(*bufio.Reader).Peek(1)
	return err
}

var errOversized = fmt.Errorf("%w: compressed stream is larger than its content allows", ErrInvalidObject)

func (b *boundedByteReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if err := atEOF(b.r); err != nil {
			return 0, err
		}
		return 0, errOversized
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedByteReader) ReadByte() (byte, error) {
	if b.left <= 0 {
		if err := atEOF(b.r); err != nil {
			return 0, err
		}
		return 0, errOversized
	}
	c, err := b.r.ReadByte()
	if err == nil {
		b.left--
	}
	return c, err
}

// importVerified stages content object want from m and its uncompressed
// content (nil for symlinks) once the checksum matches. finish, when not
// nil, runs after the content is consumed and before the checksum is
// compared (it checks the rest of the input).
func (tx *Transaction) importVerified(ctx context.Context, want ID, m *Meta, content io.Reader, finish func() error) error {
	if err := tx.checkContent(ctx, m); err != nil {
		return fmt.Errorf("import %s.file: %w: %w", want, ErrInvalidObject, err)
	}
	n := ObjectName{want, TypeFile}
	if m.IsSymlink() {
		if finish != nil {
			if err := finish(); err != nil {
				return fmt.Errorf("import %s: %w", n, err)
			}
		}
		if got := ID(newContentHash(m).Sum(nil)); got != want {
			return &DigestMismatchError{Object: n, Got: got}
		}
		_, err := tx.writeSymlink(m)
		return err
	}
	if m.Size <= smallFileMax {
		data := make([]byte, m.Size)
		if _, err := io.ReadFull(content, data); err != nil {
			return fmt.Errorf("import %s: %w", n, truncatedInput(err))
		}
		if err := expectEOF(content); err != nil {
			return fmt.Errorf("import %s: %w", n, err)
		}
		if finish != nil {
			if err := finish(); err != nil {
				return fmt.Errorf("import %s: %w", n, err)
			}
		}
		h := newContentHash(m)
		h.Write(data)
		if got := ID(h.Sum(nil)); got != want {
			return &DigestMismatchError{Object: n, Got: got}
		}
		if !tx.markStaged(n, m.Size) {
			return nil
		}
		path := tx.stagedPath(n)
		if err := tx.writeRegularObject(want, path, m, nil, data, false); err != nil {
			tx.unstage(n, path)
			return fmt.Errorf("import %s: %w", n, err)
		}
		return nil
	}
	return tx.importStream(want, m, content, newContentHash(m), finish)
}

// importStream writes a large regular file into a private temporary file
// while hashing it, and renames it to its staged name only when the checksum
// is want.
func (tx *Transaction) importStream(want ID, m *Meta, r io.Reader, h hash.Hash, finish func() error) error {
	n := ObjectName{want, TypeFile}
	tmp := filepath.Join(tx.staging, fmt.Sprintf("tmp-%d", tx.tmpSeq.Add(1)))
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("import %s: %w", n, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	var w io.Writer = bw
	var zw *flate.Writer
	if tx.r.mode == ModeArchive {
		if err := tx.writeArchiveHeader(bw, m); err != nil {
			return fail(fmt.Errorf("import %s: %w", n, err))
		}
		zw, _ = flate.NewWriter(bw, archiveLevel)
		w = zw
	}
	var vh *fsverity.Hasher
	if tx.r.recordsVerity() {
		vh, _ = fsverity.New(nil)
		w = io.MultiWriter(w, vh)
	}
	copied, err := copyPooled(io.MultiWriter(w, h), r)
	if err != nil {
		return fail(fmt.Errorf("import %s: %w", n, truncatedInput(err)))
	}
	if copied != m.Size {
		return fail(fmt.Errorf("import %s: %w: %d bytes of content, header says %d", n, ErrInvalidObject, copied, m.Size))
	}
	if finish != nil {
		if err := finish(); err != nil {
			return fail(fmt.Errorf("import %s: %w", n, err))
		}
	}
	if got := ID(h.Sum(nil)); got != want {
		return fail(&DigestMismatchError{Object: n, Got: got})
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fail(fmt.Errorf("import %s: %w", n, err))
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("import %s: %w", n, err))
	}
	if err := tx.finishRegular(fd, m); err != nil {
		return fail(fmt.Errorf("import %s: %w", n, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("import %s: %w", n, err)
	}
	return tx.publishStaged(n, tmp, vh, m)
}

// publishStaged gives a verified temporary file its staged name, unless
// another goroutine staged the object first.
func (tx *Transaction) publishStaged(n ObjectName, tmp string, vh *fsverity.Hasher, m *Meta) error {
	size := int64(0)
	if fi, err := os.Lstat(tmp); err == nil {
		size = fi.Size()
	}
	if !tx.markStaged(n, size) {
		os.Remove(tmp)
		return nil
	}
	if err := os.Rename(tmp, tx.stagedPath(n)); err != nil {
		tx.unstage(n, tmp)
		return fmt.Errorf("stage %s: %w", n, err)
	}
	if vh != nil {
		if err := tx.sealObject(n.ID, tx.stagedPath(n), vh.Digest(), m); err != nil {
			tx.unstage(n, tx.stagedPath(n))
			return fmt.Errorf("import %s: %w", n, err)
		}
	}
	return nil
}

// importArchiveVerbatim verifies a .filez stream and stages its exact bytes
// in an archive repository: small streams in memory, large ones through a
// temporary file that is renamed only after verification.
func (tx *Transaction) importArchiveVerbatim(ctx context.Context, want ID, r io.Reader) error {
	n := ObjectName{want, TypeFile}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, importMemMax+1)); err != nil {
		return fmt.Errorf("import %s: %w", n, err)
	}
	head := buf.Bytes()
	if len(head) <= importMemMax {
		data := head
		if err := tx.verifyArchiveStream(ctx, want, bytes.NewReader(data)); err != nil {
			return err
		}
		return tx.stageBytes(n, data, 0o644)
	}

	tmp := filepath.Join(tx.staging, fmt.Sprintf("tmp-%d", tx.tmpSeq.Add(1)))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("import %s: %w", n, err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	src := io.TeeReader(io.MultiReader(bytes.NewReader(head), r), bw)
	if err := tx.verifyArchiveStream(ctx, want, src); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("import %s: %w", n, err))
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(fmt.Errorf("import %s: %w", n, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("import %s: %w", n, err)
	}
	return tx.publishStaged(n, tmp, nil, nil)
}

// verifyArchiveStream reads a whole .filez stream and checks it against want
// without storing anything.
func (tx *Transaction) verifyArchiveStream(ctx context.Context, want ID, r io.Reader) error {
	n := ObjectName{want, TypeFile}
	var br byteReader
	if b, ok := r.(*bytes.Reader); ok {
		br = b
	} else {
		bb := getBufReader(r)
		defer putBufReader(bb)
		br = bb
	}
	m, err := readArchiveHeaderStrict(br)
	if err != nil {
		return fmt.Errorf("import %s: %w", n, err)
	}
	if err := tx.checkContent(ctx, m); err != nil {
		return fmt.Errorf("import %s: %w: %w", n, ErrInvalidObject, err)
	}
	h := newContentHash(m)
	if m.IsRegular() {
		bounded := &boundedByteReader{r: br, left: deflateBound(m.Size)}
		zr := getInflater(bounded)
		defer putInflater(zr)
		copied, err := copyPooled(h, &exactReader{r: zr, left: m.Size})
		if err != nil {
			return fmt.Errorf("import %s: %w", n, truncatedInput(err))
		}
		if copied != m.Size {
			return fmt.Errorf("import %s: %w: %d bytes of content, header says %d", n, ErrInvalidObject, copied, m.Size)
		}
		if err := expectEOF(bounded); err != nil {
			return fmt.Errorf("import %s: %w", n, err)
		}
	} else if err := expectEOF(br); err != nil {
		return fmt.Errorf("import %s: %w", n, err)
	}
	if got := ID(h.Sum(nil)); got != want {
		return &DigestMismatchError{Object: n, Got: got}
	}
	return nil
}

// MarkCommitPartial creates (partial) or removes the state/COMMIT.commitpartial
// marker that says a commit's objects are not all present, durably, as
// ostree does around a pull.
func (r *Repo) MarkCommitPartial(commit ID, partial bool) error {
	dir := filepath.Join(r.path, "state")
	path := filepath.Join(dir, commit.String()+".commitpartial")
	if partial {
		if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("mark commit %s partial: %w", commit, err)
		}
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if err := WriteFileAtomic(path, nil, 0o644); err != nil {
			return fmt.Errorf("mark commit %s partial: %w", commit, err)
		}
		return nil
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("mark commit %s complete: %w", commit, err)
	}
	return syncDir(dir)
}
