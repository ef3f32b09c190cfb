package flex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
)

// This file mirrors the directory's team tree into Flex Teams (teams:
// mirror, §12): the default team is the root; a team without a parent in
// Flex sits under it; teams are created parents first and deleted leaves
// first (the plan's Needs edges); agents join their level-1 team with T7
// and members of TeamOwnerRoles also become its owners (T9). Roles are
// not Flex's to hold, so ShapeDesired remembers who leads a team. Which teams
// rostersync created or adopted is the ledger's: nothing else is renamed,
// moved or deleted.

// teamDescription is the Description sent with every team: T4 needs one.
const teamDescription = "Mirrored from the directory by rostersync"

func (c *Client) mirror() bool { return c.cfg.Teams == TeamsMirror }

// wireTeam is a team (§7).
type wireTeam struct {
	SID         string  `json:"team_sid"`
	Name        string  `json:"friendly_name"`
	Description string  `json:"description"`
	Level       int     `json:"level"`
	Parent      *string `json:"parent_team_sid"`
}

// flexLevel is the Flex level of a mapping level, 0 when unmapped.
func (c *Client) flexLevel(level string) int {
	for k, n := range c.cfg.TeamLevels {
		if strings.EqualFold(k, level) {
			return n
		}
	}
	return 0
}

// levelName is the mapping level of a Flex level ("1" when none maps).
func (c *Client) levelName(n int) string {
	var names []string
	for k, v := range c.cfg.TeamLevels {
		if v == n {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return strconv.Itoa(n)
	}
	slices.Sort(names)
	return names[0]
}

// listTeams reads every team (T1). The default team (level 1, no parent,
// named default) is the root.
func (c *Client) listTeams(ctx context.Context) ([]reconcile.Team, string, error) {
	q := url.Values{"PageSize": {strconv.Itoa(c.cfg.PageSize)}}
	var ws []wireTeam
	err := c.list(ctx, "list teams", c.routes.ListTeams, c.url("list_teams", c.routes.ListTeams, "", q), "teams", func(raw json.RawMessage) error {
		var t wireTeam
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("flex: list teams: %w", err)
		}
		ws = append(ws, t)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	root := ""
	for _, t := range ws {
		if strings.EqualFold(t.Name, "default") && (t.Parent == nil || *t.Parent == "") {
			root = t.SID
			break
		}
	}
	if root == "" {
		return nil, "", errors.New("flex: list teams: no default team (named default, without parent) was found; teams: mirror needs it as the root")
	}
	out := make([]reconcile.Team, 0, len(ws))
	for _, t := range ws {
		rt := reconcile.Team{ID: t.SID, Name: t.Name, Level: c.levelName(t.Level), Active: true}
		if t.SID != root {
			rt.Parent = root
			if t.Parent != nil && *t.Parent != "" {
				rt.Parent = *t.Parent
			}
		}
		out = append(out, rt)
	}
	// The root first: Diff takes the first team without parent as the root.
	slices.SortStableFunc(out, func(a, b reconcile.Team) int {
		return boolInt(b.ID == root) - boolInt(a.ID == root)
	})
	return out, root, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// teamRates are Flex's per-second limits of the Teams writes (§4;
// creating a team is not stated and is paced as an update). Each route is
// paced on its own, within the host's pace (rate_per_second).
var teamRates = map[string]int{"create_team": 5, "update_team": 5, "delete_team": 5, "add_member": 20, "add_owner": 5, "remove_owner": 5}

// teamWrite sends a Teams write as a form (§2), at its route's pace, and
// returns the answer.
func (c *Client) teamWrite(ctx context.Context, op, name string, r Route, id string, form url.Values) ([]byte, error) {
	if err := c.waitRate(ctx, c.teamPace[name], teamRates[name]); err != nil {
		return nil, err
	}
	var body []byte
	ctype := ""
	if form != nil {
		body, ctype = []byte(form.Encode()), "application/x-www-form-urlencoded"
	}
	u := c.url(name, r, id, nil)
	resp, err := c.do(ctx, request{op: op, route: r, url: u, body: body, ctype: ctype})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

func (c *Client) parentSID(p string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p == c.defaultTeam {
		return ""
	}
	return p
}

// CreateTeam creates t (T3) under teams: mirror; t.Parent is a team SID,
// the default team meaning none.
func (c *Client) CreateTeam(ctx context.Context, t reconcile.Team) (string, error) {
	if !c.mirror() {
		return "", fmt.Errorf("flex: teams is %s: %w", c.cfg.Teams, ErrUnsupported)
	}
	level := c.flexLevel(t.Level)
	if level == 0 {
		return "", fmt.Errorf("flex: team %q: level %q has no Flex level; add it to team_levels (1, 2 or 3)", t.Name, t.Level)
	}
	form := url.Values{"FriendlyName": {t.Name}, "Description": {teamDescription}, "Level": {strconv.Itoa(level)}}
	if p := c.parentSID(t.Parent); p != "" {
		form.Set("ParentTeamSid", p)
	}
	body, err := c.teamWrite(ctx, "create team", "create_team", c.routes.CreateTeam, "", form)
	if err != nil {
		return "", err
	}
	var wt wireTeam
	if err := json.Unmarshal(body, &wt); err != nil || wt.SID == "" {
		return "", fmt.Errorf("flex: create team %q: the answer names no team_sid", t.Name)
	}
	return wt.SID, nil
}

// UpdateTeam renames or moves team id (T4, which needs the name, the
// description and the parent together), or deletes it when the plan
// deactivates it (T5; one already gone counts as done).
func (c *Client) UpdateTeam(ctx context.Context, id string, t reconcile.Team, fields []reconcile.Field) error {
	if !c.mirror() {
		return fmt.Errorf("flex: teams is %s: %w", c.cfg.Teams, ErrUnsupported)
	}
	if slices.Contains(fields, reconcile.FieldActive) && !t.Active {
		_, err := c.teamWrite(ctx, "delete team", "delete_team", c.routes.DeleteTeam, id, nil)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if slices.Contains(fields, reconcile.FieldActive) {
		return fmt.Errorf("flex: team %s: a deleted team cannot come back: %w", id, ErrUnsupported)
	}
	var cur wireTeam
	if _, err := c.getJSON(ctx, "fetch team", c.routes.GetTeam, c.url("get_team", c.routes.GetTeam, id, nil), &cur); err != nil {
		return err
	}
	form := url.Values{"FriendlyName": {t.Name}, "Description": {cmpOr(cur.Description, teamDescription)}, "ParentTeamSid": {c.parentSID(t.Parent)}}
	if !slices.Contains(fields, reconcile.FieldParent) {
		p := ""
		if cur.Parent != nil {
			p = *cur.Parent
		}
		form.Set("ParentTeamSid", p)
	}
	_, err := c.teamWrite(ctx, "update team", "update_team", c.routes.UpdateTeam, id, form)
	return err
}

// moveUser makes Flex user id a member of team (T7; "" is the default
// team) and, when the person holds a TeamOwnerRoles role, an owner of it
// (T9), dropping their ownership of the team they leave (T10) when that
// team is a mirrored one (its name is a desired team's): a team the
// directory does not describe keeps its owners.
func (c *Client) moveUser(ctx context.Context, id, team, username string) error {
	c.mu.Lock()
	owner := c.owners[strings.ToLower(username)]
	if team == "" {
		team = c.defaultTeam
	}
	prev := c.userTeams[id]
	def := c.defaultTeam
	c.mu.Unlock()
	if team == "" {
		return fmt.Errorf("flex: user %s: no team to move to", id)
	}
	form := url.Values{"FlexUserSid": {id}}
	if _, err := c.teamWrite(ctx, "add member", "add_member", c.routes.AddMember, team, form); err != nil {
		return err
	}
	c.mu.Lock()
	c.userTeams[id] = team
	c.mu.Unlock()
	if !owner {
		return nil
	}
	c.mu.Lock()
	mirrored := c.mirrored[strings.ToLower(c.teamNames[prev])]
	c.mu.Unlock()
	if prev != "" && prev != team && prev != def && mirrored {
		if err := c.waitRate(ctx, c.teamPace["remove_owner"], teamRates["remove_owner"]); err != nil {
			return err
		}
		u := strings.ReplaceAll(c.url("remove_owner", c.routes.RemoveOwner, prev, nil), "{member}", url.PathEscape(id))
		_, err := c.do(ctx, request{op: "remove owner", route: c.routes.RemoveOwner, url: u})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if team == def {
		return nil
	}
	_, err := c.teamWrite(ctx, "add owner", "add_owner", c.routes.AddOwner, team, form)
	return err
}

// teamName applies the name template to directory team t.
func (c *Client) teamName(t reconcile.Team, parent string) string {
	return strings.NewReplacer("{name}", t.Name, "{key}", t.Key, "{parent}", parent, "{level}", t.Level).Replace(c.cfg.TeamNameTemplate)
}

// shapeTeams names the desired teams by the template and remembers those
// whose name is a directory person's display name ("Forename Surname",
// "Surname Forename" or "Surname, Forename", case and spaces ignored), or
// repeats another's: the plan refuses them (Audit), because Flex asks that
// team names never carry personal names and keeps them unique.
func (c *Client) shapeTeams(out *reconcile.Snapshot) {
	persons := map[string]string{}
	owners := map[string]bool{}
	for _, u := range out.Users {
		if slices.ContainsFunc(u.Roles.List(), func(r string) bool { return slices.Contains(c.cfg.TeamOwnerRoles, r) }) {
			owners[strings.ToLower(u.Username)] = true
		}
		for _, n := range []string{u.Forename + " " + u.Surname, u.Surname + " " + u.Forename, u.Surname + ", " + u.Forename} {
			if n = strings.ToLower(strings.Join(strings.Fields(n), " ")); n != "" && n != "," {
				persons[n] = u.Username
			}
		}
	}
	names := map[string]string{}
	for _, t := range out.Teams {
		names[t.Key] = t.Name
	}
	personal := map[string]string{} // team key → why its name is refused
	seen := map[string]string{}     // lower-cased name → first key
	out.Teams = slices.Clone(out.Teams)
	for i := range out.Teams {
		t := &out.Teams[i]
		t.Name = strings.TrimSpace(c.teamName(*t, names[t.Parent]))
		low := strings.ToLower(strings.Join(strings.Fields(t.Name), " "))
		if who, ok := persons[low]; ok {
			personal[t.Key] = fmt.Sprintf("team name %q is the name of the person %s; Flex asks for no personal names in teams: change team_name_template (e.g. \"Team {key}\") or the team's name", t.Name, who)
		} else if k, dup := seen[low]; dup {
			personal[t.Key] = fmt.Sprintf("team name %q is also the name of team %q; Flex team names are unique in the instance: add {parent} or {key} to team_name_template", t.Name, k)
		}
		if _, dup := seen[low]; !dup {
			seen[low] = t.Key
		}
	}
	c.mu.Lock()
	c.personal, c.owners, c.mirrored = personal, owners, map[string]bool{}
	for low := range seen {
		c.mirrored[low] = true
	}
	c.mu.Unlock()
}

// refusePersonal marks every op that would give a team a person's name,
// or the name of another mirrored team, as not applied, with a plan problem, and lets what needs it wait.
func (c *Client) refusePersonal(plan *reconcile.Plan) {
	c.mu.Lock()
	personal := c.personal
	c.mu.Unlock()
	if len(personal) == 0 {
		return
	}
	for i := range plan.Ops {
		o := &plan.Ops[i]
		why, ok := personal[o.Key]
		if o.Kind != reconcile.KindTeam || !ok || o.Action == reconcile.ActionDeactivate || o.Team == nil {
			continue
		}
		o.Status = reconcile.StatusUnsupported
		o.Why.Unsupported = &reconcile.Unsupported{Platform: "Twilio Flex", Lacks: "naming a team after a person or reusing a team name", Setting: "naming a team after a person or reusing a team name is turned off (team_name_template)"}
		plan.Problems = append(plan.Problems, reconcile.Problem{Kind: reconcile.KindTeam, Key: o.Key, Message: why})
	}
	reconcile.Settle(plan.Ops)
}
