// Package notify tells people when rostersync needs them: operations held
// for approval, a failed pass, a source that turned unhealthy or recovered.
// Each event is posted to every configured webhook, as generic JSON, a
// Slack message or a Microsoft Teams Adaptive Card, from a goroutine of its
// own: a slow or failing webhook is retried with backoff and never holds up
// a pass.
//
// Webhooks are read from a file (their URLs carry secrets), one a line:
//
//	slack https://hooks.slack.com/services/T000/B000/XXXX
//	teams https://prod-00.westeurope.logic.azure.com/workflows/…
//	json  https://ops.example.com/rostersync-hook
//
// Blank lines and lines starting with # are skipped. Generic JSON posts
// carry X-Rostersync-Signature: sha256=HMAC(secret, body) when a signing
// secret is given.
package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kinds of event.
const (
	Held             = "held"
	PassFailed       = "pass_failed"
	SourceUnhealthy  = "source_unhealthy"
	SourceRecovered  = "source_recovered"
	severityWarning  = "warning"
	severityCritical = "critical"
	severityInfo     = "info"
)

// Event is one thing people should hear about.
type Event struct {
	Kind  string            `json:"event"`
	At    time.Time         `json:"at"`
	Title string            `json:"title"`
	Text  string            `json:"text"`
	Facts map[string]string `json:"facts,omitempty"`
	// Link, when set, is where to act (the status page).
	Link string `json:"link,omitempty"`
}

// Severity is how urgent the event is: info, warning or critical.
func (e Event) Severity() string {
	switch e.Kind {
	case PassFailed, SourceUnhealthy:
		return severityCritical
	case Held:
		return severityWarning
	}
	return severityInfo
}

// Hook is one webhook.
type Hook struct {
	Format string // json, slack or teams
	URL    string
}

// host is the hook's URL without its secret path, for logs.
func (h Hook) host() string {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "?"
	}
	return u.Scheme + "://" + u.Host
}

// ReadHooks reads the webhooks file. Every bad line is reported, by line
// number, without its URL.
func ReadHooks(path string) ([]Hook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("notification webhooks: %w", err)
	}
	defer f.Close()
	var hooks []Hook
	var errs []error
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		format, raw, ok := strings.Cut(line, " ")
		raw = strings.TrimSpace(raw)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s:%d: want a format (json, slack, teams), a space and the URL", path, n))
			continue
		case format != "json" && format != "slack" && format != "teams":
			errs = append(errs, fmt.Errorf("%s:%d: format %q: want json, slack or teams", path, n, format))
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s:%d: not an http(s) URL", path, n))
			continue
		}
		hooks = append(hooks, Hook{Format: format, URL: raw})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hooks, nil
}

// Config configures a Notifier.
type Config struct {
	Hooks []Hook
	// Secret signs generic JSON posts (empty: unsigned).
	Secret string
	// Attempts per event and hook (0: 6); the waits between them double
	// from Backoff (0: 2s) up to MaxBackoff (0: 2m). A Retry-After is
	// honoured within MaxBackoff.
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Client posts (nil: a client with a 15s timeout).
	Client *http.Client
	Logger *slog.Logger
	// Queue is how many events may wait (0: 100); beyond it events are
	// dropped with a warning rather than blocking.
	Queue int
}

// Notifier delivers events. Its methods are safe for concurrent use.
type Notifier struct {
	cfg   Config
	log   *slog.Logger
	queue chan Event
	wg    sync.WaitGroup
	stop  context.CancelFunc
	ctx   context.Context
}

// New starts a Notifier; Close stops it. With no hooks it discards events.
func New(cfg Config) *Notifier {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 6
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 100
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	n := &Notifier{cfg: cfg, log: log, queue: make(chan Event, cfg.Queue), ctx: ctx, stop: stop}
	if len(cfg.Hooks) > 0 {
		n.wg.Go(n.run)
	}
	return n
}

// Enabled reports whether any webhook is configured.
func (n *Notifier) Enabled() bool { return n != nil && len(n.cfg.Hooks) > 0 }

// Send queues ev for delivery and returns at once.
func (n *Notifier) Send(ev Event) {
	if !n.Enabled() {
		return
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	select {
	case n.queue <- ev:
	default:
		n.log.Warn("notification dropped: too many waiting", "event", ev.Kind, "title", ev.Title)
	}
}

// Close delivers what is queued within grace, then gives up on the rest.
func (n *Notifier) Close(grace time.Duration) {
	if !n.Enabled() {
		return
	}
	close(n.queue)
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		n.stop()
		<-done
	}
	n.stop()
}

func (n *Notifier) run() {
	for ev := range n.queue {
		var wg sync.WaitGroup
		for _, h := range n.cfg.Hooks {
			wg.Go(func() { n.deliver(h, ev) })
		}
		wg.Wait()
	}
}

func (n *Notifier) deliver(h Hook, ev Event) {
	body, err := Payload(h.Format, ev)
	if err != nil {
		n.log.Error("notification payload", "format", h.Format, "err", err)
		return
	}
	wait := n.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retryAfter, err := n.post(h, body)
		if err == nil {
			n.log.Debug("notification sent", "event", ev.Kind, "webhook", h.host(), "format", h.Format)
			return
		}
		var perm permanent
		if errors.As(err, &perm) || attempt >= n.cfg.Attempts {
			n.log.Warn("notification not delivered", "event", ev.Kind, "webhook", h.host(), "format", h.Format,
				"attempts", attempt, "err", err)
			return
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		d = min(d, n.cfg.MaxBackoff)
		n.log.Debug("notification failed; retrying", "event", ev.Kind, "webhook", h.host(), "in", d, "err", err)
		select {
		case <-n.ctx.Done():
			n.log.Warn("notification not delivered: stopping", "event", ev.Kind, "webhook", h.host())
			return
		case <-time.After(d):
		}
		wait = min(wait*2, n.cfg.MaxBackoff)
	}
}

// permanent is a refusal that retrying will not change (a 4xx other than
// 408 and 429).
type permanent struct{ error }

func (n *Notifier) post(h Hook, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rostersync")
	if h.Format == "json" && n.cfg.Secret != "" {
		m := hmac.New(sha256.New, []byte(n.cfg.Secret))
		m.Write(body)
		req.Header.Set("X-Rostersync-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		// The URL is a secret: say which host failed, not the URL.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	err = fmt.Errorf("webhook answered %s", resp.Status)
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
		return 0, permanent{err}
	}
	var after time.Duration
	if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	return after, err
}

// Payload is ev as format (json, slack or teams) posts it.
func Payload(format string, ev Event) ([]byte, error) {
	switch format {
	case "json":
		type generic struct {
			Event
			Severity string `json:"severity"`
			Source   string `json:"source"`
		}
		return json.Marshal(generic{Event: ev, Severity: ev.Severity(), Source: "rostersync"})
	case "slack":
		text := "*" + slackEscape(ev.Title) + "*\n" + slackEscape(ev.Text)
		blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}}}
		if len(ev.Facts) > 0 {
			var fields []any
			for _, k := range sortedKeys(ev.Facts) {
				fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + slackEscape(k) + "*\n" + slackEscape(ev.Facts[k])})
			}
			blocks = append(blocks, map[string]any{"type": "section", "fields": fields[:min(len(fields), 10)]})
		}
		if ev.Link != "" {
			blocks = append(blocks, map[string]any{"type": "context", "elements": []any{
				map[string]any{"type": "mrkdwn", "text": "<" + ev.Link + "|Open the status page>"}}})
		}
		// text is the notification's fallback (phones, screen readers).
		return json.Marshal(map[string]any{"text": ev.Title + ": " + ev.Text, "blocks": blocks})
	case "teams":
		body := []any{
			map[string]any{"type": "TextBlock", "text": ev.Title, "weight": "Bolder", "size": "Medium", "wrap": true,
				"color": map[string]string{severityCritical: "Attention", severityWarning: "Warning", severityInfo: "Good"}[ev.Severity()]},
			map[string]any{"type": "TextBlock", "text": ev.Text, "wrap": true},
		}
		if len(ev.Facts) > 0 {
			var facts []any
			for _, k := range sortedKeys(ev.Facts) {
				facts = append(facts, map[string]string{"title": k, "value": ev.Facts[k]})
			}
			body = append(body, map[string]any{"type": "FactSet", "facts": facts})
		}
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type":    "AdaptiveCard", "version": "1.4", "body": body,
		}
		if ev.Link != "" {
			card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Open the status page", "url": ev.Link}}
		}
		return json.Marshal(map[string]any{"type": "message", "attachments": []any{
			map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card},
		}})
	}
	return nil, fmt.Errorf("unknown webhook format %q", format)
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
