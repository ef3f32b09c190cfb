package flex_test

import (
	"bytes"
	"flag"
	"path/filepath"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
	"github.com/rostersync/rostersync/reconcile/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenPlans plans each case of testdata/plans over the simulator:
// seed.json is the tenant (flexsim.Seed), settings.json the target's
// settings, first.json (optional) a desired state applied first (so that
// rostersync owns what it adopted), desired.json the directory now, and
// plan.txt the plan rendered as text. Where the plan has ready operations,
// they are applied and planning again must find nothing to do.
func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob("testdata/plans/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden plans: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			g := golden.Load(t, f)
			var seed flexsim.Seed
			var settings struct {
				Deprovision string   `json:"deprovision"`
				Provision   string   `json:"provision"`
				Attributes  string   `json:"attributes"`
				OwnedKeys   []string `json:"owned_keys"`
				Teams       string   `json:"teams"`
				Template    string   `json:"team_name_template"`
			}
			desired := &reconcile.Snapshot{}
			g.Decode(t, "seed.json", &seed)
			g.Decode(t, "settings.json", &settings)
			g.Decode(t, "desired.json", desired)
			e := open(t, seed, func(c *flex.Config) {
				c.Deprovision, c.Provision, c.OwnedKeys = settings.Deprovision, settings.Provision, settings.OwnedKeys
				c.IdPOwnedKeys = flex.DefaultIdPOwnedKeys
				c.Attributes = settings.Attributes
				c.Teams, c.TeamNameTemplate = settings.Teams, settings.Template
			})
			if g.Has("first.json") {
				first := &reconcile.Snapshot{}
				g.Decode(t, "first.json", first)
				e.apply(t, e.plan(t, first))
			}
			p := e.plan(t, desired)
			var buf bytes.Buffer
			if err := reconcile.Render(&buf, p, reconcile.FormatText); err != nil {
				t.Fatal(err)
			}
			g.Check(t, "plan.txt", buf.String(), *update, "run go test ./reconcile/flex -run TestGoldenPlans -update to accept")
			if len(p.ReadyOps()) == 0 {
				return
			}
			e.apply(t, p)
			if again := e.plan(t, desired); len(again.ReadyOps()) > 0 {
				t.Errorf("plan, apply, plan again: %d operation(s) left: %v", len(again.ReadyOps()), again.ReadyOps())
			}
			if n := e.sim.InsightsCalls(); n != 0 {
				t.Errorf("%d Insights QM calls; rostersync must make none", n)
			}
		})
	}
}
