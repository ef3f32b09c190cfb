// Package audit is the read-only crosswalk between what the sources say and
// what each platform holds: platform users no source knows, people inactive
// in the directory who are still active on a platform, role drift, and QA
// results (customer ratings, evaluations) credited in a period to people the
// directory does not know or holds as inactive. It writes nothing; Build is
// pure, and the results come from targets that implement
// reconcile.ResultsReader.
package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

// Person is a platform user as the audit names it.
type Person struct {
	ID     string   `json:"id"`
	Email  string   `json:"email,omitempty"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles,omitempty"`
	Active bool     `json:"active"`
	// Key is the source's key of the matched directory person, if any.
	Key string `json:"key,omitempty"`
	// Protected: the target never changes this user (a service or
	// privileged account, or excluded by the mapping).
	Protected bool `json:"protected,omitempty"`
}

// Drift is a matched person whose platform roles differ from the directory's.
type Drift struct {
	Person
	Directory []string `json:"directory_roles"`
}

// Directory statuses of a person with results.
const (
	StatusUnknown  = "unknown"
	StatusInactive = "inactive"
)

// Results are the QA results credited to a person the directory does not
// know or holds as inactive.
type Results struct {
	Person
	Directory string `json:"directory"` // StatusUnknown or StatusInactive
	reconcile.PersonResults
}

// Target is the audit of one target.
type Target struct {
	Target   string `json:"target"`
	Platform string `json:"platform"`
	// Incomplete says why the sources cannot be trusted to be whole this
	// time: "unknown" may then name people a source failed to return.
	Incomplete []string `json:"incomplete,omitempty"`
	// From and To bound the results read (YYYY-MM-DD, inclusive).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Unknown are active platform users no source knows.
	Unknown []Person `json:"unknown"`
	// Inactive are people inactive in the directory, active on the platform.
	Inactive []Person `json:"inactive_in_directory"`
	Drift    []Drift  `json:"role_drift"`
	// Results are nil when the platform reports none by person (ResultsRead false).
	Results     []Results `json:"results"`
	ResultsRead bool      `json:"results_read"`
	// flagged are the platform users whose results are read: no match, or
	// an inactive directory record.
	flagged []Results
}

// Report is the audit of every configured target.
type Report struct {
	Targets []Target `json:"targets"`
}

// Findings counts what the report found.
func (r *Report) Findings() int {
	n := 0
	for _, t := range r.Targets {
		n += len(t.Unknown) + len(t.Inactive) + len(t.Drift) + len(t.Results)
	}
	return n
}

func person(u reconcile.User, pol reconcile.Policy) Person {
	return Person{ID: u.ID, Email: u.Email, Name: strings.TrimSpace(u.Forename + " " + u.Surname), Roles: u.Roles.List(), Active: u.Active,
		Protected: pol.Protected != nil && pol.Protected(u)}
}

// Build audits one target from what its sources desire and what it lists.
// People are matched as plans match them (the ledger, then third-party id,
// username where the platform holds usernames, then email, case-insensitive),
// whether or not a plan could be made for them.
func Build(name string, desired, current *reconcile.Snapshot, own reconcile.Ownership, pol reconcile.Policy) Target {
	matched := match(desired, current, own, pol.Target)
	byKey := map[string]reconcile.User{}
	for _, u := range desired.Users {
		byKey[u.Key] = u
	}
	t := Target{Target: name, Platform: pol.Target.Platform, Unknown: []Person{}, Inactive: []Person{}, Drift: []Drift{},
		Incomplete: desired.Incomplete}
	for _, cu := range current.Users {
		p := person(cu, pol)
		key, ok := matched[cu.ID]
		if !ok {
			if cu.Active {
				t.Unknown = append(t.Unknown, p)
			}
			t.flagged = append(t.flagged, Results{Person: p, Directory: StatusUnknown})
			continue
		}
		p.Key = key
		want := byKey[key]
		if !want.Active {
			if cu.Active {
				t.Inactive = append(t.Inactive, p)
			}
			t.flagged = append(t.flagged, Results{Person: p, Directory: StatusInactive})
			continue
		}
		if cu.Roles.Len() > 0 && want.Roles.Len() > 0 && !slices.Equal(norm(cu.Roles.List()), norm(want.Roles.List())) {
			t.Drift = append(t.Drift, Drift{Person: p, Directory: norm(want.Roles.List())})
		}
	}
	for _, s := range [][]Person{t.Unknown, t.Inactive} {
		slices.SortFunc(s, byPerson)
	}
	slices.SortFunc(t.Drift, func(a, b Drift) int { return byPerson(a.Person, b.Person) })
	slices.SortFunc(t.flagged, func(a, b Results) int { return byPerson(a.Person, b.Person) })
	return t
}

// match pairs platform users with desired users: platform id → desired key.
func match(desired, current *reconcile.Snapshot, own reconcile.Ownership, caps reconcile.Capabilities) map[string]string {
	out := map[string]string{}
	byID := map[string]bool{}
	byTPID, byUsername, byEmail := map[string]string{}, map[string]string{}, map[string]string{}
	for _, u := range current.Users {
		byID[u.ID] = true
		if u.ThirdPartyID != "" {
			byTPID[u.ThirdPartyID] = u.ID
		}
		if u.Username != "" {
			byUsername[strings.ToLower(u.Username)] = u.ID
		}
		if u.Email != "" {
			byEmail[strings.ToLower(u.Email)] = u.ID
		}
	}
	owner := map[string]string{} // platform id → owning key
	for k, id := range own.AllUsers() {
		owner[id] = k
	}
	holdsUsername := caps.UserFields == nil || slices.Contains(caps.UserFields, reconcile.FieldUsername)
	users := slices.Clone(desired.Users)
	slices.SortFunc(users, func(a, b reconcile.User) int { return cmp.Compare(a.Key, b.Key) })
	for _, w := range users {
		free := func(id string) bool {
			if id == "" {
				return false
			}
			if _, taken := out[id]; taken {
				return false
			}
			k, owned := owner[id]
			return !owned || k == w.Key
		}
		var candidates []string
		if id, ok := own.UserID(w.Key); ok && byID[id] {
			candidates = append(candidates, id)
		}
		if w.ThirdPartyID != "" {
			candidates = append(candidates, byTPID[w.ThirdPartyID])
		}
		if holdsUsername && w.Username != "" {
			candidates = append(candidates, byUsername[strings.ToLower(w.Username)])
		}
		if w.Email != "" {
			candidates = append(candidates, byEmail[strings.ToLower(w.Email)])
		}
		for _, id := range candidates {
			if free(id) {
				out[id] = w.Key
				break
			}
		}
	}
	return out
}

func byPerson(a, b Person) int {
	return cmp.Or(cmp.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
}

func norm(rs []string) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, strings.ToLower(strings.TrimSpace(r)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ReadResults reads, from a target that reports results by person, the
// results from..to of every flagged person (unknown to the directory or
// inactive there) and keeps those with any. A target without
// reconcile.ResultsReader is left as it is (ResultsRead false).
func (t *Target) ReadResults(ctx context.Context, tg reconcile.Target, from, to time.Time) error {
	rr, ok := tg.(reconcile.ResultsReader)
	if !ok {
		return nil
	}
	t.ResultsRead = true
	t.From, t.To = from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly)
	t.Results = []Results{}
	ids := make([]string, len(t.flagged))
	for i, f := range t.flagged {
		ids[i] = f.ID
	}
	res, err := rr.ResultsOf(ctx, ids, from, to)
	if err != nil {
		return fmt.Errorf("audit %s: QA results of %d people: %w", t.Target, len(ids), err)
	}
	for _, f := range t.flagged {
		if r := res[f.ID]; r.Count > 0 {
			f.PersonResults = r
			t.Results = append(t.Results, f)
		}
	}
	return nil
}
