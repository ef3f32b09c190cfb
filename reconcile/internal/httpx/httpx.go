// Package httpx holds the HTTP machinery that the platform clients
// (reconcile/evaluagent and reconcile/agentiq) share: the route type of their
// route tables, Retry-After parsing, exponential backoff with jitter, a
// context-aware sleep, the loopback test behind the plain-http warning, and the
// Transport that makes one attempt: common headers, bounded read, timing and
// the per-endpoint request count.
//
// Only the clients import it; the rest of reconcile speaks no HTTP. What a
// client decides (which requests it retries, how it paces, how it words its
// errors) stays in the client.
package httpx

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Route is one endpoint: an HTTP method and a path template relative to a
// client's base URL. A template that addresses one object holds the
// placeholder {id}.
type Route struct {
	Method string
	Path   string
}

// Endpoint is the route's name for budgets, logs and request counts, such as
// "PATCH /org/users/{id}": every request through a route counts under it,
// whichever id it addresses.
func (r Route) Endpoint() string { return r.Method + " " + r.Path }

// Expand returns the path with {id} replaced by the path-escaped id.
func (r Route) Expand(id string) string {
	return strings.ReplaceAll(r.Path, "{id}", url.PathEscape(id))
}

// URL returns the absolute URL of the route below base for id, with query
// appended when it is not empty. base must carry no query or fragment.
func (r Route) URL(base *url.URL, id string, query url.Values) string {
	s := base.String() + r.Expand(id)
	if q := query.Encode(); q != "" {
		s += "?" + q
	}
	return s
}

// Or returns r with a zero Method or Path taken from def: how an override in
// configuration keeps the default of what it leaves out.
func (r Route) Or(def Route) Route {
	if r.Method == "" {
		r.Method = def.Method
	}
	if r.Path == "" {
		r.Path = def.Path
	}
	return r
}

// RetryAfter reads the Retry-After header of h: whole seconds, or an HTTP date
// (a date in the past waits 0). It reports false when the header is missing,
// negative or malformed.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Backoff is exponential with jitter: for attempt n (from 1) a wait in
// [d/2, d) with d = lo·2^(n-1) capped at hi, and never below lo. jitter
// returns a random duration in [0, d); Jitter is the usual one.
func Backoff(attempt int, lo, hi time.Duration, jitter func(d time.Duration) time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return max(d/2+jitter(d/2), lo)
}

// Jitter returns a random duration in [0, d); d must be positive.
func Jitter(d time.Duration) time.Duration { return rand.N(d) }

// Sleep waits d or until ctx ends, and then returns ctx.Err(). A d of zero or
// less does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsLoopback reports whether host (without port) is localhost or a loopback
// address, where plain http exposes no credentials on the wire.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send makes one HTTP attempt with hc and reads the whole response body, at
// most limit bytes. A body that fails to read or is larger than limit fails
// the attempt like a network error. On any error status is 0.
func Send(hc *http.Client, req *http.Request, limit int64) (status int, header http.Header, body []byte, err error) {
	return send(hc, req, limit, nil)
}

// BodyError is a 2xx response body that its consumer could not decode: a fault of the answer,
// not of the connection, so sending the request again would not help.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// readErr remembers the first error reading the body, to tell a broken connection from a body
// that does not decode.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// send is Send; with consume set, a 2xx body is handed to consume as it arrives, without a
// bound and without being held in memory, and body is nil. An error reading it fails the
// attempt like a network error; an error of consume's own is a *BodyError.
func send(hc *http.Client, req *http.Request, limit int64, consume func(io.Reader) error) (status int, header http.Header, body []byte, err error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	if consume != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		rd := &readErr{r: resp.Body}
		err := consume(rd)
		resp.Body.Close()
		switch {
		case rd.err != nil:
			return 0, nil, nil, rd.err
		case err != nil:
			return 0, nil, nil, &BodyError{err}
		}
		return resp.StatusCode, resp.Header, nil, nil
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	if err == nil && int64(len(body)) > limit {
		err = fmt.Errorf("response body larger than %d bytes", limit)
	}
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, body, nil
}

// Transport makes a client's HTTP attempts and keeps the bookkeeping both
// clients keep around each one. Set its exported fields before the first
// Send and do not copy it after.
type Transport struct {
	// HTTP sends the requests.
	HTTP *http.Client
	// MaxBody bounds a response body read into memory.
	MaxBody int64
	// Now is the clock the duration of an attempt is measured on.
	Now func() time.Time
	// OnRequest, when set, is called after every attempt with the endpoint,
	// the status (0 for a network error) and the duration.
	OnRequest func(endpoint string, status int, dur time.Duration)

	requests Counter
}

// Send makes one attempt of req, counted under endpoint: it adds the Accept
// and User-Agent headers every request carries, reads the answer with Send
// and reports the attempt to OnRequest. The caller sets authentication and
// the body's Content-Type, and logs the attempt with the duration returned.
// On any error status is 0.
func (t *Transport) Send(endpoint string, req *http.Request) (status int, header http.Header, body []byte, dur time.Duration, err error) {
	return t.SendStream(endpoint, req, nil)
}

// SendStream is Send that, with consume set, hands a 2xx body to consume as it arrives (see
// send) instead of reading it into memory; other answers are read as Send reads them.
func (t *Transport) SendStream(endpoint string, req *http.Request, consume func(io.Reader) error) (status int, header http.Header, body []byte, dur time.Duration, err error) {
	req.Header.Set("Accept", "application/json, */*")
	req.Header.Set("User-Agent", "rostersync")
	t.requests.Add(endpoint)
	start := t.Now()
	status, header, body, err = send(t.HTTP, req, t.MaxBody, consume)
	dur = t.Now().Sub(start)
	if t.OnRequest != nil {
		t.OnRequest(endpoint, status, dur)
	}
	return status, header, body, dur, err
}

// Requests returns the number of attempts sent so far, by endpoint.
func (t *Transport) Requests() map[string]int { return t.requests.Counts() }

// Counter counts requests by endpoint. The zero value is ready; it is safe
// for concurrent use.
type Counter struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts one request to endpoint.
func (c *Counter) Add(endpoint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[endpoint]++
}

// Counts returns a copy of the counts so far.
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		return map[string]int{}
	}
	return maps.Clone(c.n)
}
