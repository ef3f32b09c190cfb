package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/daemon"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/notify"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/state"
)

// webhooksCredential is the default webhooks file's name in
// $CREDENTIALS_DIRECTORY.
const webhooksCredential = "notify-webhooks"

// newNotifier reads the webhooks (none configured: a notifier that
// discards) and starts delivering.
func (d *server) newNotifier(env *config.Env) (*notify.Notifier, error) {
	path := env.Notify.WebhooksFile
	if path == "" {
		if p := env.Credential(webhooksCredential); p != "" {
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	cfg := notify.Config{Logger: d.log}
	if path != "" {
		hooks, err := notify.ReadHooks(path)
		if err != nil {
			return nil, err
		}
		cfg.Hooks = hooks
	}
	if env.Notify.SecretFile != "" {
		s, err := config.ReadSecret(env.Notify.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("ROSTERSYNC_NOTIFY_SECRET_FILE: %w", err)
		}
		cfg.Secret = s
	}
	n := notify.New(cfg)
	if n.Enabled() {
		d.log.Info("notifications on", "webhooks", len(cfg.Hooks))
	}
	return n, nil
}

// notifySource tells of a source that turned unhealthy or recovered.
func (d *server) notifySource(s statuspage.Source, healthy bool) {
	ev := notify.Event{Kind: notify.SourceRecovered, Link: d.link(),
		Title: fmt.Sprintf("Source %s recovered", s.Name),
		Text:  fmt.Sprintf("Source %s read completely again (%d records); deactivations resume.", s.Name, s.Records),
		Facts: map[string]string{"source": s.Name, "records": fmt.Sprint(s.Records)}}
	if !healthy {
		why := s.Error
		if why == "" {
			why = s.Reason
		}
		ev = notify.Event{Kind: notify.SourceUnhealthy, Link: d.link(),
			Title: fmt.Sprintf("Source %s is unhealthy", s.Name),
			Text:  fmt.Sprintf("Source %s could not be read completely: %s. No one is deactivated while it is.", s.Name, why),
			Facts: map[string]string{"source": s.Name}}
		if !s.LastHealthy.IsZero() {
			ev.Facts["last healthy read"] = s.LastHealthy.UTC().Format(time.RFC3339)
		}
	}
	ev.At = s.ReadAt
	d.notifier.Send(ev)
}

// notifyPass tells of a failed pass, once per distinct failure: the same
// error pass after pass is one notification.
func (d *server) notifyPass(p daemon.Pass) {
	if p.OK() {
		d.lastFailure = ""
		return
	}
	if p.Error == d.lastFailure {
		return
	}
	d.lastFailure = p.Error
	d.notifier.Send(notify.Event{Kind: notify.PassFailed, At: p.Finished, Link: d.link(),
		Title: fmt.Sprintf("rostersync pass failed (%s)", p.Result),
		Text:  p.Error,
		Facts: map[string]string{"pass": string(p.Kind), "started": p.Started.UTC().Format(time.RFC3339)}})
}

// notifyHeld tells of operations held since the last notification; at
// start, the holds already pending count as told.
func (d *server) notifyHeld(ctx context.Context, a *app, initial bool) {
	if !d.notifier.Enabled() {
		return
	}
	hs, err := a.db.HeldList(ctx, "", state.HeldPending)
	if err != nil {
		if !errors.Is(err, fs.ErrClosed) {
			d.log.Warn("reading held operations for notifications", "err", err)
		}
		return
	}
	if d.toldHeld == nil {
		d.toldHeld = map[int64]bool{}
	}
	var fresh []state.HeldOp
	for _, h := range hs {
		if !d.toldHeld[h.ID] {
			d.toldHeld[h.ID] = true
			fresh = append(fresh, h)
		}
	}
	if initial || len(fresh) == 0 {
		return
	}
	var lines []string
	for i, h := range fresh {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("… and %d more", len(fresh)-10))
			break
		}
		v := heldView(h)
		lines = append(lines, fmt.Sprintf("#%d %s %s %s (%s)", v.ID, v.Action, v.Kind, v.Name, v.Target))
	}
	d.notifier.Send(notify.Event{Kind: notify.Held, Link: d.link(),
		Title: fmt.Sprintf("%s held for approval", plural(len(fresh), "operation")),
		Text: "These removals went over the safety limits and wait for a person: " + strings.Join(lines, "; ") +
			". Approve or reject them on the status page or with 'rostersync held'.",
		Facts: map[string]string{"held": fmt.Sprint(len(fresh)), "reason": fresh[0].Reason}})
}

func (d *server) link() string { return d.current().env.Notify.Link }
