package reconcile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ReasonCode says why an operation is planned. Renderers turn a Reason
// into words; no code reads the words back.
type ReasonCode string

// Reason codes.
const (
	ReasonNew        ReasonCode = "new_in_source"     // not on the platform yet
	ReasonChanged    ReasonCode = "changed_in_source" // differs from the source
	ReasonGone       ReasonCode = "no_longer_in_source"
	ReasonInactive   ReasonCode = "inactive_in_source" // the source says inactive
	ReasonBack       ReasonCode = "back_in_source"     // reactivated, with roles and team
	ReasonAdoptUser  ReasonCode = "adopt_user"         // an unowned platform user matches
	ReasonAdoptGroup ReasonCode = "adopt_group"        // an unowned platform group matches
	ReasonQueueRules ReasonCode = "queue_rules"        // queue rules changed membership
	ReasonQueueNamed ReasonCode = "queue_named"        // queue rules name a queue the platform lacks
)

// Reason is why an op is planned, and what decided its status, as data.
type Reason struct {
	Code ReasonCode `json:"code"`
	// Origin is where the desired object came from ("people.csv:3").
	Origin string `json:"origin,omitempty"`
	// Existing and MatchBy describe an adoption: the platform object's
	// name and, for a user, how it matched.
	Existing string `json:"existing,omitempty"`
	MatchBy  string `json:"match_by,omitempty"`
	// Replace: a queue change written as one replace of the whole list.
	Replace bool `json:"replace,omitempty"`
	// Incomplete: suppressed because the desired state is incomplete.
	Incomplete []string `json:"incomplete,omitempty"`
	// Unsupported names the platform and what its API lacks.
	Unsupported *Unsupported `json:"unsupported,omitempty"`
	// Unhealthy: suppressed because these source problems make the pass
	// unhealthy.
	Unhealthy []string `json:"unhealthy,omitempty"`
	// Absence: a deactivation for absence that waits for the debounce.
	Absence *AbsenceWait `json:"absence,omitempty"`
	// Hold: what the hold rules decided.
	Hold *HoldNote `json:"hold,omitempty"`
	// FollowsDeactivation: a queue removal that waits with the held or
	// suppressed deactivation of the person it removes.
	FollowsDeactivation bool `json:"follows_deactivation,omitempty"`
}

// Unsupported is what a target cannot do.
type Unsupported struct {
	Platform string  `json:"platform"`
	Lacks    string  `json:"lacks"` // "deactivation", "reactivation", "clearing"
	Fields   []Field `json:"fields,omitempty"`
	// Setting, when set, says which of the target's settings turns the
	// operation off, in words ("deactivation is turned off (deprovision:
	// report)"): the API could, the configuration says no.
	Setting string `json:"setting,omitempty"`
}

// AbsenceWait says which debounce conditions a deactivation does not meet
// yet: Needed > 0 when the person has been missing from Passes of the
// Needed passes; For when the time missing is too short (Since, when
// known, is when they went missing).
type AbsenceWait struct {
	Passes int    `json:"passes,omitempty"`
	Needed int    `json:"needed,omitempty"`
	Since  string `json:"since,omitempty"`
	For    string `json:"for,omitempty"`
}

// Hold decisions.
const (
	HoldNew = "new" // newly held by the limits
)

// HoldNote is a hold decision: Decision is HoldNew, HoldPending,
// HoldApproved or HoldRejected; ID the recorded hold; for a new hold, the
// removals counted and the limits they broke.
type HoldNote struct {
	Decision   string   `json:"decision"`
	ID         int64    `json:"id,omitempty"`
	Removals   int      `json:"removals,omitempty"`
	Over       *int     `json:"over,omitempty"`
	Percent    *float64 `json:"percent,omitempty"`
	Population int      `json:"population,omitempty"`
}

// why renders the limits a new hold broke.
func (h *HoldNote) why() string {
	var over []string
	if h.Over != nil {
		over = append(over, fmt.Sprintf("more than %d", *h.Over))
	}
	if h.Percent != nil {
		over = append(over, fmt.Sprintf("more than %s%% of the %d active users rostersync owns", trimFloat(*h.Percent), h.Population))
	}
	return fmt.Sprintf("%d removals in one plan, %s", h.Removals, strings.Join(over, " and "))
}

// base is the reason without what Diff's qualifiers and the guard added.
func (r Reason) base() Reason {
	return Reason{Code: r.Code, Origin: r.Origin, Existing: r.Existing, MatchBy: r.MatchBy}
}

// Words renders the reason for people.
func (r Reason) Words() string {
	var b strings.Builder
	switch r.Code {
	case ReasonNew:
		b.WriteString("new in source")
	case ReasonChanged:
		b.WriteString("changed in source")
	case ReasonGone:
		b.WriteString("no longer in source")
	case ReasonInactive:
		b.WriteString("inactive in source")
	case ReasonBack:
		b.WriteString("back in source: reactivate with roles and team")
	case ReasonAdoptUser:
		fmt.Fprintf(&b, "platform user %q matches by %s; taking ownership", r.Existing, r.MatchBy)
	case ReasonAdoptGroup:
		fmt.Fprintf(&b, "a group named %q already exists there; taking ownership", r.Existing)
	case ReasonQueueRules:
		b.WriteString("queue rules changed membership")
	case ReasonQueueNamed:
		b.WriteString("queue rules name it and the platform lacks it")
	default:
		b.WriteString(string(r.Code))
	}
	if r.Origin != "" && r.Code != ReasonAdoptUser && r.Code != ReasonAdoptGroup {
		b.WriteString(" (" + r.Origin + ")")
	}
	if r.Replace {
		b.WriteString("; written as one replace of the whole membership")
	}
	if len(r.Incomplete) > 0 {
		b.WriteString("; not applied: the source is incomplete (" + strings.Join(r.Incomplete, "; ") + ")")
	}
	if u := r.Unsupported; u != nil {
		b.WriteString("; cannot be applied on " + u.Platform + ": ")
		switch {
		case u.Setting != "":
			b.WriteString(u.Setting)
		case u.Lacks == "clearing":
			names := make([]string, len(u.Fields))
			for i, f := range u.Fields {
				names[i] = string(f)
			}
			b.WriteString(u.Platform + " API cannot clear a field (" + strings.Join(names, ", ") + ")")
		case u.Lacks == "writing":
			names := make([]string, len(u.Fields))
			for i, f := range u.Fields {
				names[i] = string(f)
			}
			b.WriteString(u.Platform + " does not write " + strings.Join(names, ", "))
		default:
			b.WriteString(u.Platform + " API offers no " + u.Lacks)
		}
	}
	if len(r.Unhealthy) > 0 {
		b.WriteString("; not applied: the sources are not healthy (" + strings.Join(r.Unhealthy, "; ") + ")")
	}
	if a := r.Absence; a != nil {
		var why []string
		if a.Needed > 0 {
			why = append(why, fmt.Sprintf("missing from %d of the %d healthy passes needed", a.Passes, a.Needed))
		}
		switch {
		case a.For != "" && a.Since != "":
			why = append(why, fmt.Sprintf("missing since %s, less than %s", a.Since, a.For))
		case a.For != "":
			why = append(why, fmt.Sprintf("missing for less than %s", a.For))
		}
		b.WriteString("; not yet: " + strings.Join(why, ", "))
	}
	if h := r.Hold; h != nil {
		switch h.Decision {
		case HoldApproved:
			fmt.Fprintf(&b, "; approved (held #%d)", h.ID)
		case HoldRejected:
			fmt.Fprintf(&b, "; rejected by an operator (held #%d): not applied while the sources say so", h.ID)
		case HoldPending:
			fmt.Fprintf(&b, "; held for approval (#%d)", h.ID)
		default:
			b.WriteString("; held for approval: " + h.why())
		}
	}
	if r.FollowsDeactivation {
		b.WriteString("; waits for the deactivation it goes with")
	}
	return b.String()
}

// ReasonWords is the op's reason in words: from Why, or, for an op built
// without one, its Reason as given.
func (o *Op) ReasonWords() string {
	if o.Why.Code == "" {
		return o.Reason
	}
	return o.Why.Words()
}

// MarshalJSON writes the op with its reason in words beside the typed
// reason ("why"), so that readers of the JSON need not render it.
func (o Op) MarshalJSON() ([]byte, error) {
	type plain Op
	p := plain(o)
	p.Reason = o.ReasonWords()
	return json.Marshal(p)
}
