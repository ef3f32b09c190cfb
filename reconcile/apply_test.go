package reconcile_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

// gated is a memtarget whose writes can fail by name, and whose group
// updates wait until a user create has started: proof that ops on
// different endpoints are sent side by side.
type gated struct {
	*memtarget.Memory
	fail        map[string]bool // team or user names whose create fails
	userStarted chan struct{}
	once        sync.Once
	mu          sync.Mutex
	sent        []string
}

func (g *gated) note(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sent = append(g.sent, s)
}

func (g *gated) CreateTeam(ctx context.Context, t reconcile.Team) (string, error) {
	g.note("create team " + t.Name)
	if g.fail[t.Name] {
		return "", errors.New("refused")
	}
	return g.Memory.CreateTeam(ctx, t)
}

func (g *gated) CreateUser(ctx context.Context, u reconcile.User) (string, error) {
	g.note("create user " + u.Username)
	g.once.Do(func() { close(g.userStarted) })
	return g.Memory.CreateUser(ctx, u)
}

func (g *gated) UpdateTeam(ctx context.Context, id string, t reconcile.Team, fields []reconcile.Field) error {
	select {
	case <-g.userStarted: // a user create is under way on its own endpoint
	case <-time.After(30 * time.Second):
		return errors.New("no user create was sent while this group update waited: the apply is sequential")
	}
	g.note("update team " + id)
	return g.Memory.UpdateTeam(ctx, id, t, fields)
}

func (g *gated) AddQueueAgents(ctx context.Context, q string, ids []string) error {
	g.note("add queue agents")
	return g.Memory.AddQueueAgents(ctx, q, ids)
}

// TestApplyWalksTheGraph: a failed group create skips, never sends, the
// user placed in it and the queue addition that needs that user; ops on
// other endpoints run side by side (the group rename waits for a user
// create to start, which a sequential apply would never do first).
func TestApplyWalksTheGraph(t *testing.T) {
	mem := memtarget.New()
	mem.Teams = append(mem.Teams, reconcile.Team{ID: "g-old", Name: "Old", Parent: "g-root", Level: "Team", Active: true})
	mem.Queues = []reconcile.Queue{{ID: "q-1", Name: "Inbound", Active: true}}
	current, _ := mem.List(context.Background())
	desired := &reconcile.Snapshot{
		Teams: []reconcile.Team{{Key: "old", Name: "Renamed", Level: "Team"}, {Key: "a", Name: "Team A", Level: "Team"}, {Key: "b", Name: "Team B", Level: "Team"}},
		Users: []reconcile.User{
			{Key: "E1", Username: "ada@example.com", Forename: "Ada", Surname: "T", Active: true, Roles: reconcile.NamesOf("agent"), Team: "a", Queues: reconcile.NamesOf("Inbound")},
			{Key: "E2", Username: "bob@example.com", Forename: "Bob", Surname: "T", Active: true, Roles: reconcile.NamesOf("agent"), Team: "b"},
		},
		Queues: []reconcile.Queue{{Name: "Inbound"}},
	}
	own := reconcile.NewOwnership()
	own.Teams["old"] = "g-old"
	plan := reconcile.Diff(desired, current, own, reconcile.Policy{}, testNow)
	g := &gated{Memory: mem, fail: map[string]bool{"Team A": true}, userStarted: make(chan struct{})}
	res := reconcile.Apply(context.Background(), plan, g, reconcile.ApplyOptions{})

	if len(res.Failed) != 1 || res.Failed[0].Op.Name != "Team A" {
		t.Fatalf("failed = %v, want only the create of Team A", res.Err())
	}
	skipped := map[string]string{}
	for _, s := range res.Skips {
		skipped[s.Op.Name] = s.Why
	}
	if len(skipped) != 2 || skipped["ada@example.com"] == "" || skipped["Inbound"] == "" || res.Skipped != 2 {
		t.Errorf("skipped = %v, want Ada's create and the Inbound addition, each with its reason", skipped)
	}
	if res.Applied != 3 {
		t.Errorf("applied %d, want Team B, Bob and the rename", res.Applied)
	}
	if slices.Contains(g.sent, "create user ada@example.com") || slices.Contains(g.sent, "add queue agents") {
		t.Errorf("an op whose prerequisite failed was sent: %v", g.sent)
	}
	if !slices.Contains(g.sent, "update team g-old") {
		t.Errorf("the rename was not sent: %v", g.sent)
	}
}

// stoppingJournal cancels the apply when asked to record a user create,
// as a stop that lands between one lane's last check and its journal
// entry would, and then refuses the entry for the ended context.
type stoppingJournal struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	next   int64
}

func (j *stoppingJournal) Begin(ctx context.Context, op *reconcile.Op) (int64, error) {
	if op.Kind == reconcile.KindUser {
		j.cancel()
		return 0, ctx.Err()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.next++
	return j.next, nil
}

func (j *stoppingJournal) Finish(context.Context, int64, reconcile.Outcome, string, error) error {
	return nil
}

// TestApplyStopIsNotAFailure: an op that a stop caught before it was sent
// is skipped with the rest, never reported as a failed operation.
func TestApplyStopIsNotAFailure(t *testing.T) {
	mem := memtarget.New()
	current, _ := mem.List(context.Background())
	desired := &reconcile.Snapshot{
		Teams: []reconcile.Team{{Key: "a", Name: "Team A", Level: "Team"}},
		Users: []reconcile.User{{Key: "E1", Username: "ada@example.com", Forename: "Ada", Surname: "T", Active: true, Roles: reconcile.NamesOf("agent"), Team: "a"}},
	}
	plan := reconcile.Diff(desired, current, reconcile.NewOwnership(), reconcile.Policy{}, testNow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := reconcile.Apply(ctx, plan, mem, reconcile.ApplyOptions{Journal: &stoppingJournal{cancel: cancel}})
	if len(res.Failed) != 0 {
		t.Fatalf("a stop was reported as a failure: %v", res.Err())
	}
	if res.Applied != 1 || res.Skipped != 1 {
		t.Errorf("applied %d, skipped %d; want the team applied and the user skipped by the stop", res.Applied, res.Skipped)
	}
	if len(mem.Users) != 0 {
		t.Errorf("the user was created after the stop: %v", mem.Users)
	}
}

// inFlight is a memtarget whose user creates wait for release, so a stop
// can be asked for while one is being sent.
type inFlight struct {
	*memtarget.Memory
	sending chan struct{}
	release chan struct{}
}

func (f *inFlight) CreateUser(ctx context.Context, u reconcile.User) (string, error) {
	f.sending <- struct{}{}
	<-f.release
	return f.Memory.CreateUser(ctx, u)
}

// TestApplyStopLetsTheWriteInFlightFinish: after Stop is closed the op in
// flight completes and is applied; nothing else is started.
func TestApplyStopLetsTheWriteInFlightFinish(t *testing.T) {
	mem := memtarget.New()
	current, _ := mem.List(context.Background())
	var users []reconcile.User
	for _, k := range []string{"E1", "E2", "E3"} {
		users = append(users, reconcile.User{Key: k, Username: k + "@example.com", Forename: "A", Surname: "B", Active: true, Roles: reconcile.NamesOf("agent"), Team: "a"})
	}
	desired := &reconcile.Snapshot{Teams: []reconcile.Team{{Key: "a", Name: "Team A", Level: "Team"}}, Users: users}
	plan := reconcile.Diff(desired, current, reconcile.NewOwnership(), reconcile.Policy{}, testNow)
	f := &inFlight{Memory: mem, sending: make(chan struct{}), release: make(chan struct{})}
	stop := make(chan struct{})
	done := make(chan *reconcile.Result)
	go func() { done <- reconcile.Apply(context.Background(), plan, f, reconcile.ApplyOptions{Stop: stop}) }()
	select {
	case <-f.sending: // the first user create is on the wire
	case res := <-done:
		t.Fatalf("the apply ended before any user create was sent: %+v", res)
	}
	close(stop)
	close(f.release)
	res := <-done
	if len(res.Failed) != 0 || res.Applied != 2 || res.Skipped != 2 {
		t.Fatalf("applied %d, failed %v, skipped %d; want the team and the user create in flight applied, the other two skipped", res.Applied, res.Err(), res.Skipped)
	}
	if len(mem.Users) != 1 {
		t.Errorf("%d users created, want the one in flight", len(mem.Users))
	}
}
