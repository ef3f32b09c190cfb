package reconcile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

func TestRecoverFindsCreatesThatTookEffect(t *testing.T) {
	current := &reconcile.Snapshot{
		Users: []reconcile.User{
			{ID: "u1", ThirdPartyID: "E1", Username: "ada@example.com"},
			{ID: "u2", Username: "bob@example.com"},
		},
		Teams:  []reconcile.Team{{ID: "g1", Name: "North", Level: "Team"}, {ID: "g2", Name: "Twin", Level: "Team"}, {ID: "g3", Name: "twin", Level: "Team"}},
		Queues: []reconcile.Queue{{ID: "q1", Name: "Onboarding"}},
	}
	in := []reconcile.Interrupted{
		{Entry: 1, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E1", User: &reconcile.User{Key: "E1", ThirdPartyID: "E1", Username: "ada.new@example.com"}}},
		{Entry: 2, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E2", User: &reconcile.User{Key: "E2", Username: "BOB@example.com"}}},
		{Entry: 3, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E3", User: &reconcile.User{Key: "E3", Username: "cy@example.com"}}},
		{Entry: 4, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindTeam, Key: "n", Team: &reconcile.Team{Name: "north", Level: "Team"}}},
		{Entry: 5, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindTeam, Key: "t", Team: &reconcile.Team{Name: "Twin", Level: "Team"}}},
		{Entry: 6, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindQueue, Key: "onboarding", Name: "onboarding"}},
		{Entry: 7, Op: reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindQueue, Key: "Retention", Name: "Retention"}},
	}
	found, missing := reconcile.Recover(in, current)
	got := map[int64]string{}
	for _, f := range found {
		got[f.Entry] = f.ID + " by " + f.How
	}
	want := map[int64]string{1: "u1 by third_party_id", 2: "u2 by username", 4: "g1 by name", 6: "q1 by name"}
	if len(got) != len(want) {
		t.Errorf("found %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("entry %d: %q, want %q", k, got[k], v)
		}
	}
	if len(missing) != 3 || missing[0].Entry != 3 || missing[1].Entry != 5 || missing[2].Entry != 7 {
		t.Errorf("missing = %+v, want entries 3, 5 and 7 (not found; ambiguous; not found)", missing)
	}
}

// memJournal records what Apply journals.
type memJournal struct {
	begun    []string
	outcomes map[int64]reconcile.Outcome
	failOn   string
}

func (j *memJournal) Begin(_ context.Context, op *reconcile.Op) (int64, error) {
	id := reconcile.OpID(op)
	if id == j.failOn {
		return 0, errors.New("disk full")
	}
	j.begun = append(j.begun, id)
	return int64(len(j.begun)), nil
}

func (j *memJournal) Finish(_ context.Context, entry int64, o reconcile.Outcome, _ string, _ error) error {
	j.outcomes[entry] = o
	return nil
}

func TestApplyJournalsEveryWrite(t *testing.T) {
	desired := &reconcile.Snapshot{
		Teams: []reconcile.Team{{Key: "t", Name: "Team", Level: "Team"}},
		Users: []reconcile.User{
			{Key: "E1", Username: "ada@example.com", Forename: "Ada", Surname: "L", Active: true, Roles: reconcile.NamesOf("agent"), Team: "t"},
			{Key: "E2", Username: "bob@example.com", Forename: "Bob", Surname: "B", Active: true, Roles: reconcile.NamesOf("agent"), Team: "t"},
		},
	}
	mem := memtarget.New()
	cur, _ := mem.List(context.Background())
	plan := reconcile.Diff(desired, cur, reconcile.NewOwnership(), reconcile.Policy{}, testNow)
	j := &memJournal{outcomes: map[int64]reconcile.Outcome{}}
	res := reconcile.Apply(context.Background(), plan, mem, reconcile.ApplyOptions{Journal: j})
	if res.Applied != 3 || len(j.begun) != 3 {
		t.Fatalf("applied %d, journalled %v", res.Applied, j.begun)
	}
	for e, o := range j.outcomes {
		if o != reconcile.OutcomeOK {
			t.Errorf("entry %d: %s", e, o)
		}
	}

	// A write the journal cannot record is not sent, and the apply stops.
	mem2 := memtarget.New()
	cur2, _ := mem2.List(context.Background())
	plan2 := reconcile.Diff(desired, cur2, reconcile.NewOwnership(), reconcile.Policy{}, testNow)
	j2 := &memJournal{outcomes: map[int64]reconcile.Outcome{}, failOn: "create user E1"}
	res2 := reconcile.Apply(context.Background(), plan2, mem2, reconcile.ApplyOptions{Journal: j2})
	if len(res2.Failed) != 1 || !errors.Is(res2.Failed[0], reconcile.ErrJournal) || res2.Skipped != 1 {
		t.Errorf("result %+v, want one failure (journal) and one skipped", res2)
	}
	if mem2.Writes != 1 {
		t.Errorf("%d writes, want only the team's", mem2.Writes)
	}
}

type uncertain struct{}

func (uncertain) Error() string   { return "connection reset" }
func (uncertain) Uncertain() bool { return true }

func TestOutcomeOf(t *testing.T) {
	for err, want := range map[error]reconcile.Outcome{
		nil:                      reconcile.OutcomeOK,
		errors.New("422"):        reconcile.OutcomeFailed,
		uncertain{}:              reconcile.OutcomeUnknown,
		context.Canceled:         reconcile.OutcomeUnknown,
		errors.Join(uncertain{}): reconcile.OutcomeUnknown,
		reconcile.ErrDependency:  reconcile.OutcomeFailed,
	} {
		if got := reconcile.OutcomeOf(err); got != want {
			t.Errorf("OutcomeOf(%v) = %s, want %s", err, got, want)
		}
	}
}
