package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// StatePasswordCredential is the systemd credential (LoadCredential=) that
// holds PostgreSQL's password when ROSTERSYNC_STATE_PASSWORD_FILE is unset.
const StatePasswordCredential = "state-password"

// StatePostgres reports whether the state is kept in PostgreSQL.
func (e *Env) StatePostgres() bool { return e.StateURL != "" }

func (e *Env) validateStateURL() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	if e.StateURL == "" {
		if e.StatePasswordFile != "" {
			bad("STATE_PASSWORD_FILE", "is set but %sSTATE_URL is not: the password is PostgreSQL's; set the URL, or unset the file to keep the state in SQLite", EnvPrefix)
		}
		return errs
	}
	u, err := url.Parse(e.StateURL)
	switch {
	case err != nil:
		bad("STATE_URL", "%s is not a URL; give postgres://user@host:5432/database", RedactStateURL(e.StateURL))
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		bad("STATE_URL", "%s: want a postgres:// or postgresql:// URL (PostgreSQL); leave it unset for SQLite in %sSTATE_DIR", RedactStateURL(e.StateURL), EnvPrefix)
	case u.Host == "" && u.Query().Get("host") == "":
		bad("STATE_URL", "%s names no host; give postgres://user@host:5432/database", RedactStateURL(e.StateURL))
	}
	return errs
}

// StateURLHasPassword reports whether ROSTERSYNC_STATE_URL carries a
// password, which is used but warned about: a URL is shown and logged in
// places a password file is not.
func (e *Env) StateURLHasPassword() bool {
	u, err := url.Parse(e.StateURL)
	if err != nil {
		return strings.Contains(e.StateURL, "@")
	}
	_, set := u.User.Password()
	return set || u.Query().Has("password")
}

// StatePassword reads StatePasswordFile ("" when none is configured),
// warning through log when the file is readable by group or others.
func (e *Env) StatePassword(log *slog.Logger) (string, error) {
	if e.StatePasswordFile == "" {
		return "", nil
	}
	pw, err := ReadSecretWarn(e.StatePasswordFile, log)
	if err != nil {
		return "", fmt.Errorf("%sSTATE_PASSWORD_FILE: %w", EnvPrefix, err)
	}
	return pw, nil
}

// RedactStateURL is the URL s with any password replaced by "xxxxx".
func RedactStateURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "(a URL with credentials)" + s[i:]
		}
		return s
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
