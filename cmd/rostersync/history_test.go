package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHistoryByPersonTargetAndTime(t *testing.T) {
	r := newRig(t)
	before := time.Now().UTC().Add(-time.Second)
	r.mustRun("apply", "-yes")
	r.editCSV("ben.carter@example.com", "ben.carter2@example.com")
	r.mustRun("apply", "-yes")
	after := time.Now().UTC().Add(time.Second)

	r.mustRun("history", "-person", "E1002")
	out := r.stdout.String()
	if !strings.Contains(out, "create user ben.carter@example.com [E1002]  ok") ||
		!strings.Contains(out, "update user ben.carter2@example.com [E1002]  ok") ||
		!strings.Contains(out, `email: "ben.carter@example.com" → "ben.carter2@example.com"`) {
		t.Errorf("history of E1002:\n%s", out)
	}
	if strings.Contains(out, "[E1003]") || !strings.Contains(out, "update queue Inbound Calls") {
		t.Errorf("history of E1002 shows someone else's write, or not the queue Ben joined:\n%s", out)
	}
	// By email, in JSON: the same two writes, oldest first.
	r.mustRun("history", "-person", "BEN.CARTER2@example.com", "-format", "json")
	var rep historyReport
	if err := json.Unmarshal(r.stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout.String())
	}
	var acts []string
	for _, ch := range rep.Outside {
		acts = append(acts, ch.Action+" "+ch.Key)
	}
	for _, run := range rep.Runs {
		for _, ch := range run.Changes {
			acts = append(acts, ch.Action+" "+ch.Key)
		}
	}
	if strings.Join(acts, ",") != "create E1002,update Inbound Calls,update E1002" {
		t.Errorf("history of ben.carter2@example.com in JSON: %v, want his create, his queue and his update", acts)
	}

	r.mustRun("history", "-since", before.Format(time.RFC3339Nano)[:19]+"Z", "-until", after.Format(time.RFC3339))
	if n := strings.Count(r.stdout.String(), "create user "); n != 11 {
		t.Errorf("history in the apply's time: %d user creates, want 11\n%s", n, r.stdout.String())
	}
	r.mustRun("history", "-since", after.Format(time.RFC3339))
	if !strings.Contains(r.stdout.String(), "No writes recorded in that time.") {
		t.Errorf("history after the applies:\n%s", r.stdout.String())
	}
	r.mustRun("history", "-target", "agentiq")
	if !strings.Contains(r.stdout.String(), "No writes recorded") {
		t.Errorf("history of another target:\n%s", r.stdout.String())
	}
	if code := r.run("history", "-since", "last tuesday"); code != 2 && code != 1 || !strings.Contains(r.stderr.String(), "is not a time") {
		t.Errorf("a bad -since: exit %d, %s", code, r.stderr.String())
	}
}

func TestHistoryPlacesWritesInTheirRun(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	runs := []historyRun{
		{ID: 1, Started: t0, Finished: t0.Add(time.Minute)},
		{ID: 2, Started: t0.Add(10 * time.Minute), Finished: t0.Add(11 * time.Minute)},
		{ID: 3, Started: t0.Add(20 * time.Minute)}, // never finished
	}
	for at, want := range map[time.Duration]int{
		30 * time.Second: 0, 5 * time.Minute: -1, 10*time.Minute + time.Second: 1, 25 * time.Minute: 2, -time.Minute: -1,
	} {
		if got := runOf(runs, t0.Add(at)); got != want {
			t.Errorf("a write at +%s: run index %d, want %d", at, got, want)
		}
	}
}

// TestHistoryCannotBeMadeToLie: a team name with a line break, a carriage
// return and a terminal escape is shown escaped: no forged line, nothing
// raw on the terminal.
func TestHistoryCannotBeMadeToLie(t *testing.T) {
	r := newRig(t)
	r.editCSV("Support,North\nE1002", "Support,\"North\r\n- deactivate user \"\"ceo@example.com\"\"\x1b[31m\"\nE1002")
	r.mustRun("apply", "-yes")
	r.mustRun("history")
	out := r.stdout.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("history carries raw control characters:\n%q", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "- deactivate") {
			t.Errorf("a team name forged the line %q in:\n%s", l, out)
		}
	}
	if !strings.Contains(out, `North\n- deactivate`) {
		t.Errorf("history does not show the escaped name:\n%s", out)
	}
}
