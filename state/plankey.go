package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PlanKeyFile is the plan key's file in the SQLite state directory.
const PlanKeyFile = "plan-key"

// planKeySize is the length of a new plan key; a stored one shorter than
// planKeyMin is damaged.
const (
	planKeySize = 32
	planKeyMin  = 16
)

// PlanKey returns the secret saved plans are authenticated with
// (HMAC-SHA256): a plan file edited after it was written is refused. With
// create, a key (32 random bytes) is made when there is none yet; without,
// a missing key is an error matching ErrNotFound.
//
// On SQLite the key is the file PlanKeyFile in the state directory (hex,
// mode 0600), as earlier versions kept it; on PostgreSQL it is a row of the
// secrets table, so that a plan saved on one host is verified on another.
// Two processes creating the key at once end up with the same one.
func (d *DB) PlanKey(ctx context.Context, create bool) ([]byte, error) {
	if d.pg() {
		return d.planKeyRow(ctx, create)
	}
	return d.planKeyFile(create)
}

// PlanKeyWhere says where the plan key is kept, for messages.
func (d *DB) PlanKeyWhere() string {
	if d.pg() {
		return d.path + " (table secrets)"
	}
	return filepath.Join(d.dir, PlanKeyFile)
}

func (d *DB) planKeyFile(create bool) ([]byte, error) {
	path := filepath.Join(d.dir, PlanKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		k := make([]byte, planKeySize)
		rand.Read(k)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(err, fs.ErrExist): // made by another process meanwhile
			return d.planKeyFile(false)
		case err != nil:
			return nil, fmt.Errorf("state: create the plan key: %w", err)
		}
		_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, fmt.Errorf("state: create the plan key %s: %w", path, werr)
		}
		return k, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state: no plan key in %s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("state: read the plan key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < planKeyMin {
		return nil, fmt.Errorf("state: the plan key %s is damaged; remove it and make a new plan", path)
	}
	return k, nil
}

func (d *DB) planKeyRow(ctx context.Context, create bool) ([]byte, error) {
	if create {
		k := make([]byte, planKeySize)
		rand.Read(k)
		// The first host to create it wins; the others read its key.
		if _, err := d.db.ExecContext(ctx, `INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, PlanKeyFile, k, d.stamp()); err != nil {
			return nil, fmt.Errorf("state: create the plan key in %s: %w", d.PlanKeyWhere(), err)
		}
	}
	var k []byte
	err := d.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, PlanKeyFile).Scan(&k)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("state: no plan key in %s: %w", d.PlanKeyWhere(), ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("state: read the plan key: %w", err)
	case len(k) < planKeyMin:
		return nil, fmt.Errorf("state: the plan key in %s is damaged; delete its row (name %q) and make a new plan", d.PlanKeyWhere(), PlanKeyFile)
	}
	return k, nil
}
