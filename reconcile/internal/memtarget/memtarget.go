// Package memtarget is an in-memory reconcile.Target with the platform's
// core domain rules (deactivation strips roles, team and queues; reactivation
// restores nothing; agents sit only in agent-level groups). Tests and the
// fuzz test use it where going over HTTP would only slow them down.
package memtarget

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/reconcile"
)

// Shape is the platform Memory models: a team hierarchy, every user field,
// roles, work queues and every action, with Evaluagent's name limits (group
// names 3–255 characters, usernames 3–100), under no platform name.
var Shape = reconcile.Capabilities{
	GroupName: reconcile.Limit{Min: 3, Max: 255},
	Username:  reconcile.Limit{Min: 3, Max: 100},
}

// Memory holds the platform's state.
type Memory struct {
	// Caps is what Capabilities declares; New sets Shape.
	Caps       reconcile.Capabilities
	Users      []reconcile.User
	Teams      []reconcile.Team
	Queues     []reconcile.Queue
	AgentRole  string
	AgentLevel string
	Writes     int
	next       int
	// mu makes the methods safe to call at once, as Apply does for ops
	// on different endpoints.
	mu sync.Mutex
}

// New returns a Memory with a root group "Root" (id "g-root").
func New() *Memory {
	return &Memory{
		Teams:      []reconcile.Team{{ID: "g-root", Name: "Root", Level: "Business", Active: true}},
		AgentRole:  "agent",
		AgentLevel: "Team",
		Caps:       Shape,
	}
}

func (m *Memory) id(prefix string) string {
	m.next++
	return fmt.Sprintf("%s-%04d", prefix, m.next)
}

// Name implements reconcile.Target.
func (m *Memory) Name() string { return "memory" }

// Capabilities implements reconcile.Target.
func (m *Memory) Capabilities() reconcile.Capabilities { return m.Caps }

// List implements reconcile.Target, returning deep copies.
func (m *Memory) List(context.Context) (*reconcile.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &reconcile.Snapshot{Teams: slices.Clone(m.Teams)}
	for _, u := range m.Users {
		u.Queues = reconcile.Names{}
		s.Users = append(s.Users, u)
	}
	for _, q := range m.Queues {
		q.Agents = slices.Clone(q.Agents)
		s.Queues = append(s.Queues, q)
	}
	return s, nil
}

func (m *Memory) user(id string) *reconcile.User {
	for i := range m.Users {
		if m.Users[i].ID == id {
			return &m.Users[i]
		}
	}
	return nil
}

func (m *Memory) team(id string) *reconcile.Team {
	for i := range m.Teams {
		if m.Teams[i].ID == id {
			return &m.Teams[i]
		}
	}
	return nil
}

func (m *Memory) check(u *reconcile.User) error {
	if len(u.Username) < 3 {
		return fmt.Errorf("username %q: too short", u.Username)
	}
	for i := range m.Users {
		o := &m.Users[i]
		if o.ID != u.ID && strings.EqualFold(o.Username, u.Username) {
			return fmt.Errorf("username %q: already taken", u.Username)
		}
	}
	if u.Roles.Has(m.AgentRole) {
		t := m.team(u.Team)
		if t == nil || !t.Active || t.Level != m.AgentLevel {
			return fmt.Errorf("agent %q: team %q is not an active %s-level group", u.Username, u.Team, m.AgentLevel)
		}
	} else if u.Team != "" {
		return fmt.Errorf("user %q: only agents have a team", u.Username)
	}
	return nil
}

// CreateUser implements reconcile.Target.
func (m *Memory) CreateUser(_ context.Context, u reconcile.User) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u.ID = m.id("u")
	u.Key, u.Origin, u.Queues = "", "", reconcile.Names{}
	u.Active = true
	if err := m.check(&u); err != nil {
		return "", err
	}
	m.Users = append(m.Users, u)
	m.Writes++
	return u.ID, nil
}

// UpdateUser implements reconcile.Target with the platform's rules.
func (m *Memory) UpdateUser(_ context.Context, id string, u reconcile.User, fields []reconcile.Field) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.user(id)
	if cur == nil {
		return fmt.Errorf("user %s not found", id)
	}
	next := *cur
	next.Roles = cur.Roles
	reactivate := false
	for _, f := range fields {
		switch f {
		case reconcile.FieldForename:
			next.Forename = u.Forename
		case reconcile.FieldSurname:
			next.Surname = u.Surname
		case reconcile.FieldUsername:
			next.Username = u.Username
		case reconcile.FieldEmail:
			next.Email = u.Email
		case reconcile.FieldThirdPartyID:
			next.ThirdPartyID = u.ThirdPartyID
		case reconcile.FieldStartDate:
			next.StartDate = u.StartDate
		case reconcile.FieldRoles:
			next.Roles = u.Roles
			if !next.Roles.Has(m.AgentRole) {
				next.Team = ""
			}
		case reconcile.FieldTeam:
			next.Team = u.Team
		case reconcile.FieldActive:
			reactivate = u.Active && !cur.Active
			next.Active = u.Active
		default:
			return fmt.Errorf("field %q cannot be updated", f)
		}
	}
	if !next.Active {
		next.Roles, next.Team = reconcile.Names{}, ""
		for i := range m.Queues {
			m.Queues[i].Agents = slices.DeleteFunc(m.Queues[i].Agents, func(a string) bool { return a == id })
		}
	} else if reactivate {
		// Reactivation restores nothing that the request does not send.
		if !slices.Contains(fields, reconcile.FieldRoles) {
			next.Roles = reconcile.Names{}
		}
		if !slices.Contains(fields, reconcile.FieldTeam) {
			next.Team = ""
		}
	}
	if next.Active {
		if err := m.check(&next); err != nil {
			return err
		}
	}
	*cur = next
	m.Writes++
	return nil
}

// CreateTeam implements reconcile.Target.
func (m *Memory) CreateTeam(_ context.Context, t reconcile.Team) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.team(t.Parent)
	if p == nil || !p.Active {
		return "", fmt.Errorf("group %q: parent %q is not an active group", t.Name, t.Parent)
	}
	if p.Level == m.AgentLevel {
		return "", fmt.Errorf("group %q: a %s-level group has no children", t.Name, m.AgentLevel)
	}
	for _, o := range m.Teams {
		if o.Parent == t.Parent && strings.EqualFold(o.Name, t.Name) {
			return "", fmt.Errorf("group %q: name taken under its parent", t.Name)
		}
	}
	t.ID, t.Key, t.Origin, t.Active = m.id("g"), "", "", true
	m.Teams = append(m.Teams, t)
	m.Writes++
	return t.ID, nil
}

// UpdateTeam implements reconcile.Target.
func (m *Memory) UpdateTeam(_ context.Context, id string, t reconcile.Team, fields []reconcile.Field) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.team(id)
	if cur == nil {
		return fmt.Errorf("group %s not found", id)
	}
	next := *cur
	for _, f := range fields {
		switch f {
		case reconcile.FieldName:
			next.Name = t.Name
		case reconcile.FieldParent:
			if p := m.team(t.Parent); p == nil || !p.Active {
				return fmt.Errorf("group %q: parent %q is not an active group", cur.Name, t.Parent)
			}
			next.Parent = t.Parent
		case reconcile.FieldActive:
			next.Active = t.Active
		default:
			return fmt.Errorf("field %q cannot be updated", f)
		}
	}
	if !next.Active {
		for _, u := range m.Users {
			if u.Active && u.Team == id {
				return fmt.Errorf("group %q still has agents", cur.Name)
			}
		}
		for _, c := range m.Teams {
			if c.Active && c.Parent == id {
				return fmt.Errorf("group %q still has active children", cur.Name)
			}
		}
	}
	*cur = next
	m.Writes++
	return nil
}

func (m *Memory) queue(id string) *reconcile.Queue {
	for i := range m.Queues {
		if m.Queues[i].ID == id {
			return &m.Queues[i]
		}
	}
	return nil
}

// AddQueueAgents implements reconcile.Target.
func (m *Memory) AddQueueAgents(_ context.Context, queueID string, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addAgents(queueID, ids)
}

func (m *Memory) addAgents(queueID string, ids []string) error {
	q := m.queue(queueID)
	if q == nil {
		return fmt.Errorf("queue %s not found", queueID)
	}
	for _, id := range ids {
		u := m.user(id)
		if u == nil || !u.Active || !u.Roles.Has(m.AgentRole) {
			return fmt.Errorf("queue %q: %s is not an active agent", q.Name, id)
		}
	}
	for _, id := range ids {
		if !slices.Contains(q.Agents, id) {
			q.Agents = append(q.Agents, id)
		}
	}
	m.Writes++
	return nil
}

// RemoveQueueAgents implements reconcile.Target.
func (m *Memory) RemoveQueueAgents(_ context.Context, queueID string, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue(queueID)
	if q == nil {
		return fmt.Errorf("queue %s not found", queueID)
	}
	q.Agents = slices.DeleteFunc(q.Agents, func(a string) bool { return slices.Contains(ids, a) })
	m.Writes++
	return nil
}

// ReplaceQueueAgents implements reconcile.QueueReplacer.
func (m *Memory) ReplaceQueueAgents(_ context.Context, queueID string, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue(queueID)
	if q == nil {
		return fmt.Errorf("queue %s not found", queueID)
	}
	old := q.Agents
	q.Agents = nil
	if err := m.addAgents(queueID, ids); err != nil {
		q.Agents = old
		return err
	}
	return nil
}

// Ledger is an in-memory reconcile.Ledger.
type Ledger struct {
	Owned reconcile.Ownership
	mu    sync.Mutex
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{Owned: reconcile.NewOwnership()} }

// Own implements reconcile.Ledger.
func (l *Ledger) Own(_ context.Context, kind reconcile.Kind, key, id, _ string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch kind {
	case reconcile.KindUser:
		l.Owned.Users[key] = id
	case reconcile.KindTeam:
		l.Owned.Teams[key] = id
	}
	return nil
}
