package voki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Authentication rules (the contract's §3): log in only without a usable
// token; refresh when the access token is RefreshAfter old; on a 401 from a
// resource call refresh once (log in once if the refresh is refused) and
// retry once; never more than AuthPerMinute calls to /api/auth/* in any
// minute, paced on the injected clock, and never more than AuthPerRun in
// one run (a List and the writes that follow it, up to the next List).

// ErrTwoFactor is returned when the service user has two-factor login on:
// an unattended daemon cannot type a code.
var ErrTwoFactor = errors.New("the service user has two-factor login on: rostersync cannot type a code; give it a dedicated manager user without two-factor login (voki.service_email)")

// ErrLoginRefused is a 401 on login: wrong email, password or tenant.
var ErrLoginRefused = errors.New("login refused (401): check voki.service_email, the password file and voki.tenant")

const (
	// RefreshAfter is the age at which the access token is refreshed
	// (it lives 15 minutes).
	RefreshAfter = 12 * time.Minute
	// AuthPerMinute is the client's ceiling on /api/auth/* calls per
	// minute, under the platform's 5.
	AuthPerMinute = 4
	// AuthPerRun is the most /api/auth/* calls one run makes: a login or
	// a refresh, and one renewal after a 401 (a refresh, then a login).
	AuthPerRun = 3
)

// ErrAuthCap is a run that would make more than AuthPerRun authentication
// calls: the tokens keep being refused, and more calls would only meet the
// platform's login limit.
var ErrAuthCap = fmt.Errorf("voki: %d authentication calls in this run and the token is still refused: check the service user (active, a manager) and voki.tenant; the next run tries again", AuthPerRun)

type tokens struct {
	access, refresh string
	at              time.Time // when the access token was issued
}

type authAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	MFARequired  bool   `json:"mfa_required"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

// token returns a usable access token, logging in or refreshing as needed.
func (c *Client) token(ctx context.Context) (string, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	now := c.now()
	switch {
	case c.tok.access == "":
		return c.loginLocked(ctx)
	case now.Sub(c.tok.at) >= RefreshAfter:
		return c.refreshLocked(ctx)
	}
	return c.tok.access, nil
}

// renew is called after a 401 on a resource call made with stale: it
// refreshes (or logs in when the refresh is refused), once.
func (c *Client) renew(ctx context.Context, stale string) (string, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.tok.access != stale && c.tok.access != "" {
		return c.tok.access, nil // another request renewed it already
	}
	return c.refreshLocked(ctx)
}

func (c *Client) refreshLocked(ctx context.Context) (string, error) {
	if c.tok.refresh == "" {
		return c.loginLocked(ctx)
	}
	status, ans, err := c.authCall(ctx, "refresh", map[string]any{"refresh_token": c.tok.refresh})
	if err != nil {
		return "", err
	}
	if status == http.StatusUnauthorized {
		c.log.Info("voki: refresh token refused, logging in again")
		c.tok = tokens{}
		return c.loginLocked(ctx)
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("voki: refresh: unexpected status %d", status)
	}
	return c.keep(ans)
}

func (c *Client) loginLocked(ctx context.Context) (string, error) {
	status, ans, err := c.authCall(ctx, "login", map[string]any{"email": c.cfg.Email, "password": c.cfg.Password, "tenant": c.cfg.Tenant})
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusUnauthorized:
		return "", fmt.Errorf("voki: log in as %s to tenant %s: %w", c.cfg.Email, c.cfg.Tenant, ErrLoginRefused)
	case status != http.StatusOK:
		return "", fmt.Errorf("voki: log in as %s: unexpected status %d", c.cfg.Email, status)
	case ans.MFARequired:
		return "", fmt.Errorf("voki: log in as %s: %w", c.cfg.Email, ErrTwoFactor)
	}
	if ans.User.ID != "" {
		c.mu.Lock()
		c.selfID = ans.User.ID
		c.mu.Unlock()
	}
	return c.keep(ans)
}

func (c *Client) keep(ans authAnswer) (string, error) {
	if ans.AccessToken == "" {
		return "", errors.New("voki: the authentication answer holds no access_token")
	}
	c.tok = tokens{access: ans.AccessToken, refresh: ans.RefreshToken, at: c.now()}
	return c.tok.access, nil
}

// authCall sends one /api/auth/* request within the pace, waiting out a
// 429 once. The answer is accepted with or without the data wrapper.
func (c *Client) authCall(ctx context.Context, op string, body map[string]any) (int, authAnswer, error) {
	var ans authAnswer
	for attempt := 0; ; attempt++ {
		if c.runAuth >= AuthPerRun {
			return 0, ans, ErrAuthCap
		}
		c.runAuth++
		if err := c.authPace(ctx); err != nil {
			return 0, ans, err
		}
		resp, raw, err := c.send(ctx, http.MethodPost, c.route(op), nil, body, "")
		if err != nil {
			return 0, ans, fmt.Errorf("voki: %s: %w", op, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt == 0 {
			if err := c.wait(ctx, retryAfter(resp, c.now()), op); err != nil {
				return 0, ans, err
			}
			continue
		}
		if resp.StatusCode == http.StatusOK {
			var env struct {
				Data *authAnswer `json:"data"`
			}
			if err := json.Unmarshal(raw, &env); err == nil && env.Data != nil {
				ans = *env.Data
			} else if err := json.Unmarshal(raw, &ans); err != nil {
				return 0, ans, fmt.Errorf("voki: %s: undecodable answer: %w", op, err)
			}
		}
		return resp.StatusCode, ans, nil
	}
}

// NewRun starts a run: the AuthPerRun authentication calls count from
// here. List calls it.
func (c *Client) NewRun() {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.runAuth = 0
}

// authPace waits until fewer than AuthPerMinute auth calls were made in the
// last minute, then counts one.
func (c *Client) authPace(ctx context.Context) error {
	c.paceMu.Lock()
	defer c.paceMu.Unlock()
	now := c.now()
	kept := c.authCalls[:0]
	for _, t := range c.authCalls {
		if now.Sub(t) < time.Minute {
			kept = append(kept, t)
		}
	}
	c.authCalls = kept
	if len(kept) >= AuthPerMinute {
		if err := c.wait(ctx, time.Minute-now.Sub(kept[0]), "authentication pace"); err != nil {
			return err
		}
		c.authCalls = c.authCalls[1:]
	}
	c.authCalls = append(c.authCalls, c.now())
	return nil
}
