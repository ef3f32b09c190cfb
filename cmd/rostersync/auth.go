package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/state"
)

// tokenStore adapts the state's token store to the Evaluagent client.
type tokenStore struct{ s state.TokenStore }

func (t tokenStore) Load() (evaluagent.Token, bool, error) {
	b, err := t.s.Load()
	if errors.Is(err, state.ErrNotFound) {
		return evaluagent.Token{}, false, nil
	}
	if err != nil {
		return evaluagent.Token{}, false, err
	}
	return evaluagent.Token{
		KeyID: b.KeyID, Token: b.Token, TokenID: b.TokenID, Origin: b.Origin,
		IssuedAt: b.IssuedAt, ExpiresAt: b.ExpiresAt, RefreshSent: b.RefreshSent, Revoked: b.Revoked,
	}, true, nil
}

func (t tokenStore) Save(tok evaluagent.Token) error {
	return t.s.Save(state.BearerToken{
		KeyID: tok.KeyID, Token: tok.Token, TokenID: tok.TokenID, Origin: tok.Origin,
		IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt, RefreshSent: tok.RefreshSent, Revoked: tok.Revoked,
		UpdatedAt: time.Now().UTC(),
	})
}

func (t tokenStore) Lock(ctx context.Context) (func() error, error) { return t.s.Lock(ctx) }
func (t tokenStore) Where() string                                  { return t.s.Where() }

// bearerSettings builds the client's bearer mode for a target whose key is
// in bearer mode: the token store of the key in the state directory, and a
// token the operator supplied in a file, used while the store holds none.
func bearerSettings(ea config.Evaluagent, hooks appHooks) (*evaluagent.Bearer, error) {
	if hooks.tokens == nil {
		return nil, errors.New("bearer mode needs the state")
	}
	s, err := hooks.tokens(ea.KeyID)
	if err != nil {
		return nil, err
	}
	b := &evaluagent.Bearer{Store: tokenStore{s}, RefreshAfter: ea.TokenRefreshAfter, Now: hooks.now}
	if ea.TokenFile == "" {
		return b, nil
	}
	if _, stored, err := b.Store.Load(); err != nil || stored {
		return b, err // the stored token wins; the file is not read again
	}
	tok, err := config.ReadSecret(ea.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("%sEVALUAGENT_TOKEN_FILE: the state holds no token yet and the file cannot be read: %w", config.EnvPrefix, err)
	}
	b.InitialToken, b.InitialFrom = tok, ea.TokenFile
	return b, nil
}

// bearerClient is what the auth commands, check, /status and the daemon's
// refresh timer need of a client in bearer mode.
type bearerClient interface {
	AuthMode() string
	KeyID() string
	TokenStatus() evaluagent.TokenStatus
	EnsureToken(ctx context.Context) (evaluagent.TokenStatus, error)
	CreateToken(ctx context.Context) (evaluagent.Token, error)
	ImportToken(ctx context.Context, token, from string, replace bool) (evaluagent.Token, error)
	RefreshToken(ctx context.Context) (evaluagent.Token, error)
	RevokeToken(ctx context.Context) error
	BaseURL() string
}

// bearerTargets returns the targets whose key is in bearer mode.
func (a *app) bearerTargets() []*target {
	var out []*target
	for _, t := range a.targets {
		if bc, ok := t.client.(bearerClient); ok && bc.AuthMode() == evaluagent.AuthBearer {
			out = append(out, t)
		}
	}
	return out
}

// authStatus is /status's view of every target's key.
func (a *app) authStatus() map[string]evaluagent.TokenStatus {
	out := map[string]evaluagent.TokenStatus{}
	for _, t := range a.targets {
		if bc, ok := t.client.(bearerClient); ok {
			out[t.name] = bc.TokenStatus()
		}
	}
	return out
}

// describeToken is one line on a token's state.
func describeToken(s evaluagent.TokenStatus, now time.Time) string {
	if !s.Stored {
		return s.State + ": " + s.Problem
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bearer token (%s)", s.Origin)
	if !s.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, ", expires %s (in %s)", s.ExpiresAt.UTC().Format(time.RFC3339), roundDur(s.ExpiresAt.Sub(now)))
	} else {
		b.WriteString(", expiry unknown")
	}
	if s.RefreshDue.IsZero() {
		b.WriteString(", refreshed at next use")
	} else {
		fmt.Fprintf(&b, ", refresh due %s", s.RefreshDue.UTC().Format(time.RFC3339))
	}
	if s.Problem != "" {
		b.WriteString("; " + s.Problem)
	}
	return b.String()
}

// shortDur prints 20h rather than 20h0m0s.
func shortDur(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

func roundDur(d time.Duration) time.Duration {
	if d > time.Hour || d < -time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

const authUsage = `Manages the API key of an Evaluagent target in bearer-token mode
(ROSTERSYNC_EVALUAGENT_AUTH=bearer, or auth: bearer in the target's
evaluagent: block). The token lives in the state (the state directory, or
the PostgreSQL database of ROSTERSYNC_STATE_URL); every rostersync process
takes it from there and refreshes it under a lock.

  status   show each key's token: where it is stored, its age, expiry, next
           refresh. Reads only the state directory.
  create   create the first token from the Basic key (POST /auth/token).
           ONE-WAY: Basic stops working for that key, for every integration
           that uses it. Asks you to type the key id; without a terminal,
           -key-id must give it.
  import   store the current token of a key already in bearer mode, from
           -token-file (tried first; a refused token is never stored).
  refresh  refresh the token now (the daemon does it on its own at 20h).
  revoke   revoke the token (DELETE /auth/token). This KILLS THE KEY: Basic
           stays off and no new token can be made. Asks for the key id too.`

func cmdAuth(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet(c, "auth", "status|create|import|refresh|revoke [flags]", authUsage)
		if err := parse(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(c, "auth "+sub, "[flags]", authUsage)
	var common commonFlags
	common.register(fs)
	targetName := fs.String("target", "", "the target (default: the only Evaluagent target in bearer mode)")
	keyID := fs.String("key-id", "", "create, revoke: the key id, typed out to confirm (required without a terminal)")
	tokenFile := fs.String("token-file", "", "import: the `FILE` holding the token (default $ROSTERSYNC_EVALUAGENT_TOKEN_FILE)")
	replace := fs.Bool("replace", false, "import: replace a stored token that no longer works")
	switch sub {
	case "status", "create", "import", "refresh", "revoke":
	default:
		fmt.Fprintf(c.stderr, "rostersync auth: unknown subcommand %q\n\n", sub)
		fs.Usage()
		return errUsage
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("auth %s takes no arguments, got %q", sub, fs.Args())
	}
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	bearer := a.bearerTargets()
	if sub == "status" {
		return authStatusCmd(a, bearer, *targetName)
	}
	t, err := pickBearerTarget(a, bearer, *targetName)
	if err != nil {
		return err
	}
	bc := t.client.(bearerClient)
	out := c.stdout
	switch sub {
	case "create":
		fmt.Fprintf(out, `This creates a bearer token for the Evaluagent API key %s of target %s
(%s). It cannot be undone:

  - Basic authentication stops working for this key at once and for good.
    Any other integration that uses the key (a BI tool, a script) breaks.
  - From then on the token stored in
      %s
    is the key's only credential. rostersync refreshes it before it
    expires (tokens last 24 hours), so keep the daemon running or run
    rostersync at least every %s; a key whose token is lost or expires
    can only be replaced by a new key made in Evaluagent.

`, bc.KeyID(), t.name, bc.BaseURL(), bc.TokenStatus().Store, shortDur(a.env.Evaluagent.TokenRefreshAfter))
		if err := confirmKeyID(c, bc.KeyID(), *keyID, "create the token"); err != nil {
			return err
		}
		tok, err := bc.CreateToken(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Token created and stored in %s; it expires %s. Basic is now disabled for key %s.\n",
			bc.TokenStatus().Store, tok.ExpiresAt.UTC().Format(time.RFC3339), bc.KeyID())
	case "import":
		file := *tokenFile
		if file == "" {
			file = a.env.Evaluagent.TokenFile
		}
		if file == "" {
			return fmt.Errorf("auth import: give -token-file FILE (a file holding only the token)")
		}
		tok, err := config.ReadSecret(file)
		if err != nil {
			return fmt.Errorf("auth import: %w", err)
		}
		if _, err := bc.ImportToken(ctx, tok, file, *replace); err != nil {
			return err
		}
		fmt.Fprintf(out, "Token from %s tried and stored in %s: %s.\n", file, bc.TokenStatus().Store, describeToken(bc.TokenStatus(), now(c)))
		fmt.Fprintln(out, "From now on rostersync refreshes it in the state directory; the file is not read again.")
	case "refresh":
		if _, err := bc.RefreshToken(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "Token refreshed: %s.\n", describeToken(bc.TokenStatus(), now(c)))
	case "revoke":
		fmt.Fprintf(out, `This revokes the bearer token of the Evaluagent API key %s of target %s.
It KILLS THE KEY: the token stops working, Basic stays disabled and no new
token can be created. Only a new key made in Evaluagent recovers access.

`, bc.KeyID(), t.name)
		if err := confirmKeyID(c, bc.KeyID(), *keyID, "revoke the token"); err != nil {
			return err
		}
		if err := bc.RevokeToken(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "Token revoked; key %s can no longer be used.\n", bc.KeyID())
	}
	return nil
}

func authStatusCmd(a *app, bearer []*target, name string) error {
	out := a.c.stdout
	bad := 0
	shown := 0
	for _, t := range a.targets {
		if name != "" && t.name != name {
			continue
		}
		shown++
		bc, ok := t.client.(bearerClient)
		if !ok {
			fmt.Fprintf(out, "%s (%s): no key modes\n", t.name, t.kind)
			continue
		}
		s := bc.TokenStatus()
		if s.Mode == evaluagent.AuthBasic {
			fmt.Fprintf(out, "%s: key %s in basic mode\n", t.name, s.KeyID)
			continue
		}
		fmt.Fprintf(out, "%s: key %s in bearer mode, stored in %s\n  %s: %s\n", t.name, s.KeyID, s.Store, s.State, describeToken(s, now(a.c)))
		if s.State != "ok" {
			bad++
		}
	}
	if shown == 0 {
		return fmt.Errorf("no target %q is configured (targets: %s)", name, strings.Join(a.targetNames(), ", "))
	}
	if bad > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d key(s) in bearer mode need attention", bad)}
	}
	_ = bearer
	return nil
}

func pickBearerTarget(a *app, bearer []*target, name string) (*target, error) {
	if name != "" {
		for _, t := range bearer {
			if t.name == name {
				return t, nil
			}
		}
		if a.target(name) != nil {
			return nil, fmt.Errorf("target %s is not in bearer mode: set ROSTERSYNC_EVALUAGENT_AUTH=bearer (or auth: bearer in its evaluagent: block) first", name)
		}
		return nil, fmt.Errorf("no target %q is configured (targets: %s)", name, strings.Join(a.targetNames(), ", "))
	}
	switch len(bearer) {
	case 0:
		return nil, errors.New("no Evaluagent target is in bearer mode: set ROSTERSYNC_EVALUAGENT_AUTH=bearer (or auth: bearer in the target's evaluagent: block) first")
	case 1:
		return bearer[0], nil
	}
	names := make([]string, len(bearer))
	for i, t := range bearer {
		names[i] = t.name
	}
	return nil, fmt.Errorf("%d targets are in bearer mode (%s): choose one with -target", len(bearer), strings.Join(names, ", "))
}

// confirmKeyID makes the operator type the key id before a one-way step.
// Without a terminal the -key-id flag must give it.
func confirmKeyID(c *cli, want, given, what string) error {
	if given != "" {
		if given != want {
			return fmt.Errorf("-key-id %q is not the configured key %s; nothing was done", given, want)
		}
		return nil
	}
	if !c.interactive {
		return fmt.Errorf("refusing to %s without a terminal: confirm by giving the key id with -key-id %s; nothing was done", what, want)
	}
	fmt.Fprintf(c.stderr, "Type the key id (%s) to %s: ", want, what)
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != want {
		return fmt.Errorf("the key id typed does not match %s; nothing was done", want)
	}
	return nil
}
