package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/state"
)

// serviceStateDir is where systemd keeps the service's state: the unit's
// StateDirectory=rostersync.
var serviceStateDir = "/var/lib/rostersync"

// openState opens the state env configures: SQLite in the state
// directory, or PostgreSQL at ROSTERSYNC_STATE_URL with the password of
// ROSTERSYNC_STATE_PASSWORD_FILE. A password in the URL is used, and
// warned about through log: the URL is shown and logged where a file's
// content is not.
func openState(ctx context.Context, env *config.Env, now func() time.Time, log *slog.Logger) (*state.DB, error) {
	opts := state.Options{Now: now}
	if env.StatePostgres() {
		if env.StateURLHasPassword() && log != nil {
			log.Warn("the state URL holds a password; put it in a file named by "+config.EnvPrefix+"STATE_PASSWORD_FILE (or the credential "+config.StatePasswordCredential+") and remove it from the URL",
				"url", state.RedactURL(env.StateURL))
		}
		pw, err := env.StatePassword(log)
		if err != nil {
			return nil, err
		}
		opts.Password = pw
	}
	db, err := state.OpenURL(ctx, env.StateDir, env.StateURL, opts)
	if state.IsAuthFailure(err) {
		from := "no password was given: put it in a file named by " + config.EnvPrefix + "STATE_PASSWORD_FILE (or the credential " + config.StatePasswordCredential + ")"
		if env.StatePasswordFile != "" {
			from = "the password is read from " + env.StatePasswordFile
		} else if env.StateURLHasPassword() {
			from = "the password is the URL's"
		}
		return nil, fmt.Errorf("%w\n(%s)", err, from)
	}
	return db, err
}

// openExistingState opens the state store the daemon uses, for the
// commands that read or change it from a shell (held, history). It finds
// the directory as the service does, and refuses one that holds no state
// database instead of creating an empty one that would answer "nothing
// held". A PostgreSQL state (ROSTERSYNC_STATE_URL) is opened as it is.
func openExistingState(ctx context.Context, c *cli, flags commonFlags) (*state.DB, *config.Env, error) {
	flags = flags.over(c.global)
	env, err := loadEnv(ctx, c, flags)
	if err != nil {
		return nil, nil, err
	}
	if env.StatePostgres() {
		if err := env.ValidateCommon(); err != nil {
			return nil, nil, err
		}
		st, err := openState(ctx, env, c.now, shellLogger(c, env))
		if err != nil {
			return nil, nil, err
		}
		return st, env, nil
	}
	st, err := openExistingDir(c, env, flags)
	if err != nil {
		return nil, nil, err
	}
	return st, env, nil
}

// openExistingDir opens the SQLite state in the state directory the
// service uses (see openExistingState), refusing a directory without one.
func openExistingDir(c *cli, env *config.Env, flags commonFlags) (*state.DB, error) {
	how := "-state-dir"
	_, fromEnv := c.lookupEnv("ROSTERSYNC_STATE_DIR")
	_, fromUnit := c.lookupEnv("STATE_DIRECTORY")
	switch {
	case flags.stateDir != "":
	case fromEnv:
		how = "ROSTERSYNC_STATE_DIR"
	case fromUnit:
		how = "STATE_DIRECTORY"
	default:
		how = "the default for this user"
		// Lstat: under DynamicUser= the path is a symlink into
		// /var/lib/private, which only root may enter.
		if _, err := os.Lstat(serviceStateDir); err == nil {
			env.StateDir, how = serviceStateDir, "the service's StateDirectory="
		}
	}
	dir := env.StateDir
	db := filepath.Join(dir, state.FileName)
	if _, err := os.Stat(db); err != nil {
		switch {
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("state directory %s (%s): permission denied; the service's state belongs to its own user: run this as root (sudo rostersync …)", dir, how)
		case errors.Is(err, fs.ErrNotExist):
			if _, derr := os.Stat(dir); derr != nil {
				return nil, fmt.Errorf("state directory %s (%s) does not exist; nothing was created. The service keeps its state in %s (as root), or give the directory with -state-dir or ROSTERSYNC_STATE_DIR", dir, how, serviceStateDir)
			}
			return nil, fmt.Errorf("state directory %s (%s) holds no state database (%s); nothing was created. Give the directory the daemon uses with -state-dir or ROSTERSYNC_STATE_DIR", dir, how, state.FileName)
		default:
			return nil, fmt.Errorf("state directory %s (%s): %w", dir, how, err)
		}
	}
	return state.OpenWith(dir, state.Options{Now: c.now})
}

// shellLogger is the logger of a command run from a shell, as env
// configures it.
func shellLogger(c *cli, env *config.Env) *slog.Logger {
	level, err := env.Level()
	if err != nil {
		level = slog.LevelInfo
	}
	noColor, _ := c.lookupEnv("NO_COLOR")
	_, journald := c.lookupEnv("JOURNAL_STREAM")
	log, err := newLogger(c.stderr, env.LogFormat, level, logOptions{terminal: c.interactive, journald: journald, noColor: noColor != ""})
	if err != nil {
		return slog.New(slog.NewTextHandler(c.stderr, nil))
	}
	return log
}

// adminURL is the base URL of the daemon's admin listener as a client on
// this host reaches it.
func adminURL(s config.Serve) string {
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return ""
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	scheme := "http"
	if s.TLS() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// askForPass asks a daemon running on this host for a pass (POST /trigger)
// and says what happened; no daemon is not an error.
func askForPass(ctx context.Context, c *cli, env *config.Env) {
	base := adminURL(env.Serve)
	if base == "" {
		fmt.Fprintf(c.stdout, "ROSTERSYNC_LISTEN %q is not host:port; the next pass or 'rostersync apply' carries them out.\n", env.Serve.Listen)
		return
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if env.Serve.TLS() {
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(env.Serve.TLSCertFile); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/trigger", nil)
	if err != nil {
		fmt.Fprintf(c.stdout, "The next pass or 'rostersync apply' carries them out (%v).\n", err)
		return
	}
	if f := env.Serve.AdminTokenFile; f != "" {
		// Beyond loopback the admin endpoints need the daemon's token.
		if tok, err := config.ReadSecret(f); err == nil {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(c.stdout, "No daemon answered at %s; the next 'rostersync apply' (or the daemon's next pass) carries them out.\n", base)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintf(c.stdout, "The daemon at %s refused a pass (%s: %s); its next pass carries them out.\n", base, resp.Status, strings.TrimSpace(string(body)))
		return
	}
	fmt.Fprintf(c.stdout, "Asked the daemon at %s for a pass: it applies them shortly (see its status page, %s/).\n", base, base)
}
