package agentiq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// maxBody bounds a response body read into memory.
const maxBody = 64 << 20

// call is one logical request; a read may take several HTTP attempts.
type call struct {
	route       Route
	id          string     // fills {id}
	query       url.Values // added to the path
	body        []byte     // sent as is
	contentType string     // of body
	op          string     // for errors: "export agents"
}

func (cl call) endpoint() string { return cl.route.Endpoint() }

func (cl call) upload() bool { return cl.route.Method != http.MethodGet }

func (c *Client) urlFor(cl call) string { return cl.route.URL(c.base, cl.id, cl.query) }

// do sends cl until it succeeds or fails for good, and returns the body of a
// 2xx answer. Reads are retried on 5xx and network errors; an upload is
// resent only after a 429, which the server answers before reading it.
func (c *Client) do(ctx context.Context, cl call) ([]byte, error) {
	endpoint := cl.endpoint()
	target := c.urlFor(cl)
	var (
		failures int           // 5xx and network errors of a read
		waits    int           // 429 and 503 waits
		waited   time.Duration // spent on them
	)
	for {
		status, header, body, err := c.send(ctx, cl, endpoint, target)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("agentiq: %s: %w", cl.op, ctx.Err())
			}
			if cl.upload() {
				return nil, fmt.Errorf("agentiq: %s: %s: %v: %w", cl.op, endpoint, err, ErrOutcomeUnknown)
			}
			failures++
			if failures >= maxAttempts {
				return nil, fmt.Errorf("agentiq: %s: %s: giving up after %d attempts: %w", cl.op, endpoint, failures, err)
			}
			if err := c.pause(ctx, endpoint, c.backoffDelay(failures), fmt.Sprintf("network error: %v", err)); err != nil {
				return nil, err
			}
		case status >= 200 && status < 300:
			return body, nil
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, &AuthError{Status: status, Endpoint: endpoint, Message: errorMessage(body)}
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable && !cl.upload():
			waits++
			wait, ok := httpx.RetryAfter(header, c.cfg.Now())
			if !ok {
				wait = c.backoffDelay(waits)
			}
			if waited+wait > c.cfg.MaxWait {
				return nil, &RateLimitError{Endpoint: endpoint, Wait: wait, Waited: waited, MaxWait: c.cfg.MaxWait}
			}
			if err := c.pause(ctx, endpoint, wait, fmt.Sprintf("status %d", status)); err != nil {
				return nil, err
			}
			waited += wait
		case status >= 500:
			apiErr := &APIError{Status: status, Endpoint: endpoint, Op: cl.op, Message: errorMessage(body)}
			if cl.upload() {
				return nil, fmt.Errorf("%w: %w", apiErr, ErrOutcomeUnknown)
			}
			failures++
			if failures >= maxAttempts {
				return nil, fmt.Errorf("%w (gave up after %d attempts)", apiErr, failures)
			}
			if err := c.pause(ctx, endpoint, c.backoffDelay(failures), fmt.Sprintf("status %d", status)); err != nil {
				return nil, err
			}
		default:
			return nil, &APIError{Status: status, Endpoint: endpoint, Op: cl.op, Message: errorMessage(body)}
		}
	}
}

// send makes one HTTP attempt and reads the whole body.
func (c *Client) send(ctx context.Context, cl call, endpoint, target string) (int, http.Header, []byte, error) {
	timeout := c.cfg.Timeout
	if cl.upload() {
		timeout = c.cfg.UploadTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.route.Method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("x-api-key", c.cfg.APIKey)
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	status, header, body, dur, err := c.tr.Send(endpoint, req)
	c.log.Debug("agentiq: request", "endpoint", endpoint, "url", target, "status", status, "duration", dur)
	return status, header, body, err
}

// Requests returns the number of HTTP requests sent so far, by endpoint
// ("GET /api/exports/agents"), retries included.
func (c *Client) Requests() map[string]int { return c.tr.Requests() }

func (c *Client) pause(ctx context.Context, endpoint string, d time.Duration, why string) error {
	c.log.Warn("agentiq: waiting to retry", "endpoint", endpoint, "reason", why, "wait", d)
	if err := c.cfg.Sleep(ctx, d); err != nil {
		return fmt.Errorf("agentiq: %s: waiting to retry: %w", endpoint, err)
	}
	return nil
}

// backoffDelay is exponential with jitter: for attempt n (from 1) a wait in
// [d/2, d) with d = 1s·2^(n-1), at most 60s, never below 1s.
func (c *Client) backoffDelay(attempt int) time.Duration {
	return httpx.Backoff(attempt, time.Second, 60*time.Second, c.jitter)
}

// errorMessage reads the error or message member of an error body (§4), or
// keeps the first 512 bytes of a body that has neither.
func errorMessage(body []byte) string {
	var e struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		if s, ok := e.Error.(string); ok && s != "" {
			return s
		}
		if e.Message != "" {
			return e.Message
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}
