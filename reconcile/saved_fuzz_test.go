package reconcile_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

func signedSample(t testing.TB) []byte {
	p := &reconcile.Plan{FormatVersion: reconcile.PlanFormatVersion, Target: "evaluagent",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Ops: []reconcile.Op{
			{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E1", ID: "u-1", Name: "ada@example.com",
				Status: reconcile.StatusHeld, Fields: []reconcile.Field{reconcile.FieldActive}, Reason: "no longer in source"},
			{Action: reconcile.ActionDeactivate, Kind: reconcile.KindTeam, Key: "t", ID: "g-1", Name: "Team",
				Status: reconcile.StatusWaiting, Needs: []string{"deactivate user E1"}},
		},
		TeamIDs: map[string]string{"t": "g-1"}, UserIDs: map[string]string{"E1": "u-1"}}
	b, err := reconcile.SignPlans([]*reconcile.Plan{p}, fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzSavedPlan feeds arbitrary files to saved-plan loading: it never
// panics; whatever it accepts re-signs to a file it accepts as the same
// plans; and a signed file with any one byte changed is either refused or
// decodes to exactly the plans that were signed (a change of layout only).
func FuzzSavedPlan(f *testing.F) {
	good := signedSample(f)
	f.Add(good, 0, byte(0))
	f.Add(bytes.Replace(good, []byte(`"status": "held"`), []byte(`"status": ""`), 1), 0, byte(0))
	f.Add([]byte(`{"format_version":1,"targets":[{"format_version":1,"target":"a","ops":[]}],"mac":"00"}`), 3, byte('x'))
	f.Add([]byte(`{"format_version":1,"mac":"zz"}`), 1, byte(1))
	f.Fuzz(func(t *testing.T, b []byte, pos int, xor byte) {
		if plans, err := reconcile.VerifyPlans(b, fuzzKey); err == nil {
			again, err := reconcile.SignPlans(plans, fuzzKey)
			if err != nil {
				t.Fatalf("re-sign an accepted plan: %v", err)
			}
			if _, err := reconcile.VerifyPlans(again, fuzzKey); err != nil {
				t.Fatalf("an accepted plan, re-signed, is refused: %v", err)
			}
		}
		if len(good) == 0 || xor == 0 {
			return
		}
		if pos < 0 {
			pos = -pos
		}
		edited := bytes.Clone(good)
		edited[pos%len(edited)] ^= xor
		plans, err := reconcile.VerifyPlans(edited, fuzzKey)
		if err != nil {
			return
		}
		orig, _ := reconcile.VerifyPlans(good, fuzzKey)
		x, _ := reconcile.EncodePlans(plans)
		y, _ := reconcile.EncodePlans(orig)
		if !bytes.Equal(x, y) {
			t.Fatalf("an edited file was accepted with different content:\n%s", edited)
		}
	})
}

func TestVerifyPlansRefusesOtherKeys(t *testing.T) {
	good := signedSample(t)
	if _, err := reconcile.VerifyPlans(good, fuzzKey); err != nil {
		t.Fatalf("the signed file is refused: %v", err)
	}
	if _, err := reconcile.VerifyPlans(good, []byte("another key, another state dir")); !errors.Is(err, reconcile.ErrPlanMAC) {
		t.Errorf("a file signed with another key: %v, want ErrPlanMAC", err)
	}
}
