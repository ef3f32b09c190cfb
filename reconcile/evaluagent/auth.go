package evaluagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Bearer-token mode (§3.2, §3.3). A key in this mode has exactly one
// working credential, its current token: lost, expired, or replaced by a
// refresh whose answer never arrived, the key is dead and only a new key
// made in Evaluagent's UI recovers access. So the token lives in a
// TokenStore (the state directory) and nowhere else: it is stored before it
// is used, every request reads it from there, and refreshes happen under
// the store's cross-process lock, so two processes never refresh at once.

// Auth modes of a key (§3.3 rule 1: basic unless configured otherwise).
const (
	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// Defaults of Bearer.
const (
	// TokenLifetime is how long a token lasts unless refreshed (§3.2).
	TokenLifetime = 24 * time.Hour
	// DefaultRefreshAfter is the token age at which it is refreshed (§3.3
	// rule 3).
	DefaultRefreshAfter = 20 * time.Hour
)

// Token origins.
const (
	OriginCreated   = "created"
	OriginRefreshed = "refreshed"
	OriginImported  = "imported"
)

// Token is a key's stored bearer token.
type Token struct {
	KeyID   string
	Token   string
	TokenID string
	Origin  string // OriginCreated, OriginRefreshed or OriginImported
	// IssuedAt is when it was received (zero: unknown); ExpiresAt the
	// platform's expiry (zero: unknown).
	IssuedAt, ExpiresAt time.Time
	// RefreshSent, when not zero, marks a refresh sent whose answer was not
	// stored: the refresh may have killed Token.
	RefreshSent time.Time
	// Revoked: revoked on purpose; the key is dead.
	Revoked bool
}

// TokenStore keeps one key's token durably and serialises refreshes. The
// state package's file store implements it (through an adapter).
type TokenStore interface {
	// Load returns the stored token; ok is false when none is stored.
	Load() (t Token, ok bool, err error)
	// Save stores t durably (synced to disk) before it returns.
	Save(t Token) error
	// Lock takes an exclusive lock shared by every process using the
	// store, waiting until ctx ends.
	Lock(ctx context.Context) (unlock func() error, err error)
	// Where names the store for messages (a file path).
	Where() string
}

// AuthRoutes are the token endpoints (§3.2; inferred, so configurable). A
// zero Route keeps the default.
type AuthRoutes struct {
	CreateToken  Route // POST /auth/token, with Basic
	RefreshToken Route // POST /auth/token/refresh, with the token
	RevokeToken  Route // DELETE /auth/token, with the token
}

// DefaultAuthRoutes returns the token endpoints of the contract.
func DefaultAuthRoutes() AuthRoutes {
	return AuthRoutes{
		CreateToken:  Route{Method: http.MethodPost, Path: "/auth/token"},
		RefreshToken: Route{Method: http.MethodPost, Path: "/auth/token/refresh"},
		RevokeToken:  Route{Method: http.MethodDelete, Path: "/auth/token"},
	}
}

// Bearer switches a Client to bearer-token mode.
type Bearer struct {
	// Store holds the token (required).
	Store TokenStore
	// RefreshAfter is the token age at which it is refreshed (default 20h,
	// at most 23h so that a refresh has time to be retried).
	RefreshAfter time.Duration
	// InitialToken, when set, is a token the operator supplied (a key put
	// in bearer mode in the UI); it is stored when the store holds none.
	// Once stored it is never read again: the store's token is the truth.
	InitialToken string
	// InitialFrom names where InitialToken came from, for messages.
	InitialFrom string
	// Routes overrides the token endpoints.
	Routes AuthRoutes
	// Now is the clock of token ages and expiry (nil: Config.Now).
	Now func() time.Time
}

func (b *Bearer) validate() error {
	var errs []error
	if b.Store == nil {
		errs = append(errs, errors.New("Bearer.Store is nil: bearer mode needs a place to keep the token"))
	}
	if b.RefreshAfter < 0 || b.RefreshAfter > TokenLifetime-time.Hour {
		errs = append(errs, fmt.Errorf("Bearer.RefreshAfter %s: give a token age between 0 (the default, %s) and 23h, so a failed refresh can be retried before the token expires", b.RefreshAfter, DefaultRefreshAfter))
	}
	r := b.Routes
	d := DefaultAuthRoutes()
	for _, rt := range []struct {
		name string
		r    *Route
		def  Route
	}{{"CreateToken", &r.CreateToken, d.CreateToken}, {"RefreshToken", &r.RefreshToken, d.RefreshToken}, {"RevokeToken", &r.RevokeToken, d.RevokeToken}} {
		*rt.r = rt.r.Or(rt.def)
		if len(rt.r.Path) == 0 || rt.r.Path[0] != '/' {
			errs = append(errs, fmt.Errorf("Bearer.Routes.%s.Path %q: give a path relative to the base URL, starting with /", rt.name, rt.r.Path))
		}
	}
	b.Routes = r
	if b.RefreshAfter == 0 {
		b.RefreshAfter = DefaultRefreshAfter
	}
	return errors.Join(errs...)
}

// TokenError is a bearer-token problem that stops the run: no request can
// be authenticated until an operator acts. It says what happened and what
// to do. Lost is set when the key itself is dead.
type TokenError struct {
	KeyID string
	What  string
	Do    string
	Lost  bool
	Err   error
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("evaluagent: key %s in bearer mode: %s", e.KeyID, e.What)
	if e.Err != nil {
		s += fmt.Sprintf(" (%v)", e.Err)
	}
	if e.Do != "" {
		s += ". " + e.Do
	}
	return s
}

func (e *TokenError) Unwrap() error { return e.Err }

// Fatal tells the applier that no further request can succeed this run.
func (e *TokenError) Fatal() bool { return true }

// ErrKeyLost matches (errors.Is) a TokenError whose key is dead.
var ErrKeyLost = errors.New("the key's bearer token is lost")

// Is makes a TokenError with Lost match ErrKeyLost.
func (e *TokenError) Is(target error) bool { return target == ErrKeyLost && e.Lost }

// newKeyHelp is what to do once a key is dead.
const newKeyHelp = "Only a new key recovers access: make one in Evaluagent (Conversations > Integrations > API), " +
	"set ROSTERSYNC_EVALUAGENT_KEY_ID and its secret file to it, and run \"rostersync auth create\" " +
	"(or, for a key already in bearer mode, \"rostersync auth import\")"

// tokenAuth is the client's bearer-mode state.
type tokenAuth struct {
	cfg Bearer
	// mu serialises refreshes, creations and imports within the process;
	// the store's lock does it across processes.
	mu sync.Mutex
	// postponedLogged is when a postponed refresh was last logged.
	postponedLogged time.Time
}

// AuthMode returns AuthBasic or AuthBearer.
func (c *Client) AuthMode() string {
	if c.auth != nil {
		return AuthBearer
	}
	return AuthBasic
}

// KeyID returns the access key id in use.
func (c *Client) KeyID() string { return c.cfg.KeyID }

func (c *Client) tokenErr(what, do string, lost bool, err error) *TokenError {
	return &TokenError{KeyID: c.cfg.KeyID, What: what, Do: do, Lost: lost, Err: err}
}

// authorize sets the request's credentials: Basic, or the current token
// (refreshed first when due). It returns the token sent ("" for Basic).
func (c *Client) authorize(ctx context.Context, req *http.Request) (string, error) {
	if c.auth == nil {
		req.SetBasicAuth(c.cfg.KeyID, c.cfg.KeySecret)
		return "", nil
	}
	t, err := c.currentToken(ctx)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	return t.Token, nil
}

// newerToken reports the stored token when it differs from sent: another
// process refreshed it after this request read it, so a 401 may be only
// that, and the request is sent again once with the stored token.
func (c *Client) newerToken(sent string) (string, bool) {
	if c.auth == nil || sent == "" {
		return "", false
	}
	t, ok, err := c.auth.cfg.Store.Load()
	if err != nil || !ok || t.Revoked || t.Token == sent {
		return "", false
	}
	return t.Token, true
}

// loadToken reads the stored token. A missing one is imported from
// InitialToken when imports is set (the caller holds neither lock), else it
// is an error that says how to get one.
func (c *Client) loadToken(ctx context.Context, imports bool) (Token, error) {
	a := c.auth
	t, ok, err := a.cfg.Store.Load()
	if err != nil {
		return t, c.tokenErr("the stored token cannot be read", "", false, err)
	}
	if ok {
		if t.KeyID != "" && t.KeyID != c.cfg.KeyID {
			return t, c.tokenErr(fmt.Sprintf("%s holds a token of key %s", a.cfg.Store.Where(), t.KeyID), "Check ROSTERSYNC_EVALUAGENT_KEY_ID", false, nil)
		}
		return t, nil
	}
	if a.cfg.InitialToken != "" && imports {
		a.mu.Lock()
		defer a.mu.Unlock()
		return c.importToken(ctx, a.cfg.InitialToken, a.cfg.InitialFrom, false)
	}
	return t, c.tokenErr("no token is stored in "+a.cfg.Store.Where(),
		"Run \"rostersync auth create\" to create one from the Basic key (one-way: Basic stops working for that key), "+
			"or, for a key already in bearer mode, supply its current token with \"rostersync auth import -token-file FILE\" "+
			"or ROSTERSYNC_EVALUAGENT_TOKEN_FILE", false, nil)
}

// refreshDue is when t is refreshed: at RefreshAfter of age. A token of
// unknown age is due at once.
func (c *Client) refreshDue(t Token) time.Time {
	issued := t.IssuedAt
	if issued.IsZero() && !t.ExpiresAt.IsZero() {
		issued = t.ExpiresAt.Add(-TokenLifetime)
	}
	if issued.IsZero() {
		return time.Time{}
	}
	return issued.Add(c.auth.cfg.RefreshAfter)
}

// usable checks what the stored token says of itself, without the network.
func (c *Client) usable(t Token, now time.Time) error {
	switch {
	case t.Revoked:
		return c.tokenErr("the token was revoked (rostersync auth revoke) and the key with it", newKeyHelp, true, nil)
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return c.tokenErr(fmt.Sprintf("the stored token expired at %s and an expired token cannot be refreshed", t.ExpiresAt.UTC().Format(time.RFC3339)), newKeyHelp, true, nil)
	}
	return nil
}

// currentToken returns the token to send now, refreshing it first when it
// is due or settling a refresh whose answer was lost.
func (c *Client) currentToken(ctx context.Context) (Token, error) {
	t, err := c.loadToken(ctx, true)
	if err != nil {
		return t, err
	}
	now := c.tokenNow()
	if err := c.usable(t, now); err != nil {
		return t, err
	}
	if t.RefreshSent.IsZero() && now.Before(c.refreshDue(t)) {
		return t, nil
	}
	nt, err := c.refresh(ctx, false)
	if err == nil {
		return nt, nil
	}
	var te *TokenError
	if errors.As(err, &te) || ctx.Err() != nil || t.ExpiresAt.IsZero() || !t.RefreshSent.IsZero() {
		return nt, err
	}
	// The refresh was refused before it was carried out (a rate limit, the
	// request budget): the token still serves, and the next request tries
	// again.
	c.auth.mu.Lock()
	say := now.Sub(c.auth.postponedLogged) >= 15*time.Minute
	if say {
		c.auth.postponedLogged = now
	}
	c.auth.mu.Unlock()
	if say {
		c.log.Warn("evaluagent: token refresh postponed; the current token is still valid", "key_id", c.cfg.KeyID,
			"expires_at", t.ExpiresAt.UTC().Format(time.RFC3339), "err", err)
	}
	return t, nil
}

// RefreshToken refreshes the stored token now, whatever its age, under the
// store's lock, and returns the new one (stored before it returns).
func (c *Client) RefreshToken(ctx context.Context) (Token, error) {
	if c.auth == nil {
		return Token{}, errors.New("evaluagent: the key is in basic mode; refresh is for bearer mode")
	}
	return c.refresh(ctx, true)
}

// refresh runs under both locks: it rereads the store (another process may
// have refreshed already), settles a refresh in doubt, and refreshes when
// still due (or forced). The store records that a refresh was sent before
// it is sent, and the new token replaces it as soon as it arrives.
func (c *Client) refresh(ctx context.Context, force bool) (Token, error) {
	a := c.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.cfg.Store.Lock(ctx)
	if err != nil {
		return Token{}, c.tokenErr("the token lock cannot be taken", "", false, err)
	}
	defer unlock()
	t, err := c.loadToken(ctx, false)
	if err != nil {
		return t, err
	}
	if !t.RefreshSent.IsZero() {
		if t, err = c.settle(ctx, t); err != nil {
			return t, err
		}
	}
	now := c.tokenNow()
	if err := c.usable(t, now); err != nil {
		return t, err
	}
	if !force && now.Before(c.refreshDue(t)) {
		return t, nil // another process refreshed it meanwhile
	}
	t.RefreshSent = now
	if err := a.cfg.Store.Save(t); err != nil {
		t.RefreshSent = time.Time{}
		return t, c.tokenErr("the refresh was not sent: recording it in the state failed", "Fix the state directory (disk full? permissions?)", false, err)
	}
	rt := a.cfg.Routes.RefreshToken
	status, body, err := c.authSend(ctx, rt, "Bearer "+t.Token)
	var notSent *notSentError
	switch {
	case errors.As(err, &notSent):
		t.RefreshSent = time.Time{}
		if serr := a.cfg.Store.Save(t); serr != nil {
			return t, c.tokenErr("clearing the refresh mark failed", "Fix the state directory", false, serr)
		}
		return t, fmt.Errorf("evaluagent: %s: %w; the refresh is retried with the next request", rt.Endpoint(), err)
	case err != nil || status >= 500:
		if err == nil {
			err = fmt.Errorf("%s answered %d", rt.Endpoint(), status)
		}
		return t, c.lostRefresh(t, err)
	case status == http.StatusTooManyRequests:
		// Not carried out: the token is as it was.
		t.RefreshSent = time.Time{}
		if serr := a.cfg.Store.Save(t); serr != nil {
			return t, c.tokenErr("clearing the refresh mark failed", "Fix the state directory", false, serr)
		}
		return t, fmt.Errorf("evaluagent: %s: rate limited; the refresh is retried with the next request", rt.Endpoint())
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		t.RefreshSent = time.Time{}
		_ = a.cfg.Store.Save(t)
		return t, c.tokenErr(fmt.Sprintf("the refresh was refused (%d): the stored token is no longer valid (expired, revoked, or replaced by a refresh made elsewhere)", status), newKeyHelp, true, nil)
	case status < 200 || status >= 300:
		return t, c.lostRefresh(t, fmt.Errorf("%s answered %d", rt.Endpoint(), status))
	}
	nt, err := decodeTokenDoc(body)
	if err != nil {
		return t, c.lostRefresh(t, err)
	}
	nt.KeyID, nt.Origin, nt.IssuedAt = c.cfg.KeyID, OriginRefreshed, c.tokenNow()
	if err := c.saveNew(nt); err != nil {
		return t, err
	}
	c.log.Info("evaluagent: bearer token refreshed and stored", "key_id", c.cfg.KeyID, "expires_at", nt.ExpiresAt.UTC().Format(time.RFC3339), "store", a.cfg.Store.Where())
	return nt, nil
}

// saveNew stores a token just received: it is the key's only credential,
// so a failed write is tried once more and then reported as the emergency
// it is.
func (c *Client) saveNew(t Token) error {
	err := c.auth.cfg.Store.Save(t)
	if err != nil {
		err = c.auth.cfg.Store.Save(t)
	}
	if err != nil {
		return c.tokenErr("a new token was received but could not be stored, and the previous one is no longer valid", newKeyHelp+"; first fix the state directory (disk full? permissions?)", true, err)
	}
	return nil
}

// lostRefresh is a refresh whose answer never arrived (or was unreadable):
// the platform may have issued a new token and killed the old one.
func (c *Client) lostRefresh(t Token, err error) error {
	c.log.Error("evaluagent: the answer to a token refresh was lost", "key_id", c.cfg.KeyID, "sent", t.RefreshSent.UTC().Format(time.RFC3339), "err", err)
	return c.tokenErr("the answer to the token refresh sent at "+t.RefreshSent.UTC().Format(time.RFC3339)+" was lost, so the platform may have replaced the stored token by one rostersync never received",
		"Run \"rostersync check\": it tests the stored token. If it works, the refresh never arrived and nothing is lost (the next run refreshes again). If it is refused, the key is dead. "+newKeyHelp, false, err)
}

// settle decides a refresh in doubt by trying the stored token: accepted,
// the refresh never took effect; refused, its answer was lost with the key.
func (c *Client) settle(ctx context.Context, t Token) (Token, error) {
	status, _, err := c.authSend(ctx, c.routes.Ping, "Bearer "+t.Token)
	switch {
	case err != nil || status >= 500 || status == http.StatusTooManyRequests:
		if err == nil {
			err = fmt.Errorf("ping answered %d", status)
		}
		return t, c.tokenErr("a token refresh sent at "+t.RefreshSent.UTC().Format(time.RFC3339)+" got no stored answer, and the stored token cannot be tested now", "Try again when the platform answers: \"rostersync check\"", false, err)
	case status == http.StatusUnauthorized:
		return t, c.tokenErr("a token refresh sent at "+t.RefreshSent.UTC().Format(time.RFC3339)+" took effect but its answer was lost: the stored token is refused and the new one was never received", newKeyHelp, true, nil)
	case status < 200 || status >= 300:
		return t, c.tokenErr(fmt.Sprintf("testing the stored token after a refresh in doubt: ping answered %d", status), "", false, nil)
	}
	c.log.Warn("evaluagent: a token refresh whose answer was lost never took effect; the stored token still works", "key_id", c.cfg.KeyID, "sent", t.RefreshSent.UTC().Format(time.RFC3339))
	t.RefreshSent = time.Time{}
	if err := c.auth.cfg.Store.Save(t); err != nil {
		return t, c.tokenErr("clearing the refresh mark failed", "Fix the state directory", false, err)
	}
	return t, nil
}

// CreateToken makes the key's first token from its Basic credentials
// (POST /auth/token) and stores it. This is the one-way switch of §3.2:
// from then on Basic is refused for the key, by every integration that
// shares it. Only an explicit operator command calls it; it refuses when a
// token is already stored.
func (c *Client) CreateToken(ctx context.Context) (Token, error) {
	a := c.auth
	if a == nil {
		return Token{}, errors.New("evaluagent: the target is in basic mode; set its auth mode to bearer first")
	}
	if c.cfg.KeySecret == "" {
		return Token{}, errors.New("evaluagent: creating a token needs the key's secret (Basic): set ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.cfg.Store.Lock(ctx)
	if err != nil {
		return Token{}, c.tokenErr("the token lock cannot be taken", "", false, err)
	}
	defer unlock()
	if old, ok, err := a.cfg.Store.Load(); err != nil {
		return old, c.tokenErr("the stored token cannot be read", "", false, err)
	} else if ok {
		return old, c.tokenErr("a token is already stored in "+a.cfg.Store.Where()+"; creating another is refused", "Nothing to do: rostersync uses and refreshes the stored token", false, nil)
	}
	rt := a.cfg.Routes.CreateToken
	status, body, err := c.authSend(ctx, rt, basicHeader(c.cfg.KeyID, c.cfg.KeySecret))
	var notSent *notSentError
	switch {
	case errors.As(err, &notSent):
		return Token{}, fmt.Errorf("evaluagent: %s: %w; the key is unchanged, try again later", rt.Endpoint(), err)
	case status == http.StatusTooManyRequests:
		return Token{}, fmt.Errorf("evaluagent: %s: rate limited; the key is unchanged, try again later", rt.Endpoint())
	case err != nil || status >= 500:
		if err == nil {
			err = fmt.Errorf("%s answered %d", rt.Endpoint(), status)
		}
		return Token{}, c.tokenErr("the answer to the token creation was lost: the platform may have created a token (and switched the key off Basic) that rostersync never received",
			"Run \"rostersync check\" with ROSTERSYNC_EVALUAGENT_AUTH=basic: if Basic still works, nothing happened and you may create again. If Basic is refused, the key is in bearer mode with a token nobody has. "+newKeyHelp, true, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		detail := ""
		if errs := decodeErrors(status, body); len(errs) > 0 {
			detail = ": " + errs[0].String()
		}
		return Token{}, c.tokenErr(fmt.Sprintf("the platform refused to create a token (%d%s)", status, detail),
			"Check the key id and secret; a key already in bearer mode refuses Basic for good: supply its current token with \"rostersync auth import\"", false, nil)
	case status < 200 || status >= 300:
		return Token{}, c.tokenErr(fmt.Sprintf("the platform answered %d to the token creation", status), "", false, nil)
	}
	t, err := decodeTokenDoc(body)
	if err != nil {
		return Token{}, c.tokenErr("the token creation's answer cannot be read, so the key is in bearer mode with a token rostersync does not have", newKeyHelp, true, err)
	}
	t.KeyID, t.Origin, t.IssuedAt = c.cfg.KeyID, OriginCreated, c.tokenNow()
	if err := c.saveNew(t); err != nil {
		return t, err
	}
	c.log.Warn("evaluagent: bearer token created: Basic authentication is now disabled for this key, for good", "key_id", c.cfg.KeyID, "store", a.cfg.Store.Where())
	return t, nil
}

// ImportToken stores a token the operator supplied, for a key already in
// bearer mode. The token is tried first (GET /ping), so a dead one is never
// stored. replace allows replacing a stored token, which is refused while
// the stored one still works.
func (c *Client) ImportToken(ctx context.Context, token, from string, replace bool) (Token, error) {
	if c.auth == nil {
		return Token{}, errors.New("evaluagent: the target is in basic mode; set its auth mode to bearer first")
	}
	c.auth.mu.Lock()
	defer c.auth.mu.Unlock()
	return c.importToken(ctx, token, from, replace)
}

func (c *Client) importToken(ctx context.Context, token, from string, replace bool) (Token, error) {
	a := c.auth
	if !tokenChars(token) {
		return Token{}, c.tokenErr("the token from "+from+" has spaces or control characters", "Put only the token in the file", false, nil)
	}
	unlock, err := a.cfg.Store.Lock(ctx)
	if err != nil {
		return Token{}, c.tokenErr("the token lock cannot be taken", "", false, err)
	}
	defer unlock()
	old, ok, err := a.cfg.Store.Load()
	if err != nil {
		return old, c.tokenErr("the stored token cannot be read", "", false, err)
	}
	if ok && old.Token == token {
		return old, nil
	}
	if ok && !replace {
		return old, c.tokenErr("a token is already stored in "+a.cfg.Store.Where(), "To replace it, run \"rostersync auth import -replace\"", false, nil)
	}
	if ok && !old.Revoked {
		if status, _, err := c.authSend(ctx, c.routes.Ping, "Bearer "+old.Token); err == nil && status >= 200 && status < 300 {
			return old, c.tokenErr("the stored token still works; replacing it would lose it", "Nothing to do", false, nil)
		}
	}
	status, body, err := c.authSend(ctx, c.routes.Ping, "Bearer "+token)
	switch {
	case err != nil:
		return Token{}, c.tokenErr("the token from "+from+" could not be tested", "Try again when the platform answers", false, err)
	case status == http.StatusUnauthorized:
		return Token{}, c.tokenErr("the platform refuses the token from "+from+" (401): it expired, was replaced by a refresh, or belongs to another key", "Supply the key's current token; if nobody has it, "+newKeyHelp, false, nil)
	case status < 200 || status >= 300:
		return Token{}, c.tokenErr(fmt.Sprintf("testing the token from %s: ping answered %d", from, status), "", false, nil)
	}
	t := Token{KeyID: c.cfg.KeyID, Token: token, Origin: OriginImported, ExpiresAt: pingExpiry(body)}
	if err := c.saveNew(t); err != nil {
		return t, err
	}
	c.log.Info("evaluagent: bearer token imported and stored", "key_id", c.cfg.KeyID, "from", from, "store", a.cfg.Store.Where())
	return t, nil
}

func tokenChars(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return s != ""
}

// RevokeToken revokes the stored token (DELETE /auth/token). This kills the
// key for good: Basic stays disabled and no new token can be made. Only an
// explicit operator command calls it; the daemon never does (§3.3 rule 5).
func (c *Client) RevokeToken(ctx context.Context) error {
	a := c.auth
	if a == nil {
		return errors.New("evaluagent: the target is in basic mode; there is no token to revoke")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.cfg.Store.Lock(ctx)
	if err != nil {
		return c.tokenErr("the token lock cannot be taken", "", false, err)
	}
	defer unlock()
	t, ok, err := a.cfg.Store.Load()
	switch {
	case err != nil:
		return c.tokenErr("the stored token cannot be read", "", false, err)
	case !ok:
		return c.tokenErr("no token is stored in "+a.cfg.Store.Where(), "Nothing to revoke", false, nil)
	case t.Revoked:
		return c.tokenErr("the token is already revoked", "", true, nil)
	}
	rt := a.cfg.Routes.RevokeToken
	status, _, err := c.authSend(ctx, rt, "Bearer "+t.Token)
	switch {
	case err != nil:
		return c.tokenErr("the revocation's answer was lost", "Run \"rostersync check\": a refused token means it was revoked", false, err)
	case status == http.StatusUnauthorized:
		return c.tokenErr("the platform refused the stored token (401); it is already dead", newKeyHelp, true, nil)
	case status < 200 || status >= 300:
		return c.tokenErr(fmt.Sprintf("the platform answered %d to the revocation", status), "", false, nil)
	}
	t.Revoked, t.Token, t.RefreshSent = true, "", time.Time{}
	if err := a.cfg.Store.Save(t); err != nil {
		return c.tokenErr("the token was revoked, but recording it failed", "Remove "+a.cfg.Store.Where()+" by hand", true, err)
	}
	c.log.Warn("evaluagent: bearer token revoked: the key can no longer be used", "key_id", c.cfg.KeyID)
	return nil
}

// TokenStatus is what the state says of a key in bearer mode, for check,
// /status and the metrics.
type TokenStatus struct {
	Mode   string `json:"mode"`
	KeyID  string `json:"key_id"`
	Store  string `json:"store,omitempty"`
	Stored bool   `json:"stored"`
	// State is "ok", "missing", "refresh-in-doubt", "expired", "revoked"
	// or "unreadable"; for a key in basic mode, "basic".
	State      string    `json:"state"`
	Origin     string    `json:"origin,omitempty"`
	IssuedAt   time.Time `json:"issued_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	RefreshDue time.Time `json:"refresh_due,omitzero"`
	// SecondsLeft is the time to expiry (negative once expired; 0 when
	// unknown or not stored).
	SecondsLeft float64 `json:"seconds_left"`
	Problem     string  `json:"problem,omitempty"`
}

// TokenStatus reads the stored token's state without using the network.
func (c *Client) TokenStatus() TokenStatus {
	s := TokenStatus{Mode: c.AuthMode(), KeyID: c.cfg.KeyID, State: AuthBasic}
	if c.auth == nil {
		return s
	}
	s.Store = c.auth.cfg.Store.Where()
	t, ok, err := c.auth.cfg.Store.Load()
	switch {
	case err != nil:
		s.State, s.Problem = "unreadable", err.Error()
		return s
	case !ok:
		s.State = "missing"
		if c.auth.cfg.InitialToken != "" {
			s.Problem = "not stored yet; the token from " + c.auth.cfg.InitialFrom + " is imported at first use"
		} else {
			s.Problem = "no token stored: run \"rostersync auth create\" or \"rostersync auth import\""
		}
		return s
	}
	now := c.tokenNow()
	s.Stored, s.Origin, s.IssuedAt, s.ExpiresAt, s.RefreshDue = true, t.Origin, t.IssuedAt, t.ExpiresAt, c.refreshDue(t)
	if !t.ExpiresAt.IsZero() {
		s.SecondsLeft = t.ExpiresAt.Sub(now).Seconds()
	}
	s.State = "ok"
	switch {
	case t.Revoked:
		s.State, s.Problem = "revoked", "revoked: the key is dead"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		s.State, s.Problem = "expired", "expired: the key is dead"
	case !t.RefreshSent.IsZero():
		s.State, s.Problem = "refresh-in-doubt", "the answer to the refresh sent at "+t.RefreshSent.UTC().Format(time.RFC3339)+" was lost; the next use tests the token"
	}
	return s
}

// EnsureToken refreshes the token when it is due (or settles a refresh in
// doubt, or imports InitialToken) and returns the state after. The daemon
// calls it on a timer, so a token is refreshed while nothing else happens.
func (c *Client) EnsureToken(ctx context.Context) (TokenStatus, error) {
	if c.auth == nil {
		return c.TokenStatus(), nil
	}
	_, err := c.currentToken(ctx)
	return c.TokenStatus(), err
}

// authSend makes one request to a token endpoint (or a ping with a given
// credential): paced and budgeted like any other, a 429 waited out (the
// request was not carried out), nothing else retried, since a repeated
// refresh or creation could lose a token.
func (c *Client) authSend(ctx context.Context, rt Route, authorization string) (int, []byte, error) {
	endpoint := rt.Endpoint()
	target := rt.URL(c.base, "", nil)
	var waited time.Duration
	for n := 1; ; n++ {
		if err := c.paceWait(ctx, endpoint); err != nil {
			return 0, nil, &notSentError{err}
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		req, err := http.NewRequestWithContext(actx, rt.Method, target, nil)
		if err != nil {
			cancel()
			return 0, nil, &notSentError{err}
		}
		req.Header.Set("Authorization", authorization)
		status, header, body, dur, err := c.tr.Send(endpoint, req)
		cancel()
		c.log.Debug("evaluagent: request", "endpoint", endpoint, "status", status, "duration", dur)
		if err != nil && neverConnected(err) {
			// No connection was made, so no request reached the platform.
			return 0, nil, &notSentError{err}
		}
		if err != nil || status != http.StatusTooManyRequests {
			return status, body, err
		}
		wait, ok := httpx.RetryAfter(header, c.cfg.Now())
		if !ok {
			wait = c.backoffDelay(n)
		}
		wait = max(wait, time.Second)
		if waited+wait > c.cfg.MaxWait {
			return status, body, nil
		}
		c.pace.block(endpoint, c.cfg.Now().Add(wait))
		if err := c.rateWait(ctx, endpoint, wait); err != nil {
			return 0, nil, &notSentError{err} // the last attempt got a 429: not carried out
		}
		waited += wait
	}
}

// neverConnected reports whether err happened while dialling (connection
// refused, no route, a name that does not resolve): the request was never
// written, so nothing can have taken effect.
func neverConnected(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// notSentError is an authSend failure before any request was carried out:
// the budget, the pace or a wait after a 429 stopped it.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() + " (nothing was sent)" }
func (e *notSentError) Unwrap() error { return e.err }

func basicHeader(id, secret string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(id, secret)
	return r.Header.Get("Authorization")
}

// decodeTokenDoc reads the token body of create and refresh (§3.2,
// inferred): data.id, data.attributes.token and expires_at.
func decodeTokenDoc(body []byte) (Token, error) {
	var doc struct {
		Data struct {
			ID         string `json:"id"`
			Attributes struct {
				Token     string `json:"token"`
				ExpiresAt string `json:"expires_at"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return Token{}, fmt.Errorf("token answer is not JSON: %w", err)
	}
	a := doc.Data.Attributes
	if !tokenChars(a.Token) {
		return Token{}, errors.New("token answer has no data.attributes.token")
	}
	t := Token{Token: a.Token, TokenID: doc.Data.ID}
	if a.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339, a.ExpiresAt)
		if err != nil {
			return Token{}, fmt.Errorf("token answer: expires_at %q is not an RFC 3339 time", a.ExpiresAt)
		}
		t.ExpiresAt = exp.UTC()
	}
	return t, nil
}

// pingExpiry reads data.attributes.expires_at of a ping answer (§7 P1,
// inferred); zero when absent.
func pingExpiry(body []byte) time.Time {
	var doc struct {
		Data struct {
			Attributes struct {
				ExpiresAt *string `json:"expires_at"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Data.Attributes.ExpiresAt == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, *doc.Data.Attributes.ExpiresAt)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// tokenNow is the clock of token ages.
func (c *Client) tokenNow() time.Time {
	if c.auth.cfg.Now != nil {
		return c.auth.cfg.Now()
	}
	return c.cfg.Now()
}
