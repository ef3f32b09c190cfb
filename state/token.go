package state

import (
	"context"
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

// TokenStore keeps one API key's bearer token in the state directory: a
// JSON file of mode 0600, replaced atomically and synced to disk before
// Save returns, and a lock file beside it that serialises refreshes across
// every process sharing the directory.
type TokenStore struct {
	path string
	lock string
}

var tokenKeyID = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// TokenFileName is the name of the token file of keyID in the state
// directory.
func TokenFileName(keyID string) string { return "evaluagent-token-" + keyID + ".json" }

// NewTokenStore returns the token store of the API key keyID in dir,
// creating dir (0700) when missing. It does not read the token.
func NewTokenStore(dir, keyID string) (*TokenStore, error) {
	if !tokenKeyID.MatchString(keyID) {
		return nil, fmt.Errorf("state: token store: key id %q: must match ^[A-Za-z0-9-]+$", keyID)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, TokenFileName(keyID))
	return &TokenStore{path: p, lock: p + ".lock"}, nil
}

// Path is the token file's path.
func (s *TokenStore) Path() string { return s.path }

// Load reads the stored token. It returns an error matching ErrNotFound
// when none is stored.
func (s *TokenStore) Load() (BearerToken, error) {
	var t BearerToken
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, fmt.Errorf("state: token %s: %w", s.path, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("state: token: %w", err)
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("state: token %s: not a token file (%v); it was changed by hand or damaged: restore it from a backup", s.path, err)
	}
	if t.FormatVersion > TokenFormatVersion {
		return t, fmt.Errorf("state: token %s: format version %d is newer than this binary knows (%d): run a newer rostersync", s.path, t.FormatVersion, TokenFormatVersion)
	}
	if t.Token == "" && !t.Revoked {
		return t, fmt.Errorf("state: token %s: holds no token; it was changed by hand or damaged: restore it from a backup", s.path)
	}
	return t, nil
}

// Save writes t durably: to a temporary file that is synced, renamed over
// the token file and followed by a sync of the directory. When Save returns
// nil the token survives a crash or a power cut.
func (s *TokenStore) Save(t BearerToken) error {
	t.FormatVersion = TokenFormatVersion
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("state: token: %w", err)
	}
	if err := WriteFileAtomic(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state: token: %w", err)
	}
	return nil
}

// Lock takes the store's exclusive lock, waiting for another holder (in
// this process or another) until ctx ends. The lock is an advisory file
// lock: the operating system drops it when its holder dies, so a crashed
// process never leaves it taken. Call unlock to release it.
func (s *TokenStore) Lock(ctx context.Context) (unlock func() error, err error) {
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
