package reconcile

import "fmt"

// Mode decides which kinds of operation a plan may contain.
type Mode string

// Modes, after external-dns's policies.
const (
	// ModeSync creates, updates and deactivates.
	ModeSync Mode = "sync"
	// ModeUpsertOnly creates and updates, never deactivates.
	ModeUpsertOnly Mode = "upsert-only"
	// ModeCreateOnly only creates.
	ModeCreateOnly Mode = "create-only"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeSync, ModeUpsertOnly, ModeCreateOnly:
		return m, nil
	case "":
		return ModeSync, nil
	}
	return "", fmt.Errorf("unknown mode %q (want sync, upsert-only or create-only)", s)
}

func (m Mode) allows(a Action) bool {
	switch m {
	case ModeCreateOnly:
		return a == ActionCreate
	case ModeUpsertOnly:
		return a != ActionDeactivate
	}
	return true
}

// Policy is what Diff may do beyond computing the difference.
type Policy struct {
	// Mode limits the actions planned; the zero value is ModeSync.
	Mode Mode
	// Adopt lets Diff take ownership of a platform user that matches a
	// desired user by username or email but is not yet owned. A match by
	// third_party_id (the source's own id) is adopted regardless.
	Adopt bool
	// AgentRole is the machine name of the role that puts a user in a team
	// (default "agent"); AgentLevel is the level of the groups agents sit in
	// (default "Team").
	AgentRole  string
	AgentLevel string
	// ReplaceQueues lets Diff use a target's one-request membership replace
	// (see QueueReplacer) where it takes fewer requests than add + remove
	// and every agent on the template is owned by rostersync.
	ReplaceQueues bool
	// Protected reports users that must never be touched (break-glass and
	// service accounts). Nil protects nobody.
	Protected func(User) bool
	// ProtectedTeam reports platform groups that must never be touched:
	// never adopted, renamed, moved or deactivated, and no agent is placed
	// in them. Nil protects none.
	ProtectedTeam func(Team) bool
	// Target is what the target can hold and do, as the target declares it
	// (Target.Capabilities); the zero value holds everything and bounds
	// nothing.
	Target Capabilities
	// KnownRoles are the role machine names the platform has; a desired
	// user with another role is a plan problem. Nil checks nothing.
	KnownRoles []string
}

func (p Policy) withDefaults() Policy {
	if p.Mode == "" {
		p.Mode = ModeSync
	}
	if p.AgentRole == "" {
		p.AgentRole = "agent"
	}
	if p.AgentLevel == "" {
		p.AgentLevel = "Team"
	}
	return p
}
