package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/sdnotify"
	"github.com/rostersync/rostersync/state"
)

// leaseHolder names this process in the lease: on SQLite as the writer
// lock always has ("rostersync apply"; the lock file adds the pid), on
// PostgreSQL with the host too, since the other holder is on another one.
func (a *app) leaseHolder(command string) string {
	if a.db.Backend() != state.BackendPostgres {
		return "rostersync " + command
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	return fmt.Sprintf("rostersync %s on %s (pid %d)", command, host, os.Getpid())
}

// acquireLease takes the lease for command, without waiting, and makes the
// app's journal writes run under it. Another holder is an error that names
// it (a *state.LockedError on SQLite, a *state.LeaseHeldError on
// PostgreSQL).
func (a *app) acquireLease(ctx context.Context, command string) (*state.Lease, error) {
	l, err := a.db.AcquireLease(ctx, a.leaseHolder(command), a.env.Serve.LeaseTTL)
	if err != nil {
		return nil, err
	}
	a.db.UseLease(l)
	return l, nil
}

// Roles of a daemon.
const (
	roleLeader  = "leader"
	roleStandby = "standby"
)

// leadership is the daemon's side of the lease. On SQLite the daemon takes
// it at start or fails, and holds it until it exits. On PostgreSQL a daemon
// that finds it held is a standby: it serves SCIM, health, metrics and a
// read-only status, runs no pass, and tries to take the lease every TTL/4;
// a leader whose lease is lost stops starting operations and stands by.
type leadership struct {
	d      *server
	holder string
	ttl    time.Duration
	ha     bool // PostgreSQL: stand by instead of failing

	mu        sync.Mutex
	lease     *state.Lease      // nil while standing by
	last      *state.Lease      // the last lease held, lost or not: journal writes stay under it
	since     time.Time         // when the role last changed
	seen      state.LeaseStatus // the lease as last found held by another
	err       error             // the last failure to reach the lease
	takeovers int
}

// leaseView is the lease as /status shows it.
type leaseView struct {
	Role     string    `json:"role"`
	Holder   string    `json:"holder"`
	Epoch    int64     `json:"epoch"`
	Expires  time.Time `json:"expires,omitzero"`
	Since    time.Time `json:"since"`
	Backend  string    `json:"backend"`
	TTL      string    `json:"ttl"`
	Error    string    `json:"error,omitempty"`
	Takeover int       `json:"takeovers"`
}

func (x *leadership) view() leaseView {
	x.mu.Lock()
	defer x.mu.Unlock()
	v := leaseView{Role: roleStandby, Since: x.since, Backend: state.BackendSQLite, TTL: x.ttl.String(), Takeover: x.takeovers}
	if x.ha {
		v.Backend = state.BackendPostgres
	}
	if x.err != nil {
		v.Error = x.err.Error()
	}
	if x.lease != nil {
		v.Role, v.Holder, v.Epoch, v.Expires = roleLeader, x.lease.Holder(), x.lease.Epoch(), x.lease.Deadline()
		return v
	}
	v.Holder, v.Epoch, v.Expires = x.seen.Holder, x.seen.Epoch, x.seen.Expires
	return v
}

// current returns the lease while this node leads, else nil.
func (x *leadership) current() *state.Lease {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lease
}

// standbyLine says, for a standby, who leads; "" for the leader.
func (x *leadership) standbyLine() string {
	v := x.view()
	if v.Role == roleLeader {
		return ""
	}
	if v.Error != "" {
		return "standby; the lease cannot be read: " + v.Error
	}
	if v.Holder == "" {
		return "standby; no leader yet"
	}
	return fmt.Sprintf("standby; leader is %s since %s (epoch %d)", v.Holder, v.Since.Local().Format(time.DateTime), v.Epoch)
}

// attach makes the current app's journal writes run under the lease held
// now (none for a standby); called after a reload swapped the app in.
func (x *leadership) attach() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.d.current().db.UseLease(x.last)
}

// start takes the lease or, on PostgreSQL, stands by when another holds it.
func (x *leadership) start(ctx context.Context) error {
	a := x.d.current()
	x.holder, x.ttl, x.ha = a.leaseHolder("serve"), a.env.Serve.LeaseTTL, a.db.Backend() == state.BackendPostgres
	x.since = x.d.c.now()
	if !x.ha {
		l, err := a.acquireLease(ctx, "serve")
		if err != nil {
			return err
		}
		x.lease, x.last = l, l
		return nil
	}
	x.try(ctx)
	return nil
}

// try makes one attempt at the lease and reports whether this node leads.
func (x *leadership) try(ctx context.Context) bool {
	a := x.d.current()
	actx, cancel := context.WithTimeout(ctx, x.ttl/2)
	defer cancel()
	l, err := a.db.AcquireLease(actx, x.holder, x.ttl)
	x.mu.Lock()
	defer x.mu.Unlock()
	var held *state.LeaseHeldError
	switch {
	case errors.As(err, &held):
		if x.seen.Epoch != held.Epoch || x.err != nil {
			x.d.log.Info("standing by: another node holds the lease", "leader", held.Holder, "epoch", held.Epoch,
				"expires", held.Expires)
		}
		if x.seen.Epoch != held.Epoch {
			x.since = held.Acquired // the leader's, as it leads since then
		}
		x.seen = state.LeaseStatus{Holder: held.Holder, Epoch: held.Epoch, Acquired: held.Acquired, Expires: held.Expires, Held: true}
		x.err = nil
		return false
	case err != nil:
		if x.err == nil {
			x.d.log.Warn("standing by: the lease cannot be reached", "err", err)
		}
		x.err = err
		return false
	}
	prev := x.seen
	x.lease, x.last, x.err, x.since = l, l, nil, x.d.c.now()
	x.takeovers++
	x.d.current().db.UseLease(l)
	x.d.log.Info("took the lease: leading", "holder", l.Holder(), "epoch", l.Epoch(), "previous", prev.Holder,
		"ttl", x.ttl.String())
	return true
}

// run keeps a PostgreSQL daemon's role: a leader watches its lease, a
// standby tries to take it every TTL/4. It returns when ctx ends.
func (x *leadership) run(ctx context.Context) {
	if !x.ha {
		return
	}
	for {
		if l := x.current(); l != nil {
			select {
			case <-ctx.Done():
				return
			case <-l.Lost():
			}
			x.mu.Lock()
			x.lease, x.since = nil, x.d.c.now()
			x.seen = state.LeaseStatus{Holder: l.Holder(), Epoch: l.Epoch()}
			// The lost lease stays attached: the write in flight cannot
			// record its outcome under it (the next leader resolves it).
			x.mu.Unlock()
			x.d.log.Warn("lost the lease: starting no more operations, standing by", "epoch", l.Epoch(), "why", l.Err())
			x.d.send(sdnotify.Status(x.standbyLine()))
			continue
		}
		if x.try(ctx) {
			x.d.send(sdnotify.Status("leader: taking over; a pass follows"))
			x.d.sched.Trigger()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(x.ttl / 4):
		}
	}
}

// release gives the lease up as the daemon stops, so a standby takes over
// at once.
func (x *leadership) release(ctx context.Context) {
	l := x.current()
	if l == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.Release(rctx); err != nil {
		x.d.log.Warn("releasing the lease", "err", err)
	}
}

// standby is the admin handler's view of the role: a standby is ready
// while it can read the lease, whatever its passes (it runs none).
func (d *server) standby() (standby, ok bool, why string) {
	line := d.lead.standbyLine()
	if line == "" {
		return false, false, ""
	}
	return true, d.lead.view().Error == "", line
}

// leaseMetrics is what the lease gauges show at each scrape.
func (d *server) leaseMetrics() (leader bool, epoch int64, expires time.Time, takeovers int) {
	v := d.lead.view()
	return v.Role == roleLeader, v.Epoch, v.Expires, v.Takeover
}
