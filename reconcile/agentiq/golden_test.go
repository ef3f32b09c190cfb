package agentiq_test

import (
	"bytes"
	"context"
	"flag"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
	"github.com/rostersync/rostersync/reconcile/internal/golden"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

var update = flag.Bool("update", false, "rewrite golden files")

var planNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// The golden plans of Agent IQ use the txtar format of reconcile's own:
// policy.json (adopt, mode), ownership.json, current.json (as List returns
// it: numeric ids, team names), desired.json and the rendered plan.txt.
type goldenCase struct {
	file    *golden.Case
	policy  reconcile.Policy
	own     reconcile.Ownership
	current *reconcile.Snapshot
	desired *reconcile.Snapshot
}

func capabilities(t *testing.T) reconcile.Capabilities {
	t.Helper()
	c, err := agentiq.New(agentiq.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Capabilities()
}

func loadCase(t *testing.T, path string) *goldenCase {
	t.Helper()
	g := golden.Load(t, path)
	c := &goldenCase{file: g, current: &reconcile.Snapshot{}, desired: &reconcile.Snapshot{}}
	var pol struct {
		Adopt bool   `json:"adopt"`
		Mode  string `json:"mode"`
	}
	for name, v := range map[string]any{"policy.json": &pol, "ownership.json": &c.own, "current.json": c.current, "desired.json": c.desired} {
		g.Decode(t, name, v)
	}
	c.policy = reconcile.Policy{Adopt: pol.Adopt, Mode: reconcile.Mode(pol.Mode), Target: capabilities(t)}
	return c
}

func render(t *testing.T, p *reconcile.Plan) string {
	t.Helper()
	p.Target = "agentiq"
	var b bytes.Buffer
	if err := reconcile.Render(&b, p, reconcile.FormatText); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGoldenPlans(t *testing.T) {
	files, _ := filepath.Glob("testdata/plans/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden plans found")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			c := loadCase(t, path)
			plan := reconcile.Diff(c.desired, c.current, c.own, c.policy, planNow)
			got := render(t, plan)
			c.file.Check(t, "plan.txt", got, *update, "run go test ./reconcile/agentiq -update to accept")
			if *update {
				return
			}
			for _, op := range plan.Ops {
				if op.Kind != reconcile.KindUser {
					t.Errorf("a %s op was planned for Agent IQ: %+v", op.Kind, op)
				}
			}
			assertConverges(t, c, plan)
		})
	}
}

// assertConverges seeds the simulator with the current state, applies the
// plan through the client over HTTP, and checks that planning again finds
// nothing that could be applied, and that exactly the ready rows were sent.
func assertConverges(t *testing.T, c *goldenCase, plan *reconcile.Plan) {
	t.Helper()
	cfg := agentiqsim.DefaultConfig()
	cfg.Now = func() time.Time { return simNow }
	for _, u := range c.current.Users {
		id, err := strconv.Atoi(u.ID)
		if err != nil {
			t.Fatalf("current user id %q is not an Agent IQ id", u.ID)
		}
		a := agentiqsim.Agent{ID: id, FirstName: u.Forename, LastName: u.Surname, Email: u.Email,
			ExternalID: u.ThirdPartyID, Roles: u.Roles.List(), CreatedAt: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
		if u.Team != "" {
			a.Teams = strings.Split(u.Team, ", ")
		}
		if !u.Active {
			a.DeactivatedAt = &a.CreatedAt
		}
		cfg.Seed = append(cfg.Seed, a)
	}
	sim, err := agentiqsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	defer ts.Close()
	client, err := agentiq.New(agentiq.Config{BaseURL: ts.URL, APIKey: agentiqsim.DemoAPIKey, Now: func() time.Time { return simNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The client lists what the case says is current.
	listed, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(render(t, plan), render(t, reconcile.Diff(c.desired, listed, c.own, c.policy, planNow))); d != "" {
		t.Fatalf("current.json is not what the client lists for the same agents:\n%s", d)
	}
	led := memtarget.NewLedger()
	for k, v := range c.own.Users {
		led.Owned.Users[k] = v
	}
	res := reconcile.Apply(ctx, plan, client, reconcile.ApplyOptions{Ledger: led})
	if err := res.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	wantRows := 0
	for _, op := range plan.ReadyOps() {
		if op.Action == reconcile.ActionCreate || len(op.Fields) > 0 {
			wantRows++
		}
	}
	if got := sim.RowsReceived(); got != wantRows {
		t.Errorf("%d rows were uploaded, the plan has %d ready rows", got, wantRows)
	}
	if got, want := sim.Writes(), plan.Requests["import users"]; got != want {
		t.Errorf("%d uploads, the plan promised %d", got, want)
	}
	now, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := reconcile.Diff(c.desired, now, led.Owned, c.policy, planNow)
	if !second.Empty() {
		t.Errorf("second plan is not empty:\n%s", render(t, second))
	}
}
