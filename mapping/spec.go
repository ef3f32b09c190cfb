package mapping

import (
	"slices"
	"strings"
)

// Spec is the mapping: section of the configuration file. The package
// documentation describes every key.
type Spec struct {
	User    UserSpec    `yaml:"user"`
	Scope   []Condition `yaml:"scope"`
	Exclude ExcludeSpec `yaml:"exclude"`
	Roles   RolesSpec   `yaml:"roles"`
	Team    TeamSpec    `yaml:"team"`
	Queues  []QueueSpec `yaml:"queues"`
	// Computed defines attributes by CEL expressions, evaluated before any
	// other rule reads the record; each must give a string.
	Computed map[string]string `yaml:"computed"`

	// Vars are the names expressions may use for the sources' attributes:
	// the configured source names. Set by package config, not the file.
	Vars []string `yaml:"-"`
}

// UserSpec names the attributes that hold a user's fields.
type UserSpec struct {
	Key              string      `yaml:"key"`
	Username         string      `yaml:"username"`
	Email            string      `yaml:"email"`
	Forename         string      `yaml:"forename"`
	Surname          string      `yaml:"surname"`
	ThirdPartyID     string      `yaml:"third_party_id"`
	StartDate        string      `yaml:"start_date"`
	StartDateLayouts []string    `yaml:"start_date_layouts"`
	Active           *ActiveSpec `yaml:"active"`
	// Attributes names platform attributes and the source attribute each
	// is read from (location: physicalDeliveryOfficeName). A target that
	// holds attributes (Flex worker attributes) keeps them in line; other
	// targets ignore them.
	Attributes map[string]string `yaml:"attributes"`
}

// ActiveSpec says which values of an attribute make a person active.
type ActiveSpec struct {
	Attr   string   `yaml:"attr"`
	Values []string `yaml:"values"`
}

// Condition is one test on a record. Exactly one of Attr, Group and Role is
// set. With Attr, In requires one of the attribute's values to be listed,
// NotIn requires none to be, and with neither the attribute must simply have
// a non-empty value. Group requires membership of a group with that name or
// key. Role (only in queues) requires the mapped user to hold that role.
type Condition struct {
	Attr  string   `yaml:"attr"`
	In    []string `yaml:"in"`
	NotIn []string `yaml:"not_in"`
	Group string   `yaml:"group"`
	Role  string   `yaml:"role"`
	// Expr is a CEL expression giving a bool, in place of attr, group and
	// role.
	Expr string `yaml:"expr"`
}

// ExcludeSpec lists people rostersync never touches.
type ExcludeSpec struct {
	Usernames []string `yaml:"usernames"`
	Patterns  []string `yaml:"patterns"`
	// Roles are role machine names; a user holding any of them is never
	// touched.
	Roles []string `yaml:"roles"`
	// Groups are platform group names (case-insensitive); such a group is
	// never adopted, renamed, moved or deactivated, and no agent is placed
	// in it.
	Groups []string `yaml:"groups"`
}

// RolesSpec says where a person's roles come from.
type RolesSpec struct {
	Attr        string              `yaml:"attr"`
	Separator   string              `yaml:"separator"`
	Values      map[string]string   `yaml:"values"`
	Passthrough bool                `yaml:"passthrough"`
	Groups      map[string][]string `yaml:"groups"`
	Default     []string            `yaml:"default"`
}

// TeamSpec says where a person's team and the hierarchy above it come from.
type TeamSpec struct {
	Attr         string `yaml:"attr"`
	KeyAttr      string `yaml:"key_attr"`
	GroupPattern string `yaml:"group_pattern"`
	// Groups maps a source group (by name or key) to a team name; the
	// group's key becomes the team's key.
	Groups    map[string]string `yaml:"groups"`
	OU        bool              `yaml:"ou"`
	OULevels  []string          `yaml:"ou_levels"`
	Level     string            `yaml:"level"`
	Ancestors []AncestorSpec    `yaml:"ancestors"`
}

// AncestorSpec is one level of teams above a person's team.
type AncestorSpec struct {
	Attr  string `yaml:"attr"`
	Level string `yaml:"level"`
	// KeyAttr, when set, holds the ancestor's stable key, so that renaming
	// it or moving it under another parent keeps its identity.
	KeyAttr string `yaml:"key_attr"`
}

// QueueSpec puts people on a work-queue template when a condition holds.
type QueueSpec struct {
	Name string    `yaml:"name"`
	When Condition `yaml:"when"`
	// WholeMembership says rostersync owns the template's whole membership:
	// when a change both adds and removes agents, it may be written as one
	// replace of the whole list. Off (the default), changes are minimal
	// additions and removals that never touch anyone else.
	WholeMembership bool `yaml:"whole_membership"`
}

// OUAttr is the attribute holding a record's OU names, outermost first, that
// team.ou reads. The LDAP source provides it.
const OUAttr = "_ou"

// Attributes returns every source attribute the spec reads, sorted and
// without case-insensitive duplicates. A CSV source requires these columns.
// It does not include OUAttr, which no CSV file holds, nor computed
// attributes; an expression's inputs are included, "record.mail" as "mail"
// and "ldap.mail" as "ldap.mail".
func (s Spec) Attributes() []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, n)
			}
		}
	}
	u := s.User
	add(u.Key, u.Username, u.Email, u.Forename, u.Surname, u.ThirdPartyID, u.StartDate)
	if u.Active != nil {
		add(u.Active.Attr)
	}
	for _, c := range s.Scope {
		add(c.Attr)
	}
	add(s.Roles.Attr, s.Team.Attr, s.Team.KeyAttr)
	for _, a := range s.Team.Ancestors {
		add(a.Attr, a.KeyAttr)
	}
	for _, q := range s.Queues {
		add(q.When.Attr)
	}
	for _, c := range s.Scope {
		add(exprAttributes(c.Expr, s.Vars)...)
	}
	for _, q := range s.Queues {
		add(exprAttributes(q.When.Expr, s.Vars)...)
	}
	for _, k := range sortedKeys(s.Computed) {
		add(exprAttributes(s.Computed[k], s.Vars)...)
	}
	out = slices.DeleteFunc(out, func(a string) bool {
		for k := range s.Computed {
			if strings.EqualFold(k, a) {
				return true
			}
		}
		return false
	})
	slices.SortFunc(out, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return slices.CompactFunc(out, strings.EqualFold)
}
