package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
)

// planKeyFile is the secret in the state directory that saved plans are
// authenticated with (HMAC-SHA256): a plan file edited after 'plan -out'
// wrote it is refused by 'apply FILE'.
const planKeyFile = "plan-key"

// planKey returns the state directory's plan key, creating it (0600, 32
// random bytes) when create is set and there is none yet.
func (a *app) planKey(create bool) ([]byte, error) {
	path := filepath.Join(a.env.StateDir, planKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(err, fs.ErrExist): // made by another process meanwhile
			return a.planKey(false)
		case err != nil:
			return nil, fmt.Errorf("create the plan key: %w", err)
		}
		_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, fmt.Errorf("create the plan key %s: %w", path, werr)
		}
		return k, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no plan key (%s): the plan was not saved with this state directory; make a new plan with 'rostersync plan -out'",
			reconcile.ErrPlanMAC, a.env.StateDir, planKeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read the plan key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("the plan key %s is damaged; remove it and make a new plan", path)
	}
	return k, nil
}

// signPlans encodes plans for 'plan -out', with the MAC apply checks.
func (a *app) signPlans(plans []*reconcile.Plan) ([]byte, error) {
	key, err := a.planKey(true)
	if err != nil {
		return nil, err
	}
	return reconcile.SignPlans(plans, key)
}
