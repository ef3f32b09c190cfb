package evaluagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Regions and their base URLs (§1).
var regionURLs = map[string]string{
	"eu":      "https://api.evaluagent.com/v1",
	"us-east": "https://api.us-east.evaluagent.com/v1",
	"aus":     "https://api.aus.evaluagent.com/v1",
}

// Defaults of Config.
const (
	DefaultAgentLevel    = "Team"
	DefaultAgentRole     = "agent"
	DefaultMaxWait       = 5 * time.Minute
	DefaultRatePerMinute = 100
	DefaultTimeout       = 30 * time.Second
	DefaultMaxPages      = 1000
	// maxAttempts bounds the tries of an idempotent request on 5xx and
	// network errors.
	maxAttempts = 4
)

// Config configures a Client. The zero value of every field but the
// credentials and the region (or base URL) picks a sensible default.
type Config struct {
	// Region is the account's cluster: "eu", "us-east" or "aus".
	Region string
	// BaseURL, when set, wins over Region. It includes the version, as in
	// "https://api.evaluagent.com/v1"; tests point it at the simulator.
	BaseURL string
	// KeyID and KeySecret are the API key, sent with HTTP Basic.
	KeyID     string
	KeySecret string
	// AgentLevel is the name of the level whose groups hold agents, and the
	// level given to a new team that names none (default "Team").
	AgentLevel string
	// AgentRole is the machine name of the agent role (default "agent"). A
	// user holding it is sent with a team.
	AgentRole string
	// Routes overrides entries of the route table (see DefaultRoutes).
	Routes Routes
	// MaxWait is the longest the client waits out 429s for one request
	// (default 5m). A longer wait stops with a *RateLimitError.
	MaxWait time.Duration
	// RatePerMinute is the client's own budget per endpoint (default 100,
	// the server's limit): it never sends more than this many requests to one
	// endpoint in any 60 seconds.
	RatePerMinute int
	// Timeout bounds one HTTP attempt (default 30s).
	Timeout time.Duration
	// MaxPages bounds the pages one list follows through links.next
	// (default 1000).
	MaxPages int
	// HTTPClient sends the requests (default a new http.Client).
	HTTPClient *http.Client
	// Logger receives debug lines per request and warnings on retries
	// (nil discards).
	Logger *slog.Logger
	// Now and Sleep are the clock; tests inject fakes. Sleep must return
	// ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRequest, when set, is called after every HTTP attempt with the
	// endpoint, the status (0 for a network error) and the duration.
	OnRequest func(endpoint string, status int, dur time.Duration)
	// OnRateLimitWait, when set, is called before every wait caused by a
	// rate limit: the client's own pacing or a 429.
	OnRateLimitWait func(endpoint string, d time.Duration)
	// Bearer, when set, puts the key in bearer-token mode (auth.go):
	// requests carry the stored token, refreshed when due, and KeySecret is
	// needed only to create the first token.
	Bearer *Bearer
	// Budget, when set, is a request budget per endpoint that outlives the
	// process (kept in the state store), so that a restart does not reset
	// the counts of the account's per-minute and per-day limits. Every HTTP
	// attempt takes from it first.
	Budget Budget
}

// Budget hands out requests per endpoint ("POST /org/users").
type Budget interface {
	// Take takes one request for endpoint. A positive wait means the
	// endpoint's budget is spent until then and nothing was taken; the
	// client waits and asks again, or, when the wait is beyond MaxWait
	// (the daily budget), stops with a *BudgetError.
	Take(ctx context.Context, endpoint string) (wait time.Duration, err error)
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// Client talks to one Evaluagent account. It implements reconcile.Target.
type Client struct {
	cfg    Config
	base   *url.URL
	routes Routes
	log    *slog.Logger
	tr     httpx.Transport
	pace   *pacer
	// jitter returns a random duration in [0, d); tests replace it.
	jitter func(d time.Duration) time.Duration

	mu      sync.Mutex
	lookups *lookups // roles and levels, reset by every List
	// auth is the bearer-token state; nil in basic mode.
	auth *tokenAuth
	// sizeHint is about how many users the next listing holds (SizeHint).
	sizeHint atomic.Int64
}

// New validates cfg, applies defaults and returns a Client. It does no I/O.
// Every problem is reported at once, each naming the field and the fix.
func New(cfg Config) (*Client, error) {
	var errs []error
	base := cfg.BaseURL
	if base == "" {
		switch {
		case cfg.Region == "":
			//lint:ignore ST1005 the message names the Config field to fix
			errs = append(errs, errors.New("Region is empty: set Region to eu, us-east or aus, or set BaseURL"))
		case regionURLs[cfg.Region] == "":
			//lint:ignore ST1005 the message names the Config field to fix
			errs = append(errs, fmt.Errorf("Region %q is unknown: use eu, us-east or aus, or set BaseURL", cfg.Region))
		default:
			base = regionURLs[cfg.Region]
		}
	}
	var u *url.URL
	if base != "" {
		var err error
		u, err = url.Parse(strings.TrimRight(base, "/"))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("BaseURL %q does not parse (%v): give an absolute URL such as https://api.evaluagent.com/v1", base, err))
		case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			errs = append(errs, fmt.Errorf("BaseURL %q: give an absolute http(s) URL such as https://api.evaluagent.com/v1", base))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("BaseURL %q: remove the query or fragment", base))
		}
	}
	if cfg.KeyID == "" {
		errs = append(errs, errors.New("KeyID is empty: set the API access key id (made in Evaluagent under Conversations > Integrations > API)"))
	} else if !keyPattern.MatchString(cfg.KeyID) {
		errs = append(errs, errors.New("KeyID has characters other than letters, digits and '-': check it was copied whole, without spaces or quotes"))
	}
	if cfg.Bearer != nil {
		bearer := *cfg.Bearer
		if err := bearer.validate(); err != nil {
			errs = append(errs, err)
		}
		cfg.Bearer = &bearer
	}
	if cfg.KeySecret == "" && cfg.Bearer == nil {
		errs = append(errs, errors.New("KeySecret is empty: set the API secret key shown once when the key was made"))
	} else if cfg.KeySecret != "" && !keyPattern.MatchString(cfg.KeySecret) {
		errs = append(errs, errors.New("KeySecret has characters other than letters, digits and '-': check it was copied whole, without spaces or quotes"))
	}
	if cfg.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("MaxWait %s is negative: use 0 for the default (%s) or a positive duration", cfg.MaxWait, DefaultMaxWait))
	}
	if cfg.RatePerMinute < 0 {
		errs = append(errs, fmt.Errorf("RatePerMinute %d is negative: use 0 for the default (%d) or a positive number", cfg.RatePerMinute, DefaultRatePerMinute))
	}
	if cfg.Timeout < 0 {
		//lint:ignore ST1005 the message names the Config field to fix
		errs = append(errs, fmt.Errorf("Timeout %s is negative: use 0 for the default (%s) or a positive duration", cfg.Timeout, DefaultTimeout))
	}
	if cfg.MaxPages < 0 {
		errs = append(errs, fmt.Errorf("MaxPages %d is negative: use 0 for the default (%d) or a positive number", cfg.MaxPages, DefaultMaxPages))
	}
	routes := cfg.Routes.withDefaults()
	if err := routes.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("evaluagent: invalid configuration:\n%w", errors.Join(errs...))
	}

	if cfg.AgentLevel == "" {
		cfg.AgentLevel = DefaultAgentLevel
	}
	if cfg.AgentRole == "" {
		cfg.AgentRole = DefaultAgentRole
	}
	cfg.AgentRole = strings.ToLower(cfg.AgentRole)
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.RatePerMinute == 0 {
		cfg.RatePerMinute = DefaultRatePerMinute
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxPages == 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = httpx.Sleep
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Routes = routes
	c := &Client{
		cfg:    cfg,
		base:   u,
		routes: routes,
		log:    log,
		tr:     httpx.Transport{HTTP: cfg.HTTPClient, MaxBody: maxBody, Now: cfg.Now, OnRequest: cfg.OnRequest},
		pace:   newPacer(cfg.RatePerMinute, time.Minute),
		jitter: httpx.Jitter,
	}
	if cfg.Bearer != nil {
		c.auth = &tokenAuth{cfg: *cfg.Bearer}
	}
	if u.Scheme == "http" && !httpx.IsLoopback(u.Hostname()) {
		log.Warn("evaluagent: BaseURL is plain http; the API key travels unencrypted", "base_url", u.Redacted())
	}
	return c, nil
}

// Name identifies the target in plans and logs.
func (c *Client) Name() string { return "evaluagent" }

// BaseURL returns the base URL requests go to.
func (c *Client) BaseURL() string { return c.base.String() }

// Routes returns the route table in use, defaults and overrides merged.
func (c *Client) Routes() Routes { return c.routes }
