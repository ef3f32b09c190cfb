package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/state"
)

const historyAbout = `What changed when: every write rostersync sent to a platform (from the
apply journal), under the pass, plan or apply run it belongs to (from the
run history), oldest first. Reads only the state directory (found as for
'rostersync held'); the platform is not contacted.

  rostersync history -person ada@example.com      one person, by source key, username or email
  rostersync history -target evaluagent -since 24h
  rostersync history -since 2026-11-01 -until 2026-11-08 -format json

-since and -until take a time (2026-11-21T12:00:00Z), a date (2026-11-21,
UTC midnight) or a duration back from now (90m, 24h, 7d).`

// historyChange is one journalled write.
type historyChange struct {
	At       time.Time `json:"at"`
	Finished time.Time `json:"finished,omitzero"`
	Target   string    `json:"target"`
	Action   string    `json:"action"`
	Kind     string    `json:"kind"`
	Key      string    `json:"key"`
	Name     string    `json:"name,omitempty"`
	Changes  []string  `json:"changes,omitempty"`
	Outcome  string    `json:"outcome"` // ok, failed, unknown, or pending (the process stopped mid-write)
	Error    string    `json:"error,omitempty"`
	RunID    int64     `json:"run_id,omitempty"`
	email    string
}

// historyRun is one run with the writes made during it.
type historyRun struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished,omitzero"`
	Result   string          `json:"result"`
	Summary  string          `json:"summary,omitempty"`
	Error    string          `json:"error,omitempty"`
	Changes  []historyChange `json:"changes"`
}

type historyReport struct {
	Runs []historyRun `json:"runs"`
	// Outside are writes no recorded run covers: 'rostersync apply' from
	// a shell, or runs pruned from the history.
	Outside []historyChange `json:"changes_outside_runs,omitempty"`
}

func cmdHistory(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "history", "[flags]", historyAbout)
	var common commonFlags
	fs.StringVar(&common.stateDir, "state-dir", "", "state directory; default as for 'rostersync held'")
	person := fs.String("person", "", "only writes about this person: source key, username or email (case-insensitive)")
	targetName := fs.String("target", "", "only this target's writes")
	sinceS := fs.String("since", "", "from this time, date or duration ago")
	untilS := fs.String("until", "", "before this time, date or duration ago")
	format := fs.String("format", "text", "text or json")
	all := fs.Bool("all-runs", false, "also list runs that wrote nothing (when not filtering by person)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("history takes no arguments, got %q (filter with -person, -target, -since, -until)", fs.Args())
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("-format %q: want text or json", *format)
	}
	now := c.now()
	since, err := parseWhen(*sinceS, now)
	if err != nil {
		return fmt.Errorf("-since: %w", err)
	}
	until, err := parseWhen(*untilS, now)
	if err != nil {
		return fmt.Errorf("-until: %w", err)
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return fmt.Errorf("-since %s is not before -until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	db, _, err := openExistingState(ctx, c, common)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := history(ctx, db, *targetName, *person, since, until, *all)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeHistory(c, rep, *person)
}

// parseWhen reads a time, a date or a duration back from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && days > 0 && fmt.Sprint(days) == n {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-11-21T12:00:00Z), a date (2026-11-21) or a duration (24h, 7d)", s)
}

func history(ctx context.Context, db *state.DB, target, person string, since, until time.Time, allRuns bool) (*historyReport, error) {
	entries, err := db.JournalList(ctx, target, since, until)
	if err != nil {
		return nil, err
	}
	runs, err := storedRuns(ctx, db, 0)
	if err != nil {
		return nil, err
	}
	slices.Reverse(runs) // oldest first
	var changes []historyChange
	var ops []reconcile.Op
	for _, e := range entries {
		ch := historyChange{At: e.BegunAt, Finished: e.FinishedAt, Target: e.Target, Action: e.Action, Kind: e.Kind,
			Key: e.Key, Outcome: e.Outcome, Error: e.Err}
		if e.Pending() {
			ch.Outcome = "pending"
		}
		var op reconcile.Op
		if json.Unmarshal(e.Payload, &op) == nil {
			ch.Name = op.Name
			for _, c := range op.Changes {
				ch.Changes = append(ch.Changes, fmt.Sprintf("%s: %q → %q", c.Field, c.Old, c.New))
			}
			if len(op.Add) > 0 && len(op.Changes) == 0 {
				ch.Changes = append(ch.Changes, "agents+: "+strings.Join(op.Add, ", "))
			}
			if len(op.Remove) > 0 && len(op.Changes) == 0 {
				ch.Changes = append(ch.Changes, "agents-: "+strings.Join(op.Remove, ", "))
			}
			if op.User != nil {
				ch.email = op.User.Email
			}
		}
		changes = append(changes, ch)
		ops = append(ops, op)
	}
	if person != "" {
		// A person is known by any of their keys, usernames and emails
		// over time: find their source keys, then every write about them.
		keys := map[string]bool{}
		for _, ch := range changes {
			if ch.Kind == string(reconcile.KindUser) && (strings.EqualFold(ch.Key, person) || strings.EqualFold(ch.Name, person) || strings.EqualFold(ch.email, person)) {
				keys[ch.Key] = true
			}
		}
		var kept []historyChange
		for i, ch := range changes {
			op := ops[i]
			if ch.Kind == string(reconcile.KindUser) && keys[ch.Key] ||
				slices.ContainsFunc(op.Add, func(k string) bool { return keys[k] }) ||
				slices.ContainsFunc(op.Remove, func(k string) bool { return keys[k] }) {
				kept = append(kept, ch)
			}
		}
		changes = kept
	}
	rep := &historyReport{Runs: []historyRun{}}
	byRun := map[int64]int{}
	for _, r := range runs {
		if !until.IsZero() && !r.Started.Before(until) {
			continue
		}
		if !since.IsZero() && !r.Finished.IsZero() && r.Finished.Before(since) {
			continue
		}
		byRun[r.ID] = len(rep.Runs)
		rep.Runs = append(rep.Runs, historyRun{ID: r.ID, Kind: r.Kind, Started: r.Started, Finished: r.Finished,
			Result: r.Result, Summary: r.Summary, Error: r.Error, Changes: []historyChange{}})
	}
	for _, ch := range changes {
		i := runOf(rep.Runs, ch.At)
		if i < 0 {
			rep.Outside = append(rep.Outside, ch)
			continue
		}
		ch.RunID = rep.Runs[i].ID
		rep.Runs[i].Changes = append(rep.Runs[i].Changes, ch)
	}
	if person != "" || target != "" || !allRuns {
		rep.Runs = slices.DeleteFunc(rep.Runs, func(r historyRun) bool { return len(r.Changes) == 0 })
	}
	return rep, nil
}

// runOf finds the run during which a write begun at at was made: the
// latest run started at or before it that had not finished by then.
func runOf(runs []historyRun, at time.Time) int {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Started.After(at) {
			continue
		}
		if r.Finished.IsZero() || !r.Finished.Before(at) {
			return i
		}
		return -1
	}
	return -1
}

func writeHistory(c *cli, rep *historyReport, person string) error {
	w := c.stdout
	n := 0
	line := func(ch historyChange) {
		n++
		name := ch.Name
		if name == "" {
			name = ch.Key
		}
		out := ch.Outcome
		if ch.Error != "" {
			out += ": " + ch.Error
		}
		// Names, keys and errors come from sources and platforms: escaped,
		// so that none can forge a line or reach the terminal raw.
		fmt.Fprintf(w, "  %s  %-10s  %s %s %s [%s]  %s\n", ch.At.UTC().Format("2006-01-02 15:04:05"), esc(ch.Target), ch.Action, ch.Kind, esc(name), esc(ch.Key), esc(out))
		for _, c := range ch.Changes {
			fmt.Fprintf(w, "      %s\n", esc(c))
		}
	}
	for _, r := range rep.Runs {
		took := "still running or stopped without a record"
		if !r.Finished.IsZero() {
			took = "took " + statuspage.Duration(r.Finished.Sub(r.Started))
		}
		what := r.Summary
		if r.Error != "" {
			what = r.Error
		}
		fmt.Fprintf(w, "%s %s #%d, %s UTC, %s: %s", r.Kind, runNoun(r.Kind), r.ID, r.Started.UTC().Format("2006-01-02 15:04:05"), took, r.Result)
		if what != "" {
			fmt.Fprintf(w, " (%s)", esc(what))
		}
		fmt.Fprintln(w)
		for _, ch := range r.Changes {
			line(ch)
		}
	}
	if len(rep.Outside) > 0 {
		fmt.Fprintln(w, "writes outside a daemon pass (rostersync apply)")
		for _, ch := range rep.Outside {
			line(ch)
		}
	}
	if n == 0 {
		msg := "No writes recorded"
		if person != "" {
			msg += " for " + person
		}
		fmt.Fprintln(w, msg+" in that time.")
	}
	return nil
}

func runNoun(kind string) string {
	switch kind {
	case state.RunPlan, state.RunApply:
		return "run"
	}
	return "pass"
}
