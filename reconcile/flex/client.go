package flex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Client talks to one Flex instance and its TaskRouter workspace.
// It is safe for concurrent use.
type Client struct {
	cfg       Config
	flex, tr  *url.URL
	routes    Routes
	transport httpx.Transport
	log       *slog.Logger

	mu        sync.Mutex
	instance  string
	workspace string
	workers   map[string]string // Flex user SID → worker SID, from the last List
	orphans   []string          // workers no Flex user holds, from the last List
	// teams: mirror: the default team's SID, each user's team (both from
	// the last List), and the desired teams whose name is a person's
	// (ShapeDesired, for Audit).
	defaultTeam string
	userTeams   map[string]string
	personal    map[string]string
	owners      map[string]bool   // lower-cased usernames of team leaders
	mirrored    map[string]bool   // lower-cased names of the desired teams
	teamNames   map[string]string // team SID → name, from the last List

	inFlight chan struct{}     // at most MaxInFlight requests at once
	pace     map[string]*pacer // by host
	// teamPace paces the Teams writes by route, at teamRates.
	teamPace map[string]*pacer
}

// pacer spaces the requests to one host.
type pacer struct {
	mu   sync.Mutex
	next time.Time
}

// maxAttempts bounds the tries of one request.
const maxAttempts = 8

// New checks cfg and returns a client. It does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.FlexURL == "" {
		cfg.FlexURL = DefaultFlexURL
	}
	if cfg.TaskRouterURL == "" {
		cfg.TaskRouterURL = DefaultTaskRouterURL
	}
	if cfg.Username == "" || cfg.Secret == "" {
		return nil, errors.New("flex: the API key SID (api_key_sid) and its secret (secret_file) are required")
	}
	if cfg.AccountSID == "" {
		return nil, errors.New("flex: account_sid is required: the client checks it against the account the key reaches")
	}
	if cfg.Attributes == "" {
		cfg.Attributes = AttributesApply
	}
	if cfg.Deprovision == "" {
		cfg.Deprovision = DeprovisionReport
	}
	if cfg.Provision == "" {
		cfg.Provision = ProvisionOff
	}
	if cfg.Separator == "" {
		cfg.Separator = DefaultSeparator
	}
	if cfg.Teams == "" {
		cfg.Teams = TeamsOff
	}
	if cfg.TeamNameTemplate == "" {
		cfg.TeamNameTemplate = DefaultTeamNameTemplate
	}
	if cfg.TeamLevels == nil {
		cfg.TeamLevels = DefaultTeamLevels
	}
	if cfg.TeamOwnerRoles == nil {
		cfg.TeamOwnerRoles = DefaultTeamOwnerRoles
	}
	if cfg.OwnedKeys == nil {
		cfg.OwnedKeys = DefaultOwnedKeys
	}
	for _, k := range cfg.OwnedKeys {
		if neverWritten(k) || slices.Contains(cfg.IdPOwnedKeys, k) {
			return nil, fmt.Errorf("flex: owned key %q is never written (IdP-owned, Flex's own or routing); drop it from owned_keys", k)
		}
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 5 * time.Minute
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Sleep == nil {
		cfg.Sleep = httpx.Sleep
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 10
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 5
	}
	c := &Client{cfg: cfg, routes: cfg.Routes.withDefaults(), log: cfg.Logger, userTeams: map[string]string{},
		inFlight: make(chan struct{}, cfg.MaxInFlight), pace: map[string]*pacer{}, teamPace: map[string]*pacer{}}
	for name := range teamRates {
		c.teamPace[name] = &pacer{}
	}
	for _, h := range []struct {
		raw string
		dst **url.URL
	}{{cfg.FlexURL, &c.flex}, {cfg.TaskRouterURL, &c.tr}} {
		u, err := url.Parse(strings.TrimRight(h.raw, "/"))
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("flex: %q is not an http(s) URL", h.raw)
		}
		if u.Scheme == "http" && !httpx.IsLoopback(u.Hostname()) {
			c.log.Warn("plain http to a host that is not loopback: the credentials cross the network in the clear", "url", h.raw)
		}
		*h.dst = u
		c.pace[u.Host] = &pacer{}
	}
	c.transport = httpx.Transport{HTTP: cfg.HTTP, MaxBody: 32 << 20, Now: cfg.Now, OnRequest: cfg.OnRequest}
	return c, nil
}

// Requests returns the attempts sent so far, by endpoint.
func (c *Client) Requests() map[string]int { return c.transport.Requests() }

// url builds the absolute URL of route r for id.
func (c *Client) url(name string, r Route, id string, q url.Values) string {
	base := c.flex
	if slices.Contains(taskRouter, name) {
		base = c.tr
	}
	c.mu.Lock()
	path := strings.NewReplacer("{instance}", url.PathEscape(c.instance), "{workspace}", url.PathEscape(c.workspace), "{id}", url.PathEscape(id)).Replace(r.Path)
	c.mu.Unlock()
	s := base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// request is one call: its route (for the endpoint name), URL and body.
type request struct {
	op      string
	route   Route
	url     string
	body    []byte
	ctype   string
	ifMatch string
}

// response is a 2xx answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// twilioError is the error body (§5).
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// do sends r, retrying 429 and 503 (any code) after Retry-After or a
// backoff, and a GET's 5xx and network errors; writes are retried only on
// 429/503, which Twilio does not process.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	endpoint := r.route.Endpoint()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.route.Method, r.url, body)
		if err != nil {
			return nil, fmt.Errorf("flex: %s: %w", r.op, err)
		}
		req.SetBasicAuth(c.cfg.Username, c.cfg.Secret)
		if r.ctype != "" {
			req.Header.Set("Content-Type", r.ctype)
		}
		if r.ifMatch != "" {
			req.Header.Set("If-Match", r.ifMatch)
		}
		pc := c.pace[req.URL.Host]
		if err := c.waitTurn(ctx, pc); err != nil {
			return nil, err
		}
		c.inFlight <- struct{}{}
		status, header, resp, dur, err := c.transport.Send(endpoint, req)
		<-c.inFlight
		if pc != nil && header.Get("X-Rate-Limit-Remaining") == "0" {
			// The workspace's budget is spent: pause this host until the next second.
			pc.mu.Lock()
			pc.next = later(pc.next, c.cfg.Now().Add(time.Second))
			pc.mu.Unlock()
		}
		c.log.Debug("request", "endpoint", endpoint, "status", status, "duration", dur)
		retryable := false
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if r.route.Method != http.MethodGet || attempt >= maxAttempts {
				return nil, fmt.Errorf("flex: %s: %s: %w", r.op, endpoint, err)
			}
			retryable = true
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			retryable = true
			if d, ok := httpx.RetryAfter(header, c.cfg.Now()); ok {
				wait = d
			}
		case status >= 500 && r.route.Method == http.MethodGet && attempt < maxAttempts:
			retryable = true
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			var te twilioError
			_ = json.Unmarshal(resp, &te)
			return nil, &AuthError{Status: status, Endpoint: endpoint, Message: te.Message}
		case status >= 200 && status < 300:
			return &response{status: status, header: header, body: resp}, nil
		case tooMany(resp):
			// Flex's "too many concurrent requests" (45780) or 20429 under
			// another status: not processed, safe to retry (§4, §5).
			retryable = true
			if d, ok := httpx.RetryAfter(header, c.cfg.Now()); ok {
				wait = d
			}
		default:
			var te twilioError
			_ = json.Unmarshal(resp, &te)
			msg := te.Message
			if msg == "" && status < 500 {
				msg = strings.TrimSpace(string(resp[:min(len(resp), 200)]))
			}
			return nil, &APIError{Status: status, Code: te.Code, Endpoint: endpoint, Op: r.op, Message: msg}
		}
		if !retryable || attempt >= maxAttempts {
			return nil, &APIError{Status: status, Endpoint: endpoint, Op: r.op, Message: "retries spent"}
		}
		if wait == 0 {
			wait = httpx.Backoff(attempt, time.Second, time.Minute, httpx.Jitter)
		}
		if waited+wait > c.cfg.MaxWait {
			return nil, &RateLimitError{Endpoint: endpoint, Wait: wait, Waited: waited, MaxWait: c.cfg.MaxWait}
		}
		c.log.Info("waiting before a retry", "endpoint", endpoint, "status", status, "wait", wait)
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// getJSON GETs u and decodes the answer into v.
func (c *Client) getJSON(ctx context.Context, op string, r Route, u string, v any) (http.Header, error) {
	resp, err := c.do(ctx, request{op: op, route: r, url: u})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return nil, fmt.Errorf("flex: %s: %s: the answer is not the JSON expected: %w", op, r.Endpoint(), err)
	}
	return resp.header, nil
}

// listMeta is either list-meta style (§2.1).
type listMeta struct {
	Key         string  `json:"key"`
	ListKey     string  `json:"list_key"`
	NextPageURL *string `json:"next_page_url"`
	NextToken   *string `json:"next_token"`
}

// maxPages stops a list that never ends.
const maxPages = 1000

// list reads every page of a list, following next_page_url (URL style) or
// next_token (token style), and calls each with every item. A list that
// fails part-way fails whole; a repeated URL or token is an error.
func (c *Client) list(ctx context.Context, op string, r Route, first string, key string, each func(json.RawMessage) error) error {
	seen := map[string]bool{}
	u := first
	for page := 0; ; page++ {
		if page >= maxPages {
			return fmt.Errorf("flex: %s: more than %d pages; stopping", op, maxPages)
		}
		if seen[u] {
			return fmt.Errorf("flex: %s: the server sent page %s twice; stopping rather than looping", op, u)
		}
		seen[u] = true
		var doc map[string]json.RawMessage
		if _, err := c.getJSON(ctx, op, r, u, &doc); err != nil {
			return err
		}
		var meta listMeta
		if m, ok := doc["meta"]; ok {
			if err := json.Unmarshal(m, &meta); err != nil {
				return fmt.Errorf("flex: %s: meta: %w", op, err)
			}
		}
		k := cmpOr(meta.Key, meta.ListKey, key)
		var items []json.RawMessage
		if raw, ok := doc[k]; ok {
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("flex: %s: %q is not a list: %w", op, k, err)
			}
		}
		for _, it := range items {
			if err := each(it); err != nil {
				return err
			}
		}
		switch {
		case meta.NextPageURL != nil && *meta.NextPageURL != "":
			next, err := c.sameHost(u, *meta.NextPageURL)
			if err != nil {
				return fmt.Errorf("flex: %s: %w", op, err)
			}
			u = next
		case meta.NextToken != nil && *meta.NextToken != "":
			p, _ := url.Parse(first)
			q := p.Query()
			q.Set("PageToken", *meta.NextToken)
			p.RawQuery = q.Encode()
			u = p.String()
		default:
			return nil
		}
	}
}

// sameHost refuses a next page on another host: the credentials go only
// where they were configured to.
func (c *Client) sameHost(cur, next string) (string, error) {
	a, _ := url.Parse(cur)
	b, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("next_page_url %q: %w", next, err)
	}
	if !b.IsAbs() {
		b = a.ResolveReference(b)
	}
	if b.Host != a.Host {
		return "", fmt.Errorf("next_page_url %q leaves %s; refusing to send the credentials there", next, a.Host)
	}
	return b.String(), nil
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// discover reads C1 and checks the account, instance and workspace against
// the configuration.
func (c *Client) discover(ctx context.Context) error {
	var conf struct {
		AccountSID   string `json:"account_sid"`
		InstanceSID  string `json:"flex_instance_sid"`
		WorkspaceSID string `json:"taskrouter_workspace_sid"`
	}
	if _, err := c.getJSON(ctx, "discover configuration", c.routes.Configuration, c.url("configuration", c.routes.Configuration, "", nil), &conf); err != nil {
		return err
	}
	for _, m := range []struct{ what, want, got string }{
		{"account", c.cfg.AccountSID, conf.AccountSID},
		{"instance", c.cfg.InstanceSID, conf.InstanceSID},
		{"workspace", c.cfg.WorkspaceSID, conf.WorkspaceSID},
	} {
		if m.want != "" && m.want != m.got {
			return &AccountMismatchError{What: m.what, Want: m.want, Got: m.got}
		}
	}
	if conf.InstanceSID == "" || conf.WorkspaceSID == "" {
		return errors.New("flex: the configuration names no Flex instance or TaskRouter workspace; is Flex set up on this account?")
	}
	c.mu.Lock()
	c.instance, c.workspace = conf.InstanceSID, conf.WorkspaceSID
	c.mu.Unlock()
	return nil
}

// waitTurn waits until pc lets the next request start: at most
// RatePerSecond requests a second per host (none when below 0).
func (c *Client) waitTurn(ctx context.Context, pc *pacer) error {
	return c.waitRate(ctx, pc, c.cfg.RatePerSecond)
}

// waitRate waits for pc's next slot at perSecond requests a second.
func (c *Client) waitRate(ctx context.Context, pc *pacer, perSecond int) error {
	if pc == nil || c.cfg.RatePerSecond < 0 || perSecond <= 0 {
		return ctx.Err()
	}
	pc.mu.Lock()
	now := c.cfg.Now()
	start := later(pc.next, now)
	pc.next = start.Add(time.Second / time.Duration(perSecond))
	pc.mu.Unlock()
	if d := start.Sub(now); d > 0 {
		return c.cfg.Sleep(ctx, d)
	}
	return ctx.Err()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tooMany says whether an error body carries a rate-limit code.
func tooMany(body []byte) bool {
	var te twilioError
	return json.Unmarshal(body, &te) == nil && (te.Code == 20429 || te.Code == 45780)
}
