package reconcile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

var capsNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func flat(c reconcile.Capabilities) reconcile.Capabilities {
	c.Platform, c.FlatTeams = "Test", true
	c.UserFields = []reconcile.Field{reconcile.FieldForename, reconcile.FieldSurname, reconcile.FieldEmail, reconcile.FieldActive}
	return c
}

func person(key, forename, surname string, active bool) reconcile.User {
	return reconcile.User{Key: key, Email: key + "@x.example", Username: key + "@x.example", Forename: forename, Surname: surname, Active: active}
}

func TestNoCreatePlansTheCreateAsUnsupportedNamingTheSetting(t *testing.T) {
	caps := flat(reconcile.Capabilities{NoCreate: true, Settings: map[string]string{"user creation": "creates are off in the settings"}})
	p := reconcile.Diff(&reconcile.Snapshot{Users: []reconcile.User{person("ann", "Ann", "Lee", true)}}, &reconcile.Snapshot{},
		reconcile.NewOwnership(), reconcile.Policy{Target: caps}, capsNow)
	if len(p.Ops) != 1 || p.Ops[0].Status != reconcile.StatusUnsupported || p.Ops[0].Why.Unsupported.Setting != "creates are off in the settings" {
		t.Fatalf("ops: %+v", p.Ops)
	}
	if len(p.ReadyOps()) != 0 {
		t.Error("an unsupported create is ready to apply")
	}
}

func TestOneNameComparesNamesJoined(t *testing.T) {
	cur := &reconcile.Snapshot{Users: []reconcile.User{{ID: "1", Email: "mary@x.example", Username: "mary@x.example", Forename: "Mary", Surname: "Ann Smith", Active: true}}}
	own := reconcile.NewOwnership()
	own.Users["mary"] = "1"
	for _, tc := range []struct {
		oneName           bool
		forename, surname string
		changes           int
	}{
		{true, "Mary Ann", "Smith", 0},
		{false, "Mary Ann", "Smith", 2},
		{true, "Mary Ann", "Smyth", 2},
	} {
		p := reconcile.Diff(&reconcile.Snapshot{Users: []reconcile.User{person("mary", tc.forename, tc.surname, true)}}, cur, own,
			reconcile.Policy{Target: flat(reconcile.Capabilities{OneName: tc.oneName})}, capsNow)
		n := 0
		for _, op := range p.ReadyOps() {
			n += len(op.Changes)
		}
		if n != tc.changes {
			t.Errorf("OneName %v, %q %q against \"Mary\" \"Ann Smith\": %d changes, want %d", tc.oneName, tc.forename, tc.surname, n, tc.changes)
		}
	}
}

func TestQueuesOutliveDeactivation(t *testing.T) {
	cur := &reconcile.Snapshot{
		Users:  []reconcile.User{{ID: "1", Email: "ann@x.example", Username: "ann@x.example", Forename: "Ann", Surname: "Lee", Active: true, Roles: reconcile.NamesOf("agent"), Queues: reconcile.NamesOf("Sales")}},
		Queues: []reconcile.Queue{{ID: "q1", Name: "Sales", Active: true, Agents: []string{"1"}}},
	}
	own := reconcile.NewOwnership()
	own.Users["ann"] = "1"
	desired := &reconcile.Snapshot{Users: []reconcile.User{person("ann", "Ann", "Lee", false)}, Queues: []reconcile.Queue{{Name: "Sales"}}}
	for _, keep := range []bool{false, true} {
		p := reconcile.Diff(desired, cur, own, reconcile.Policy{Target: flat(reconcile.Capabilities{QueuesOutliveDeactivation: keep})}, capsNow)
		removals := 0
		for _, op := range p.ReadyOps() {
			removals += len(op.Remove)
		}
		if want := map[bool]int{false: 1, true: 0}[keep]; removals != want {
			t.Errorf("QueuesOutliveDeactivation %v: %d queue removals for a leaver, want %d", keep, removals, want)
		}
	}
}

func TestNoWritePlansTheFieldApartAndTheRestGoesAhead(t *testing.T) {
	caps := reconcile.Capabilities{Platform: "Test", FlatTeams: true, NoWrite: []reconcile.Field{reconcile.FieldRoles},
		UserFields: []reconcile.Field{reconcile.FieldForename, reconcile.FieldSurname, reconcile.FieldEmail, reconcile.FieldActive, reconcile.FieldRoles},
		Settings:   map[string]string{"writing": "roles are report in the settings"}}
	cur := &reconcile.Snapshot{
		Users:  []reconcile.User{{ID: "1", Email: "ann@x.example", Username: "ann@x.example", Forename: "Ann", Surname: "Lee", Roles: reconcile.NamesOf("supervisor"), Team: "T"}},
		Queues: []reconcile.Queue{{ID: "q1", Name: "Q", Active: true, Agents: []string{}}},
	}
	own := reconcile.NewOwnership()
	own.Users["ann"] = "1"
	want := person("ann", "Ann", "Lee", true)
	want.Roles, want.Queues, want.Team = reconcile.NamesOf("attendant"), reconcile.NamesOf("Q"), "t"
	teams := []reconcile.Team{{Key: "t", Name: "T", Level: "Team", Active: true}}
	p := reconcile.Diff(&reconcile.Snapshot{Users: []reconcile.User{want}, Teams: teams, Queues: []reconcile.Queue{{Name: "Q"}}}, cur, own,
		reconcile.Policy{Target: caps, AgentRole: "attendant"}, capsNow)
	var reactivate, roles, queue *reconcile.Op
	for i := range p.Ops {
		o := &p.Ops[i]
		switch {
		case o.Kind == reconcile.KindQueue:
			queue = o
		case len(o.Fields) == 1 && o.Fields[0] == reconcile.FieldRoles:
			roles = o
		case o.Kind == reconcile.KindUser:
			reactivate = o
		}
	}
	if reactivate == nil || !reactivate.Ready() || len(reactivate.Fields) != 1 || reactivate.Fields[0] != reconcile.FieldActive {
		t.Fatalf("the reactivation without the role: %+v\nops %+v\nproblems %+v", reactivate, p.Ops, p.Problems)
	}
	if roles == nil || roles.Status != reconcile.StatusUnsupported || roles.Why.Unsupported.Setting != "roles are report in the settings" ||
		roles.Changes[0].Old != "supervisor" || roles.Changes[0].New != "attendant" {
		t.Fatalf("the role change, not applied, naming the setting: %+v", roles)
	}
	// The addition waits for the reactivation, not for the role change that
	// is never sent.
	if queue == nil || !queue.Ready() || len(queue.Needs) != 1 {
		t.Fatalf("the queue addition: %+v", queue)
	}
}

func TestCreateQueuesCreatesTheQueueBeforeItsMembers(t *testing.T) {
	cur := &reconcile.Snapshot{Users: []reconcile.User{{ID: "1", Email: "ann@x.example", Username: "ann@x.example", Forename: "Ann", Surname: "Lee", Active: true}}}
	own := reconcile.NewOwnership()
	own.Users["ann"] = "1"
	want := person("ann", "Ann", "Lee", true)
	want.Queues = reconcile.NamesOf("New")
	desired := &reconcile.Snapshot{Users: []reconcile.User{want}, Queues: []reconcile.Queue{{Name: "New"}}}
	for _, create := range []bool{false, true} {
		p := reconcile.Diff(desired, cur, own, reconcile.Policy{Target: flat(reconcile.Capabilities{CreateQueues: create})}, capsNow)
		if !create {
			if len(p.Ops) != 0 || len(p.Problems) != 1 {
				t.Errorf("without CreateQueues: ops %+v, problems %+v; want one problem", p.Ops, p.Problems)
			}
			continue
		}
		if len(p.Ops) != 2 || p.Ops[0].Action != reconcile.ActionCreate || p.Ops[0].Kind != reconcile.KindQueue ||
			len(p.Ops[1].Add) != 1 || len(p.Ops[1].Needs) != 1 || p.Ops[1].Needs[0] != reconcile.OpID(&p.Ops[0]) {
			t.Fatalf("with CreateQueues: %+v", p.Ops)
		}
		if got := p.Requests["create queue"]; got != 1 {
			t.Errorf("requests %v, want one create queue", p.Requests)
		}
		// A queue of that name appearing before a saved plan is applied
		// makes it stale.
		now := &reconcile.Snapshot{Users: cur.Users, Queues: []reconcile.Queue{{ID: "q9", Name: "new"}}}
		if err := reconcile.Verify(p, now); err == nil || !strings.Contains(err.Error(), `queue "New" now exists`) {
			t.Errorf("Verify = %v, want the queue named as existing", err)
		}
		if err := reconcile.Verify(p, cur); err != nil {
			t.Errorf("Verify of an unchanged platform: %v", err)
		}
	}
}
