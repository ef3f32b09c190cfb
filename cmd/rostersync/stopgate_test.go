package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// After a stop, the next operation waits for the ones in flight, then ends the apply and is
// refused; before it, operations pass.
func TestStopGateWaitsForTheOperationsInFlight(t *testing.T) {
	var stopping, cancelled atomic.Bool
	g := newStopGate(stopping.Load, func() { cancelled.Store(true) })
	if err := g.enter(); err != nil {
		t.Fatalf("enter before a stop: %v", err)
	}
	if err := g.enter(); err != nil {
		t.Fatalf("a second operation side by side: %v", err)
	}
	stopping.Store(true)
	done := make(chan error, 1)
	go func() { done <- g.enter() }()
	g.leave()
	select {
	case err := <-done:
		t.Fatalf("enter returned %v with an operation still in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	if cancelled.Load() || g.idle() {
		t.Fatal("the apply was cancelled, or the gate is idle, with an operation in flight")
	}
	g.leave()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("enter after the last operation ended: %v, want context.Canceled", err)
	}
	if !cancelled.Load() || !g.idle() {
		t.Error("the apply was not cancelled once nothing was in flight")
	}
	var nilGate *stopGate
	if err := nilGate.enter(); err != nil || !nilGate.idle() {
		t.Errorf("a nil gate: %v", err)
	}
	nilGate.leave()
}
