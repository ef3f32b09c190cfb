package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/lmittmann/tint"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/reconcile"
)

// LevelChange is the level of the one line logged per applied (or, in plan
// mode, would-be) operation, between INFO and WARN so it can be filtered on.
const LevelChange = slog.Level(2)

// logOptions are how the process's surroundings shape its log lines.
type logOptions struct {
	// terminal: standard error is a terminal (colour, short timestamps).
	terminal bool
	// journald: standard error goes to the journal (JOURNAL_STREAM set): no
	// timestamps, and each line starts with its syslog priority (<3> error,
	// <4> warning, <5> a change, <6> info, <7> debug) so that
	// "journalctl -p warning" finds the warnings.
	journald bool
	// noColor: NO_COLOR is set (https://no-color.org).
	noColor bool
}

// newLogger picks the handler: tint on a terminal, plain lines without
// timestamps under journald (it stamps them), JSON when asked.
func newLogger(w io.Writer, format string, level slog.Level, o logOptions) (*slog.Logger, error) {
	replace := func(g []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && len(g) == 0 {
			if l, ok := a.Value.Any().(slog.Level); ok && l == LevelChange {
				a.Value = slog.StringValue("CHANGE")
			}
		}
		if o.journald && len(g) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return humanDuration(a)
	}
	var pw *prefixWriter
	if o.journald {
		pw = &prefixWriter{out: w}
		w = pw
	}
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replace})
	case "text", "auto", "":
		if format == "auto" || format == "" {
			if o.terminal && !o.journald {
				return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: o.noColor,
					ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
						if a.Key == slog.LevelKey && len(g) == 0 {
							if l, ok := a.Value.Any().(slog.Level); ok && l == LevelChange {
								return tint.Attr(13, slog.String(a.Key, "CHG"))
							}
						}
						return humanDuration(a)
					}})), nil
			}
		}
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replace})
	default:
		return nil, fmt.Errorf("log format %q: want auto, text or json", format)
	}
	if pw != nil {
		h = &priorityHandler{pw: pw, inner: h}
	}
	return slog.New(h), nil
}

// humanDuration writes durations as people read them ("4m 05s"), not as
// nanoseconds (JSON) or Go's "4m5.123456789s".
func humanDuration(a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(statuspage.Duration(a.Value.Duration()))
	}
	return a
}

// syslogPriority is the sd-daemon prefix journald reads a line's priority
// from.
func syslogPriority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= LevelChange:
		return "<5>"
	case l >= slog.LevelInfo:
		return "<6>"
	}
	return "<7>"
}

// priorityHandler prefixes every line of the handler it wraps with the
// record's syslog priority. The wrapped handler writes to pw, one Write a
// record; the shared lock keeps a record's prefix with its line.
type priorityHandler struct {
	pw    *prefixWriter
	inner slog.Handler
}

type prefixWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(w.prefix)+len(b))
	line = append(append(line, w.prefix...), b...)
	if _, err := w.out.Write(line); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *priorityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return p.inner.Enabled(ctx, l)
}

func (p *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	p.pw.mu.Lock()
	defer p.pw.mu.Unlock()
	p.pw.prefix = syslogPriority(r.Level)
	return p.inner.Handle(ctx, r)
}

func (p *priorityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &priorityHandler{pw: p.pw, inner: p.inner.WithAttrs(as)}
}

func (p *priorityHandler) WithGroup(name string) slog.Handler {
	return &priorityHandler{pw: p.pw, inner: p.inner.WithGroup(name)}
}

// opAttrs are the structured fields of an operation's log line, so that
// log search can filter on them instead of parsing the message.
func opAttrs(op *reconcile.Op) []any {
	return []any{"action", op.Action.String(), "kind", string(op.Kind), "key", op.Key}
}
