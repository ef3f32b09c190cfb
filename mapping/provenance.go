package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
)

// FieldQueues names a user's queue memberships in Result.Fields.
const FieldQueues reconcile.Field = "queues"

// FieldSource says where a mapped field's value came from.
type FieldSource struct {
	// From is the source and record, as "wfm wfm.csv:4" or
	// "ad CN=Ann,OU=People,DC=example,DC=com".
	From string `json:"from,omitempty"`
	// Stale, when set, says why the field must not be changed this pass:
	// a source that feeds it could not be read whole.
	Stale string `json:"stale,omitempty"`
}

// err returns the error of an expr condition over rec, if evaluating it
// fails for a reason other than a missing attribute.
func (c condition) err(rec *sources.Record) error {
	if c.e == nil {
		return nil
	}
	_, _, err := c.e.eval(bind(c.e.vars, rec))
	return err
}

func unjoinErrs(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// fieldAttrs lists the attributes each user field is read from.
func (r *Rules) fieldAttrs() map[reconcile.Field][]string {
	u := r.user
	m := map[reconcile.Field][]string{
		reconcile.FieldUsername:  {u.Username},
		reconcile.FieldEmail:     {u.Email},
		reconcile.FieldForename:  {u.Forename},
		reconcile.FieldSurname:   {u.Surname},
		reconcile.FieldStartDate: {u.StartDate},
	}
	if u.ThirdPartyID != "" {
		m[reconcile.FieldThirdPartyID] = []string{u.ThirdPartyID}
	} else if u.Key != "" {
		m[reconcile.FieldThirdPartyID] = []string{u.Key}
	}
	if r.active != nil {
		m[reconcile.FieldActive] = []string{r.active.attr}
	}
	if r.roleAttr != "" {
		m[reconcile.FieldRoles] = []string{r.roleAttr}
	}
	switch r.teamMode {
	case teamFromAttr:
		team := []string{r.teamAttr, r.teamKeyAttr}
		for _, a := range r.ancestors {
			team = append(team, a.Attr, a.KeyAttr)
		}
		m[reconcile.FieldTeam] = team
	case teamFromOU:
		m[reconcile.FieldTeam] = []string{OUAttr}
	}
	var qs []string
	for _, q := range r.queues {
		qs = append(qs, q.when.attrs()...)
	}
	if len(qs) > 0 {
		m[FieldQueues] = qs
	}
	return m
}

// attrs lists the attributes a condition reads.
func (c condition) attrs() []string {
	if c.attr != "" {
		return []string{c.attr}
	}
	if c.e == nil {
		return nil
	}
	var out []string
	for _, in := range c.e.inputs {
		if in[0] == RecordVar {
			out = append(out, in[1])
		} else {
			out = append(out, in[0]+"."+in[1])
		}
	}
	return out
}

// fieldSources says where each field of rec's user came from; nil for a
// record without provenance.
func (r *Rules) fieldSources(rec *sources.Record) map[reconcile.Field]FieldSource {
	if rec.Provenance == nil {
		return nil
	}
	out := map[reconcile.Field]FieldSource{}
	for f, attrs := range r.fieldAttrs() {
		var fs FieldSource
		for _, a := range attrs {
			if a == "" {
				continue
			}
			l := strings.ToLower(a)
			if fs.From == "" {
				fs.From = rec.Provenance[l]
			}
			if fs.Stale == "" {
				fs.Stale = rec.StaleOf(a)
			}
		}
		if fs != (FieldSource{}) {
			out[f] = fs
		}
	}
	return out
}

// Annotate names, on every user change in p, the source and record the new
// value came from, and takes out the changes to stale fields (fed by a
// source that could not be read whole), saying so in a note: a sick
// source never changes or removes a value. It does nothing for a result
// without provenance.
func (res *Result) Annotate(p *reconcile.Plan) {
	if len(res.Fields) == 0 {
		return
	}
	teamStale := ""
	for _, k := range sortedKeys(res.Fields) {
		if why := res.Fields[k][reconcile.FieldTeam].Stale; why != "" {
			teamStale = why
			break
		}
	}
	held := map[string]int{} // why → changes left out
	ops := p.Ops[:0]
	dropped := 0
	for _, o := range p.Ops {
		switch o.Kind {
		case reconcile.KindTeam:
			// Teams are what the people's team fields make them: with
			// those stale, only the creates a kept op needs remain (see
			// below).
			if teamStale != "" && o.Action != reconcile.ActionCreate {
				held[teamStale]++
				dropped++
				continue
			}
		case reconcile.KindUser:
			fs := res.Fields[o.Key]
			if fs == nil {
				break
			}
			if o.Action == reconcile.ActionDeactivate {
				if why := fs[reconcile.FieldActive].Stale; why != "" {
					held[why]++
					dropped++
					continue
				}
				break
			}
			var kept []reconcile.Change
			var gone []reconcile.Field
			for _, ch := range o.Changes {
				f := fs[ch.Field]
				if why := f.Stale; why != "" && o.Action != reconcile.ActionCreate {
					held[why]++
					gone = append(gone, ch.Field)
					continue
				}
				if f.From != "" {
					if o.From == nil {
						o.From = map[reconcile.Field]string{}
					}
					o.From[ch.Field] = f.From
				}
				kept = append(kept, ch)
			}
			if len(gone) > 0 {
				if o.User != nil && slices.Contains(gone, reconcile.FieldTeam) {
					// Nor may the update wait for a team it no longer moves to.
					u := *o.User
					u.Team = ""
					o.User = &u
				}
				o.Fields = slices.DeleteFunc(slices.Clone(o.Fields), func(f reconcile.Field) bool { return slices.Contains(gone, f) })
				if len(kept) == 0 {
					dropped++
					continue
				}
			}
			o.Changes = kept
		case reconcile.KindQueue:
			var remove []string
			for _, k := range o.Remove {
				if why := res.Fields[k][FieldQueues].Stale; why != "" {
					held[why]++
					if len(o.Replace) > 0 {
						o.Replace = append(slices.Clone(o.Replace), k)
						slices.Sort(o.Replace)
					}
					continue
				}
				remove = append(remove, k)
			}
			if len(remove) != len(o.Remove) {
				o.Remove = remove
				if len(o.Add) == 0 && len(o.Remove) == 0 {
					dropped++
					continue
				}
			}
		}
		ops = append(ops, o)
	}
	p.Ops = ops
	if teamStale != "" {
		n := len(p.Ops)
		p.Ops = neededTeams(p.Ops)
		if d := n - len(p.Ops); d > 0 {
			held[teamStale] += d
			dropped += d
		}
		// Problems of teams and team-less agents are what the stale team
		// fields make them; the note says why they are left alone.
		p.Problems = slices.DeleteFunc(p.Problems, func(pr reconcile.Problem) bool {
			return pr.Kind == reconcile.KindTeam ||
				pr.Kind == reconcile.KindUser && res.Fields[pr.Key][reconcile.FieldTeam].Stale != ""
		})
	}
	pruneNeeds(p.Ops)
	if len(held) == 0 {
		return
	}
	for _, why := range sortedKeys(held) {
		p.Notes = append(p.Notes, fmt.Sprintf("%s: %d %s to the fields it feeds left out this pass", why, held[why], plural(held[why], "change", "changes")))
	}
	p.Summary = reconcile.Summarize(p.Ops, p.Summary.Unchanged+dropped)
}

// pruneNeeds drops the edges to operations no longer in the plan: a
// change left out takes its prerequisites with it.
func pruneNeeds(ops []reconcile.Op) {
	ids := make(map[string]bool, len(ops))
	for i := range ops {
		ids[reconcile.OpID(&ops[i])] = true
	}
	for i := range ops {
		o := &ops[i]
		if len(o.Needs) == 0 {
			continue
		}
		o.Needs = slices.DeleteFunc(slices.Clone(o.Needs), func(n string) bool { return !ids[n] })
		if len(o.Needs) == 0 {
			o.Needs = nil
		}
	}
}

// neededTeams drops the team creates no other op needs: no user is placed
// in the team, and no needed team sits under it.
func neededTeams(ops []reconcile.Op) []reconcile.Op {
	need := map[string]bool{}
	for _, o := range ops {
		if o.Kind == reconcile.KindUser && o.User != nil && o.User.Team != "" &&
			(o.Action == reconcile.ActionCreate || slices.ContainsFunc(o.Changes, func(c reconcile.Change) bool { return c.Field == reconcile.FieldTeam })) {
			need[o.User.Team] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, o := range ops {
			if o.Kind == reconcile.KindTeam && o.Action == reconcile.ActionCreate && o.Team != nil && need[o.Key] && o.Team.Parent != "" && !need[o.Team.Parent] {
				need[o.Team.Parent] = true
				changed = true
			}
		}
	}
	return slices.DeleteFunc(ops, func(o reconcile.Op) bool {
		return o.Kind == reconcile.KindTeam && o.Action == reconcile.ActionCreate && !need[o.Key]
	})
}
