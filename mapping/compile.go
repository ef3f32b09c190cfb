package mapping

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
)

// SpecError is one problem with a Spec, naming the key it concerns.
type SpecError struct {
	// Path is the key path below mapping:, as "team.ancestors[1].level".
	Path string
	Msg  string
}

func (e *SpecError) Error() string { return e.Path + ": " + e.Msg }

// DefaultDateLayout is the start date layout used when none is configured,
// and the layout of every start date Map produces.
const DefaultDateLayout = "2006-01-02"

// DefaultTeamLevel is the level of a person's own team when team.level is
// not set.
const DefaultTeamLevel = "Team"

var machineName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Rules are a compiled Spec, ready to map records. They are immutable and
// safe for concurrent use.
type Rules struct {
	user UserSpec

	layouts []string
	active  *condition // nil: every in-scope person is active

	scope []condition

	exclUsers    map[string]bool
	exclPatterns []*regexp.Regexp
	exclRoles    map[string]bool
	exclGroups   map[string]bool

	roleAttr    string
	roleSep     string
	roleValues  map[string]string // lower-cased source value → machine name
	passthrough bool
	roleGroups  map[string][]string // lower-cased group name or key → machine names
	roleDefault []string

	teamMode    teamMode
	teamAttr    string
	teamKeyAttr string
	teamPattern *regexp.Regexp
	teamTable   map[string]string // lower group name or key → team name
	teamLevel   string
	ancestors   []AncestorSpec
	ouLevels    []string

	queues []queueRule

	exprVars []string       // source variables expressions may use
	computed []computedRule // in name order
}

type computedRule struct {
	name string
	e    *expr
}

type teamMode int

const (
	teamNone teamMode = iota
	teamFromAttr
	teamFromGroup
	teamFromOU
	teamFromTable
)

type queueRule struct {
	name  string
	when  condition
	whole bool
}

// condition is a compiled Condition.
type condition struct {
	path  string // "scope[1]", "queues[0].when"
	attr  string
	in    map[string]bool
	notIn map[string]bool
	group string
	role  string
	e     *expr // an expr condition
}

// Compile checks spec and returns the Rules it describes, or every problem
// found, each a *SpecError, joined.
func Compile(spec Spec) (*Rules, error) {
	c := &compiler{vars: spec.Vars}
	r := &Rules{user: trimUser(spec.User)}
	for _, v := range spec.Vars {
		if identifier.MatchString(v) && !slices.Contains(reservedVars, v) {
			r.exprVars = append(r.exprVars, v)
		}
	}
	for _, name := range sortedKeys(spec.Computed) {
		path := fmt.Sprintf("computed[%q]", name)
		n := strings.TrimSpace(name)
		switch {
		case n == "":
			c.add(path, "give the attribute a name")
		case strings.Contains(n, ".") || strings.HasPrefix(n, "_"):
			c.add(path, "%q: a computed attribute's name has no dot and does not start with _", name)
		}
		if e := c.compileExpr(c.celEnv(path), path, spec.Computed[name], cel.StringType); e != nil {
			r.computed = append(r.computed, computedRule{name: n, e: e})
		}
	}

	u := r.user
	c.required("user.username", u.Username)
	c.required("user.forename", u.Forename)
	c.required("user.surname", u.Surname)
	for _, name := range slices.Sorted(maps.Keys(u.Attributes)) {
		if strings.TrimSpace(name) == "" || strings.TrimSpace(u.Attributes[name]) == "" {
			c.add("user.attributes."+name, "%q: give a platform attribute name and the source attribute it is read from", name)
		}
	}
	r.layouts = u.StartDateLayouts
	if len(r.layouts) == 0 {
		r.layouts = []string{DefaultDateLayout}
	}
	for i, l := range u.StartDateLayouts {
		if !holdsDate(l) {
			c.add(fmt.Sprintf("user.start_date_layouts[%d]", i), "%q is not a Go time layout with a year, month and day (write 2 January 2006 as in \"2006-01-02\")", l)
		}
	}
	if a := u.Active; a != nil {
		if strings.TrimSpace(a.Attr) == "" {
			c.add("user.active.attr", "required")
		}
		if len(a.Values) == 0 {
			c.add("user.active.values", "required: the values that mean a person is active")
		}
		r.active = &condition{path: "user.active", attr: strings.TrimSpace(a.Attr), in: lowerSet(a.Values)}
	}

	for i, sc := range spec.Scope {
		r.scope = append(r.scope, c.condition(fmt.Sprintf("scope[%d]", i), sc, false))
	}

	r.exclUsers = lowerSet(spec.Exclude.Usernames)
	r.exclRoles = lowerSet(spec.Exclude.Roles)
	r.exclGroups = lowerSet(spec.Exclude.Groups)
	for i, g := range spec.Exclude.Groups {
		if strings.TrimSpace(g) == "" {
			c.add(fmt.Sprintf("exclude.groups[%d]", i), "empty group name")
		}
	}
	for i, role := range spec.Exclude.Roles {
		if strings.TrimSpace(role) == "" {
			c.add(fmt.Sprintf("exclude.roles[%d]", i), "empty role name")
		}
	}
	for i, p := range spec.Exclude.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			c.add(fmt.Sprintf("exclude.patterns[%d]", i), "%v", err)
			continue
		}
		r.exclPatterns = append(r.exclPatterns, re)
	}

	c.roles(r, spec.Roles)
	c.team(r, spec.Team)

	names := map[string]int{}
	for i, q := range spec.Queues {
		path := fmt.Sprintf("queues[%d]", i)
		name := strings.TrimSpace(q.Name)
		if name == "" {
			c.add(path+".name", "required")
		} else if j, dup := names[strings.ToLower(name)]; dup {
			c.add(path+".name", "%q is already queues[%d]", name, j)
		} else {
			names[strings.ToLower(name)] = i
		}
		r.queues = append(r.queues, queueRule{name: name, when: c.condition(path+".when", q.When, true), whole: q.WholeMembership})
	}

	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return r, nil
}

type compiler struct {
	errs []error
	vars []string
	env  *cel.Env
	bad  bool // the environment could not be made
}

// celEnv returns the expression environment, made on first use.
func (c *compiler) celEnv(path string) *cel.Env {
	if c.env == nil && !c.bad {
		env, err := newEnv(c.vars)
		if err != nil {
			c.bad = true
			c.add(path, "expressions: %v", err)
			return nil
		}
		c.env = env
	}
	return c.env
}

func (c *compiler) add(path, format string, args ...any) {
	c.errs = append(c.errs, &SpecError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) required(path, v string) {
	if strings.TrimSpace(v) == "" {
		c.add(path, "required")
	}
}

func (c *compiler) condition(path string, in Condition, roleAllowed bool) condition {
	out := condition{
		path:  path,
		attr:  strings.TrimSpace(in.Attr),
		group: strings.TrimSpace(in.Group),
		role:  strings.ToLower(strings.TrimSpace(in.Role)),
	}
	set := 0
	for _, s := range []string{out.attr, out.group, out.role, strings.TrimSpace(in.Expr)} {
		if s != "" {
			set++
		}
	}
	switch {
	case set == 0:
		c.add(path, "give one of attr, group, role or expr")
	case set > 1:
		c.add(path, "give only one of attr, group, role or expr")
	}
	if strings.TrimSpace(in.Expr) != "" {
		out.e = c.compileExpr(c.celEnv(path+".expr"), path+".expr", in.Expr, cel.BoolType)
	}
	if out.role != "" && !roleAllowed {
		c.add(path+".role", "role conditions are only allowed in queues[].when (roles are mapped after scoping)")
	}
	if out.attr == "" && (len(in.In) > 0 || len(in.NotIn) > 0) {
		c.add(path, "in and not_in only apply to attr")
	}
	if len(in.In) > 0 {
		out.in = lowerSet(in.In)
	}
	if len(in.NotIn) > 0 {
		out.notIn = lowerSet(in.NotIn)
	}
	return out
}

func (c *compiler) roles(r *Rules, s RolesSpec) {
	r.roleAttr = strings.TrimSpace(s.Attr)
	r.roleSep = s.Separator
	r.passthrough = s.Passthrough
	if r.roleAttr == "" && len(s.Groups) == 0 && len(s.Default) == 0 {
		c.add("roles", "give at least one of attr, groups or default: every user needs a role")
	}
	if r.roleAttr != "" && len(s.Values) == 0 && !s.Passthrough {
		c.add("roles.values", "required with roles.attr unless roles.passthrough is true")
	}
	if r.roleAttr == "" {
		if len(s.Values) > 0 {
			c.add("roles.values", "needs roles.attr")
		}
		if s.Separator != "" {
			c.add("roles.separator", "needs roles.attr")
		}
		if s.Passthrough {
			c.add("roles.passthrough", "needs roles.attr")
		}
	}
	r.roleValues = map[string]string{}
	for _, k := range sortedKeys(s.Values) {
		path := fmt.Sprintf("roles.values[%q]", k)
		role := c.machine(path, s.Values[k])
		v := strings.ToLower(strings.TrimSpace(k))
		if prev, dup := r.roleValues[v]; dup && prev != role {
			c.add(path, "the same value, ignoring case, already maps to %q", prev)
		}
		r.roleValues[v] = role
	}
	r.roleGroups = map[string][]string{}
	for _, k := range sortedKeys(s.Groups) {
		path := fmt.Sprintf("roles.groups[%q]", k)
		if len(s.Groups[k]) == 0 {
			c.add(path, "give at least one role")
		}
		g := strings.ToLower(strings.TrimSpace(k))
		for i, role := range s.Groups[k] {
			r.roleGroups[g] = append(r.roleGroups[g], c.machine(fmt.Sprintf("%s[%d]", path, i), role))
		}
	}
	for i, role := range s.Default {
		r.roleDefault = append(r.roleDefault, c.machine(fmt.Sprintf("roles.default[%d]", i), role))
	}
	r.roleDefault = sortUnique(r.roleDefault)
}

// machine checks and normalises a role machine name.
func (c *compiler) machine(path, role string) string {
	m := strings.ToLower(strings.TrimSpace(role))
	if !machineName.MatchString(m) {
		c.add(path, "%q is not a role machine name (lower case letters, digits and _, as team_leader)", role)
	}
	return m
}

func (c *compiler) team(r *Rules, s TeamSpec) {
	r.teamAttr = strings.TrimSpace(s.Attr)
	r.teamKeyAttr = strings.TrimSpace(s.KeyAttr)
	r.teamLevel = strings.TrimSpace(s.Level)
	modes := 0
	if r.teamAttr != "" {
		modes++
		r.teamMode = teamFromAttr
	}
	if s.GroupPattern != "" {
		modes++
		r.teamMode = teamFromGroup
		re, err := regexp.Compile(s.GroupPattern)
		if err != nil {
			c.add("team.group_pattern", "%v", err)
		}
		r.teamPattern = re
	}
	if s.OU {
		modes++
		r.teamMode = teamFromOU
	}
	if len(s.Groups) > 0 {
		modes++
		r.teamMode = teamFromTable
		r.teamTable = map[string]string{}
		for g, name := range s.Groups {
			if strings.TrimSpace(name) == "" {
				c.add(fmt.Sprintf("team.groups[%q]", g), "is blank: give the team's name")
			}
			r.teamTable[strings.ToLower(strings.TrimSpace(g))] = strings.TrimSpace(name)
		}
	}
	if modes > 1 {
		c.add("team", "give only one of attr, group_pattern, groups or ou")
	}
	if r.teamKeyAttr != "" && r.teamAttr == "" {
		c.add("team.key_attr", "needs team.attr")
	}
	if len(s.OULevels) > 0 && !s.OU {
		c.add("team.ou_levels", "needs team.ou: true")
	}
	if s.OU && len(s.Ancestors) > 0 {
		c.add("team.ancestors", "not used with team.ou: the OUs are the ancestors (name their levels in team.ou_levels)")
	}
	if modes == 0 && (len(s.Ancestors) > 0 || s.Level != "") {
		c.add("team", "ancestors and level need one of attr, group_pattern, groups or ou")
	}
	if r.teamLevel == "" {
		if s.Level != "" {
			c.add("team.level", "is blank")
		}
		r.teamLevel = DefaultTeamLevel
	}
	for i, a := range s.Ancestors {
		path := fmt.Sprintf("team.ancestors[%d]", i)
		a.Attr, a.Level, a.KeyAttr = strings.TrimSpace(a.Attr), strings.TrimSpace(a.Level), strings.TrimSpace(a.KeyAttr)
		if a.Attr == "" {
			c.add(path+".attr", "required")
		}
		if a.Level == "" {
			c.add(path+".level", "required")
		}
		r.ancestors = append(r.ancestors, a)
	}
	for i, l := range s.OULevels {
		l = strings.TrimSpace(l)
		if l == "" {
			c.add(fmt.Sprintf("team.ou_levels[%d]", i), "is blank")
		}
		r.ouLevels = append(r.ouLevels, l)
	}
}

func trimUser(u UserSpec) UserSpec {
	for _, p := range []*string{&u.Key, &u.Username, &u.Email, &u.Forename, &u.Surname, &u.ThirdPartyID, &u.StartDate} {
		*p = strings.TrimSpace(*p)
	}
	return u
}

// holdsDate reports whether layout formats and parses back a whole date.
func holdsDate(layout string) bool {
	ref := time.Date(2031, time.November, 23, 0, 0, 0, 0, time.UTC)
	t, err := time.Parse(layout, ref.Format(layout))
	return err == nil && t.Year() == ref.Year() && t.Month() == ref.Month() && t.Day() == ref.Day()
}

func lowerSet(vs []string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[strings.ToLower(strings.TrimSpace(v))] = true
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
