package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/config/safefile"
)

// Dialer opens an unbound connection to the server named by cfg. Tests
// substitute one that returns a fake client.
type Dialer func(ctx context.Context, cfg *Config) (goldap.Client, error)

// dialNetwork is the default Dialer: TCP or TLS, then StartTLS when asked.
func dialNetwork(ctx context.Context, cfg *Config) (goldap.Client, error) {
	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: cfg.DialTimeout}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	conn, err := goldap.DialURL(cfg.URL, goldap.DialWithDialer(d), goldap.DialWithTLSConfig(tlsConf))
	if err != nil {
		return nil, err
	}
	if cfg.StartTLS {
		if err := conn.StartTLS(tlsConf); err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls: %w", err)
		}
	}
	return conn, nil
}

// tlsConfig builds the TLS settings for ldaps:// and StartTLS.
func tlsConfig(cfg *Config) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         cfg.ServerName,
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // operator's explicit choice, documented as tests only
	}
	if tc.ServerName == "" {
		if u, err := url.Parse(cfg.URL); err == nil {
			tc.ServerName = u.Hostname()
		}
	}
	if cfg.CAFile != "" {
		pool, err := LoadCAFile(cfg.CAFile)
		if err != nil {
			return nil, &ConfigError{Err: err}
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// ConfigError is a problem with the source's configuration or the files it
// names (ca_file, bind_password_file): dialling again cannot help, so it is
// never retried.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// LoadCAFile reads a PEM bundle of CA certificates. Unlike
// x509.CertPool.AppendCertsFromPEM, it says why a certificate is refused
// rather than that there are none.
func LoadCAFile(path string) (*x509.CertPool, error) {
	data, err := safefile.Read(path, safefile.MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	n, other := 0, []string{}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			other = append(other, b.Type)
			continue
		}
		n++
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			msg := fmt.Sprintf("ca_file %s: certificate %d: %v", path, n, err)
			if strings.Contains(err.Error(), "negative serial number") {
				msg += " (RFC 5280 forbids it; Samba's self-generated certificate has one): give the server a certificate " +
					"from a conforming CA (for Samba: \"tls keyfile\", \"tls certfile\" and \"tls cafile\" in smb.conf), " +
					"or run rostersync with GODEBUG=x509negativeserial=1"
			}
			return nil, errors.New(msg)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		if len(other) > 0 {
			return nil, fmt.Errorf("ca_file %s: no CERTIFICATE block, only %s: give the CA's certificate, not a key or request", path, strings.Join(other, ", "))
		}
		return nil, fmt.Errorf("ca_file %s: no PEM certificate (a block starting \"-----BEGIN CERTIFICATE-----\"); a DER file needs converting: openssl x509 -inform der -in FILE -out FILE.pem", path)
	}
	return pool, nil
}

// readPassword reads the bind password file, warning once when group or
// others may read it.
func (s *Source) readPassword() (string, error) {
	return readPasswordWarn(s.cfg.BindPasswordFile, s.credentialsDir, func(name string, mode os.FileMode) {
		s.pwWarn.Do(func() {
			s.log.Warn("secret file is readable by group or others; make it readable by its owner only (chmod 600)",
				"file", name, "mode", fmt.Sprintf("%04o", mode))
		})
	})
}

// readPasswordWarn reads the bind password file, resolving a relative name
// against credentialsDir ($CREDENTIALS_DIRECTORY, systemd LoadCredential=)
// when it is set.
func readPasswordWarn(name, credentialsDir string, looseSecret func(string, os.FileMode)) (string, error) {
	if name == "" {
		return "", nil
	}
	if !filepath.IsAbs(name) && credentialsDir != "" {
		name = filepath.Join(credentialsDir, name)
	}
	b, err := safefile.Read(name, safefile.MaxSecretBytes)
	if err != nil {
		return "", &ConfigError{Err: fmt.Errorf("bind_password_file: %w", err)}
	}
	if fi, err := os.Stat(name); err == nil && safefile.LooseMode(fi) {
		looseSecret(name, fi.Mode().Perm())
	}
	s := strings.TrimSuffix(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// connect dials and binds, retrying with exponential backoff. go-ldap keeps
// no pool and does not reconnect, so every read that finds its connection
// gone comes back here.
func (s *Source) connect(ctx context.Context) (goldap.Client, error) {
	var last error
	wait := s.cfg.RetryBackoff
	for attempt := 0; attempt <= s.cfg.Retries; attempt++ {
		if attempt > 0 {
			s.log.Warn("ldap connect failed; retrying", "source", s.name, "url", s.cfg.URL, "attempt", attempt, "wait", wait, "err", last)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait *= 2
			if wait > 30*time.Second {
				wait = 30 * time.Second
			}
		}
		c, err := s.dialOnce(ctx)
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) {
			break
		}
	}
	return nil, fmt.Errorf("source %s: connect %s: %w", s.name, s.cfg.URL, last)
}

func (s *Source) dialOnce(ctx context.Context) (goldap.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	c, err := s.dial(dctx, &s.cfg)
	if err != nil {
		return nil, err
	}
	c.SetTimeout(s.cfg.Timeout)
	pw, err := s.readPassword()
	if err != nil {
		c.Close()
		return nil, err
	}
	if s.cfg.BindDN != "" {
		if pw == "" {
			// go-ldap refuses an empty password on a named bind anyway; say why.
			c.Close()
			return nil, errors.New("bind: empty password (an unauthenticated bind is not allowed)")
		}
		if err := c.Bind(s.cfg.BindDN, pw); err != nil {
			c.Close()
			return nil, fmt.Errorf("bind as %s: %w", s.cfg.BindDN, err)
		}
	}
	return c, nil
}

// retryable reports whether dialling again may help: network trouble and
// "busy"/"unavailable" answers yes; bad credentials, bad config no.
func retryable(err error) bool {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return false
	}
	var le *goldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case goldap.ErrorNetwork, goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultUnwillingToPerform, goldap.LDAPResultOther:
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// isConnectionError reports whether err means the connection is gone.
func isConnectionError(err error) bool {
	if err == nil {
		return false
	}
	if goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}
