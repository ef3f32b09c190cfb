package main

import (
	"context"
	"sync"
	"time"

	"github.com/rostersync/rostersync/sources"
)

// watchLive follows the sources that hear of changes as they happen (an
// LDAP source with live.mode set) and asks the scheduler for a pass,
// debounced, after each change. It follows the configuration in force,
// starting over after a reload, until ctx ends.
func (d *server) watchLive(ctx context.Context) {
	for ctx.Err() == nil {
		a := d.current()
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, s := range a.sources {
			w, ok := s.(sources.Watcher)
			if !ok {
				continue
			}
			wg.Go(func() {
				if err := w.Watch(wctx, d.sched.Trigger); err != nil && wctx.Err() == nil {
					d.log.Warn("live changes stopped", "source", s.Name(), "err", err)
				}
			})
		}
		t := time.NewTicker(time.Second)
		for ctx.Err() == nil && d.current() == a {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		t.Stop()
		cancel()
		wg.Wait()
	}
}
