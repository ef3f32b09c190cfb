package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/merge"
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

// logJoined logs the health of each source a merged source joined: a
// contributor that could not be read whole does not fail the pass, so
// this is where the operator hears of it.
func logJoined(log *slog.Logger, s sources.Source) {
	m, ok := s.(*merge.Source)
	if !ok {
		return
	}
	hs := m.Health()
	for _, src := range m.Sources() {
		h, ok := hs[src.Name()]
		if !ok {
			continue
		}
		if !h.Complete {
			log.Warn("joined source not read whole: the fields it feeds are left alone this pass", "source", src.Name(), "merged_into", s.Name(), "reason", h.Reason)
			continue
		}
		log.Info("joined source read", "source", src.Name(), "merged_into", s.Name(), "records", h.Count)
	}
}

// joinedSources returns the configured sources one by one, in the order of
// sources:, looking inside a merged source.
func joinedSources(srcs []sources.Source) []sources.Source {
	if len(srcs) == 1 {
		if m, ok := srcs[0].(*merge.Source); ok {
			return m.Sources()
		}
	}
	return srcs
}
