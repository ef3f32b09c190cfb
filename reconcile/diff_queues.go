package reconcile

import (
	"slices"
	"strings"
)

// queues plans work-queue template membership: for each template the
// mapping manages (desired.Queues, by name) or a desired user names, add the owned agents who should be on it and remove the owned
// agents who should not. Agents rostersync does not own are never touched.
func (d *differ) queues() {
	want := map[string]map[string]bool{} // lower queue name → user keys
	display := map[string]string{}       // lower queue name → name as written
	whole := map[string]bool{}           // lower queue name → rostersync owns its whole membership
	for _, q := range d.desired.Queues {
		display[strings.ToLower(q.Name)] = q.Name
		whole[strings.ToLower(q.Name)] = q.WholeMembership
	}
	for _, u := range d.plannedList {
		for _, q := range u.Queues.List() {
			lq := strings.ToLower(q)
			if _, ok := display[lq]; !ok {
				display[lq] = q
			}
			if want[lq] == nil {
				want[lq] = map[string]bool{}
			}
			want[lq][u.Key] = true
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	// Only templates the mapping manages (desired.Queues) are touched.
	for _, q := range d.desired.Queues {
		names = append(names, strings.ToLower(q.Name))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return
	}
	d.planned = make(map[string]*User, len(d.plannedList))
	for _, u := range d.plannedList {
		d.planned[u.Key] = u
	}
	// Agents being deactivated come off their templates first, explicitly,
	// rather than trusting the platform to do it.
	leaving := map[string]bool{}
	for i := range d.plan.Ops {
		if o := &d.plan.Ops[i]; o.Kind == KindUser && o.Action == ActionDeactivate && o.Ready() && !d.pol.Target.QueuesOutliveDeactivation {
			leaving[o.Key] = true
		}
	}
	for _, n := range names {
		q := d.queueNames[n]
		if q == nil && d.pol.Target.CreateQueues {
			// Created first, with nobody in it; the additions below need it.
			d.add(Op{Action: ActionCreate, Kind: KindQueue, Key: display[n], Name: display[n],
				Changes: []Change{{Field: "name", New: display[n]}}, Why: Reason{Code: ReasonQueueNamed}})
			q = &Queue{Name: display[n], Active: true}
		}
		if q == nil {
			fix := "rostersync never creates templates"
			if s := d.pol.Target.Settings["queue creation"]; s != "" {
				fix = s
			}
			d.problem(KindQueue, display[n], "work-queue template %q does not exist on the platform; %s", display[n], fix)
			continue
		}
		d.plan.QueueIDs[q.Name] = q.ID
		on := map[string]bool{}
		for _, id := range q.Agents {
			on[id] = true
		}
		var add, remove []string
		for key := range want[n] {
			id, known := d.userID(key)
			if !known || !on[id] {
				add = append(add, key)
			}
			if known && !on[id] {
				d.plan.UserIDs[key] = id // named by an addition: Apply resolves it
			}
		}
		for _, id := range q.Agents {
			// Only owned users the sources still want are taken off; a
			// deactivated user leaves every queue on the platform anyway.
			key, owned := d.userOwner(id)
			if k, adopted := d.claimed(id); !owned && adopted && d.planned[k] != nil {
				key, owned = k, true // adopted in this plan: theirs to keep in line from now
			}
			w, planned := d.planned[key]
			if planned && !w.Active && d.pol.Target.QueuesOutliveDeactivation {
				continue // kept for a reactivation
			}
			if owned && (planned && !want[n][key] || leaving[key]) {
				remove = append(remove, key)
				d.plan.UserIDs[key] = id
			}
		}
		if len(add) == 0 && len(remove) == 0 {
			continue
		}
		slices.Sort(add)
		slices.Sort(remove)
		base := Op{Action: ActionUpdate, Kind: KindQueue, Key: q.Name, ID: q.ID, Name: q.Name,
			Why: Reason{Code: ReasonQueueRules}}
		if d.pol.ReplaceQueues && whole[n] && len(add) > 0 && len(remove) > 0 && !d.pol.Target.NoQueueRemoval {
			op := base
			op.Add, op.Remove = add, remove
			if op.Replace = d.replacement(q, add, remove); op.Replace != nil {
				op.Why.Replace = true
				op.Changes = []Change{{Field: "agents+", New: d.usernames(add)}, {Field: "agents-", Old: d.usernames(remove)}}
				d.add(op)
				continue
			}
		}
		// Additions and removals are separate operations: each is one
		// request, additions wait for the people they add to be active,
		// and a removal does not fail with an addition.
		if len(add) > 0 {
			op := base
			op.Add = add
			op.Changes = []Change{{Field: "agents+", New: d.usernames(add)}}
			d.add(op)
		}
		if len(remove) > 0 {
			op := base
			op.Remove = remove
			op.Changes = []Change{{Field: "agents-", Old: d.usernames(remove)}}
			if d.pol.Target.NoQueueRemoval {
				d.pol.Target.unsupported(&op, d.pol.Target.noQueueRemoval())
			}
			d.add(op)
		}
	}
}

// replacement returns the queue's membership after adding and removing, as
// user keys, or nil when a replace could drop someone the rules did not mean
// to: an agent rostersync does not own.
func (d *differ) replacement(q *Queue, add, remove []string) []string {
	drop := map[string]bool{}
	for _, k := range remove {
		drop[k] = true
	}
	final := slices.Clone(add)
	for _, id := range q.Agents {
		key, owned := d.userOwner(id)
		if !owned {
			return nil
		}
		if !drop[key] {
			final = append(final, key)
			d.plan.UserIDs[key] = id // kept as they are, so Apply can name them
		}
	}
	slices.Sort(final)
	return slices.Compact(final)
}

func (d *differ) usernames(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k
		if u := d.planned[k]; u != nil {
			out[i] = u.Username
		} else if u := d.curUser(d.plan.UserIDs[k]); u != nil {
			out[i] = u.Username
		}
	}
	return strings.Join(out, ", ")
}
