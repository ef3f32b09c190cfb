package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/gofrs/flock"
)

// TokenFormatVersion is the version of the token file's JSON.
const TokenFormatVersion = 1

// BearerToken is what the state keeps of an API key in bearer-token mode:
// the only working credential of that key, so it is written before it is
// ever used and never kept only in memory.
type BearerToken struct {
	FormatVersion int    `json:"format_version"`
	KeyID         string `json:"key_id"`
	Token         string `json:"token"`
	// TokenID is the platform's id of the token, when it gave one.
	TokenID string `json:"token_id,omitempty"`
	// Origin says how the token came: "created" (from the Basic key),
	// "refreshed", or "imported" (supplied by the operator in a file).
	Origin string `json:"origin"`
	// IssuedAt is when the token was received; zero when unknown (an
	// imported token whose age nobody knows).
	IssuedAt time.Time `json:"issued_at,omitzero"`
	// ExpiresAt is the platform's expiry; zero when unknown.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// RefreshSent, when not zero, says a refresh was sent at that time and
	// its answer is not stored: the refresh may have killed Token.
	RefreshSent time.Time `json:"refresh_sent,omitzero"`
	// Revoked says the token was revoked on purpose: the key is dead.
	Revoked bool `json:"revoked,omitempty"`
	// UpdatedAt is when this record was written.
	UpdatedAt time.Time `json:"updated_at"`
}

// TokenStore keeps one API key's bearer token. Save is durable when it
// returns; Lock serialises refreshes across every process (and, on
// PostgreSQL, every host) sharing the state. Where says where the token is,
// for messages.
type TokenStore interface {
	Load() (BearerToken, error)
	Save(BearerToken) error
	Lock(ctx context.Context) (unlock func() error, err error)
	Where() string
}

// TokenStore returns the token store of the API key keyID: the file
// TokenFileName(keyID) in the state directory on SQLite, a row of the
// tokens table on PostgreSQL. It does not read the token.
func (d *DB) TokenStore(keyID string) (TokenStore, error) {
	if !d.pg() {
		return NewTokenStore(d.dir, keyID)
	}
	if !tokenKeyID.MatchString(keyID) {
		return nil, fmt.Errorf("state: token store: key id %q: must match ^[A-Za-z0-9-]+$", keyID)
	}
	return &pgTokens{d: d, keyID: keyID}, nil
}

// TokenFile keeps one API key's bearer token in the state directory: a
// JSON file of mode 0600, replaced atomically and synced to disk before
// Save returns, and a lock file beside it that serialises refreshes across
// every process sharing the directory.
type TokenFile struct {
	path string
	lock string
}

var tokenKeyID = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// TokenFileName is the name of the token file of keyID in the state
// directory.
func TokenFileName(keyID string) string { return tokenFilePrefix + keyID + tokenFileSuffix }

const tokenFilePrefix, tokenFileSuffix = "evaluagent-token-", ".json"

// NewTokenStore returns the token file of the API key keyID in dir,
// creating dir (0700) when missing. It does not read the token.
func NewTokenStore(dir, keyID string) (*TokenFile, error) {
	if !tokenKeyID.MatchString(keyID) {
		return nil, fmt.Errorf("state: token store: key id %q: must match ^[A-Za-z0-9-]+$", keyID)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, TokenFileName(keyID))
	return &TokenFile{path: p, lock: p + ".lock"}, nil
}

// Path is the token file's path.
func (s *TokenFile) Path() string { return s.path }

// Where is the token file's path.
func (s *TokenFile) Where() string { return s.path }

// Load reads the stored token. It returns an error matching ErrNotFound
// when none is stored.
func (s *TokenFile) Load() (BearerToken, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return BearerToken{}, fmt.Errorf("state: token %s: %w", s.path, ErrNotFound)
	}
	if err != nil {
		return BearerToken{}, fmt.Errorf("state: token: %w", err)
	}
	return decodeToken(s.path, b)
}

// decodeToken reads a token record's JSON, stored at where.
func decodeToken(where string, b []byte) (BearerToken, error) {
	var t BearerToken
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("state: token %s: not a token record (%v); it was changed by hand or damaged: restore it from a backup", where, err)
	}
	if t.FormatVersion > TokenFormatVersion {
		return t, fmt.Errorf("state: token %s: format version %d is newer than this binary knows (%d): run a newer rostersync", where, t.FormatVersion, TokenFormatVersion)
	}
	if t.Token == "" && !t.Revoked {
		return t, fmt.Errorf("state: token %s: holds no token; it was changed by hand or damaged: restore it from a backup", where)
	}
	return t, nil
}

// encodeToken is a token record's JSON.
func encodeToken(t BearerToken) ([]byte, error) {
	t.FormatVersion = TokenFormatVersion
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("state: token: %w", err)
	}
	return append(b, '\n'), nil
}

// Save writes t durably: to a temporary file that is synced, renamed over
// the token file and followed by a sync of the directory. When Save returns
// nil the token survives a crash or a power cut.
func (s *TokenFile) Save(t BearerToken) error {
	b, err := encodeToken(t)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(s.path, b, 0o600); err != nil {
		return fmt.Errorf("state: token: %w", err)
	}
	return nil
}

// Lock takes the store's exclusive lock, waiting for another holder (in
// this process or another) until ctx ends. The lock is an advisory file
// lock: the operating system drops it when its holder dies, so a crashed
// process never leaves it taken. Call unlock to release it.
func (s *TokenFile) Lock(ctx context.Context) (unlock func() error, err error) {
	fl := flock.New(s.lock, flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("state: token lock %s: %w", s.lock, err)
	}
	if !ok {
		return nil, fmt.Errorf("state: token lock %s: not taken", s.lock)
	}
	return fl.Unlock, nil
}

// tokenTimeout bounds a token's read or write on PostgreSQL, whose
// interface has no context.
const tokenTimeout = 30 * time.Second

// pgTokens keeps one API key's token as a row of the tokens table, shared
// by every host on the database.
type pgTokens struct {
	d     *DB
	keyID string
}

func (s *pgTokens) Where() string {
	return fmt.Sprintf("%s (table tokens, key %s)", s.d.path, s.keyID)
}

func (s *pgTokens) Load() (BearerToken, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	var b []byte
	err := s.d.db.QueryRowContext(ctx, `SELECT record FROM tokens WHERE key_id = ?`, s.keyID).Scan(&b)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return BearerToken{}, fmt.Errorf("state: token %s: %w", s.Where(), ErrNotFound)
	case err != nil:
		return BearerToken{}, fmt.Errorf("state: token %s: %w", s.Where(), err)
	}
	return decodeToken(s.Where(), b)
}

// Save writes t in one statement: committed, so durable, when it returns.
func (s *pgTokens) Save(t BearerToken) error {
	b, err := encodeToken(t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	if _, err := s.d.db.ExecContext(ctx, `INSERT INTO tokens (key_id, record, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`,
		s.keyID, b, s.d.stamp()); err != nil {
		return fmt.Errorf("state: token %s: %w", s.Where(), err)
	}
	return nil
}

// Lock takes a session advisory lock on a connection of its own, waiting
// for another holder (on any host) until ctx ends. PostgreSQL drops it when
// the connection ends, so a crashed process or host never leaves it taken.
func (s *pgTokens) Lock(ctx context.Context) (unlock func() error, err error) {
	conn, err := s.d.raw.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("state: token lock %s: %w", s.Where(), err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, tokenLockClass, s.keyID); err != nil {
		// Cancelled, perhaps just as the lock was granted: the connection
		// is closed, not pooled, so that no lock outlives this call.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
		return nil, fmt.Errorf("state: token lock %s: %w", s.Where(), err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		defer cancel()
		_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, tokenLockClass, s.keyID)
		if err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // never reuse a connection that may hold it
		}
		if cerr := conn.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("state: token unlock %s: %w", s.Where(), err)
		}
		return nil
	}, nil
}
