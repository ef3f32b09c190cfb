package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/state"
)

// budget is evaluagent.Budget over the state store: the per-endpoint
// minute and day counts outlive the process, and processes sharing a state
// directory share them.
type budget struct {
	db                *state.DB
	target            string // budgets are per account: per target
	perMinute, perDay int
	now               func() time.Time
}

// budgetKey names a target's endpoint in the state store's budgets.
func budgetKey(target, endpoint string) string { return target + " " + endpoint }

func (b budget) Take(ctx context.Context, endpoint string) (time.Duration, error) {
	now := b.now().UTC()
	endpoint = budgetKey(b.target, endpoint)
	// The minute first: a refusal there takes nothing from the day.
	_, ok, err := b.db.BudgetTake(ctx, endpoint, state.MinuteWindow(now), 1, b.perMinute)
	if err != nil {
		return 0, err
	}
	if !ok {
		return max(now.Truncate(time.Minute).Add(time.Minute).Sub(now), time.Millisecond), nil
	}
	_, ok, err = b.db.BudgetTake(ctx, endpoint, state.DayWindow(now), 1, b.perDay)
	if err != nil {
		return 0, err
	}
	if !ok {
		return nextDay(now).Sub(now), nil
	}
	return 0, nil
}

func nextDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
}

// budgetCheck says, before an apply, which endpoints lack today's budget
// for what the plan needs: what fits goes now, the rest when the day turns.
func (a *app) budgetCheck(ctx context.Context, t *target, plan *reconcile.Plan) error {
	client, ok := t.client.(budgeted)
	if !ok || t.perDay <= 0 {
		return nil
	}
	now := a.c.now().UTC()
	eps := client.RequestEndpoints()
	names := make([]string, 0, len(plan.Requests))
	for n := range plan.Requests {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ep, ok := eps[n]
		if !ok {
			continue
		}
		used, err := a.db.BudgetUsed(ctx, budgetKey(t.name, ep), state.DayWindow(now))
		if err != nil {
			return err
		}
		left := max(t.perDay-used, 0)
		if need := plan.Requests[n]; need > left {
			msg := fmt.Sprintf("today's request budget for %s has %d left and this plan needs %d: %d go now, the rest after %s (the next pass carries on)",
				ep, left, need, left, nextDay(now).Format(time.RFC3339))
			a.log.Warn("request budget", "note", msg)
			fmt.Fprintln(a.c.stderr, "Note: "+msg+".")
		}
	}
	return nil
}

// budgetStop explains an apply that the daily budget stopped.
func budgetStop(res *reconcile.Result, now time.Time) string {
	for _, f := range res.Failed {
		var be *evaluagent.BudgetError
		if errors.As(f.Err, &be) {
			return fmt.Sprintf("Stopped: the day's request budget for %s is spent; %d operation(s) were not applied and go after %s, when the next pass carries on.",
				be.Endpoint, res.Skipped+1, nextDay(now).Format(time.RFC3339))
		}
	}
	return ""
}

func now(c *cli) time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}
