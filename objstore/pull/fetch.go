package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"time"
)

// HTTPError is a response other than 200 OK (or 304 where one was asked
// for). A 404 matches fs.ErrNotExist.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: server answered %s", e.URL, e.Status)
}

// Is makes a 404 match fs.ErrNotExist.
func (e *HTTPError) Is(target error) bool {
	return target == fs.ErrNotExist && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone)
}

// retryable reports whether a later attempt may succeed: server errors,
// timeouts and rate limiting.
func (e *HTTPError) retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests
}

// TransportError is a failure to get a complete response: a refused or
// reset connection, a body cut short, or a server that stopped sending
// (Stalled). Such requests are retried with back-off before this is
// returned.
type TransportError struct {
	URL      string
	Attempts int
	Stalled  bool
	Err      error
}

func (e *TransportError) Error() string {
	what := e.Err.Error()
	if e.Stalled {
		what = "no data received within the timeout (stalled server)"
	}
	if e.Attempts > 1 {
		return fmt.Sprintf("GET %s: %s (after %d attempts)", e.URL, what, e.Attempts)
	}
	return fmt.Sprintf("GET %s: %s", e.URL, what)
}

func (e *TransportError) Unwrap() error { return e.Err }

// fetcher performs GET requests with a stall timeout and retries with
// exponential back-off.
type fetcher struct {
	client  *http.Client
	log     *slog.Logger
	timeout time.Duration
	retries int
	backoff time.Duration
	// bytes counts body bytes received, retries included.
	bytes *atomic.Int64
}

// newTransport builds the transport pull uses when Options.Client is nil:
// timeouts on connecting and on the response header, and enough idle
// connections per host for jobs concurrent requests.
func newTransport(timeout time.Duration, jobs int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * jobs,
		MaxIdleConnsPerHost:   2 * jobs,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
}

// response is what get hands to its consumer.
type response struct {
	Body          io.Reader
	ContentLength int64
	Header        http.Header
	NotModified   bool
}

// get fetches url and passes the body to consume; hdr adds request headers
// (nil for none). With notModifiedOK, a 304 reaches consume with
// NotModified set. A request whose body fails mid-way, whose server stalls
// for longer than the timeout, or that gets a 5xx answer is retried, and
// consume runs again from the start: it must not keep state across calls.
// Errors of consume itself are returned as they are, without a retry.
func (f *fetcher) get(ctx context.Context, url string, hdr http.Header, notModifiedOK bool, consume func(*response) error) error {
	var last error
	for attempt := 1; ; attempt++ {
		err := f.attempt(ctx, url, hdr, notModifiedOK, consume)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var te *TransportError
		var he *HTTPError
		switch {
		case errors.As(err, &te):
			te.Attempts = attempt
		case errors.As(err, &he) && he.retryable():
		default:
			return err
		}
		last = err
		if attempt > f.retries {
			return last
		}
		delay := f.backoff << (attempt - 1)
		if delay > 30*time.Second || delay <= 0 {
			delay = 30 * time.Second
		}
		delay = delay/2 + rand.N(delay/2+1) // jitter keeps clients apart
		f.log.Debug("retrying request", "url", url, "attempt", attempt, "delay", delay, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func (f *fetcher) attempt(ctx context.Context, url string, hdr http.Header, notModifiedOK bool, consume func(*response) error) error {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	watchdog := time.AfterFunc(f.timeout, func() {
		stalled.Store(true)
		cancel()
	})
	defer watchdog.Stop()
	transportErr := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// net/http repeats the method and URL; the error already names them.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			err = fmt.Errorf("response cut short: %w", err)
		case errors.Is(err, io.EOF):
			err = fmt.Errorf("connection closed without a response: %w", err)
		}
		return &TransportError{URL: url, Attempts: 1, Stalled: stalled.Load(), Err: err}
	}

	req, err := http.NewRequestWithContext(actx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "gostree")
	resp, err := f.client.Do(req)
	if err != nil {
		return transportErr(err)
	}
	defer resp.Body.Close()
	watchdog.Reset(f.timeout)
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotModified && notModifiedOK:
		return consume(&response{Body: http.NoBody, Header: resp.Header, NotModified: true})
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	body := &watchedBody{r: resp.Body, watchdog: watchdog, timeout: f.timeout, bytes: f.bytes}
	err = consume(&response{Body: body, ContentLength: resp.ContentLength, Header: resp.Header})
	if body.err != nil {
		// The body failed under the consumer: a transport problem,
		// whatever the consumer made of it.
		return transportErr(body.err)
	}
	if err != nil {
		return err
	}
	return nil
}

// watchedBody counts bytes, resets the stall watchdog on progress, and
// remembers the first read error other than EOF.
type watchedBody struct {
	r        io.Reader
	watchdog *time.Timer
	timeout  time.Duration
	bytes    *atomic.Int64
	err      error
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.watchdog.Reset(b.timeout)
		b.bytes.Add(int64(n))
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// joinURL appends a repository-relative path to a base URL.
func joinURL(base, rel string) string {
	return strings.TrimSuffix(base, "/") + "/" + rel
}
