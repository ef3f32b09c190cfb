package agentiq

import (
	"cmp"
	"context"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

var (
	_ reconcile.Target  = (*Client)(nil)
	_ reconcile.Batcher = (*Client)(nil)
)

// queryTime is the timestamp format of query parameters (§2).
const queryTime = "2006-01-02T15:04:05Z"

// UserFields are the user fields Agent IQ holds and the import can write.
var UserFields = []reconcile.Field{
	reconcile.FieldForename, reconcile.FieldSurname, reconcile.FieldEmail,
	reconcile.FieldThirdPartyID, reconcile.FieldTeam,
}

// Capabilities tells reconcile.Diff what Agent IQ can hold and do: flat
// teams by name, no roles or queues, no username or start date, and no
// deactivation, reactivation or clearing of a field (§8).
func (c *Client) Capabilities() reconcile.Capabilities {
	return reconcile.Capabilities{
		Platform:     "Agent IQ",
		FlatTeams:    true,
		UserFields:   UserFields,
		NoQueues:     true,
		NoDeactivate: true,
		NoReactivate: true,
		NoClear:      true,
		BatchRows:    c.cfg.MaxRows,
	}
}

// Export makes one export request (X1) with the given filters.
func (c *Client) Export(ctx context.Context, q url.Values) ([]Agent, error) {
	body, err := c.do(ctx, call{route: c.routes.ExportAgents, query: q, op: "export agents"})
	if err != nil {
		return nil, err
	}
	as, err := decodeAgents(body)
	if err != nil {
		return nil, &APIError{Status: 200, Endpoint: c.routes.ExportAgents.Endpoint(), Op: "export agents", Message: err.Error()}
	}
	return as, nil
}

// Ping checks the key with an export of the last minute's updates (§3).
func (c *Client) Ping(ctx context.Context) error {
	since := c.cfg.Now().UTC().Add(-time.Minute).Format(queryTime)
	_, err := c.Export(ctx, url.Values{"updated_start_date": {since}})
	return err
}

// clockMargin is how far past the local now the export walk reaches, so
// that an agent the server stamped in the current second, or by a clock
// ahead of ours, is still inside a window (end_date is exclusive).
const clockMargin = 24 * time.Hour

// Agents reads every agent by walking the export in creation-time windows
// from Config.Epoch (§5.3), keeping for each id the record with the latest
// updated_at. They are returned by ascending id. Every request names both
// bounds; the last window ends at least a day past now.
func (c *Client) Agents(ctx context.Context) ([]Agent, error) {
	horizon := c.cfg.Now().UTC().Add(clockMargin)
	byID := map[int]Agent{}
	for start := c.cfg.Epoch; ; start = start.Add(c.cfg.Window) {
		end := start.Add(c.cfg.Window)
		last := end.After(horizon)
		q := url.Values{"start_date": {start.Format(queryTime)}, "end_date": {end.Format(queryTime)}}
		as, err := c.Export(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if old, ok := byID[a.ID]; !ok || a.UpdatedAt.After(old.UpdatedAt) {
				byID[a.ID] = a
			}
		}
		if last {
			break
		}
	}
	out := make([]Agent, 0, len(byID))
	for _, a := range byID {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Agent) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// List reads every agent as a reconcile user: ID the Agent IQ id, Key and
// ThirdPartyID the external_id, Username and Email the email, Team the team
// name (several sorted and joined with ", "), Active derived from
// deactivated_at and deleted_at, Roles the role names (read-only). Teams are
// the names in use, each with its name as ID.
func (c *Client) List(ctx context.Context) (*reconcile.Snapshot, error) {
	as, err := c.Agents(ctx)
	if err != nil {
		return nil, err
	}
	snap := &reconcile.Snapshot{Users: make([]reconcile.User, 0, len(as)), Teams: []reconcile.Team{}}
	teams := map[string]bool{}
	for _, a := range as {
		names := teamNames(a.Teams)
		for _, n := range names {
			teams[n] = true
		}
		roles := make([]string, 0, len(a.Roles))
		for _, r := range a.Roles {
			roles = append(roles, strings.ToLower(strings.TrimSpace(r)))
		}
		slices.Sort(roles)
		snap.Users = append(snap.Users, reconcile.User{
			ID:           strconv.Itoa(a.ID),
			Key:          a.ExternalID,
			ThirdPartyID: a.ExternalID,
			Username:     a.Email,
			Email:        a.Email,
			Forename:     a.FirstName,
			Surname:      a.LastName,
			Active:       a.Active(),
			Roles:        reconcile.NamesOf(roles...),
			Team:         strings.Join(names, ", "),
		})
	}
	for _, n := range slices.Sorted(maps.Keys(teams)) {
		snap.Teams = append(snap.Teams, reconcile.Team{ID: n, Name: n, Active: true})
	}
	return snap, nil
}

// teamNames trims, drops blanks, sorts and de-duplicates team names (§5.2:
// exact comparison after trimming).
func teamNames(ts []string) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateUser implements reconcile.Target; Agent IQ writes only in batches.
func (c *Client) CreateUser(context.Context, reconcile.User) (string, error) {
	return "", ErrUseApplyBatch
}

// UpdateUser implements reconcile.Target; Agent IQ writes only in batches.
func (c *Client) UpdateUser(context.Context, string, reconcile.User, []reconcile.Field) error {
	return ErrUseApplyBatch
}

// CreateTeam implements reconcile.Target; Agent IQ teams exist as soon as an
// agent names one.
func (c *Client) CreateTeam(context.Context, reconcile.Team) (string, error) {
	return "", ErrUseApplyBatch
}

// UpdateTeam implements reconcile.Target; Agent IQ has no team to update.
func (c *Client) UpdateTeam(context.Context, string, reconcile.Team, []reconcile.Field) error {
	return ErrUseApplyBatch
}

// AddQueueAgents implements reconcile.Target; Agent IQ has no work queues.
func (c *Client) AddQueueAgents(context.Context, string, []string) error { return ErrUseApplyBatch }

// RemoveQueueAgents implements reconcile.Target; Agent IQ has no work queues.
func (c *Client) RemoveQueueAgents(context.Context, string, []string) error { return ErrUseApplyBatch }
