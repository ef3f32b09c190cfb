package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rostersync/rostersync/reconcile/evaluagent"
)

// tokenCheckEvery is the longest the daemon goes without looking at the
// bearer tokens. The refresh timer wakes at least this often rather than
// sleeping until a refresh is due, so a suspended machine or a clock that
// jumped never makes it miss one.
const tokenCheckEvery = time.Minute

// tokenWatch is the daemon's bearer-token timer: it refreshes every key in
// bearer mode once its token is due, whether or not a pass runs, keeps the
// expiry metric, and warns (and errs) loudly.
type tokenWatch struct {
	d      *server
	expiry *prometheus.GaugeVec
	// what was last logged per target, and when, so that a lasting
	// problem is repeated hourly rather than every minute.
	last   map[string]string
	lastAt map[string]time.Time
}

func newTokenWatch(d *server) *tokenWatch {
	w := &tokenWatch{d: d, last: map[string]string{}, lastAt: map[string]time.Time{}}
	w.expiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "rostersync", Name: "evaluagent_token_expiry_seconds",
		Help: "Seconds until the stored bearer token of a target's key expires (negative once expired, 0 when none is stored or its expiry is unknown). Keys in basic mode have no series.",
	}, []string{"target"})
	if d.metrics != nil {
		d.metrics.Registry().MustRegister(w.expiry)
	}
	return w
}

// run checks the tokens at once, then whenever the next refresh is due, at
// least every tokenCheckEvery, until ctx ends.
func (w *tokenWatch) run(ctx context.Context) {
	after := w.d.c.after
	if after == nil {
		after = time.After
	}
	for {
		wait := w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-after(wait):
		}
	}
}

// check refreshes what is due and returns how long to wait before the next
// check.
func (w *tokenWatch) check(ctx context.Context) time.Duration {
	a := w.d.current()
	wait := tokenCheckEvery
	warnBelow := a.env.Evaluagent.TokenWarnBelow
	for _, t := range a.bearerTargets() {
		bc := t.client.(bearerClient)
		st, err := bc.EnsureToken(ctx)
		if ctx.Err() != nil {
			return wait
		}
		w.expiry.WithLabelValues(t.name).Set(st.SecondsLeft)
		now := now(w.d.c)
		switch {
		case err != nil:
			w.say(t.name, now, func() {
				w.d.log.Error("evaluagent bearer token: no request can be authenticated until this is fixed", "target", t.name, "key_id", st.KeyID, "err", err)
			}, "error:"+err.Error())
		case !st.ExpiresAt.IsZero() && st.ExpiresAt.Sub(now) < warnBelow:
			w.say(t.name, now, func() {
				w.d.log.Warn("evaluagent bearer token expires soon and has not been refreshed", "target", t.name, "key_id", st.KeyID,
					"expires_at", st.ExpiresAt.UTC().Format(time.RFC3339), "left", roundDur(st.ExpiresAt.Sub(now)).String(),
					"hint", "run \"rostersync auth status\" and \"rostersync check\"; a token that expires cannot be refreshed and the key is then lost")
			}, "warn")
		default:
			if w.last[t.name] != "" {
				w.d.log.Info("evaluagent bearer token fine again", "target", t.name, "key_id", st.KeyID, "token", describeToken(st, now))
			}
			w.last[t.name] = ""
		}
		if due := st.RefreshDue.Sub(now); err == nil && due > 0 && due < wait {
			wait = due
		}
	}
	return wait
}

// say logs once per distinct problem, and again hourly while it lasts.
func (w *tokenWatch) say(target string, now time.Time, log func(), key string) {
	if w.last[target] == key && now.Sub(w.lastAt[target]) < time.Hour {
		return
	}
	w.last[target], w.lastAt[target] = key, now
	log()
}

// authStatusExtra is the "auth" member of /status: each target's key mode
// and token state.
func authStatusExtra(a *app) map[string]evaluagent.TokenStatus {
	return a.authStatus()
}
