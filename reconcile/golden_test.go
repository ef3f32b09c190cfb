package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

var update = flag.Bool("update", false, "rewrite golden files")

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type goldenCase struct {
	archive *txtar.Archive
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

func section(t *testing.T, a *txtar.Archive, name string) []byte {
	t.Helper()
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("section %q missing", name)
	return nil
}

func loadCase(t *testing.T, path string) *goldenCase {
	t.Helper()
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &goldenCase{archive: a, current: &reconcile.Snapshot{}, desired: &reconcile.Snapshot{}}
	var pol struct {
		Adopt          bool     `json:"adopt"`
		Mode           string   `json:"mode"`
		ReplaceQueues  bool     `json:"replace_queues"`
		ExcludedGroups []string `json:"excluded_groups"`
	}
	for name, v := range map[string]any{"policy.json": &pol, "ownership.json": &c.own, "current.json": c.current, "desired.json": c.desired} {
		dec := json.NewDecoder(bytes.NewReader(section(t, a, name)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
	}
	c.policy = reconcile.Policy{Adopt: pol.Adopt, Mode: reconcile.Mode(pol.Mode), ReplaceQueues: pol.ReplaceQueues}
	if len(pol.ExcludedGroups) > 0 {
		c.policy.ProtectedTeam = func(g reconcile.Team) bool {
			return slices.ContainsFunc(pol.ExcludedGroups, func(n string) bool { return strings.EqualFold(n, g.Name) })
		}
	}
	for _, f := range a.Files {
		if f.Name != "guard.json" {
			continue
		}
		var g guardJSON
		dec := json.NewDecoder(bytes.NewReader(f.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			t.Fatalf("%s: guard.json: %v", path, err)
		}
		in := reconcile.GuardInput{Limits: g.Limits, Sources: g.Sources, Desired: c.desired, Absences: g.Absences,
			Population: g.Population, Holds: g.Holds, Now: testNow}
		if g.AbsentFor != "" {
			d, err := time.ParseDuration(g.AbsentFor)
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
			if *update {
				for i := range c.archive.Files {
					if c.archive.Files[i].Name == "plan.txt" {
						c.archive.Files[i].Data = got.Bytes()
					}
				}
				if err := os.WriteFile(path, txtar.Format(c.archive), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if d := cmp.Diff(string(section(t, c.archive, "plan.txt")), got.String()); d != "" {
				t.Errorf("plan differs from %s (-want +got); run go test ./reconcile -update to accept:\n%s", path, d)
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
