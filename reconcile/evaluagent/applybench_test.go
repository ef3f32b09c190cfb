package evaluagent_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// scaledClock runs speed times faster than the wall clock, from a fixed
// start. The simulator and the client share it, so the platform's real
// limits (100 requests a minute per endpoint) hold in scaled time on both
// sides.
type scaledClock struct {
	start time.Time
	real  time.Time
	speed float64
}

func (c *scaledClock) now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real)) * c.speed))
}

func (c *scaledClock) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(time.Duration(float64(d) / c.speed))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// TestBenchApply applies 2,000 changes over four endpoints (500 user
// creates, 500 user updates, 500 group creates, 500 group renames) to the
// simulator over HTTP, with the platform's real limits on both sides and
// time scaled (ROSTERSYNC_BENCH_SPEED, default 30x). It prints, per
// endpoint, the requests sent, the 429s, the time the endpoint was busy and
// its achieved rate against the ceiling, then the whole apply's wall time
// against the theoretical minimum: the busiest endpoint's requests at its
// ceiling. The client sends at most 100 requests to an endpoint in any
// sliding minute and the server counts calendar minutes (0 x 429 shows
// they agree); a full minute's requests may go at once, so over a short
// apply the average can exceed the ceiling and the apply beat the
// minimum. Run it with
//
//	ROSTERSYNC_BENCH_APPLY=1 go test -run TestBenchApply -v ./reconcile/evaluagent/
func TestBenchApply(t *testing.T) {
	if os.Getenv("ROSTERSYNC_BENCH_APPLY") == "" {
		t.Skip("set ROSTERSYNC_BENCH_APPLY=1 to run the apply benchmark")
	}
	speed := 30.0
	if v := os.Getenv("ROSTERSYNC_BENCH_SPEED"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			t.Fatalf("ROSTERSYNC_BENCH_SPEED=%q: want a positive number", v)
		}
		speed = f
	}
	const n, perMinute = 500, 100
	// A fixed start in the middle of a calendar minute: the simulator's
	// windows are calendar minutes, the client's pacing a sliding minute.
	clk := &scaledClock{start: time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC), real: time.Now(), speed: speed}

	seed := evaluagentsim.DefaultSeed()
	root := seed.Groups[0].Name
	for i := range n {
		seed.Groups = append(seed.Groups, evaluagentsim.SeedGroup{Name: fmt.Sprintf("Old Team %04d", i), Level: "Team", Parent: root})
	}
	for i := range n {
		seed.Users = append(seed.Users, evaluagentsim.SeedUser{
			Forename: "Agent", Surname: "Before", Username: fmt.Sprintf("a%04d@example.com", i),
			ThirdPartyID: []byte(fmt.Sprintf("%q", fmt.Sprintf("A%04d", i))), Roles: []string{"agent"}, Team: "Test Team 1"})
	}
	cfg := evaluagentsim.DefaultConfig()
	cfg.Seed, cfg.Now, cfg.RatePerMinute = seed, clk.now, perMinute
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	var mu sync.Mutex
	first, last := map[string]time.Time{}, map[string]time.Time{}
	client, err := evaluagent.New(evaluagent.Config{
		BaseURL: srv.URL + "/v1", KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret,
		RatePerMinute: perMinute, Now: clk.now, Sleep: clk.sleep, MaxWait: time.Hour,
		OnRequest: func(endpoint string, status int, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			now := clk.now()
			if _, ok := first[endpoint]; !ok {
				first[endpoint] = now
			}
			last[endpoint] = now
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	current, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}

	own := reconcile.NewOwnership()
	desired := &reconcile.Snapshot{}
	teamKey := map[string]string{} // group id → key
	for _, g := range current.Teams {
		if g.Parent == "" {
			continue
		}
		key := "K-" + g.Name
		teamKey[g.ID] = key
		own.Teams[key] = g.ID
		name := g.Name
		if len(name) > 4 && name[:4] == "Old " {
			name = "Renamed " + name[4:]
		}
		desired.Teams = append(desired.Teams, reconcile.Team{Key: key, Name: name, Level: "Team"})
	}
	for i := range n {
		desired.Teams = append(desired.Teams, reconcile.Team{Key: fmt.Sprintf("N%04d", i), Name: fmt.Sprintf("New Team %04d", i), Level: "Team"})
	}
	for _, u := range current.Users {
		own.Users[u.ThirdPartyID] = u.ID
		desired.Users = append(desired.Users, reconcile.User{Key: u.ThirdPartyID, ThirdPartyID: u.ThirdPartyID, Username: u.Username,
			Forename: u.Forename, Surname: "After", Active: true, Roles: reconcile.NamesOf("agent"), Team: teamKey[u.Team]})
	}
	for i := range n {
		k := fmt.Sprintf("H%04d", i)
		desired.Users = append(desired.Users, reconcile.User{Key: k, Username: fmt.Sprintf("h%04d@example.com", i),
			Forename: "New", Surname: "Hire", Active: true, Roles: reconcile.NamesOf("agent"), Team: "K-Test Team 1"})
	}
	plan := reconcile.Diff(desired, current, own, reconcile.Policy{}, clk.now())
	if s := plan.Summary; s.Changes() != 4*n {
		t.Fatalf("the plan has %d changes (%+v), want %d", s.Changes(), s, 4*n)
	}
	sim.ResetCounts()
	mu.Lock()
	clear(first)
	clear(last)
	mu.Unlock()

	start, realStart := clk.now(), time.Now()
	res := reconcile.Apply(ctx, plan, client, reconcile.ApplyOptions{})
	wall, realWall := clk.now().Sub(start), time.Since(realStart)
	if err := res.Err(); err != nil || res.Applied != 4*n {
		t.Fatalf("apply: %d applied, %d skipped: %v", res.Applied, res.Skipped, err)
	}

	statuses := sim.StatusCounts()
	var eps []string
	busiest := 0
	for ep, by := range statuses {
		eps = append(eps, ep)
		sent := 0
		for _, c := range by {
			sent += c
		}
		busiest = max(busiest, sent-by[429])
	}
	slices.Sort(eps)
	ideal := time.Duration(float64(busiest) / perMinute * float64(time.Minute))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "endpoint\trequests\t429s\tbusy for\trate/min\t%% of ceiling\t\n")
	total429 := 0
	for _, ep := range eps {
		by := statuses[ep]
		ok := 0
		for st, c := range by {
			if st >= 200 && st < 300 {
				ok += c
			}
		}
		busy := last[ep].Sub(first[ep])
		// The rate over the endpoint's requests: n requests span n-1 gaps.
		rate := float64(ok-1) / busy.Minutes()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.1f\t%.0f%%\t\n", ep, ok, by[429], busy.Round(time.Second), rate, rate*100/perMinute)
		total429 += by[429]
	}
	tw.Flush()
	fmt.Printf("\n%d changes, %d requests over %d endpoints, %d x 429\n", res.Applied, res.Applied, len(eps), total429)
	fmt.Printf("wall time %s (scaled %gx: %s real); theoretical minimum %s (%d requests at %d/min); ratio %.3f\n",
		wall.Round(time.Second), speed, realWall.Round(time.Millisecond), ideal, busiest, perMinute, wall.Seconds()/ideal.Seconds())
	// With fixed minute windows a full window's requests may go at once, so
	// the tightest bound is the start of the last window the busiest
	// endpoint needs: ceil(n/limit)-1 minutes.
	windowed := time.Duration((busiest+perMinute-1)/perMinute-1) * time.Minute
	if windowed > 0 {
		fmt.Printf("windowed minimum %s (the last of %d full minute windows opens then); ratio %.3f\n",
			windowed, (busiest+perMinute-1)/perMinute, wall.Seconds()/windowed.Seconds())
	}
	if total429 > 0 {
		t.Errorf("%d requests were refused with 429", total429)
	}
	if r := wall.Seconds() / ideal.Seconds(); r > 1.05 {
		t.Errorf("wall time %.3f x the theoretical minimum, want at most 1.05", r)
	}
}
