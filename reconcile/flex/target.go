package flex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/reconcile"
)

var _ reconcile.Target = (*Client)(nil)

// Name is the target's name in plans and logs.
func (c *Client) Name() string { return "flex" }

// Capabilities: Flex users by username, active or deprovisioned; the owned
// worker attribute keys; Flex Teams only under teams: mirror; no queues; no reactivation (a
// re-provisioned user gets a new, empty worker). Creation and deactivation
// follow the provision and deprovision settings.
func (c *Client) Capabilities() reconcile.Capabilities {
	caps := reconcile.Capabilities{
		Platform:       "Twilio Flex",
		FlatTeams:      true,
		UserFields:     []reconcile.Field{reconcile.FieldUsername, reconcile.FieldActive},
		NoQueues:       true,
		NoReactivate:   true,
		AttributeBytes: MaxAttributeBytes,
		Username:       reconcile.Limit{Min: 1, Max: 256},
	}
	switch c.cfg.Attributes {
	case AttributesApply:
		caps.UserFields = append(caps.UserFields, reconcile.FieldAttributes)
	case AttributesPlan:
		caps.UserFields = append(caps.UserFields, reconcile.FieldAttributes)
		caps.AttributesOff = "attributes: plan"
	}
	if c.mirror() {
		caps.FlatTeams = false
		caps.UserFields = append(caps.UserFields, reconcile.FieldTeam)
		caps.GroupName = reconcile.Limit{Min: 1, Max: 100}
	}
	if c.cfg.Provision != ProvisionOn {
		caps.CreateOff = "provision: " + c.cfg.Provision
	}
	if c.cfg.Deprovision != DeprovisionEnforce {
		caps.DeactivateOff = "deprovision: " + c.cfg.Deprovision
	}
	return caps
}

// wireUser is a Flex user (§7).
type wireUser struct {
	FlexUserSID string  `json:"flex_user_sid"`
	WorkerSID   *string `json:"worker_sid"`
	Worker      *struct {
		WorkerSID string `json:"worker_sid"`
	} `json:"worker"`
	Username    string   `json:"username"`
	FullName    string   `json:"full_name"`
	Email       string   `json:"email"`
	Roles       []string `json:"roles"`
	Deactivated bool     `json:"deactivated"`
	FlexTeamSID string   `json:"flex_team_sid"`
	TeamSID     string   `json:"team_sid"`
}

func (u wireUser) workerSID() string {
	if u.WorkerSID != nil && *u.WorkerSID != "" {
		return *u.WorkerSID
	}
	if u.Worker != nil {
		return u.Worker.WorkerSID
	}
	return ""
}

// wireWorker is a worker as W2 and W3 return it.
type wireWorker struct {
	SID        string  `json:"sid"`
	Attributes *string `json:"attributes"`
}

// List discovers the instance, lists every Flex user (deprovisioned ones
// included) and fetches the worker of every active one: lists carry no
// attributes (§7), so each worker is one request.
func (c *Client) List(ctx context.Context) (*reconcile.Snapshot, error) {
	if err := c.discover(ctx); err != nil {
		return nil, err
	}
	q := url.Values{"PageSize": {strconv.Itoa(c.cfg.PageSize)}}
	var users []wireUser
	err := c.list(ctx, "list users", c.routes.ListUsers, c.url("list_users", c.routes.ListUsers, "", q), "users", func(raw json.RawMessage) error {
		var u wireUser
		if err := json.Unmarshal(raw, &u); err != nil {
			return fmt.Errorf("flex: list users: %w", err)
		}
		users = append(users, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	snap := &reconcile.Snapshot{Users: make([]reconcile.User, len(users)), Teams: []reconcile.Team{}, RawAttributes: map[string]string{}}
	workers := map[string]string{}
	// Lists carry no attributes: each active user's worker is fetched, up
	// to MaxInFlight at a time (the pacer still bounds the rate).
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	sem := make(chan struct{}, c.cfg.MaxInFlight)
	for i, wu := range users {
		u := &snap.Users[i]
		*u = reconcile.User{
			ID: wu.FlexUserSID, Username: wu.Username, Email: wu.Email, Forename: wu.FullName,
			Active: !wu.Deactivated, Roles: reconcile.NamesOf(slices.Clone(wu.Roles)...),
		}
		ws := wu.workerSID()
		if ws == "" || !u.Active {
			continue
		}
		workers[u.ID] = ws
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			raw, _, err := c.worker(ctx, ws)
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = fmt.Errorf("flex: worker of %s: %w", wu.Username, err)
				}
				errMu.Unlock()
				return
			}
			u.Attributes = c.owned(raw)
			errMu.Lock()
			snap.RawAttributes[u.ID] = raw
			errMu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if c.mirror() {
		teams, root, err := c.listTeams(ctx)
		if err != nil {
			return nil, err
		}
		snap.Teams = teams
		userTeams := map[string]string{}
		for i, wu := range users {
			if t := cmpOr(wu.FlexTeamSID, wu.TeamSID); t != "" && !wu.Deactivated {
				snap.Users[i].Team = t
				userTeams[wu.FlexUserSID] = t
			}
		}
		names := map[string]string{}
		for _, t := range teams {
			names[t.ID] = t.Name
		}
		c.mu.Lock()
		c.defaultTeam, c.userTeams, c.teamNames = root, userTeams, names
		c.mu.Unlock()
	}
	slices.SortFunc(snap.Users, func(a, b reconcile.User) int { return strings.Compare(a.ID, b.ID) })
	held := map[string]bool{}
	for _, wu := range users {
		if ws := wu.workerSID(); ws != "" {
			held[ws] = true
		}
	}
	orphans, err := c.orphanWorkers(ctx, held)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.workers, c.orphans = workers, orphans
	c.mu.Unlock()
	return snap, nil
}

// worker fetches a worker's attributes and ETag (W2).
func (c *Client) worker(ctx context.Context, sid string) (attrs, etag string, err error) {
	var w wireWorker
	h, err := c.getJSON(ctx, "fetch worker", c.routes.GetWorker, c.url("get_worker", c.routes.GetWorker, sid, nil), &w)
	if err != nil {
		return "", "", err
	}
	if w.Attributes != nil {
		attrs = *w.Attributes
	}
	return attrs, h.Get("ETag"), nil
}

// owned returns the owned keys of a worker's attributes; a value that is
// not a string is shown as its JSON. A document that is not a JSON object
// owns nothing (Diff reports it when it would write).
func (c *Client) owned(raw string) map[string]string {
	var doc map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &doc) != nil {
		return nil
	}
	var out map[string]string
	for _, k := range c.cfg.OwnedKeys {
		v, ok := doc[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = s
	}
	return out
}

// workerOf returns the worker SID of Flex user id: from the last List, else
// from U3.
func (c *Client) workerOf(ctx context.Context, id string) (string, error) {
	c.mu.Lock()
	ws, ok := c.workers[id]
	c.mu.Unlock()
	if ok {
		return ws, nil
	}
	var u wireUser
	if _, err := c.getJSON(ctx, "fetch user", c.routes.GetUser, c.url("get_user", c.routes.GetUser, id, nil), &u); err != nil {
		return "", err
	}
	if u.Deactivated || u.workerSID() == "" {
		return "", fmt.Errorf("flex: user %s (%s) has no worker: it is deprovisioned", id, u.Username)
	}
	return u.workerSID(), nil
}

// maxConflicts is how often a write refused by If-Match is read, merged and
// tried again before it is reported as a conflict.
const maxConflicts = 3

// writeAttributes merges set into worker ws's current attributes and writes
// them with If-Match (§8.3): on 412 it reads and merges again, at most
// maxConflicts times. Keys not in set are left exactly as they are.
func (c *Client) writeAttributes(ctx context.Context, ws string, set map[string]string) error {
	for k := range set {
		if !slices.Contains(c.cfg.OwnedKeys, k) || neverWritten(k) || slices.Contains(c.cfg.IdPOwnedKeys, k) {
			return fmt.Errorf("flex: worker %s: the key %q is not rostersync's to write (owned_keys): %w", ws, k, ErrUnsupported)
		}
	}
	for try := 1; ; try++ {
		raw, etag, err := c.worker(ctx, ws)
		if err != nil {
			return err
		}
		merged, err := reconcile.MergeAttributes(raw, set)
		if err != nil {
			return fmt.Errorf("flex: worker %s: %w; it is left as it is", ws, err)
		}
		if same, _ := reconcile.MergeAttributes(raw, nil); same == merged {
			return nil // already true: nothing is sent
		}
		if len(merged) > MaxAttributeBytes {
			return fmt.Errorf("flex: worker %s: the attributes would be %d bytes, over the limit of %d; nothing was sent", ws, len(merged), MaxAttributeBytes)
		}
		form := url.Values{"Attributes": {merged}}
		resp, err := c.do(ctx, request{op: "update worker", route: c.routes.UpdateWorker, url: c.url("update_worker", c.routes.UpdateWorker, ws, nil),
			body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded", ifMatch: etag})
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == 412 {
			if try >= maxConflicts {
				return fmt.Errorf("flex: worker %s: %w: %d writes refused by If-Match; nothing was overwritten, plan again", ws, ErrConflict, try)
			}
			c.log.Info("worker changed since it was read; reading it again", "worker", ws, "try", try)
			continue
		}
		if err != nil {
			return err
		}
		if etag == "" {
			// No ETag: the write was unconditional; read back to check the merge.
			if raw, _, err = c.worker(ctx, ws); err != nil {
				return err
			}
		} else {
			var w wireWorker
			if err := json.Unmarshal(resp.body, &w); err != nil || w.Attributes == nil {
				return fmt.Errorf("flex: worker %s: the update answered no attributes", ws)
			}
			raw = *w.Attributes
		}
		got := c.owned(raw)
		for _, k := range slices.Sorted(maps.Keys(set)) {
			if set[k] == reconcile.AttributeRemoved {
				if _, still := got[k]; still {
					return fmt.Errorf("flex: worker %s: %s reads back %q after removing it", ws, k, got[k])
				}
				continue
			}
			if set[k] != "" && got[k] != set[k] {
				return fmt.Errorf("flex: worker %s: %s reads back %q after writing %q", ws, k, got[k], set[k])
			}
		}
		return nil
	}
}

// UpdateUser deprovisions a leaver (U5, only under deprovision: enforce)
// and writes changed worker attributes. Nothing else of a Flex user is
// written: names, email and roles belong to the IdP.
func (c *Client) UpdateUser(ctx context.Context, id string, u reconcile.User, fields []reconcile.Field) error {
	set := map[string]string{}
	deprovision, move := false, false
	for _, f := range fields {
		if k, ok := f.Attribute(); ok {
			set[k] = u.Attributes[k]
			continue
		}
		switch {
		case f == reconcile.FieldActive && !u.Active:
			deprovision = true
		case f == reconcile.FieldTeam && c.mirror():
			move = true
		default:
			return fmt.Errorf("flex: user %s: %s cannot be written: %w", id, f, ErrUnsupported)
		}
	}
	if deprovision {
		return c.deprovision(ctx, id)
	}
	if move {
		if err := c.moveUser(ctx, id, u.Team, u.Username); err != nil {
			return err
		}
	}
	if len(set) == 0 {
		return nil
	}
	if c.cfg.Attributes != AttributesApply {
		return fmt.Errorf("flex: user %s: attributes is %s: %w", id, c.cfg.Attributes, ErrUnsupported)
	}
	ws, err := c.workerOf(ctx, id)
	if err != nil {
		return err
	}
	return c.writeAttributes(ctx, ws, set)
}

// deprovision deactivates Flex user id (U5): its worker and Insights user
// go; its Insights history stays. A user already gone counts as done.
func (c *Client) deprovision(ctx context.Context, id string) error {
	if c.cfg.Deprovision != DeprovisionEnforce {
		return fmt.Errorf("flex: user %s: deprovision is %s: %w", id, c.cfg.Deprovision, ErrUnsupported)
	}
	body, _ := json.Marshal(map[string]string{"flex_user_sid": id})
	_, err := c.do(ctx, request{op: "deprovision user", route: c.routes.Deprovision, url: c.url("deprovision", c.routes.Deprovision, "", nil), body: body, ctype: "application/json"})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err == nil {
		c.mu.Lock()
		delete(c.workers, id)
		c.mu.Unlock()
	}
	return err
}

// flexRoles are the roles Provision accepts; wfo.* are never sent.
var flexRoles = []string{"agent", "supervisor", "admin"}

// CreateUser provisions a joiner (U4, only under provision: on) with an
// empty worker, then writes the owned attributes through the worker.
func (c *Client) CreateUser(ctx context.Context, u reconcile.User) (string, error) {
	if c.cfg.Provision != ProvisionOn {
		return "", fmt.Errorf("flex: %s: provision is %s: %w", u.Username, c.cfg.Provision, ErrUnsupported)
	}
	var roles []string
	for _, r := range u.Roles.List() {
		if slices.Contains(flexRoles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		roles = []string{"agent"}
	}
	body, _ := json.Marshal(map[string]any{
		"username": u.Username, "email": u.Email, "full_name": strings.TrimSpace(u.Forename + " " + u.Surname),
		"roles": roles, "worker": map[string]any{},
	})
	resp, err := c.do(ctx, request{op: "provision user", route: c.routes.Provision, url: c.url("provision", c.routes.Provision, "", nil), body: body, ctype: "application/json"})
	if err != nil {
		return "", err
	}
	var wu wireUser
	if err := json.Unmarshal(resp.body, &wu); err != nil || wu.FlexUserSID == "" {
		return "", fmt.Errorf("flex: provision %s: the answer names no flex_user_sid", u.Username)
	}
	if len(u.Attributes) > 0 && c.cfg.Attributes == AttributesApply {
		set := map[string]string{}
		for k, v := range u.Attributes {
			if slices.Contains(c.cfg.OwnedKeys, k) {
				set[k] = v
			}
		}
		if ws := wu.workerSID(); ws != "" && len(set) > 0 {
			if err := c.writeAttributes(ctx, ws, set); err != nil {
				return wu.FlexUserSID, err
			}
		}
	}
	if c.mirror() && u.Team != "" {
		if err := c.moveUser(ctx, wu.FlexUserSID, u.Team, u.Username); err != nil {
			return wu.FlexUserSID, err
		}
	}
	return wu.FlexUserSID, nil
}

// AddQueueAgents: Flex has no work-queue templates here.
func (c *Client) AddQueueAgents(context.Context, string, []string) error {
	return fmt.Errorf("flex: queues: %w", ErrUnsupported)
}

// RemoveQueueAgents: see AddQueueAgents.
func (c *Client) RemoveQueueAgents(context.Context, string, []string) error {
	return fmt.Errorf("flex: queues: %w", ErrUnsupported)
}
