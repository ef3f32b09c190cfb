package reconcile_test

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/golden"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

var update = flag.Bool("update", false, "rewrite golden files")

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type goldenCase struct {
	file    *golden.Case
	policy  reconcile.Policy
	own     reconcile.Ownership
	current *reconcile.Snapshot
	desired *reconcile.Snapshot
	// guard, from an optional guard.json section, is applied after Diff.
	guard *reconcile.GuardInput
}

// guardJSON is the guard.json section: GuardInput with absent_for as a
// duration string.
type guardJSON struct {
	Limits     reconcile.Limits               `json:"limits"`
	AbsentFor  string                         `json:"absent_for"`
	Sources    []reconcile.SourceFacts        `json:"sources"`
	Absences   map[string]reconcile.Absence   `json:"absences"`
	Population int                            `json:"population"`
	Holds      map[string]reconcile.HoldState `json:"holds"`
}

func (c *goldenCase) plan() *reconcile.Plan {
	p := reconcile.Diff(c.desired, c.current, c.own, c.policy, testNow)
	if c.guard != nil {
		p = reconcile.Guard(p, *c.guard)
	}
	p.Target = "evaluagent"
	return p
}

func loadCase(t *testing.T, path string) *goldenCase {
	t.Helper()
	g := golden.Load(t, path)
	c := &goldenCase{file: g, current: &reconcile.Snapshot{}, desired: &reconcile.Snapshot{}}
	var pol struct {
		Adopt          bool     `json:"adopt"`
		Mode           string   `json:"mode"`
		ReplaceQueues  bool     `json:"replace_queues"`
		ExcludedGroups []string `json:"excluded_groups"`
	}
	for name, v := range map[string]any{"policy.json": &pol, "ownership.json": &c.own, "current.json": c.current, "desired.json": c.desired} {
		g.Decode(t, name, v)
	}
	c.policy = reconcile.Policy{Adopt: pol.Adopt, Mode: reconcile.Mode(pol.Mode), ReplaceQueues: pol.ReplaceQueues, Target: memtarget.Shape}
	if len(pol.ExcludedGroups) > 0 {
		c.policy.ProtectedTeam = func(g reconcile.Team) bool {
			return slices.ContainsFunc(pol.ExcludedGroups, func(n string) bool { return strings.EqualFold(n, g.Name) })
		}
	}
	if g.Has("guard.json") {
		var gj guardJSON
		g.Decode(t, "guard.json", &gj)
		in := reconcile.GuardInput{Limits: gj.Limits, Sources: gj.Sources, Desired: c.desired, Absences: gj.Absences,
			Population: gj.Population, Holds: gj.Holds, Now: testNow}
		if gj.AbsentFor != "" {
			d, err := time.ParseDuration(gj.AbsentFor)
			if err != nil {
				t.Fatalf("%s: guard.json: absent_for: %v", path, err)
			}
			in.Limits.AbsentFor = d
		}
		c.guard = &in
	}
	return c
}

func TestGoldenPlans(t *testing.T) {
	files, _ := filepath.Glob("testdata/plans/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden plans found")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			c := loadCase(t, path)
			plan := c.plan()
			var got bytes.Buffer
			if err := reconcile.Render(&got, plan, reconcile.FormatText); err != nil {
				t.Fatal(err)
			}
			c.file.Check(t, "plan.txt", got.String(), *update, "run go test ./reconcile -update to accept")
			// The edges are visible in every format: cases with plan.json
			// and plan.md sections pin those renderings too.
			for name, f := range map[string]reconcile.Format{"plan.json": reconcile.FormatJSON, "plan.md": reconcile.FormatMarkdown} {
				if !c.file.Has(name) {
					continue
				}
				var b bytes.Buffer
				if err := reconcile.Render(&b, plan, f); err != nil {
					t.Fatal(err)
				}
				c.file.Check(t, name, b.String(), *update, "run go test ./reconcile -update to accept")
			}
			if *update {
				return
			}
			// Diff is deterministic: a second run renders the same bytes.
			again := c.plan()
			var b2 bytes.Buffer
			_ = reconcile.Render(&b2, again, reconcile.FormatText)
			if b2.String() != got.String() {
				t.Error("Diff is not deterministic")
			}
			assertConverges(t, c, plan)
		})
	}
}

// assertConverges applies the plan to an in-memory platform holding the
// current state and checks that planning again finds nothing to do.
func assertConverges(t *testing.T, c *goldenCase, plan *reconcile.Plan) {
	t.Helper()
	mem := memtarget.New()
	mem.Users, mem.Teams, mem.Queues = c.current.Users, c.current.Teams, c.current.Queues
	led := memtarget.NewLedger()
	for k, v := range c.own.Users {
		led.Owned.Users[k] = v
	}
	for k, v := range c.own.Teams {
		led.Owned.Teams[k] = v
	}
	ctx := context.Background()
	res := reconcile.Apply(ctx, plan, mem, reconcile.ApplyOptions{Ledger: led})
	if err := res.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	now, _ := mem.List(ctx)
	second := reconcile.Diff(c.desired, now, led.Owned, c.policy, testNow)
	if c.guard != nil {
		// What the guard held back is planned again, and held back again.
		second = reconcile.Guard(second, *c.guard)
	}
	if !second.Empty() {
		var b bytes.Buffer
		_ = reconcile.Render(&b, second, reconcile.FormatText)
		t.Errorf("second plan is not empty:\n%s", b.String())
	}
}
