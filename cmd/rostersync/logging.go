package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"
)

// LevelChange is the level of the one line logged per applied (or, in plan
// mode, would-be) operation, between INFO and WARN so it can be filtered on.
const LevelChange = slog.Level(2)

// newLogger picks the handler: tint on a terminal, plain lines without
// timestamps under journald (it stamps them), JSON when asked.
func newLogger(w io.Writer, format string, level slog.Level, terminal, journald bool) (*slog.Logger, error) {
	replace := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey {
			if l, ok := a.Value.Any().(slog.Level); ok && l == LevelChange {
				a.Value = slog.StringValue("CHANGE")
			}
		}
		return a
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replace})), nil
	case "text":
		terminal = false
	case "auto", "":
	default:
		return nil, fmt.Errorf("log format %q: want auto, text or json", format)
	}
	if terminal && !journald {
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly,
			ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
				if a.Key == slog.LevelKey {
					if l, ok := a.Value.Any().(slog.Level); ok && l == LevelChange {
						return tint.Attr(13, slog.String(a.Key, "CHG"))
					}
				}
				return a
			}})), nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
			if journald && len(g) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return replace(g, a)
		}})), nil
}
