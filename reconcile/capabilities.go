package reconcile

import (
	"slices"
)

// Capabilities describe what a target can hold and what its API can do, so
// that Diff plans only what can be applied and shows the rest as unsupported.
// Every target declares its own (Target.Capabilities); there is no default
// platform. The zero value holds everything and bounds nothing: a team
// hierarchy with ids, roles, work queues, every action, names of any length.
type Capabilities struct {
	// Platform names the target in reasons ("Agent IQ").
	Platform string
	// FlatTeams: teams are bare names with no ids and no hierarchy, and exist
	// as soon as a user names one. A desired user's team key resolves to its
	// team's Name; no team operations are planned; a current user's Team is
	// the team name.
	FlatTeams bool
	// UserFields lists the user fields the platform holds and that are
	// compared and written; nil means every field. Without FieldRoles, roles
	// are ignored and any user may sit in a team; without FieldUsername, users
	// are not matched by username.
	UserFields []Field
	// OneName: the platform holds one name, the forename and surname
	// joined by a space, and reads it back split at its first space: the
	// two are compared joined, so "Mary Ann" "Smith" matches "Mary" "Ann
	// Smith".
	OneName bool
	// NoQueues: the platform has no work queues; none are planned.
	NoQueues bool
	// NoQueueRemoval: members are added to work queues but never taken
	// off; a removal is planned as unsupported, explained by
	// Settings["queue removal"].
	NoQueueRemoval bool
	// CreateQueues: a work queue the mapping's rules name and the platform
	// lacks is created (the target is a QueueCreator) before anyone is
	// added to it; otherwise it is a plan problem.
	CreateQueues bool
	// QueuesOutliveDeactivation: the platform keeps a deactivated user's
	// work queues, and they are left alone so that a reactivation restores
	// them; no queue removal is planned for an inactive user.
	QueuesOutliveDeactivation bool
	// NoDeactivate, NoReactivate and NoClear mark what the API cannot do:
	// deactivate a user, reactivate one, or clear a field to empty. Such
	// operations are planned with StatusUnsupported and never applied.
	NoDeactivate bool
	NoReactivate bool
	NoClear      bool
	// CreateOff and DeactivateOff, when set, name the setting that turns
	// creation or deactivation off for this target ("provision: off"): such
	// operations are planned with StatusUnsupported and never applied.
	CreateOff, DeactivateOff string
	// AttributesOff, when set, names the setting that holds attribute
	// writes back ("attributes: plan"): attribute changes are planned as
	// their own StatusUnsupported update and never applied.
	AttributesOff string
	// AttributeBytes, when above 0, bounds the platform's whole attribute
	// document (Snapshot.RawAttributes merged with the planned changes, JSON,
	// minified) in UTF-8 bytes: an update over it is a plan problem.
	AttributeBytes int
	// NoWrite lists user fields the platform holds and that are compared,
	// but that the target's settings keep it from writing (Voki's roles
	// under voki.roles: report): a change to them is planned as a separate
	// unsupported update, explained by Settings["writing"], and the rest of
	// the op goes ahead. A create still sends them.
	NoWrite []Field
	// NoCreate: users are not created (the platform, or its settings, do
	// not allow it); a missing user is planned as unsupported.
	NoCreate bool
	// Settings explain, by what an op lacks ("deactivation", "user
	// creation"), an unsupported op that the target's settings rather than
	// its API rule out ("voki.deactivate is report").
	Settings map[string]string
	// BatchRows, when above 0, says the target writes users in batches of up
	// to this many rows (a Batcher): the plan's Requests count batches.
	BatchRows int
	// GroupName and Username bound the length of the names the platform
	// accepts, in characters; a zero bound is no bound. A name outside them
	// is a plan problem, not a failed request. Flat-team targets have no
	// group-name limit, and targets without FieldUsername no username limit.
	GroupName, Username Limit
}

// Limit is an inclusive range of lengths.
type Limit struct{ Min, Max int }

func (c Capabilities) groupNameLen() Limit {
	if c.FlatTeams {
		return Limit{}
	}
	return c.GroupName
}

func (c Capabilities) usernameLen() Limit {
	if !c.holds(FieldUsername) {
		return Limit{}
	}
	return c.Username
}

// CapabilitiesOf returns t's Capabilities.
func CapabilitiesOf(t Target) Capabilities { return t.Capabilities() }

// holdsAttributes says the target holds User.Attributes; only a target that
// names FieldAttributes does (a nil UserFields does not).
func (c Capabilities) holdsAttributes() bool { return slices.Contains(c.UserFields, FieldAttributes) }

func (c Capabilities) holds(f Field) bool {
	return c.UserFields == nil || slices.Contains(c.UserFields, f)
}

func (c Capabilities) platform() string {
	if c.Platform == "" {
		return "the target"
	}
	return c.Platform
}

// unsupported marks op as one the target cannot apply, saying why.
func (c Capabilities) unsupported(op *Op, why *Unsupported) {
	op.Status = StatusUnsupported
	if s := c.Settings[why.Lacks]; s != "" && why.Setting == "" {
		why.Setting = s
	}
	op.Why.Unsupported = why
}

// Reasons for unsupported operations.
func (c Capabilities) noDeactivation() *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: "deactivation"}
}

func (c Capabilities) noCreation() *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: "user creation"}
}

func (c Capabilities) noReactivation() *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: "reactivation"}
}

func (c Capabilities) turnedOff(what, setting string) *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: what, Setting: what + " is turned off (" + setting + ")"}
}

func (c Capabilities) noWriting(fs []Field) *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: "writing", Fields: fs}
}

func (c Capabilities) noQueueRemoval() *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: "queue removal"}
}

func (c Capabilities) noClearing(fs []Field) *Unsupported {
	return &Unsupported{Platform: c.platform(), Lacks: "clearing", Fields: fs}
}
