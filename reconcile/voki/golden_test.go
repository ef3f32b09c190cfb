package voki_test

import (
	"bytes"
	"context"
	"flag"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/golden"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

var update = flag.Bool("update", false, "rewrite golden files")

var planNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// The golden plans of Voki: settings.json (the voki: switches and adopt),
// ownership.json and desired.json, planned against what the client lists
// over HTTP from the simulator's demo tenant; plan.txt is the rendered
// plan. Each plan is then applied through the client, and planning again
// must find nothing to do.
type settings struct {
	Adopt       bool     `json:"adopt"`
	Deactivate  string   `json:"deactivate"`
	Roles       string   `json:"roles"`
	Memberships string   `json:"memberships"`
	Structure   string   `json:"structure"`
	CreateUsers bool     `json:"create_users"`
	Privileged  []string `json:"privileged_allowlist"`
}

func TestGoldenPlans(t *testing.T) {
	files, _ := filepath.Glob("testdata/plans/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden plans found")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			g := golden.Load(t, path)
			var s settings
			own := reconcile.NewOwnership()
			desired := &reconcile.Snapshot{}
			g.Decode(t, "settings.json", &s)
			g.Decode(t, "ownership.json", &own)
			g.Decode(t, "desired.json", desired)
			sim := vokisim.New(vokisim.Config{Tenants: []*vokisim.Tenant{vokisim.DefaultTenant(planNow)}, Now: func() time.Time { return planNow }})
			srv := httptest.NewServer(sim)
			defer srv.Close()
			client, err := voki.New(voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword,
				Deactivate: s.Deactivate, Roles: s.Roles, Memberships: s.Memberships, Structure: s.Structure, CreateUsers: s.CreateUsers, Privileged: s.Privileged, Now: func() time.Time { return planNow }})
			if err != nil {
				t.Fatal(err)
			}
			pol := reconcile.Policy{Adopt: s.Adopt, AgentRole: "attendant", Target: client.Capabilities(), Protected: client.Protects}
			ctx := context.Background()
			current, err := client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			plan := reconcile.Diff(desired, current, own, pol, planNow)
			plan.Target = "voki"
			var b bytes.Buffer
			if err := reconcile.Render(&b, plan, reconcile.FormatText); err != nil {
				t.Fatal(err)
			}
			g.Check(t, "plan.txt", b.String(), *update, "run go test ./reconcile/voki -update to accept")

			led := memtarget.NewLedger()
			for k, v := range own.Users {
				led.Owned.Users[k] = v
			}
			if err := reconcile.Apply(ctx, plan, client, reconcile.ApplyOptions{Ledger: led}).Err(); err != nil {
				t.Fatalf("apply: %v", err)
			}
			after, err := client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if again := reconcile.Diff(desired, after, led.Owned, pol, planNow); len(again.ReadyOps()) > 0 {
				var b bytes.Buffer
				_ = reconcile.Render(&b, again, reconcile.FormatText)
				t.Errorf("planning again after the apply finds work:\n%s", b.String())
			}
		})
	}
}
