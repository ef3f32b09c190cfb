package reconcile

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestEachOpMatchesDecodePlan: reading a stored plan op by op gives the
// operations DecodePlan gives, and refuses what DecodePlan refuses.
func TestEachOpMatchesDecodePlan(t *testing.T) {
	p := &Plan{FormatVersion: PlanFormatVersion, Target: "evaluagent", Notes: []string{"a note"}, Ops: []Op{
		{Action: ActionCreate, Kind: KindUser, Key: "E1", Name: "a@example.com", Status: StatusReady,
			User: &User{Key: "E1", Username: "a@example.com", Roles: NamesOf("agent")}, Changes: []Change{{FieldUsername, "", "a@example.com"}}},
		{Action: ActionDeactivate, Kind: KindUser, Key: "E2", ID: "u2", Status: StatusHeld, Needs: []string{"x"}},
		{Action: ActionUpdate, Kind: KindQueue, Key: "Q", Add: []string{"E1"}, Remove: []string{"E3", "E4"}},
	}}
	p.Summary, p.Problems = Summary{Create: 1, Held: 1}, []Problem{{Kind: "mapping", Key: "E9", Message: "no team"}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := DecodePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []Op
	if err := EachOp(b, func(o *Op) { got = append(got, *o) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Ops, got); diff != "" || len(got) != 3 {
		t.Errorf("ops (-DecodePlan +EachOp):\n%s", diff)
	}

	var streamed []Op
	head, err := DecodePlanOps(iotest.HalfReader(bytes.NewReader(b)), func(o *Op) { streamed = append(streamed, *o) })
	if err != nil {
		t.Fatal(err)
	}
	whole := *want
	whole.Ops = nil
	if diff := cmp.Diff(&whole, head); diff != "" || head.Target != "evaluagent" || len(head.Problems) != 1 {
		t.Errorf("plan without its ops (-DecodePlan +DecodePlanOps):\n%s", diff)
	}
	if diff := cmp.Diff(want.Ops, streamed); diff != "" {
		t.Errorf("ops (-DecodePlan +DecodePlanOps):\n%s", diff)
	}

	other := strings.Replace(string(b), `"format_version": `, `"format_version": 9`, 1)
	for name, in := range map[string]string{"other version": other, "not a plan": `[1,2]`, "cut short": string(b[:len(b)/2])} {
		_, derr := DecodePlan([]byte(in))
		eerr := EachOp([]byte(in), func(*Op) {})
		if _, herr := DecodePlanOps(strings.NewReader(in), func(*Op) {}); herr == nil {
			t.Errorf("%s: DecodePlanOps accepted it", name)
		}
		if derr == nil || eerr == nil {
			t.Errorf("%s: DecodePlan error %v, EachOp error %v; want both to fail", name, derr, eerr)
		}
	}
}

// TestEncodeCompactIsMarshal: the op-by-op encoding is json.Marshal's, byte
// for byte, with operations, without, and with an empty list.
func TestEncodeCompactIsMarshal(t *testing.T) {
	p := &Plan{FormatVersion: PlanFormatVersion, Target: `a "quoted" "ops":null target`, Notes: []string{`"ops":null`}, Ops: []Op{
		{Action: ActionCreate, Kind: KindUser, Key: "E1", Name: "<a>&b", Status: StatusReady,
			User: &User{Key: "E1", Username: "a@example.com", Roles: NamesOf("agent")}, Changes: []Change{{FieldUsername, "", "a@example.com"}}},
		{Action: ActionDeactivate, Kind: KindUser, Key: "E2", ID: "u2", Status: StatusHeld, Needs: []string{"x"}},
	}}
	for name, ops := range map[string][]Op{"ops": p.Ops, "nil": nil, "empty": {}} {
		q := *p
		q.Ops = ops
		want, err := json.Marshal(&q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.EncodeCompact()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) || cap(got) != len(got) && len(ops) > 0 {
			t.Errorf("%s:\n got %s (cap %d)\nwant %s", name, got, cap(got), want)
		}
		var w bytes.Buffer
		if err := q.WriteCompact(&w); err != nil {
			t.Fatal(err)
		}
		if w.String() != string(want) {
			t.Errorf("%s: WriteCompact:\n got %s\nwant %s", name, w.Bytes(), want)
		}
		var read []Op
		if err := EachOpFrom(iotest.OneByteReader(&w), func(o *Op) { read = append(read, *o) }); err != nil {
			t.Errorf("%s: EachOpFrom: %v", name, err)
		}
		if diff := cmp.Diff(q.Ops, read, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: EachOpFrom (-written +read):\n%s", name, diff)
		}
	}
}
