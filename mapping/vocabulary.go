package mapping

import "fmt"

// Name is a platform name the rules use, with the mapping key that names it.
type Name struct {
	Value string
	Where string
}

// Vocabulary is what the rules name on the platform: the levels of the
// groups they make, the role machine names they give, and the roles and
// groups their exclusions name. "rostersync check" compares it with what a
// platform really has, so that a typo fails the check and not every apply.
// Roles passed through from the source (roles.passthrough) are not known
// until records are mapped and are not in it.
type Vocabulary struct {
	Levels         []Name
	Roles          []Name
	ExcludedRoles  []Name
	ExcludedGroups []Name
}

// Vocabulary returns the names the rules use, in a stable order.
func (r *Rules) Vocabulary() Vocabulary {
	var v Vocabulary
	if r.teamMode != teamNone {
		for i, a := range r.ancestors {
			v.Levels = append(v.Levels, Name{a.Level, fmt.Sprintf("mapping.team.ancestors[%d].level", i)})
		}
		for i, l := range r.ouLevels {
			v.Levels = append(v.Levels, Name{l, fmt.Sprintf("mapping.team.ou_levels[%d]", i)})
		}
		v.Levels = append(v.Levels, Name{r.teamLevel, "mapping.team.level"})
	}
	var roles []string
	for _, m := range r.roleValues {
		roles = append(roles, m)
	}
	for _, ms := range r.roleGroups {
		roles = append(roles, ms...)
	}
	roles = append(roles, r.roleDefault...)
	for _, m := range sortUnique(roles) {
		v.Roles = append(v.Roles, Name{m, "mapping.roles"})
	}
	for _, m := range sortedKeys(r.exclRoles) {
		v.ExcludedRoles = append(v.ExcludedRoles, Name{m, "mapping.exclude.roles"})
	}
	for _, g := range sortedKeys(r.exclGroups) {
		v.ExcludedGroups = append(v.ExcludedGroups, Name{g, "mapping.exclude.groups"})
	}
	return v
}
