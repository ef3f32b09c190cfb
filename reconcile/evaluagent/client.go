package evaluagent

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/rostersync/rostersync/reconcile"
)

var _ reconcile.Target = (*Client)(nil)
var _ reconcile.ListSizer = (*Client)(nil)

// lookups resolves role machine names and level names to ids. List loads it
// afresh at the start of every pass; a write that comes first loads it lazily.
type lookups struct {
	roles  []Role
	levels []Level
}

func (l *lookups) roleByID(id string) (Role, bool) {
	i := slices.IndexFunc(l.roles, func(r Role) bool { return r.ID == id })
	if i < 0 {
		return Role{}, false
	}
	return l.roles[i], true
}

func (l *lookups) roleID(name string) (string, error) {
	return idByName(l.roles, name, func(r Role) (string, string) { return r.Name, r.ID }, ErrUnknownRole)
}

func (l *lookups) levelID(name string) (string, error) {
	return idByName(l.levels, name, func(lv Level) (string, string) { return lv.Name, lv.ID }, ErrUnknownLevel)
}

// idByName returns the id of the item whose name (given by key with the id)
// matches name case-insensitively, or an error wrapping unknown that lists
// every name there is.
func idByName[T any](items []T, name string, key func(T) (name, id string), unknown error) (string, error) {
	names := make([]string, 0, len(items))
	for _, it := range items {
		n, id := key(it)
		if strings.EqualFold(n, name) {
			return id, nil
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return "", fmt.Errorf("%w %q: Evaluagent defines %s", unknown, name, strings.Join(names, ", "))
}

// Ping checks the credentials with GET /ping. It never touches /auth/token.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, call{route: c.routes.Ping, op: "ping", object: c.base.Host})
	return err
}

// Roles lists the roles and refreshes the cached lookup.
func (c *Client) Roles(ctx context.Context) ([]Role, error) {
	roles, err := listAs(ctx, c, call{route: c.routes.ListRoles, op: "list", object: "roles"}, decodeRole)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lookups = &lookups{roles: roles, levels: c.cachedLevels()}
	c.mu.Unlock()
	return slices.Clone(roles), nil
}

// Levels lists the levels of the group hierarchy and refreshes the cached
// lookup.
func (c *Client) Levels(ctx context.Context) ([]Level, error) {
	levels, err := listAs(ctx, c, call{route: c.routes.ListLevels, op: "list", object: "levels"}, decodeLevel)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lookups = &lookups{roles: c.cachedRoles(), levels: levels}
	c.mu.Unlock()
	return slices.Clone(levels), nil
}

// listAs lists the collection of cl and decodes every resource with decode;
// a resource that does not decode fails the whole list, named after cl.
func listAs[T any](ctx context.Context, c *Client, cl call, decode func(resource) (T, error)) ([]T, error) {
	rs, err := c.list(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(rs))
	for _, r := range rs {
		v, err := decode(r)
		if err != nil {
			return nil, fmt.Errorf("evaluagent: %s %s: %w", cl.op, cl.object, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// cachedRoles and cachedLevels must be called with c.mu held.
func (c *Client) cachedRoles() []Role {
	if c.lookups == nil {
		return nil
	}
	return c.lookups.roles
}

func (c *Client) cachedLevels() []Level {
	if c.lookups == nil {
		return nil
	}
	return c.lookups.levels
}

// refreshLookups loads roles and levels.
func (c *Client) refreshLookups(ctx context.Context) (*lookups, error) {
	roles, err := c.Roles(ctx)
	if err != nil {
		return nil, err
	}
	levels, err := c.Levels(ctx)
	if err != nil {
		return nil, err
	}
	return &lookups{roles: roles, levels: levels}, nil
}

// lookup returns the cached roles and levels, loading what is missing.
func (c *Client) lookup(ctx context.Context, needRoles, needLevels bool) (*lookups, error) {
	c.mu.Lock()
	l := c.lookups
	c.mu.Unlock()
	if l != nil && (!needRoles || l.roles != nil) && (!needLevels || l.levels != nil) {
		return l, nil
	}
	if needRoles && (l == nil || l.roles == nil) {
		if _, err := c.Roles(ctx); err != nil {
			return nil, err
		}
	}
	if needLevels && (l == nil || l.levels == nil) {
		if _, err := c.Levels(ctx); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookups, nil
}

// List reads the whole account: roles and levels (refreshing the cached
// lookups), users with role machine names and team group ids, groups with
// inactive ones, and work-queue templates with their agents. Users are sorted
// by username, teams by name, queues by name; a user's Queues holds the names
// of the templates the user is an agent of.
func (c *Client) List(ctx context.Context) (*reconcile.Snapshot, error) {
	l, err := c.refreshLookups(ctx)
	if err != nil {
		return nil, err
	}
	users, err := c.listUsers(ctx, l, nil)
	if err != nil {
		return nil, err
	}
	teams, err := c.listTeams(ctx)
	if err != nil {
		return nil, err
	}
	queues, err := c.listQueues(ctx)
	if err != nil {
		return nil, err
	}
	var byID *reconcile.IDIndex // made for the first agent
	var inQueues map[int32][]string
	for _, q := range queues {
		for _, id := range q.Agents {
			if byID == nil {
				byID, inQueues = reconcile.NewIDIndex(users), map[int32][]string{}
			}
			if i, ok := byID.Find(id); ok {
				inQueues[i] = append(inQueues[i], q.Name)
			} else {
				c.log.Warn("evaluagent: work-queue template lists an agent the user listing did not show",
					"queue", q.Name, "user_id", id)
			}
		}
	}
	for i, qs := range inQueues {
		users[i].Queues = reconcile.NamesOf(qs...)
	}
	return &reconcile.Snapshot{Users: users, Teams: teams, Queues: queues}, nil
}

// FindUsers lists the users matching filter[username] and/or filter[email]
// (case-insensitive on the server), inactive ones included: the way to find a
// user the main listing did not show after a create fails on uniqueness
// (§9.1). Empty arguments are not sent.
func (c *Client) FindUsers(ctx context.Context, username, email string) ([]reconcile.User, error) {
	l, err := c.lookup(ctx, true, false)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if username != "" {
		q.Set("filter[username]", username)
	}
	if email != "" {
		q.Set("filter[email]", email)
	}
	return c.listUsers(ctx, l, q)
}

func (c *Client) listUsers(ctx context.Context, l *lookups, q url.Values) ([]reconcile.User, error) {
	cl := call{route: c.routes.ListUsers, query: q, op: "list", object: "users"}
	var (
		users reconcile.Blocks[reconcile.User]
		e     userElem
		in    = newInterner(l)
	)
	users.Grow(int(c.sizeHint.Load()))
	item := func(dec *jsontext.Decoder) error {
		if err := decodeUserElem(dec, &e); err != nil {
			return err
		}
		start, err := in.date(e.StartDate)
		if err != nil {
			return fmt.Errorf("user %q: start_date: %w", e.ID, err)
		}
		roles, known, unknown := in.roles(e.RoleIDs)
		if !known {
			// A role set that cannot be named cannot be compared, and a roles update
			// built on it would drop the role.
			return fmt.Errorf("user %q holds role id %q, which %s did not list", e.Username, unknown, c.routes.ListRoles.Endpoint())
		}
		email := e.Username // one copy where the username is the email, as it often is
		if string(e.Email) != e.Username {
			email = string(e.Email)
		}
		team := ""
		if e.HasTeam {
			team = in.strs.OfBytes(e.Team)
		}
		users.Append(reconcile.User{
			ID:           e.ID,
			ThirdPartyID: e.ThirdPartyID,
			Username:     e.Username,
			Email:        email,
			Forename:     in.names.OfBytes(e.Forename),
			Surname:      in.names.OfBytes(e.Surname),
			StartDate:    start,
			Active:       e.Active,
			Roles:        roles,
			Team:         team,
		})
		return nil
	}
	mark := users.Len
	rewind := users.Truncate
	if err := c.streamList(ctx, cl, item, mark, rewind); err != nil {
		return nil, err
	}
	list := users.Slice()
	reconcile.SortUsers(list, func(a, b *reconcile.User) int {
		return byNameThenID(strings.ToLower(a.Username), a.ID, strings.ToLower(b.Username), b.ID)
	})
	return list, nil
}

// SizeHint reserves room in the next listings for about users users (the
// last pass's count), so that a listing of the usual size is not copied
// into one slice at its end.
func (c *Client) SizeHint(users int) {
	c.sizeHint.Store(int64(users + users/64)) // room for a little growth since
}

// interner shares the strings and role sets that many users of a listing hold alike, so that
// a million users keep one copy of each team id, start date and role set.
type interner struct {
	l        *lookups
	strs     reconcile.Shared           // team ids and start dates
	names    reconcile.Shared           // forenames and surnames, up to nameLimit
	dates    map[string]reconcile.Date  // start dates as listed → as compared, up to nameLimit
	roleSets map[string]reconcile.Names // by the role ids as listed, each followed by a 0 byte
}

func newInterner(l *lookups) *interner {
	return &interner{l: l, names: reconcile.Shared{Limit: nameLimit}, dates: map[string]reconcile.Date{}, roleSets: map[string]reconcile.Names{}}
}

// nameLimit bounds the names an interner shares: common forenames and
// surnames recur across a large workforce; past the limit a name is kept as
// read.
const nameLimit = 1 << 14

// date is a start date as listed (any form listedDate reads), as compared.
func (in *interner) date(raw []byte) (reconcile.Date, error) {
	if d, ok := in.dates[string(raw)]; ok {
		return d, nil
	}
	d, err := listedDate(string(raw))
	if err != nil {
		return 0, err
	}
	if len(in.dates) < nameLimit {
		in.dates[string(raw)] = d
	}
	return d, nil
}

// roles names a user's role ids, given as the listing's key (each id followed by a 0 byte): the
// distinct lower-case role names, shared with every user holding the same ids. It returns false
// and the id when an id is not a listed role.
func (in *interner) roles(key []byte) (reconcile.Names, bool, string) {
	if set, ok := in.roleSets[string(key)]; ok {
		return set, true, ""
	}
	set := make([]string, 0, bytes.Count(key, []byte{0}))
	for rest := key; len(rest) > 0; {
		id, after, _ := bytes.Cut(rest, []byte{0})
		rest = after
		role, ok := in.l.roleByID(string(id))
		if !ok {
			return reconcile.Names{}, false, string(id)
		}
		set = append(set, strings.ToLower(role.Name))
	}
	names := reconcile.NamesOf(set...)
	in.roleSets[string(key)] = names
	return names, true, ""
}

// byNameThenID orders by name, and by id among equal names.
func byNameThenID(aName, aID, bName, bID string) int {
	return cmp.Or(strings.Compare(aName, bName), strings.Compare(aID, bID))
}

func (c *Client) listTeams(ctx context.Context) ([]reconcile.Team, error) {
	cl := call{route: c.routes.ListGroups, query: url.Values{"show_inactive": {"true"}}, op: "list", object: "groups"}
	teams, err := listAs(ctx, c, cl, func(r resource) (reconcile.Team, error) {
		g, err := decodeGroup(r)
		return reconcile.Team{ID: g.ID, Name: g.Name, Parent: g.Parent, Level: g.Level, Active: g.Active}, err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(teams, func(a, b reconcile.Team) int { return byNameThenID(a.Name, a.ID, b.Name, b.ID) })
	return teams, nil
}

func (c *Client) listQueues(ctx context.Context) ([]reconcile.Queue, error) {
	ws, err := listAs(ctx, c, call{route: c.routes.ListQueues, op: "list", object: "work-queue templates"}, decodeQueue)
	if err != nil {
		return nil, err
	}
	queues := make([]reconcile.Queue, 0, len(ws))
	for _, q := range ws {
		agents, err := c.queueAgents(ctx, q)
		if err != nil {
			return nil, err
		}
		queues = append(queues, reconcile.Queue{ID: q.ID, Name: q.Name, Active: q.Active, Agents: agents})
	}
	slices.SortFunc(queues, func(a, b reconcile.Queue) int { return byNameThenID(a.Name, a.ID, b.Name, b.ID) })
	return queues, nil
}

func (c *Client) queueAgents(ctx context.Context, q wireQueue) ([]string, error) {
	obj := fmt.Sprintf("agents of work-queue template %q", q.Name)
	agents, err := listAs(ctx, c, call{route: c.routes.ListQueueAgents, id: q.ID, op: "list", object: obj}, decodeQueueAgent)
	if err != nil {
		return nil, err
	}
	slices.Sort(agents)
	return slices.Compact(agents), nil
}

// userObject names a user for errors: by username, with the id when known.
func userObject(id string, u reconcile.User) string { return objectName("user", u.Username, id) }

// teamObject names a group the same way, by name.
func teamObject(id string, t reconcile.Team) string { return objectName("group", t.Name, id) }

func objectName(kind, name, id string) string {
	switch {
	case name != "" && id != "":
		return fmt.Sprintf("%s %q (%s)", kind, name, id)
	case name != "":
		return fmt.Sprintf("%s %q", kind, name)
	default:
		return fmt.Sprintf("%s %s", kind, id)
	}
}

// roleRefs turns role machine names into ids and says whether the agent role
// is among them.
func (c *Client) roleRefs(l *lookups, names []string) ([]string, bool, error) {
	ids := make([]string, 0, len(names))
	agent := false
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		id, err := l.roleID(n)
		if err != nil {
			return nil, false, err
		}
		ids = append(ids, id)
		agent = agent || n == c.cfg.AgentRole
	}
	slices.Sort(ids)
	return slices.Compact(ids), agent, nil
}

// CreateUser creates u (§7.1) and returns its id. Roles are machine names;
// the team (a group id) is sent only when the roles include the agent role.
// A create is never retried on a 5xx or network error: re-list first.
func (c *Client) CreateUser(ctx context.Context, u reconcile.User) (string, error) {
	obj := userObject("", u)
	fail := func(err error) (string, error) { return "", fmt.Errorf("evaluagent: create %s: %w", obj, err) }
	l, err := c.lookup(ctx, true, false)
	if err != nil {
		return "", err
	}
	roleIDs, agent, err := c.roleRefs(l, u.Roles.List())
	if err != nil {
		return fail(err)
	}
	start := u.StartDate.String()
	at := attrs{"forename": u.Forename, "surname": u.Surname, "username": u.Username}
	if u.Email != "" {
		at["email"] = u.Email
	}
	if start != "" {
		at["start_date"] = start
	}
	if u.ThirdPartyID != "" {
		at["third_party_id"] = u.ThirdPartyID
	}
	if !u.Active {
		at["active"] = false
	}
	rels := map[string]any{"roles": toManyBody("roles", roleIDs)}
	if agent && u.Team != "" {
		rels["agent-team"] = toOneBody("groups", u.Team)
	}
	id, err := c.create(ctx, call{route: c.routes.CreateUser, body: resourceBody("users", "", at, rels), op: "create", object: obj})
	if err != nil {
		return "", err
	}
	c.log.Debug("evaluagent: created user", "username", u.Username, "id", id)
	return id, nil
}

// UpdateUser changes the named fields of user id in one PATCH carrying only
// those fields; an empty field is sent as null where the attribute is
// nullable (email, start_date, third_party_id, team).
//
// FieldActive with u.Active false sends the deactivation body alone (U5): the
// server discards roles and team anyway. FieldActive with u.Active true is a
// reactivation, which always carries u's roles and, for an agent, team, named
// or not: the server restores neither (§7.2, D7).
//
// A PATCH sets values, so it is retried on 5xx and network errors.
func (c *Client) UpdateUser(ctx context.Context, id string, u reconcile.User, fields []reconcile.Field) error {
	if len(fields) == 0 {
		return nil
	}
	obj := userObject(id, u)
	fail := func(err error) error { return fmt.Errorf("evaluagent: update %s: %w", obj, err) }
	set := map[reconcile.Field]bool{}
	for _, f := range fields {
		set[f] = true
	}
	at := attrs{}
	rels := map[string]any{}
	if set[reconcile.FieldActive] && !u.Active {
		if len(fields) > 1 {
			c.log.Debug("evaluagent: deactivation sends active alone", "user", obj, "fields", fields)
		}
		at["active"] = false
		return c.patchUser(ctx, id, obj, at, rels)
	}
	reactivate := set[reconcile.FieldActive] && u.Active
	if reactivate {
		at["active"] = true
		set[reconcile.FieldRoles] = true
	}
	for f := range set {
		switch f {
		case reconcile.FieldActive, reconcile.FieldRoles, reconcile.FieldTeam:
		case reconcile.FieldForename, reconcile.FieldSurname, reconcile.FieldUsername:
			at[string(f)] = map[reconcile.Field]string{
				reconcile.FieldForename: u.Forename, reconcile.FieldSurname: u.Surname, reconcile.FieldUsername: u.Username,
			}[f]
		case reconcile.FieldEmail:
			at["email"] = nullable(u.Email)
		case reconcile.FieldThirdPartyID:
			at["third_party_id"] = nullable(u.ThirdPartyID)
		case reconcile.FieldStartDate:
			at["start_date"] = nullable(u.StartDate.String())
		default:
			return fail(fmt.Errorf("field %q is not a user field", f))
		}
	}
	agent := false
	if set[reconcile.FieldRoles] {
		l, err := c.lookup(ctx, true, false)
		if err != nil {
			return err
		}
		var roleIDs []string
		roleIDs, agent, err = c.roleRefs(l, u.Roles.List())
		if err != nil {
			return fail(err)
		}
		rels["roles"] = toManyBody("roles", roleIDs)
	}
	switch {
	case set[reconcile.FieldTeam]:
		rels["agent-team"] = toOneBody("groups", u.Team)
	case reactivate && agent && u.Team != "":
		rels["agent-team"] = toOneBody("groups", u.Team)
	}
	return c.patchUser(ctx, id, obj, at, rels)
}

func (c *Client) patchUser(ctx context.Context, id, obj string, at, rels map[string]any) error {
	_, err := c.do(ctx, call{route: c.routes.UpdateUser, id: id, body: resourceBody("users", id, at, rels), op: "update", object: obj})
	return err
}

// CreateTeam creates group t (§7.3) under t.Parent (a group id) at the level
// named t.Level (Config.AgentLevel when empty) and returns its id. Like every
// create it is never retried on a 5xx or network error.
func (c *Client) CreateTeam(ctx context.Context, t reconcile.Team) (string, error) {
	obj := teamObject("", t)
	fail := func(err error) (string, error) { return "", fmt.Errorf("evaluagent: create %s: %w", obj, err) }
	l, err := c.lookup(ctx, false, true)
	if err != nil {
		return "", err
	}
	level := t.Level
	if level == "" {
		level = c.cfg.AgentLevel
	}
	levelID, err := l.levelID(level)
	if err != nil {
		return fail(err)
	}
	at := attrs{"name": t.Name}
	rels := map[string]any{"level": toOneBody("levels", levelID)}
	if t.Parent != "" {
		rels["parent"] = toOneBody("groups", t.Parent)
	}
	return c.create(ctx, call{route: c.routes.CreateGroup, body: resourceBody("groups", "", at, rels), op: "create", object: obj})
}

// create sends the create cl and returns the id the server gave the new
// object.
func (c *Client) create(ctx context.Context, cl call) (string, error) {
	body, err := c.do(ctx, cl)
	if err != nil {
		return "", err
	}
	r, err := decodeSingle(body)
	if err == nil && r.ID == "" {
		err = errors.New("the response carries no id")
	}
	if err != nil {
		return "", fmt.Errorf("evaluagent: %s %s: %w", cl.op, cl.object, err)
	}
	return string(r.ID), nil
}

// UpdateTeam changes the named fields of group id in one PATCH: name,
// parent (a move, through the parent relationship), active and level.
func (c *Client) UpdateTeam(ctx context.Context, id string, t reconcile.Team, fields []reconcile.Field) error {
	if len(fields) == 0 {
		return nil
	}
	obj := teamObject(id, t)
	fail := func(err error) error { return fmt.Errorf("evaluagent: update %s: %w", obj, err) }
	at := attrs{}
	rels := map[string]any{}
	for _, f := range fields {
		switch f {
		case reconcile.FieldName:
			at["name"] = t.Name
		case reconcile.FieldActive:
			at["active"] = t.Active
		case reconcile.FieldParent:
			rels["parent"] = toOneBody("groups", t.Parent)
		case reconcile.FieldLevel:
			l, err := c.lookup(ctx, false, true)
			if err != nil {
				return err
			}
			levelID, err := l.levelID(t.Level)
			if err != nil {
				return fail(err)
			}
			rels["level"] = toOneBody("levels", levelID)
		default:
			return fail(fmt.Errorf("field %q is not a group field", f))
		}
	}
	_, err := c.do(ctx, call{route: c.routes.UpdateGroup, id: id, body: resourceBody("groups", id, at, rels), op: "update", object: obj})
	return err
}

// AddQueueAgents adds users to a work-queue template's agents (W5); the
// others stay. Like every POST it is not retried on a 5xx or network error.
func (c *Client) AddQueueAgents(ctx context.Context, queueID string, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	return c.sendQueueAgents(ctx, c.routes.AddQueueAgents, "add agents to", queueID, userIDs)
}

// RemoveQueueAgents removes users from a work-queue template's agents (W6);
// the others stay. Removing given ids is idempotent, so it is retried.
func (c *Client) RemoveQueueAgents(ctx context.Context, queueID string, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	return c.sendQueueAgents(ctx, c.routes.RemoveQueueAgents, "remove agents from", queueID, userIDs)
}

// ReplaceQueueAgents sets a work-queue template's agents to exactly userIDs
// (W4). The reconciler uses it only when it takes fewer requests than adding
// and removing, and every agent it would drop is one the rules meant to drop.
func (c *Client) ReplaceQueueAgents(ctx context.Context, queueID string, userIDs []string) error {
	return c.sendQueueAgents(ctx, c.routes.ReplaceQueueAgents, "replace agents of", queueID, userIDs)
}

// sendQueueAgents sends the user ids, deduplicated and sorted, through one of
// the agent routes of work-queue template queueID.
func (c *Client) sendQueueAgents(ctx context.Context, route Route, op, queueID string, userIDs []string) error {
	ids := uniqueSorted(userIDs)
	_, err := c.do(ctx, call{route: route, id: queueID, body: toManyBody("users", ids), items: ids,
		op: op, object: fmt.Sprintf("work-queue template %s", queueID)})
	return err
}

// Capabilities is Evaluagent's shape: a team hierarchy with ids, every user
// field, roles, work queues and every action; group names of 3–255
// characters and usernames of 3–100 (spec §3).
func (c *Client) Capabilities() reconcile.Capabilities { return Capabilities }

// Capabilities is what every Evaluagent account holds and accepts.
var Capabilities = reconcile.Capabilities{
	Platform:  "Evaluagent",
	GroupName: reconcile.Limit{Min: 3, Max: 255},
	Username:  reconcile.Limit{Min: 3, Max: 100},
}
