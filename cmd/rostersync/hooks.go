package main

import (
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
)

// appHooks observe an app: platform requests and rate-limit waits, source
// reads and applied operations. Every field may be nil. The daemon uses
// them for its metrics and to tell the watchdog a pass is making progress.
type appHooks struct {
	onRequest       func(endpoint string, status int, d time.Duration)
	onRateLimitWait func(endpoint string, d time.Duration)
	onSource        func(name string, snap *sources.Snapshot, err error)
	onOp            func(op *reconcile.Op, err error)
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
