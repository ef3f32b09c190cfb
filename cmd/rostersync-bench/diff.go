package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
)

// snapshots builds, in memory, the same two sets as the data set on disk: n owned platform users
// in teams, and the drifted desired state. own holds the owned users twice: in key order, the
// form the ledger is read in and Diff takes, and in the map the map-join looks them up in.
func snapshots(n, teams int) (desired, current *reconcile.Snapshot, own reconcile.Ownership) {
	own = reconcile.NewOwnership()
	current = &reconcile.Snapshot{Teams: []reconcile.Team{{ID: "g-root", Name: "Acme Contact Centre", Level: "Business", Active: true}}}
	desired = &reconcile.Snapshot{}
	for t := range teams {
		name := teamName(t, teams)
		current.Teams = append(current.Teams, reconcile.Team{ID: "g-" + name, Name: name, Parent: "g-root", Level: "Team", Active: true})
		desired.Teams = append(desired.Teams, reconcile.Team{Key: name, Name: name, Level: "Team"})
		own.Teams[name] = "g-" + name
	}
	current.Users = make([]reconcile.User, 0, n)
	desired.Users = make([]reconcile.User, 0, n+n/400)
	for i := range n {
		key, first, last, email, _ := person(i)
		team := teamName(i, teams)
		u := reconcile.User{Key: key, ThirdPartyID: key, Username: email, Email: email, Forename: first, Surname: last,
			StartDate: 20240115, Active: true, Roles: reconcile.NamesOf("agent")}
		c := u
		c.ID, c.Key, c.Team = "u-"+key, "", "g-"+team
		current.Users = append(current.Users, c)
		own.Users[key] = c.ID
		own.UserKeys, own.UserIDs = append(own.UserKeys, key), append(own.UserIDs, c.ID)
		u.Team = team
		switch drift(i) {
		case "leave":
			continue
		case "email":
			u.Email = "new." + u.Email
			u.Username = u.Email
		case "move":
			u.Team = teamName(i+1, teams)
		case "hire":
			h := u
			h.Key = fmt.Sprintf("N%07d", i)
			h.ThirdPartyID, h.Username, h.Email = h.Key, h.Key+"@example.com", h.Key+"@example.com"
			desired.Users = append(desired.Users, h)
		}
		desired.Users = append(desired.Users, u)
	}
	return desired, current, own
}

// mapJoin is the floor for Diff: join the two sets on the owned id through plain maps and
// compare every attribute Diff compares, counting creates, updates and deactivations.
func mapJoin(desired, current *reconcile.Snapshot, own reconcile.Ownership) (creates, updates, leaves int) {
	byID := make(map[string]*reconcile.User, len(current.Users))
	for i := range current.Users {
		byID[current.Users[i].ID] = &current.Users[i]
	}
	teamID := make(map[string]string, len(current.Teams))
	for k, id := range own.Teams {
		teamID[k] = id
	}
	seen := make(map[string]bool, len(desired.Users))
	for i := range desired.Users {
		w := &desired.Users[i]
		c := byID[own.Users[w.Key]]
		if c == nil {
			creates++
			continue
		}
		seen[c.ID] = true
		if c.Username != w.Username || c.Email != w.Email || c.Forename != w.Forename || c.Surname != w.Surname ||
			c.StartDate != w.StartDate || c.Active != w.Active || c.ThirdPartyID != w.ThirdPartyID ||
			c.Team != teamID[w.Team] || !c.Roles.Equal(w.Roles) || !c.Queues.Equal(w.Queues) {
			updates++
		}
	}
	for i := range current.Users {
		if !seen[current.Users[i].ID] && current.Users[i].Active {
			leaves++
		}
	}
	return creates, updates, leaves
}

// benchDiff runs diffMeasure in a child process (this program again, with -diff-child) and adds
// its row. A child of its own keeps the gigabytes a 1M Diff takes out of this process: on Linux a
// process started after this one grew reports that size as its own peak RSS (ru_maxrss counts the
// parent's memory it shared until exec), which would spoil the later rows.
func benchDiff(ctx context.Context, n int, o options, t *table, log io.Writer) error {
	fmt.Fprintf(log, "%s people: Diff against the map-join …\n", humanN(n))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "-diff-child", strconv.Itoa(n), "-runs", strconv.Itoa(o.runs), "-teams", strconv.Itoa(o.teams))
	cmd.Stderr = log
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	var d, j float64
	if _, err := fmt.Sscanf(string(out), "diff %g join %g", &d, &j); err != nil {
		return fmt.Errorf("diff: unexpected output %q: %w", out, err)
	}
	ms := func(v float64) string { return fmt.Sprintf("%.0f ms", v*1000) }
	t.add("Diff (in process)", n, ms(d), ms(j)+" (map-join)", d/j)
	return nil
}

// diffMeasure times reconcile.Diff and the map-join on the same sets, interleaved, and returns
// the medians in seconds.
func diffMeasure(n, runs, teams int) (diff, join float64, err error) {
	desired, current, own := snapshots(n, teams)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var diffs, joins []float64
	for range max(runs, 3) {
		runtime.GC()
		start := time.Now()
		c, u, l := mapJoin(desired, current, own)
		joins = append(joins, time.Since(start).Seconds())
		if c == 0 || u == 0 || l == 0 {
			return 0, 0, fmt.Errorf("map-join found no drift: %d %d %d", c, u, l)
		}
		runtime.GC()
		start = time.Now()
		plan := reconcile.Diff(desired, current, own, reconcile.Policy{Target: evaluagent.Capabilities}, now)
		diffs = append(diffs, time.Since(start).Seconds())
		if s := plan.Summary; s.Create == 0 || s.Update == 0 || s.Deactivate == 0 {
			return 0, 0, fmt.Errorf("diff planned no drift: %+v", s)
		}
	}
	return median(diffs), median(joins), nil
}
