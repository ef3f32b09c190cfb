package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func logAll(l *slog.Logger) {
	l.Debug("looking", "n", 1)
	l.Info("pass finished", "duration", 4*time.Minute+5*time.Second+123*time.Millisecond)
	l.Log(context.Background(), LevelChange, "create user ada@example.com", "action", "create")
	l.With("target", "evaluagent").Warn("source incomplete")
	l.Error("pass failed")
}

func TestJournaldLinesCarryTheirSyslogPriority(t *testing.T) {
	for _, format := range []string{"auto", "text", "json"} {
		var buf bytes.Buffer
		l, err := newLogger(&buf, format, slog.LevelDebug, logOptions{terminal: true, journald: true})
		if err != nil {
			t.Fatal(err)
		}
		logAll(l)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		want := []string{"<7>", "<6>", "<5>", "<4>", "<3>"}
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines:\n%s", format, len(lines), buf.String())
		}
		for i, line := range lines {
			if !strings.HasPrefix(line, want[i]) || strings.Contains(line, "time") || strings.Contains(line, "\x1b[") {
				t.Errorf("%s: line %d = %q, want the prefix %s, no timestamp, no colour", format, i, line, want[i])
			}
		}
		if !strings.Contains(lines[1], "4m 05s") {
			t.Errorf("%s: duration not for people: %q", format, lines[1])
		}
	}
}

func TestDurationsInJSONAreForPeople(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger(&buf, "json", slog.LevelInfo, logOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Info("pass finished", "duration", 850*time.Millisecond)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["duration"] != "850ms" || strings.HasPrefix(buf.String(), "<") {
		t.Errorf("JSON line %s (%v): want duration \"850ms\" and no priority prefix off the journal", buf.String(), err)
	}
}

func TestNoColorIsHonoured(t *testing.T) {
	for _, noColor := range []bool{false, true} {
		var buf bytes.Buffer
		l, err := newLogger(&buf, "auto", slog.LevelInfo, logOptions{terminal: true, noColor: noColor})
		if err != nil {
			t.Fatal(err)
		}
		logAll(l)
		if colour := strings.Contains(buf.String(), "\x1b["); colour == noColor {
			t.Errorf("NO_COLOR=%v: colour escapes %v in\n%q", noColor, colour, buf.String())
		}
	}
}
