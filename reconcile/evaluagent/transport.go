package evaluagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// maxBody bounds a response body read into memory.
const maxBody = 64 << 20

// call is one logical request: it may take several HTTP attempts.
type call struct {
	route Route
	id    string     // fills {id}
	query url.Values // added to the path
	url   string     // absolute URL, for links.next; wins over route/id/query
	body  any        // marshalled as JSON when non-nil
	items []string   // the ids of an identifier-list body, for errors
	// op and object name the work for errors: "create", `user "ada"`.
	op     string
	object string
	// consume, when set, reads a 2xx body as it arrives (a streamed listing page); do then
	// returns no body. It is called again from the start on a retry.
	consume func(io.Reader) error
}

func (cl call) endpoint() string { return cl.route.Endpoint() }

// idempotent reports whether the request may be sent again after a 5xx or a
// network error. POST is not: a create that failed in transit may have
// happened, and repeating it could create a duplicate; the caller re-lists.
// PATCH and PUT set attributes to given values and DELETE of queue agents
// removes given ids, so repeating them converges on the same state.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func (c *Client) urlFor(cl call) string {
	if cl.url != "" {
		return cl.url
	}
	// The base URL has no query or fragment (New checks), so the path
	// appends; URL escapes the id.
	return cl.route.URL(c.base, cl.id, cl.query)
}

// do sends cl until it succeeds, fails for good, or runs out of retries. It
// returns the body of a 2xx response.
func (c *Client) do(ctx context.Context, cl call) ([]byte, error) {
	endpoint := cl.endpoint()
	target := c.urlFor(cl)
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("evaluagent: %s %s: encode body: %w", cl.op, cl.object, err)
		}
	}
	var (
		failures int           // 5xx and network errors so far
		n429     int           // 429s so far
		waited   time.Duration // spent waiting on 429s
	)
	for {
		if err := c.paceWait(ctx, endpoint); err != nil {
			return nil, err
		}
		status, header, body, err := c.send(ctx, cl.route.Method, endpoint, target, payload, cl.consume)
		var bodyErr *httpx.BodyError
		switch {
		case errors.As(err, &bodyErr):
			return nil, fmt.Errorf("evaluagent: %s %s: %w", cl.op, cl.object, bodyErr.Err)
		case err != nil:
			var te *TokenError
			if errors.As(err, &te) {
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("evaluagent: %s %s: %w", cl.op, cl.object, ctx.Err())
			}
			failures++
			if !idempotent(cl.route.Method) {
				return nil, &UncertainError{fmt.Errorf("evaluagent: %s %s: %s: %w", cl.op, cl.object, endpoint, err)}
			}
			if failures >= maxAttempts {
				return nil, fmt.Errorf("evaluagent: %s %s: %s: giving up after %d attempts: %w", cl.op, cl.object, endpoint, failures, err)
			}
			if err := c.backoff(ctx, endpoint, failures, fmt.Sprintf("network error: %v", err)); err != nil {
				return nil, err
			}
		case status >= 200 && status < 300:
			return body, nil
		case status == http.StatusTooManyRequests:
			n429++
			wait, ok := httpx.RetryAfter(header, c.cfg.Now())
			if !ok {
				wait = c.backoffDelay(n429)
			}
			wait = max(wait, time.Second)
			if waited+wait > c.cfg.MaxWait {
				return nil, &RateLimitError{Endpoint: endpoint, Wait: wait, Waited: waited, MaxWait: c.cfg.MaxWait}
			}
			c.log.Warn("evaluagent: rate limited, waiting", "endpoint", endpoint, "wait", wait)
			c.pace.block(endpoint, c.cfg.Now().Add(wait))
			if err := c.rateWait(ctx, endpoint, wait); err != nil {
				return nil, err
			}
			waited += wait
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			detail := ""
			if errs := decodeErrors(status, body); len(errs) > 0 {
				detail = errs[0].String()
			}
			return nil, &AuthError{Status: status, Endpoint: endpoint, Detail: detail, Bearer: c.auth != nil}
		case status >= 500:
			failures++
			apiErr := &APIError{Status: status, Endpoint: endpoint, Op: cl.op, Object: cl.object, Errors: decodeErrors(status, body)}
			if !idempotent(cl.route.Method) {
				return nil, &UncertainError{apiErr}
			}
			if failures >= maxAttempts {
				return nil, fmt.Errorf("%w (gave up after %d attempts)", apiErr, failures)
			}
			if err := c.backoff(ctx, endpoint, failures, fmt.Sprintf("status %d", status)); err != nil {
				return nil, err
			}
		default:
			return nil, &APIError{Status: status, Endpoint: endpoint, Op: cl.op, Object: cl.object, Errors: decodeErrors(status, body), Items: cl.items}
		}
	}
}

// send makes one HTTP attempt and reads the whole body, or hands a 2xx body to consume when set.
func (c *Client) send(ctx context.Context, method, endpoint, target string, payload []byte, consume func(io.Reader) error) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	sent, err := c.authorize(ctx, req)
	if err != nil {
		return 0, nil, nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	status, header, body, dur, err := c.tr.SendStream(endpoint, req, consume)
	c.log.Debug("evaluagent: request", "endpoint", endpoint, "url", redact(target), "status", status, "duration", dur)
	if status == http.StatusUnauthorized {
		// Bearer mode: another process may have refreshed the token after
		// this request read it. Send once more with the stored one.
		if newer, ok := c.newerToken(sent); ok {
			if payload != nil {
				req.Body = io.NopCloser(bytes.NewReader(payload))
			}
			req.Header.Set("Authorization", "Bearer "+newer)
			status, header, body, dur, err = c.tr.Send(endpoint, req)
			c.log.Debug("evaluagent: request with the token refreshed meanwhile", "endpoint", endpoint, "status", status, "duration", dur)
		}
	}
	return status, header, body, err
}

// Requests returns the number of HTTP requests sent so far, by endpoint
// ("GET /org/users"), retries and rate-limited attempts included.
func (c *Client) Requests() map[string]int { return c.tr.Requests() }

// paceWait sleeps until the endpoint's budget allows another request: the
// persistent budget (if any) first, then the in-process pacer.
func (c *Client) paceWait(ctx context.Context, endpoint string) error {
	if b := c.cfg.Budget; b != nil {
		var waited time.Duration
		for {
			wait, err := b.Take(ctx, endpoint)
			if err != nil {
				return fmt.Errorf("evaluagent: %s: request budget: %w", endpoint, err)
			}
			if wait <= 0 {
				break
			}
			if waited+wait > c.cfg.MaxWait {
				return &BudgetError{Endpoint: endpoint, Until: c.cfg.Now().Add(wait)}
			}
			c.log.Debug("evaluagent: request budget spent, waiting", "endpoint", endpoint, "wait", wait)
			if err := c.rateWait(ctx, endpoint, wait); err != nil {
				return err
			}
			waited += wait
		}
	}
	d := c.pace.reserve(endpoint, c.cfg.Now())
	if d <= 0 {
		return ctx.Err()
	}
	c.log.Debug("evaluagent: pacing", "endpoint", endpoint, "wait", d)
	return c.rateWait(ctx, endpoint, d)
}

func (c *Client) rateWait(ctx context.Context, endpoint string, d time.Duration) error {
	if c.cfg.OnRateLimitWait != nil {
		c.cfg.OnRateLimitWait(endpoint, d)
	}
	if err := c.cfg.Sleep(ctx, d); err != nil {
		return fmt.Errorf("evaluagent: %s: waiting for the rate limit: %w", endpoint, err)
	}
	return nil
}

func (c *Client) backoff(ctx context.Context, endpoint string, attempt int, why string) error {
	d := c.backoffDelay(attempt)
	c.log.Warn("evaluagent: retrying", "endpoint", endpoint, "reason", why, "attempt", attempt+1, "wait", d)
	if err := c.cfg.Sleep(ctx, d); err != nil {
		return fmt.Errorf("evaluagent: %s: waiting to retry: %w", endpoint, err)
	}
	return nil
}

// backoffDelay is exponential with jitter: for attempt n (from 1) a wait in
// [d/2, d) with d = 1s·2^(n-1), d at most 60s, and never below 1s.
func (c *Client) backoffDelay(attempt int) time.Duration {
	return httpx.Backoff(attempt, time.Second, 60*time.Second, c.jitter)
}

// list GETs a collection and follows links.next (§5): it stops when next is
// missing or null or a page is empty, and fails when a URL repeats, the page
// ceiling is reached, or next leads to another host (the credentials go only
// to the configured one).
func (c *Client) list(ctx context.Context, cl call) ([]resource, error) {
	target := c.urlFor(cl)
	seen := map[string]bool{}
	var all []resource
	for page := 1; ; page++ {
		seen[target] = true
		cl.url = target
		body, err := c.do(ctx, cl)
		if err != nil {
			return nil, err
		}
		rs, links, err := decodeCollection(body)
		if err != nil {
			return nil, fmt.Errorf("evaluagent: %s %s: %s: %w", cl.op, cl.object, cl.endpoint(), err)
		}
		if len(rs) == 0 {
			return all, nil
		}
		all = append(all, rs...)
		next, err := nextLink(links)
		if err != nil {
			return nil, fmt.Errorf("evaluagent: %s %s: %s: %w", cl.op, cl.object, cl.endpoint(), err)
		}
		if next == "" {
			return all, nil
		}
		if next, err = c.resolveNext(target, next); err != nil {
			return nil, fmt.Errorf("evaluagent: %s %s: %s: %w", cl.op, cl.object, cl.endpoint(), err)
		}
		if seen[next] {
			return nil, fmt.Errorf("evaluagent: %s %s: %s: links.next repeats %s after %d pages; the server's paging loops", cl.op, cl.object, cl.endpoint(), redact(next), page)
		}
		if page >= c.cfg.MaxPages {
			return nil, fmt.Errorf("evaluagent: %s %s: %s: still a links.next after %d pages (MaxPages); raise MaxPages if the collection is really this large", cl.op, cl.object, cl.endpoint(), page)
		}
		target = next
	}
}

// streamList is list for large collections: each page is decoded as it arrives, every element
// handed to item with the decoder positioned on it, so that no page is ever held whole. mark
// and rewind let a page that fails half way be read again from its start: mark returns how
// far the caller has got, rewind(n) drops what item took in after n.
func (c *Client) streamList(ctx context.Context, cl call, item func(*jsontext.Decoder) error, mark func() int, rewind func(int)) error {
	target := c.urlFor(cl)
	seen := map[string]bool{}
	for page := 1; ; page++ {
		seen[target] = true
		cl.url = target
		var links map[string]json.RawMessage
		n, start := 0, mark()
		cl.consume = func(r io.Reader) (err error) {
			rewind(start)
			links, n, err = streamCollection(r, item)
			return err
		}
		if _, err := c.do(ctx, cl); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		next, err := nextLink(links)
		if err != nil {
			return fmt.Errorf("evaluagent: %s %s: %s: %w", cl.op, cl.object, cl.endpoint(), err)
		}
		if next == "" {
			return nil
		}
		if next, err = c.resolveNext(target, next); err != nil {
			return fmt.Errorf("evaluagent: %s %s: %s: %w", cl.op, cl.object, cl.endpoint(), err)
		}
		if seen[next] {
			return fmt.Errorf("evaluagent: %s %s: %s: links.next repeats %s after %d pages; the server's paging loops", cl.op, cl.object, cl.endpoint(), redact(next), page)
		}
		if page >= c.cfg.MaxPages {
			return fmt.Errorf("evaluagent: %s %s: %s: still a links.next after %d pages (MaxPages); raise MaxPages if the collection is really this large", cl.op, cl.object, cl.endpoint(), page)
		}
		target = next
	}
}

func (c *Client) resolveNext(current, next string) (string, error) {
	cur, err := url.Parse(current)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("links.next %q: %w", next, err)
	}
	u := cur.ResolveReference(ref)
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("links.next %s leaves %s; not sending the credentials there", redact(u.String()), c.base.Host)
	}
	return u.String(), nil
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}
