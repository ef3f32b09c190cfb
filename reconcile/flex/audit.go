package flex

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rostersync/rostersync/reconcile"
)

// DefaultInsightsRoles maps the directory's QA roles (the mapping's role
// machine names) to the Flex Insights role each should carry (§8.5);
// everyone else, agents included, should carry no wfo.* role.
var DefaultInsightsRoles = map[string]string{
	"quality_analyst": "wfo.quality_manager",
	"team_leader":     "wfo.team_leader",
}

// Ping checks the credentials and the account, instance and workspace
// (discovery, C1): what "rostersync check" tests.
func (c *Client) Ping(ctx context.Context) error { return c.discover(ctx) }

// BaseURL is the Flex host, for check's report.
func (c *Client) BaseURL() string { return c.flex.String() }

// orphanWorkers lists the workspace's workers (W1) and returns, sorted, the
// friendly names and SIDs of those no Flex user holds.
func (c *Client) orphanWorkers(ctx context.Context, held map[string]bool) ([]string, error) {
	q := url.Values{"PageSize": {strconv.Itoa(c.cfg.PageSize)}}
	var out []string
	err := c.list(ctx, "list workers", c.routes.ListWorkers, c.url("list_workers", c.routes.ListWorkers, "", q), "workers", func(raw json.RawMessage) error {
		var w struct {
			SID          string `json:"sid"`
			FriendlyName string `json:"friendly_name"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			return fmt.Errorf("flex: list workers: %w", err)
		}
		if !held[w.SID] {
			out = append(out, fmt.Sprintf("%q (%s)", w.FriendlyName, w.SID))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// Audit reports, read-only, what the plan does not change and an operator
// should look at: active Flex users no source knows, workers without a Flex
// user, and Insights roles that differ from what the directory's QA roles
// call for (the fix belongs in the IdP's claims: rostersync never writes
// roles). current must be what this client's last List returned.
func (c *Client) Audit(desired, current *reconcile.Snapshot, plan *reconcile.Plan) []string {
	if c.mirror() {
		c.refusePersonal(plan)
	}
	matched := map[string]string{} // platform id → desired key
	for _, m := range plan.Matches {
		matched[m.ID] = m.Key
	}
	byID := map[string]reconcile.User{}
	var notes []string
	for _, u := range current.Users {
		byID[u.ID] = u
		if _, ok := matched[u.ID]; !ok && u.Active {
			notes = append(notes, fmt.Sprintf("audit: Flex user %q (roles %s) is known to no source; rostersync leaves it alone: review it in Flex",
				u.Username, strings.Join(u.Roles.List(), ", ")))
		}
	}
	want := c.cfg.InsightsRoles
	if want == nil {
		want = DefaultInsightsRoles
	}
	users := slices.Clone(desired.Users)
	slices.SortFunc(users, func(a, b reconcile.User) int { return cmp.Compare(a.Key, b.Key) })
	for _, d := range users {
		m, ok := plan.MatchOf(d.Key)
		cur, found := byID[m.ID]
		if !ok || !found || !d.Active || !cur.Active {
			continue
		}
		exp := map[string]bool{}
		for _, r := range d.Roles.List() {
			if w, ok := want[strings.ToLower(r)]; ok {
				exp[w] = true
			}
		}
		got := map[string]bool{}
		for _, r := range cur.Roles.List() {
			if strings.HasPrefix(r, "wfo.") {
				got[r] = true
			}
		}
		if !maps.Equal(exp, got) {
			notes = append(notes, fmt.Sprintf("audit: %q has Insights roles [%s]; the directory's QA roles call for [%s]: fix the IdP's roles claim (rostersync never writes roles)",
				d.Username, strings.Join(slices.Sorted(maps.Keys(got)), ", "), strings.Join(slices.Sorted(maps.Keys(exp)), ", ")))
		}
	}
	notes = append(notes, valueWarnings(users)...)
	notes = append(notes, idWarnings(users)...)
	c.mu.Lock()
	orphans := slices.Clone(c.orphans)
	c.mu.Unlock()
	for _, o := range orphans {
		notes = append(notes, "audit: worker "+o+" has no Flex user (an orphan, no Insights agent); rostersync never adopts or deletes it")
	}
	return notes
}

// maxInsightsValue is the length over which Insights is assumed to
// truncate an agent attribute value on load (§8.3, inferred).
const maxInsightsValue = 128

// valueWarnings warns, once per key and value, about attribute values
// written as they are but which may not work as meant: a hyphen (TaskRouter
// expressions may fail to parse it) or more than 128 characters (Insights
// truncates them).
func valueWarnings(users []reconcile.User) []string {
	type kv struct{ k, v string }
	count := map[kv]int{}
	for _, u := range users {
		if !u.Active {
			continue
		}
		for k, v := range u.Attributes {
			if strings.Contains(v, "-") || utf8.RuneCountInString(v) > maxInsightsValue {
				count[kv{k, v}]++
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(count), func(a, b kv) int { return cmp.Or(cmp.Compare(a.k, b.k), cmp.Compare(a.v, b.v)) })
	var out []string
	for _, x := range keys {
		var why []string
		if strings.Contains(x.v, "-") {
			why = append(why, "has a hyphen, which TaskRouter expressions may fail to parse")
		}
		if n := utf8.RuneCountInString(x.v); n > maxInsightsValue {
			why = append(why, fmt.Sprintf("is %d characters, and Insights keeps %d", n, maxInsightsValue))
		}
		who := "1 person"
		if n := count[x]; n != 1 {
			who = fmt.Sprintf("%d people", n)
		}
		out = append(out, fmt.Sprintf("warning: %s %q (%s) %s; it is written as it is", x.k, x.v, who, strings.Join(why, " and ")))
	}
	return out
}

// idWarnings warns, once per key, when people get a department name
// without its id: Insights shows department_name only with department_id
// (§8.1).
func idWarnings(users []reconcile.User) []string {
	n := 0
	for _, u := range users {
		if u.Active && u.Attributes["department_name"] != "" && u.Attributes["department_id"] == "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return []string{fmt.Sprintf("warning: %d people get department_name without department_id, and Insights shows the name only with its id: map department_id (a stable directory id, not the name)", n)}
}
