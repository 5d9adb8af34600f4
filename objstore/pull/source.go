package pull

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gostree/gostree/objstore"
)

// source is where a pull gets objects from: an archive repository over
// HTTP, or a repository on a local filesystem. Nothing a source returns is
// trusted: the puller verifies every object before it is stored.
type source interface {
	// String names the source in messages.
	String() string
	// summary returns the summary file, or nil when there is none.
	summary(ctx context.Context) ([]byte, error)
	// summarySig returns summary.sig, or nil when there is none.
	summarySig(ctx context.Context) ([]byte, error)
	// mode returns the source repository's mode from its config.
	mode(ctx context.Context) (objstore.Mode, error)
	// ref resolves a branch (refs/heads/NAME); errors wrap fs.ErrNotExist
	// when there is no such ref.
	ref(ctx context.Context, name string) (objstore.ID, error)
	// meta returns the bytes of a metadata object; errors wrap
	// fs.ErrNotExist when the source lacks it.
	meta(ctx context.Context, n objstore.ObjectName) ([]byte, error)
	// content stores content object id into tx, verified, and returns
	// the bytes read from the source.
	content(ctx context.Context, tx *objstore.Transaction, id objstore.ID) (int64, error)
}

// maxSmallFile bounds what is read for refs and config files.
const maxSmallFile = 1 << 20

// httpSource reads an archive repository from a web server.
type httpSource struct {
	url, contentURL string
	f               *fetcher
	// cache is where the last summary is kept for conditional requests
	// ("" for none), as ostree keeps tmp/cache/summaries/REMOTE.
	cache string
}

func (s *httpSource) String() string { return s.url }

// readAll reads a body of at most limit bytes; a larger one is an error.
func readAll(r *response, limit int64, what string) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%s: %w: server announced %d bytes, the limit is %d", what, objstore.ErrInvalidObject, r.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: larger than the %d-byte limit", what, objstore.ErrInvalidObject, limit)
	}
	return data, nil
}

// getSmall fetches a whole file of at most limit bytes.
func (s *httpSource) getSmall(ctx context.Context, url string, limit int64) ([]byte, error) {
	var data []byte
	err := s.f.get(ctx, url, nil, false, func(r *response) error {
		var err error
		data, err = readAll(r, limit, url)
		return err
	})
	return data, err
}

func (s *httpSource) summary(ctx context.Context) ([]byte, error) {
	url := joinURL(s.url, objstore.SummaryPath)
	hdr := http.Header{}
	var cached []byte
	if s.cache != "" {
		if data, err := os.ReadFile(s.cache); err == nil {
			cached = data
			if fi, err := os.Stat(s.cache); err == nil && fi.ModTime().Unix() > 0 {
				hdr.Set("If-Modified-Since", fi.ModTime().UTC().Format(http.TimeFormat))
			}
			if etag := readEtag(s.cache); etag != "" {
				hdr.Set("If-None-Match", etag)
			}
		}
	}
	var data []byte
	stale := false
	err := s.f.get(ctx, url, hdr, cached != nil, func(r *response) error {
		if r.NotModified {
			if _, err := objstore.DecodeSummary(cached); err != nil {
				stale = true // a damaged cache: fetch the summary again
				return nil
			}
			data = cached
			return nil
		}
		var err error
		data, err = readAll(r, objstore.MaxMetadataSize, url)
		if err == nil && s.cache != "" {
			s.store(data, r.Header)
		}
		return err
	})
	if stale {
		s.f.log.Debug("cached summary is damaged; fetching it again", "cache", s.cache)
		if err := os.Remove(s.cache); err != nil {
			return nil, fmt.Errorf("remove damaged summary cache: %w", err)
		}
		return s.summary(ctx)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch summary: %w", err)
	}
	return data, nil
}

// store caches a summary with the validators the server sent. Failing to
// cache only costs a full download next time.
func (s *httpSource) store(data []byte, h http.Header) {
	if err := os.MkdirAll(filepath.Dir(s.cache), 0o755); err != nil {
		s.f.log.Debug("cannot cache summary", "err", err)
		return
	}
	if err := objstore.WriteFileAtomic(s.cache, data, 0o644); err != nil {
		s.f.log.Debug("cannot cache summary", "err", err)
		return
	}
	// Validators are only kept when they are strong (RFC 9110 8.8.2.2): a
	// file modified less than a second before the response could change
	// again within the same second, keeping its Last-Modified (and the
	// mtime-size ETag of common servers).
	lm, lmErr := http.ParseTime(h.Get("Last-Modified"))
	date, dateErr := http.ParseTime(h.Get("Date"))
	strong := lmErr == nil && dateErr == nil && date.Sub(lm) >= time.Second
	mtime := time.Unix(0, 0)
	if strong {
		mtime = lm
	}
	if err := os.Chtimes(s.cache, mtime, mtime); err != nil {
		s.f.log.Debug("cannot date cached summary", "err", err)
	}
	if etag := h.Get("ETag"); etag != "" && strong {
		if err := unix.Setxattr(s.cache, "user.etag", []byte(etag), 0); err != nil {
			s.f.log.Debug("cannot record the summary's ETag", "err", err)
		}
	}
}

func readEtag(path string) string {
	buf := make([]byte, 512)
	n, err := unix.Getxattr(path, "user.etag", buf)
	if err != nil || n <= 0 {
		return ""
	}
	return string(buf[:n])
}

func (s *httpSource) summarySig(ctx context.Context) ([]byte, error) {
	data, err := s.getSmall(ctx, joinURL(s.url, objstore.SummarySigPath), objstore.MaxMetadataSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch summary.sig: %w", err)
	}
	return data, nil
}

func (s *httpSource) mode(ctx context.Context) (objstore.Mode, error) {
	data, err := s.getSmall(ctx, joinURL(s.url, "config"), maxSmallFile)
	if err != nil {
		return "", fmt.Errorf("fetch remote config: %w", err)
	}
	return modeFromConfig(data)
}

func (s *httpSource) ref(ctx context.Context, name string) (objstore.ID, error) {
	data, err := s.getSmall(ctx, joinURL(s.url, "refs/heads/"+name), 4096)
	if err != nil {
		return objstore.ID{}, fmt.Errorf("fetch ref %s: %w", name, err)
	}
	id, err := objstore.ParseID(strings.TrimSpace(string(data)))
	if err != nil {
		return objstore.ID{}, fmt.Errorf("ref %s on the remote: %w: %w", name, objstore.ErrInvalidObject, err)
	}
	return id, nil
}

// objectURL picks the base URL of an object: detached metadata lives next
// to refs, everything else under the content URL.
func (s *httpSource) objectURL(rel string, t objstore.ObjectType) string {
	if t == objstore.TypeCommitMeta {
		return joinURL(s.url, rel)
	}
	return joinURL(s.contentURL, rel)
}

func (s *httpSource) meta(ctx context.Context, n objstore.ObjectName) ([]byte, error) {
	rel := objectRelPath(n)
	return s.getSmall(ctx, s.objectURL(rel, n.Type), objstore.MaxMetadataSize)
}

func (s *httpSource) content(ctx context.Context, tx *objstore.Transaction, id objstore.ID) (int64, error) {
	rel := objectRelPath(objstore.ObjectName{ID: id, Type: objstore.TypeFile})
	var n int64
	err := s.f.get(ctx, s.objectURL(rel, objstore.TypeFile), nil, false, func(r *response) error {
		cr := &countingReader{r: r.Body}
		err := tx.ImportArchiveContent(ctx, id, cr)
		n = cr.n
		return err
	})
	return n, err
}

// objectRelPath is an object's path in an archive repository.
func objectRelPath(n objstore.ObjectName) string {
	s := n.ID.String()
	ext := n.Type.String()
	if n.Type == objstore.TypeFile {
		ext = "filez"
	}
	return "objects/" + s[:2] + "/" + s[2:] + "." + ext
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func modeFromConfig(data []byte) (objstore.Mode, error) {
	// The config is a key file; only [core] mode matters here.
	group := ""
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			group = line[1 : len(line)-1]
			continue
		}
		if group != "core" {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "mode" {
			return objstore.ParseMode(strings.TrimSpace(v))
		}
	}
	return objstore.ModeBare, nil
}

// localSource reads another repository on this machine (pull-local, and
// remotes with file:// URLs). Its objects are verified like any others.
type localSource struct {
	r *objstore.Repo
}

func (s *localSource) String() string { return s.r.Path() }

func (s *localSource) readFile(ctx context.Context, rel string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.r.Path(), rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func (s *localSource) summary(ctx context.Context) ([]byte, error) {
	return s.readFile(ctx, objstore.SummaryPath)
}

func (s *localSource) summarySig(ctx context.Context) ([]byte, error) {
	return s.readFile(ctx, objstore.SummarySigPath)
}

func (s *localSource) mode(context.Context) (objstore.Mode, error) { return s.r.Mode(), nil }

func (s *localSource) ref(_ context.Context, name string) (objstore.ID, error) {
	return s.r.ResolveRef(name)
}

func (s *localSource) meta(ctx context.Context, n objstore.ObjectName) ([]byte, error) {
	return s.r.ReadMetaObject(ctx, n.ID, n.Type)
}

func (s *localSource) content(ctx context.Context, tx *objstore.Transaction, id objstore.ID) (int64, error) {
	if s.r.Mode() == objstore.ModeArchive {
		f, err := os.Open(s.r.ContentPath(id))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return 0, fmt.Errorf("content object %s: %w", id, objstore.ErrObjectNotFound)
			}
			return 0, err
		}
		defer f.Close()
		cr := &countingReader{r: f}
		err = tx.ImportArchiveContent(ctx, id, cr)
		return cr.n, err
	}
	m, rc, err := s.r.OpenContent(ctx, id)
	if err != nil {
		return 0, err
	}
	var content io.Reader = bytes.NewReader(nil)
	if rc != nil {
		defer rc.Close()
		content = rc
	}
	cr := &countingReader{r: content}
	err = tx.ImportContent(ctx, id, m, cr)
	return cr.n, err
}
