package main

import (
	"context"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/scim"
	"github.com/rostersync/rostersync/state"
)

// appHooks observe an app: platform requests and rate-limit waits, source
// reads and applied operations. Every field may be nil. The daemon uses
// them for its metrics and to tell the watchdog a pass is making progress.
type appHooks struct {
	// stop, when set, gives the channel that asks an apply to start no
	// further operation while those in flight finish (the daemon's SIGTERM).
	stop            func() <-chan struct{}
	onRequest       func(target, endpoint string, status int, d time.Duration)
	onRateLimitWait func(target, endpoint string, d time.Duration)
	onSource        func(name string, snap *sources.Snapshot, err error)
	onOp            func(op *reconcile.Op, err error)
	// scimStore, when set, is the SCIM store the daemon keeps open across
	// configuration reloads, because its endpoint keeps serving; the app
	// uses it instead of opening its own, and does not close it.
	scimStore *scim.Store
	// sleep is the clients' wait for rate limits and retries (nil: a real
	// sleep; tests make it instant); budget makes a target's persistent
	// request budget (loadApp sets it over the state store).
	sleep  func(ctx context.Context, d time.Duration) error
	budget func(target string, perMinute, perDay int) evaluagent.Budget
	// tokens is where the bearer tokens of keys in bearer mode are kept
	// (the state's token stores); now is the clock of their ages (loadApp
	// sets both).
	tokens func(keyID string) (state.TokenStore, error)
	now    func() time.Time
}

// request returns the client hook for target's requests, or nil.
func (h appHooks) request(target string) func(string, int, time.Duration) {
	if h.onRequest == nil {
		return nil
	}
	return func(endpoint string, status int, d time.Duration) { h.onRequest(target, endpoint, status, d) }
}

// rateLimitWait returns the client hook for target's rate-limit waits, or nil.
func (h appHooks) rateLimitWait(target string) func(string, time.Duration) {
	if h.onRateLimitWait == nil {
		return nil
	}
	return func(endpoint string, d time.Duration) { h.onRateLimitWait(target, endpoint, d) }
}

func (h appHooks) source(name string, snap *sources.Snapshot, err error) {
	if h.onSource != nil {
		h.onSource(name, snap, err)
	}
}

func (h appHooks) op(op *reconcile.Op, err error) {
	if h.onOp != nil {
		h.onOp(op, err)
	}
}

// stopChan is the apply's stop channel; nil (never closed) without a hook.
func (h appHooks) stopChan() <-chan struct{} {
	if h.stop == nil {
		return nil
	}
	return h.stop()
}
