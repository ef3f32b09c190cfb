package mapping_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/merge"
)

type memSource struct {
	name string
	recs []sources.Record
}

func (m *memSource) Name() string { return m.name }
func (m *memSource) Fetch(context.Context) (*sources.Snapshot, error) {
	return &sources.Snapshot{Source: m.name, Records: m.recs, Health: sources.Health{Complete: true, Count: len(m.recs)}}, nil
}

// TestMergeModel checks, over random organisations split at random across
// a directory, a WFM export and an HR export, that mapping the merge gives
// what mapping one source holding the same people already joined gives.
func TestMergeModel(t *testing.T) {
	spec := mapping.Spec{
		Vars:     []string{"ad", "wfm", "hr"},
		Computed: map[string]string{"username": `lowerAscii(record.mail)`},
		User: mapping.UserSpec{
			Username: "username", Email: "mail", Forename: "givenName", Surname: "sn", StartDate: "start_date",
			Active: &mapping.ActiveSpec{Attr: "status", Values: []string{"active"}},
		},
		Roles: mapping.RolesSpec{Attr: "qa_role", Values: map[string]string{"Agent": "agent", "Lead": "team_leader"}, Default: []string{"agent"}},
		Team:  mapping.TeamSpec{Attr: "team", Ancestors: []mapping.AncestorSpec{{Attr: "site", Level: "Site"}}},
		Queues: []mapping.QueueSpec{
			{Name: "Inbound", When: mapping.Condition{Expr: `has(record.skills) && "inbound" in record.skills.split(";")`}},
		},
	}
	rules, err := mapping.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg := merge.Config{
		Authority: "ad",
		Join:      map[string]string{"ad": "employeeID", "wfm": "employee_id", "hr": "emp_no"},
		Fields:    map[string][]string{"site": {"wfm.site", "hr.site"}, "team": {"wfm.team", "ad.department"}},
	}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 19))
		pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
		var ad, wfm, hr, joined []sources.Record
		n := 1 + rng.IntN(30)
		for i := range n {
			id := fmt.Sprintf("E%03d", i)
			first, last := pick("Ann", "Bob", "Cat", ""), pick("Khan", "Lee", "O'Neill")
			mail := fmt.Sprintf("%s.%s%d@Example.COM", first, last, i)
			dept := pick("Support", "Sales", "")
			status := pick("active", "active", "disabled")
			a := map[string][]string{"employeeID": {id}, "givenName": {first}, "sn": {last}, "mail": {mail}, "department": {dept}, "status": {status}}
			ad = append(ad, sources.Record{Key: "g-" + id, Origin: "ad:" + id, Attrs: a})
			j := map[string][]string{"employeeID": {id}, "givenName": {first}, "sn": {last}, "mail": {mail}, "department": {dept}, "status": {status}, "team": {dept}}
			var wSite, hSite string
			if rng.IntN(4) > 0 {
				team, site, role, skills := pick("North", "South", ""), pick("Leeds", "York", ""), pick("Agent", "Lead", ""), pick("inbound", "email;inbound", "email", "")
				wfm = append(wfm, sources.Record{Key: "w-" + id, Origin: "wfm:" + id, Attrs: map[string][]string{
					"employee_id": {id}, "team": {team}, "site": {site}, "qa_role": {role}, "skills": {skills}}})
				if team != "" {
					j["team"] = []string{team}
				}
				wSite = site
				j["qa_role"], j["skills"] = []string{role}, []string{skills}
			}
			if rng.IntN(3) > 0 {
				start, site := pick("2020-01-02", "2021-03-04", ""), pick("Leeds", "Glasgow", "")
				hr = append(hr, sources.Record{Key: "h-" + id, Origin: "hr:" + id, Attrs: map[string][]string{
					"emp_no": {id}, "start_date": {start}, "site": {site}}})
				hSite = site
				j["start_date"] = []string{start}
			}
			if wSite != "" {
				j["site"] = []string{wSite}
			} else {
				j["site"] = []string{hSite}
			}
			joined = append(joined, sources.Record{Key: "g-" + id, Origin: "joined:" + id, Attrs: j})
		}
		for _, rs := range [][]sources.Record{ad, wfm, hr} {
			rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		}
		m, err := merge.New("merged", cfg, []sources.Source{&memSource{"ad", ad}, &memSource{"wfm", wfm}, &memSource{"hr", hr}})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := m.Fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := rules.Map([]*sources.Snapshot{snap})
		want := rules.Map([]*sources.Snapshot{{Source: "joined", Records: joined, Health: sources.Health{Complete: true, Count: n}}})
		if len(want.Desired.Users) == 0 && len(want.Problems) == 0 {
			t.Fatalf("seed %d: the model maps nobody: the test proves nothing", seed)
		}
		ignore := cmp.FilterPath(func(p cmp.Path) bool {
			s := p.Last().String()
			return s == ".Origin" || s == ".Fields"
		}, cmp.Ignore())
		if d := cmp.Diff(want.Desired, got.Desired, ignore); d != "" {
			t.Fatalf("seed %d: merged desired state differs from the pre-joined one (-joined +merged):\n%s", seed, d)
		}
		if d := cmp.Diff(problemMessages(want.Problems), problemMessages(got.Problems)); d != "" {
			t.Fatalf("seed %d: problems differ (-joined +merged):\n%s", seed, d)
		}
		if len(got.Desired.Users) > 0 && got.Fields == nil {
			t.Fatalf("seed %d: the merged result has no provenance", seed)
		}
	}
}

func problemMessages(ps []mapping.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Key+": "+p.Message)
	}
	return out
}
