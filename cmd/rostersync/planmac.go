package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/state"
)

// planKeyFile is the secret in the state directory that saved plans are
// authenticated with (HMAC-SHA256) on SQLite: a plan file edited after
// 'plan -out' wrote it is refused by 'apply FILE'. On PostgreSQL the key is
// in the database, shared by every host.
const planKeyFile = state.PlanKeyFile

// planKey returns the state's plan key, creating it (32 random bytes) when
// create is set and there is none yet.
func (a *app) planKey(create bool) ([]byte, error) {
	k, err := a.db.PlanKey(context.Background(), create)
	if errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("%w: no plan key in %s: the plan was not saved with this state; make a new plan with 'rostersync plan -out'",
			reconcile.ErrPlanMAC, a.db.PlanKeyWhere())
	}
	return k, err
}

// signPlans encodes plans for 'plan -out', with the MAC apply checks.
func (a *app) signPlans(plans []*reconcile.Plan) ([]byte, error) {
	key, err := a.planKey(true)
	if err != nil {
		return nil, err
	}
	return reconcile.SignPlans(plans, key)
}
