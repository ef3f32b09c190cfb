// Package targettest is the contract suite every reconcile.Target passes,
// run against the target's client over its simulator (after dex's storage
// conformance tests): the target declares its shape; what Diff plans,
// Apply carries out, and planning again finds nothing to do; an update
// writes only the fields it names; queue changes touch nobody else; lists
// are complete across pages. A new target calls Run from its own tests.
package targettest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

// Harness opens the target under test.
type Harness struct {
	// Open returns the target's client over a fresh simulator holding its
	// default seed, stopped when the test ends.
	Open func(t *testing.T) reconcile.Target
	// Policy is how the suite plans for the target (its agent level, for
	// one); Run sets its Target to the target's Capabilities.
	Policy reconcile.Policy
	// TeamLevel is the level of the teams the suite's people sit in, and
	// Role a role every one of them has; both exist on a fresh platform.
	TeamLevel, Role string
	// PageSize is how many users one list request returns on the
	// simulator Open starts (or one write batch carries): the suite
	// writes more than two pages' worth.
	PageSize int
	// Attribute, for a target that holds attributes rather than names
	// (reconcile.FieldAttributes without FieldForename, as Flex), is an
	// attribute key it owns: the update contract changes it in place of a
	// forename.
	Attribute string
}

// now is the suite's clock for Diff.
var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Run runs every contract against h.
func Run(t *testing.T, h Harness) {
	t.Run("DeclaresItsShape", func(t *testing.T) {
		caps := h.Open(t).Capabilities()
		if strings.TrimSpace(caps.Platform) == "" {
			t.Error("Capabilities().Platform is empty: name the platform, plans' reasons use it")
		}
		if _, ok := h.Open(t).(reconcile.QueueCreator); caps.CreateQueues && !ok {
			t.Error("Capabilities().CreateQueues is set but the target is no reconcile.QueueCreator")
		}
	})
	t.Run("ConvergesAndListsEveryPage", func(t *testing.T) { converges(t, h) })
	t.Run("UpdateWritesOnlyNamedFields", func(t *testing.T) { updateOnlyNamed(t, h) })
	t.Run("QueueChangesTouchNobodyElse", func(t *testing.T) { queuesTouchNobodyElse(t, h) })
	t.Run("CreatesTheQueuesItDeclares", func(t *testing.T) { createsQueues(t, h) })
}

// createsQueues: a target that declares CreateQueues creates a queue the
// rules name and lacks, with its members, in one apply, and planning again
// finds nothing to do.
func createsQueues(t *testing.T, h Harness) {
	e := open(t, h)
	if e.pol.Target.NoQueues || !e.pol.Target.CreateQueues {
		t.Skip("the target does not create work queues")
	}
	const name = "Contract Queue"
	desired := roster(h, 3)
	for i := range desired.Users[:2] {
		desired.Users[i].Queues = reconcile.NamesOf(name)
	}
	desired.Queues = []reconcile.Queue{{Name: name}}
	e.apply(desired)
	var members []string
	found := false
	for _, q := range e.list().Queues {
		if q.Name == name {
			found, members = true, q.Agents
		}
	}
	if !found {
		t.Fatalf("queue %q was not created", name)
	}
	byID := map[string]string{}
	for _, u := range e.list().Users {
		byID[u.ID] = suiteKey(u)
	}
	var keys []string
	for _, id := range members {
		keys = append(keys, byID[id])
	}
	slices.Sort(keys)
	if d := cmp.Diff([]string{"CT000", "CT001"}, keys); d != "" {
		t.Errorf("the created queue's members (-want +got):\n%s", d)
	}
	if ops := e.plan(desired).ReadyOps(); len(ops) > 0 {
		t.Errorf("plan, apply, plan again: %d operation(s) left, first %s %s %s", len(ops), ops[0].Action, ops[0].Kind, ops[0].Name)
	}
}

// env is one target with what the suite has applied to it.
type env struct {
	t      *testing.T
	target reconcile.Target
	pol    reconcile.Policy
	led    *memtarget.Ledger
}

func open(t *testing.T, h Harness) *env {
	tg := h.Open(t)
	pol := h.Policy
	pol.Target = tg.Capabilities()
	return &env{t: t, target: tg, pol: pol, led: memtarget.NewLedger()}
}

func (e *env) list() *reconcile.Snapshot {
	e.t.Helper()
	s, err := e.target.List(context.Background())
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	return s
}

// plan diffs desired against what the target lists now.
func (e *env) plan(desired *reconcile.Snapshot) *reconcile.Plan {
	e.t.Helper()
	p := reconcile.Diff(desired, e.list(), e.led.Owned, e.pol, now)
	if len(p.Problems) > 0 {
		e.t.Fatalf("plan problems: %v", p.Problems)
	}
	return p
}

// apply plans desired and applies the plan, failing on any failed op.
func (e *env) apply(desired *reconcile.Snapshot) *reconcile.Plan {
	e.t.Helper()
	p := e.plan(desired)
	res := reconcile.Apply(context.Background(), p, e.target, reconcile.ApplyOptions{Ledger: e.led})
	if err := res.Err(); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return p
}

// roster is n people in two teams, valid on every platform.
func roster(h Harness, n int) *reconcile.Snapshot {
	s := &reconcile.Snapshot{Teams: []reconcile.Team{
		{Key: "ct-a", Name: "Contract Team A", Level: h.TeamLevel, Active: true},
		{Key: "ct-b", Name: "Contract Team B", Level: h.TeamLevel, Active: true},
	}}
	for i := range n {
		key := fmt.Sprintf("CT%03d", i)
		s.Users = append(s.Users, reconcile.User{
			Key: key, ThirdPartyID: key, Username: fmt.Sprintf("ct%03d@example.com", i), Email: fmt.Sprintf("ct%03d@example.com", i),
			Forename: "Person", Surname: fmt.Sprintf("Number %d", i), Active: true, Roles: reconcile.NamesOf(h.Role),
			Team: []string{"ct-a", "ct-b"}[i%2],
		})
	}
	return s
}

// ours returns the listed users the suite made, by suite key.
func ours(s *reconcile.Snapshot) map[string]reconcile.User {
	out := map[string]reconcile.User{}
	for _, u := range s.Users {
		if k := suiteKey(u); strings.HasPrefix(k, "CT") {
			out[k] = u
		}
	}
	return out
}

// suiteKey is the key the suite gave a listed user: its third-party id, or
// on a platform that holds none, the local part of its email.
func suiteKey(u reconcile.User) string {
	if u.ThirdPartyID != "" {
		return u.ThirdPartyID
	}
	if local, ok := strings.CutSuffix(strings.ToLower(u.Email), "@example.com"); ok {
		return strings.ToUpper(local)
	}
	return ""
}

func converges(t *testing.T, h Harness) {
	e := open(t, h)
	n := 2*max(h.PageSize, 1) + 1
	desired := roster(h, n)
	p := e.apply(desired)
	if len(p.ReadyOps()) == 0 {
		t.Fatal("the first plan does nothing: the suite tests nothing")
	}
	if got := len(ours(e.list())); got != n {
		t.Errorf("after creating %d users over more than two pages, List returns %d of them", n, got)
	}
	again := e.plan(desired)
	if ops := again.ReadyOps(); len(ops) > 0 {
		t.Errorf("plan, apply, plan again: %d operation(s) left, first %s %s %s (%v)", len(ops), ops[0].Action, ops[0].Kind, ops[0].Name, ops[0].Changes)
	}
}

func updateOnlyNamed(t *testing.T, h Harness) {
	e := open(t, h)
	desired := roster(h, 3)
	e.apply(desired)
	before := e.list()
	byTPID := ours(before)
	if len(byTPID) != 3 {
		t.Fatalf("List returns %d of the 3 users created", len(byTPID))
	}

	// Through the plan: one changed attribute is one change of one user.
	field := reconcile.FieldForename
	set := func(u *reconcile.User, v string) {
		if h.Attribute == "" {
			u.Forename = v
			return
		}
		u.Attributes = map[string]string{h.Attribute: v}
	}
	if h.Attribute != "" {
		field = reconcile.AttributeField(h.Attribute)
	}
	set(&desired.Users[1], "Renamed")
	p := e.apply(desired)
	ops := p.ReadyOps()
	if len(ops) != 1 || len(ops[0].Changes) != 1 || ops[0].Changes[0].Field != field {
		t.Fatalf("one changed %s planned as %d op(s): %v", field, len(ops), ops)
	}
	after := e.list()
	want := ours(before)
	u := want["CT001"]
	set(&u, "Renamed")
	want["CT001"] = u
	if d := cmp.Diff(want, ours(after)); d != "" {
		t.Errorf("after an update of one forename, the users differ (-want +got):\n%s", d)
	}

	// Directly: fields not named are not written, even when u differs.
	if _, batch := e.target.(reconcile.Batcher); batch {
		return // a batching target is written only through ApplyBatch
	}
	target := ours(after)["CT002"]
	changed := target
	changed.Forename, changed.Surname, changed.Email = "Direct", "Not Written", "not-written@example.com"
	if h.Attribute != "" {
		changed.Attributes = map[string]string{h.Attribute: "Direct"}
		for _, k := range []string{"manager", "location", "team_name"} {
			if k != h.Attribute {
				changed.Attributes[k] = "Not Written"
			}
		}
	}
	if err := e.target.UpdateUser(context.Background(), target.ID, changed, []reconcile.Field{field}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	want = ours(after)
	set(&target, "Direct")
	want["CT002"] = target
	if d := cmp.Diff(want, ours(e.list())); d != "" {
		t.Errorf("UpdateUser naming only %s wrote more (-want +got):\n%s", field, d)
	}
}

func queuesTouchNobodyElse(t *testing.T, h Harness) {
	e := open(t, h)
	if e.pol.Target.NoQueues {
		t.Skip("the platform has no work queues")
	}
	current := e.list()
	if len(current.Queues) < 2 {
		t.Skipf("a fresh platform has %d work queue(s); the contract needs two", len(current.Queues))
	}
	q, other := current.Queues[0].Name, current.Queues[1].Name
	desired := roster(h, 4)
	for i := range desired.Users {
		desired.Users[i].Queues = reconcile.NamesOf(q)
	}
	desired.Users[3].Queues = reconcile.NamesOf(other)
	desired.Queues = []reconcile.Queue{{Name: q}, {Name: other}}
	e.apply(desired)
	before := e.list()

	desired.Users[0].Queues = reconcile.Names{}
	e.apply(desired)
	after := e.list()

	ids := map[string]string{}
	for _, u := range after.Users {
		ids[u.ID] = suiteKey(u)
	}
	agents := func(s *reconcile.Snapshot, name string) []string {
		for _, qq := range s.Queues {
			if qq.Name == name {
				out := slices.Clone(qq.Agents)
				slices.Sort(out)
				return out
			}
		}
		t.Fatalf("queue %q is gone", name)
		return nil
	}
	wantQ := slices.DeleteFunc(agents(before, q), func(id string) bool { return ids[id] == "CT000" })
	if d := cmp.Diff(wantQ, agents(after, q)); d != "" {
		t.Errorf("removing one agent from %q changed its other members (-want +got):\n%s", q, d)
	}
	if d := cmp.Diff(agents(before, other), agents(after, other)); d != "" {
		t.Errorf("a change to %q changed %q (-before +after):\n%s", q, other, d)
	}
	wantUsers := ours(before)
	left := wantUsers["CT000"]
	left.Queues = reconcile.Names{}
	wantUsers["CT000"] = left
	if d := cmp.Diff(wantUsers, ours(after)); d != "" {
		t.Errorf("a queue change changed users beyond the one who left the queue (-want +got):\n%s", d)
	}
}
