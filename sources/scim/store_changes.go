package scim

import "context"

// Changes returns a channel that receives after writes that changed the
// store (a create, a replace or patch that changed something, a delete)
// have committed, until ctx ends or the store is closed; then it is closed.
// On PostgreSQL it hears the writes of every process on the database (LISTEN
// and NOTIFY), so that the host running reconcile passes learns of a push
// another host received; on SQLite, those made through this Store. A burst
// of writes may come as one receive: the channel holds at most one.
//
// On PostgreSQL, Changes returns once it is listening (or ctx ends); the
// listening connection is opened again when lost, and a receive follows at
// once, as a change may have gone unheard meanwhile.
func (s *Store) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if s.pg != nil {
		ready := make(chan struct{})
		go func() {
			defer close(ch)
			defer cancel()
			s.listenPG(ctx, ch, ready)
		}()
		select {
		case <-ready:
		case <-ctx.Done():
		}
		return ch
	}
	s.smu.Lock()
	s.subs[ch] = struct{}{}
	s.smu.Unlock()
	go func() {
		<-ctx.Done()
		s.smu.Lock()
		delete(s.subs, ch)
		s.smu.Unlock()
		close(ch)
	}()
	return ch
}

// broadcast tells this process's watchers (SQLite) of a committed change.
func (s *Store) broadcast() {
	s.smu.Lock()
	defer s.smu.Unlock()
	for ch := range s.subs {
		signal(ch)
	}
}
