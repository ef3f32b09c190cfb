// Package statuspage is the daemon's status page for people: one
// server-rendered HTML page (embedded templates and stylesheet, no script,
// no outside resources) that refreshes itself, with the pass history, the
// next pass, source health, each target's pending plan, held operations
// with approve and reject buttons, request budgets and the drift over time
// as an SVG chart.
//
// The package knows nothing of sources, targets or the state store: what
// the page shows is a View its Backend builds, and what its buttons do are
// Backend calls. Its POST actions are protected against cross-site requests
// by a per-process token in a hidden field and by the browser's Origin and
// Sec-Fetch-Site headers; they are registered on the admin mux so that
// whatever guards that mux guards them too.
package statuspage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// View is everything the page shows. The Backend fills it on every request.
type View struct {
	Now     time.Time
	Version string
	Mode    string // plan or apply
	Targets []string
	// Refresh is how often the page reloads itself, in seconds (0: 30).
	Refresh int

	Ready       bool
	ReadyReason string
	// Standby, when set, says this node is a standby and who leads: the
	// page is read-only (no approvals, no pass asked for here).
	Standby  string
	Running  *Run
	NextPass time.Time
	NextKind string

	Runs    []Run // newest first, from the stored run history
	Sources []Source
	Plans   []Plan
	Held    []Held
	Budgets []Budget
	Drift   []Point // oldest first

	// Set by the page, not the Backend.
	CSRF  string
	Flash string
}

// Run is one recorded pass (or CLI plan or apply).
type Run struct {
	ID       int64
	Kind     string // pass, plan, apply; for a daemon pass, full, delta, trigger, reload
	Started  time.Time
	Finished time.Time // zero while running
	Result   string
	Summary  string
	Error    string
	Changes  int
	Applied  int
	Failed   int
	Held     int
}

// Duration is how long the run took (zero while running).
func (r Run) Duration() time.Duration {
	if r.Finished.IsZero() {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// Source is one source's health as of its last read.
type Source struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Read        bool      `json:"read"` // false until the first read of this process
	ReadAt      time.Time `json:"read_at,omitzero"`
	Records     int       `json:"records"`
	Complete    bool      `json:"complete"`
	Reason      string    `json:"reason,omitempty"` // why the read is incomplete
	Error       string    `json:"error,omitempty"`  // why the read failed
	LastHealthy time.Time `json:"last_healthy,omitzero"`
}

// Healthy reports whether the last read succeeded and was complete.
func (s Source) Healthy() bool { return s.Read && s.Error == "" && s.Complete }

// Plan is one target's pending plan.
type Plan struct {
	Target      string
	CreatedAt   time.Time
	Create      int
	Update      int
	Adopt       int
	Deactivate  int
	Held        int
	Suppressed  int
	Unsupported int
	Unchanged   int
	Ops         []Op
	Omitted     int // ops not shown
	Notes       []string
}

// Changes is how many operations the plan would apply.
func (p Plan) Changes() int { return p.Create + p.Update + p.Adopt + p.Deactivate }

// Op is one operation of a pending plan.
type Op struct {
	Symbol  string // +, ~, &, -, !, #
	Action  string
	Kind    string
	Key     string
	Name    string
	Status  string
	Reason  string
	Changes []string // "field: old → new"
}

// Held is one operation held for approval.
type Held struct {
	ID        int64
	Status    string // pending or approved
	Target    string
	Action    string
	Kind      string
	Key       string
	Name      string
	Reason    string
	CreatedAt time.Time
}

// Budget is what is left of one endpoint's request budget.
type Budget struct {
	Target      string
	Endpoint    string
	MinuteUsed  int
	MinuteLimit int
	DayUsed     int
	DayLimit    int
}

// DayLeft is the day's requests left.
func (b Budget) DayLeft() int { return max(b.DayLimit-b.DayUsed, 0) }

// DayPercent is the share of the day's budget used, 0 to 100.
func (b Budget) DayPercent() int {
	if b.DayLimit <= 0 {
		return 0
	}
	return min(100, b.DayUsed*100/b.DayLimit)
}

// Point is the drift measured by one pass: operations that would be
// applied, and operations held.
type Point struct {
	At      time.Time
	Pending int
	Held    int
}

// Backend is what the page needs from the daemon.
type Backend interface {
	View(ctx context.Context) (*View, error)
	// Approve and Reject decide on a held operation by its id.
	Approve(ctx context.Context, id int64) error
	Reject(ctx context.Context, id int64) error
	// Trigger asks for a pass soon.
	Trigger()
}

// Page serves the status page and its actions.
type Page struct {
	b    Backend
	log  *slog.Logger
	tmpl *template.Template
	csrf string
}

// New returns a Page over b with a fresh anti-forgery token.
func New(b Backend, log *slog.Logger) (*Page, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("status page: token: %w", err)
	}
	t, err := template.New("status.html").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("status page: templates: %w", err)
	}
	return &Page{b: b, log: log, tmpl: t, csrf: hex.EncodeToString(tok)}, nil
}

// Register adds the page's assets and actions to mux:
//
//	GET  /assets/...               the stylesheet
//	POST /held/{id}/approve        approve a held operation, then ask for a pass
//	POST /held/{id}/reject         reject a held operation
//	POST /pass                     ask for a pass
//
// The page itself (GET / and GET /status for browsers) is ServeHTTP.
func (p *Page) Register(mux *http.ServeMux) {
	sub, _ := fs.Sub(assetFS, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(sub)))
	mux.HandleFunc("POST /held/{id}/approve", p.action(func(ctx context.Context, id int64) (string, error) {
		if err := p.b.Approve(ctx, id); err != nil {
			return "", err
		}
		p.b.Trigger()
		return "approved", nil
	}))
	mux.HandleFunc("POST /held/{id}/reject", p.action(func(ctx context.Context, id int64) (string, error) {
		return "rejected", p.b.Reject(ctx, id)
	}))
	mux.HandleFunc("POST /pass", func(w http.ResponseWriter, r *http.Request) {
		if !p.allowed(w, r) {
			return
		}
		p.b.Trigger()
		http.Redirect(w, r, "/?done=pass", http.StatusSeeOther)
	})
}

// WantsHTML reports whether r asks for the page rather than JSON: a browser
// (Accept naming text/html, and not application/json).
func WantsHTML(r *http.Request) bool {
	accept := strings.ToLower(r.Header.Get("Accept"))
	return strings.Contains(accept, "text/html") && !strings.Contains(accept, "application/json")
}

// ServeHTTP renders the page.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v, err := p.b.View(r.Context())
	if err != nil {
		p.log.Error("status page", "err", err)
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	v.CSRF = p.csrf
	v.Flash = flash(r.URL.Query(), v.Mode)
	if v.Refresh <= 0 {
		v.Refresh = 30
	}
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "status.html", v); err != nil {
		p.log.Error("status page: render", "err", err)
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.Write(buf.Bytes())
}

// flash turns the redirect's query into the line shown at the top. Only
// known words and a number are used, never text from the request.
func flash(q url.Values, mode string) string {
	id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
	switch q.Get("done") {
	case "approved":
		if mode == "plan" {
			return fmt.Sprintf("Hold %d approved. This daemon is in plan mode and writes nothing: 'rostersync apply', or the daemon in apply mode, carries it out.", id)
		}
		return fmt.Sprintf("Hold %d approved; a pass has been asked for and will apply it.", id)
	case "rejected":
		return fmt.Sprintf("Hold %d rejected; it is not applied while the sources still ask for it.", id)
	case "pass":
		return "A pass has been asked for."
	}
	return ""
}

func (p *Page) action(do func(ctx context.Context, id int64) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !p.allowed(w, r) {
			return
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			http.Error(w, fmt.Sprintf("%q is not a held operation id", r.PathValue("id")), http.StatusBadRequest)
			return
		}
		done, err := do(r.Context(), id)
		if err != nil {
			p.log.Warn("status page action refused", "path", r.URL.Path, "err", err)
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		p.log.Info("held operation decided on the status page", "id", id, "decision", done)
		http.Redirect(w, r, fmt.Sprintf("/?done=%s&id=%d#held", done, id), http.StatusSeeOther)
	}
}

// errForbidden explains a refused POST.
var errForbidden = errors.New("refused: this form must be sent from the status page of this daemon (reload the page and try again)")

// allowed checks a POST against cross-site request forgery: the browser's
// Sec-Fetch-Site and Origin must not name another site, and the form must
// carry this process's token.
func (p *Page) allowed(w http.ResponseWriter, r *http.Request) bool {
	bad := func(why string) bool {
		p.log.Warn("status page: refused a POST", "path", r.URL.Path, "why", why)
		http.Error(w, errForbidden.Error()+": "+why, http.StatusForbidden)
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return bad("cross-site request")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return bad("origin " + o + " is not this host")
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		return bad("unreadable form")
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(p.csrf)) != 1 {
		return bad("missing or stale form token")
	}
	return true
}
