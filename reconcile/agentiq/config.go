package agentiq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Defaults of Config.
const (
	DefaultMaxRows       = 500
	DefaultWindow        = 30 * 24 * time.Hour
	DefaultMaxWait       = 5 * time.Minute
	DefaultTimeout       = 30 * time.Second
	DefaultUploadTimeout = 5 * time.Minute
	// maxAttempts bounds the tries of a read on 5xx and network errors.
	maxAttempts = 4
)

// DefaultEpoch is where a full walk of the export starts (§5.3).
var DefaultEpoch = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// Config configures a Client. The zero value of every field but BaseURL and
// APIKey picks a sensible default.
type Config struct {
	// BaseURL is the institution's API host, as
	// "https://api-v2.<fi-domain>.agentiq.co"; paths start with /api below it.
	// Nothing is derived from it.
	BaseURL string
	// APIKey is sent as x-api-key. Read it from a file; never log it.
	APIKey string
	// Routes overrides entries of the route table (see DefaultRoutes).
	Routes Routes
	// MaxRows is the most data rows one upload carries (default 500).
	MaxRows int
	// Epoch is where the export walk starts (default 2015-01-01T00:00:00Z):
	// no agent created before it is listed.
	Epoch time.Time
	// Window is the creation-time span of one export request (default 30 days).
	Window time.Duration
	// MaxWait is the longest the client waits out 429s and 503s for one
	// request (default 5m); a longer wait stops with a *RateLimitError.
	MaxWait time.Duration
	// Timeout bounds one read attempt (default 30s); UploadTimeout one upload
	// (default 5m: the import answers only once every row is processed).
	Timeout       time.Duration
	UploadTimeout time.Duration
	// HTTPClient sends the requests (default a new http.Client).
	HTTPClient *http.Client
	// Logger receives a debug line per request and warnings on retries.
	Logger *slog.Logger
	// Now and Sleep are the clock; tests inject fakes. Sleep must return
	// ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRequest, when set, is called after every HTTP attempt with the
	// endpoint, the status (0 for a network error) and the duration.
	OnRequest func(endpoint string, status int, dur time.Duration)
}

// Client talks to one institution's Agent IQ. It implements reconcile.Target
// and reconcile.Batcher.
type Client struct {
	cfg    Config
	base   *url.URL
	routes Routes
	log    *slog.Logger
	tr     httpx.Transport
	jitter func(d time.Duration) time.Duration
}

// New validates cfg, applies defaults and returns a Client. It does no I/O.
// Every problem is reported at once.
func New(cfg Config) (*Client, error) {
	var errs []error
	var u *url.URL
	if cfg.BaseURL == "" {
		errs = append(errs, errors.New("base URL is empty: give the institution's API host, as https://api-v2.<fi-domain>.agentiq.co"))
	} else {
		var err error
		u, err = url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("base URL %q does not parse: %v", cfg.BaseURL, err))
		case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			errs = append(errs, fmt.Errorf("base URL %q: give an absolute http(s) URL, as https://api-v2.<fi-domain>.agentiq.co", cfg.BaseURL))
		case u.User != nil, u.RawQuery != "", u.Fragment != "":
			errs = append(errs, fmt.Errorf("base URL %q: remove the credentials, query or fragment", u.Redacted()))
		case strings.HasSuffix(u.Path, "/api"):
			errs = append(errs, fmt.Errorf("base URL %q ends in /api: give the host only, the paths carry /api", cfg.BaseURL))
		}
	}
	switch {
	case cfg.APIKey == "":
		errs = append(errs, errors.New("API key is empty: put the key Agent IQ sent with the base URL in the key file"))
	case strings.ContainsAny(cfg.APIKey, " \t\r\n\""):
		errs = append(errs, errors.New("API key holds white space or quotes: check it was copied whole and alone"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MaxWait", cfg.MaxWait}, {"Timeout", cfg.Timeout}, {"UploadTimeout", cfg.UploadTimeout}, {"Window", cfg.Window}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative: use 0 for the default", d.name, d.v))
		}
	}
	if cfg.Window != 0 && cfg.Window < time.Minute {
		errs = append(errs, fmt.Errorf("window %s is below a minute: the export would take too many requests", cfg.Window))
	}
	if cfg.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("max rows %d is negative: use 0 for the default (%d)", cfg.MaxRows, DefaultMaxRows))
	}
	routes := cfg.Routes.withDefaults()
	if err := routes.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("agentiq: invalid configuration:\n%w", errors.Join(errs...))
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.Epoch.IsZero() {
		cfg.Epoch = DefaultEpoch
	}
	cfg.Epoch = cfg.Epoch.UTC().Truncate(time.Second)
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UploadTimeout == 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = httpx.Sleep
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Routes = routes
	c := &Client{
		cfg: cfg, base: u, routes: routes, log: log,
		tr:     httpx.Transport{HTTP: cfg.HTTPClient, MaxBody: maxBody, Now: cfg.Now, OnRequest: cfg.OnRequest},
		jitter: httpx.Jitter,
	}
	if u.Scheme == "http" && !httpx.IsLoopback(u.Hostname()) {
		log.Warn("agentiq: base URL is plain http; the API key travels unencrypted", "base_url", u.Redacted())
	}
	return c, nil
}

// Name identifies the target in plans and logs.
func (c *Client) Name() string { return "agentiq" }

// BaseURL returns the base URL requests go to.
func (c *Client) BaseURL() string { return c.base.String() }

// Routes returns the route table in use, defaults and overrides merged.
func (c *Client) Routes() Routes { return c.routes }
