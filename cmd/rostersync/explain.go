package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
)

func cmdExplain(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "explain", "[flags] PERSON", `Explains what rostersync makes of one person, named by source key, username
or email: the source records, the scope and exclusion decision, the mapped
values, how the person matches a platform user, that user's record, and the
operation the plan holds for them with its reason. Nothing is written.`)
	var common commonFlags
	common.register(fs)
	targetName := fs.String("target", "", "with several targets configured, the `NAME` of the one to explain for")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("explain takes one person: a source key, username or email")
	}
	who := strings.TrimSpace(fs.Arg(0))
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := a.pickTarget(*targetName)
	if err != nil {
		return err
	}
	return a.explain(ctx, t, who)
}

// pickTarget returns the target named name, or the only one when name is
// empty.
func (a *app) pickTarget(name string) (*target, error) {
	if name != "" {
		if t := a.target(name); t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("no target %q is configured (targets: %s)", name, strings.Join(a.targetNames(), ", "))
	}
	if len(a.targets) != 1 {
		return nil, fmt.Errorf("%d targets are configured (%s); name one with -target", len(a.targets), strings.Join(a.targetNames(), ", "))
	}
	return a.targets[0], nil
}

func (a *app) explain(ctx context.Context, t *target, who string) error {
	w := a.c.stdout
	is := func(v string) bool { return v != "" && strings.EqualFold(strings.TrimSpace(v), who) }

	type found struct {
		source string
		rec    sources.Record
		ex     mapping.Explanation
	}
	var recs []found
	for _, s := range a.sources {
		snap, err := s.Fetch(ctx)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.Name(), err)
		}
		for _, rec := range snap.Records {
			ex := t.rules.Explain(rec)
			// Out-of-scope and excluded records map to no user: match
			// the attributes the mapping reads the username and email from.
			spec := a.file.Mapping.User
			username, email := attr(rec, spec.Username), attr(rec, spec.Email)
			if ex.User != nil {
				username, email = ex.User.Username, ex.User.Email
			}
			if is(rec.Key) || is(ex.Key) || is(username) || is(email) {
				recs = append(recs, found{s.Name(), rec, ex})
			}
		}
	}

	plans, err := a.plans(ctx)
	if err != nil {
		return err
	}
	var plan *reconcile.Plan
	for _, p := range plans {
		if p.Target == t.name {
			plan = p.Plan
		}
	}
	current, err := t.client.List(ctx)
	if err != nil {
		return fmt.Errorf("list %s: %w", t.name, err)
	}
	own, err := a.ownership(ctx, t.name, nil)
	if err != nil {
		return err
	}

	key := ""
	for _, f := range recs {
		if key == "" {
			key = f.ex.Key
		}
	}
	var desired *reconcile.User
	var fieldsOf map[reconcile.Field]mapping.FieldSource
	for _, f := range recs {
		if f.ex.User != nil && desired == nil {
			desired, fieldsOf = f.ex.User, f.ex.Fields
		}
	}

	// The platform user is the one the plan matched (one matcher: Diff's);
	// only a person no source holds is looked up by the name given.
	var cur *reconcile.User
	how := ""
	byID := map[string]*reconcile.User{}
	for i := range current.Users {
		byID[current.Users[i].ID] = &current.Users[i]
	}
	if m, ok := plan.MatchOf(key); key != "" && ok && byID[m.ID] != nil {
		cur, how = byID[m.ID], m.How.String()
		if how == "ledger" {
			how = "the ledger (rostersync owns it)"
		}
	}
	for i := range current.Users {
		if cur != nil || desired != nil {
			break
		}
		if u := &current.Users[i]; is(u.Username) || is(u.Email) || is(u.ThirdPartyID) || is(u.ID) {
			cur, how = u, "the name given"
		}
	}
	if key == "" && cur != nil {
		if k, ok := own.UserOwner(cur.ID); ok {
			key = k
		}
	}
	excluded := t.rules.Excludes(who) || cur != nil && t.policy.Protected != nil && t.policy.Protected(*cur)
	if len(recs) == 0 && cur == nil && !excluded {
		names := make([]string, len(a.sources))
		for i, s := range a.sources {
			names[i] = s.Name()
		}
		return &exitError{code: 1, err: fmt.Errorf("no source record (sources: %s) and no %s user matches %q; give a source key, username or email",
			strings.Join(names, ", "), t.name, who)}
	}
	fmt.Fprintf(w, "Explaining %q\n\n", who)
	if excluded {
		fmt.Fprintln(w, "Excluded: the mapping's exclude rules protect this person; rostersync never touches them.")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Source records:")
	if len(recs) == 0 {
		fmt.Fprintln(w, "  none: no source holds this person")
	}
	teamNames := map[string]string{}
	for _, f := range recs {
		fmt.Fprintf(w, "  %s  %s  key %s\n", esc(f.source), esc(f.rec.Origin), quote(f.rec.Key))
		names := make([]string, 0, len(f.rec.Attrs))
		for n := range f.rec.Attrs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			from := ""
			if p := f.rec.Provenance[strings.ToLower(n)]; p != "" && !strings.Contains(n, ".") {
				from = "  (from " + p + ")"
			}
			fmt.Fprintf(w, "      %s: %s%s\n", esc(n), quote(strings.Join(f.rec.Attrs[n], "; ")), esc(from))
		}
		for _, c := range f.ex.Computed {
			fmt.Fprintf(w, "    computed %s = %s\n", c.Name, c.Expr)
			for _, in := range c.Inputs {
				fmt.Fprintf(w, "        input %s\n", esc(in))
			}
			if c.Error != "" {
				fmt.Fprintf(w, "        error: %s\n", esc(c.Error))
			} else {
				fmt.Fprintf(w, "        result %s\n", quote(c.Result))
			}
		}
		for _, g := range f.rec.Groups {
			fmt.Fprintf(w, "      group: %s\n", quote(g.Name))
		}
		switch {
		case f.ex.ExcludedBy != "":
			fmt.Fprintf(w, "    scope: excluded by %s: never touched\n", esc(f.ex.ExcludedBy))
		case !f.ex.InScope:
			fmt.Fprintf(w, "    scope: out of scope: %s\n", esc(f.ex.OutOfScopeBy))
		default:
			fmt.Fprintln(w, "    scope: in scope (every scope rule holds)")
		}
		for _, p := range f.ex.Problems {
			fmt.Fprintf(w, "    problem: %s\n", esc(p))
		}
		for _, t := range f.ex.Teams {
			teamNames[t.Key] = t.Name
		}
	}

	fmt.Fprintln(w, "\nMapped values:")
	if desired == nil {
		fmt.Fprintln(w, "  none: the person is not in the desired state")
	} else {
		u := desired
		tpid := u.ThirdPartyID
		if tpid == "" {
			tpid = u.Key
		}
		for _, kv := range [][2]string{
			{"key", u.Key}, {"username", u.Username}, {"email", u.Email}, {"forename", u.Forename}, {"surname", u.Surname},
			{"third_party_id", tpid}, {"start_date", u.StartDate.String()}, {"active", fmt.Sprint(u.Active)},
			{"roles", strings.Join(u.Roles.List(), ", ")}, {"team", u.Team}, {"queues", strings.Join(u.Queues.List(), ", ")},
		} {
			line := fmt.Sprintf("  %-15s %s", kv[0]+":", quote(kv[1]))
			if fs, ok := fieldsOf[reconcile.Field(kv[0])]; ok {
				if fs.From != "" {
					line += "  (from " + esc(fs.From) + ")"
				}
				if fs.Stale != "" {
					line += "  stale: " + esc(fs.Stale)
				}
			}
			fmt.Fprintln(w, line)
		}
		writeAttributes(w, u.Attributes)
		key = u.Key
	}

	fmt.Fprintln(w, "\nPlatform record:")
	if cur == nil {
		fmt.Fprintln(w, "  none: no platform user matches")
	} else {
		owner := "not owned by rostersync"
		if k, ok := own.UserOwner(cur.ID); ok {
			owner = "owned by rostersync under key " + quote(k)
		}
		team := cur.Team
		for _, t := range current.Teams {
			if t.ID == cur.Team {
				team = t.Name
			}
		}
		fmt.Fprintf(w, "  matched by %s; %s\n", how, owner)
		for _, kv := range [][2]string{
			{"id", cur.ID}, {"username", cur.Username}, {"email", cur.Email}, {"forename", cur.Forename}, {"surname", cur.Surname},
			{"third_party_id", cur.ThirdPartyID}, {"start_date", cur.StartDate.String()}, {"active", fmt.Sprint(cur.Active)},
			{"roles", strings.Join(cur.Roles.List(), ", ")}, {"team", team}, {"queues", strings.Join(cur.Queues.List(), ", ")},
		} {
			fmt.Fprintf(w, "  %-15s %s\n", kv[0]+":", quote(kv[1]))
		}
		writeAttributes(w, cur.Attributes)
	}

	fmt.Fprintln(w, "\nOperations:")
	n := 0
	for i := range plan.Ops {
		o := &plan.Ops[i]
		if !(o.Kind == reconcile.KindUser && key != "" && o.Key == key ||
			o.Kind == reconcile.KindQueue && (slices.Contains(o.Add, key) || slices.Contains(o.Remove, key))) {
			continue
		}
		n++
		status := "ready"
		if o.Status != reconcile.StatusReady {
			status = string(o.Status)
		}
		fmt.Fprintf(w, "  %s %s %s %s (%s)\n", string(rune(o.Action)), o.Action, o.Kind, quote(o.Name), status)
		for _, ch := range o.Changes {
			from := ""
			if f := o.From[ch.Field]; f != "" {
				from = "  (from " + f + ")"
			}
			fmt.Fprintf(w, "      %s: %s → %s%s\n", ch.Field, quote(ch.Old), quote(ch.New), esc(from))
		}
		fmt.Fprintf(w, "      reason: %s\n", esc(o.ReasonWords()))
	}
	for _, p := range plan.Problems {
		if p.Key == key && key != "" {
			n++
			fmt.Fprintf(w, "  ! problem: %s\n", esc(p.Message))
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "  none: the platform already matches what the sources say")
	}
	return nil
}

func quote(s string) string { return strconv.Quote(s) }

// esc shows a value from a source that is printed unquoted with its
// control, bidi and invalid bytes as escapes, so that it cannot forge a
// line of the explanation.
func esc(s string) string { return reconcile.EscapeText(s) }

func attr(rec sources.Record, name string) string {
	if name == "" {
		return ""
	}
	return rec.Get(name)
}

// writeAttributes lists a user's attributes (Flex worker keys), one line
// each in key order; a user without any gets no line.
func writeAttributes(w io.Writer, attrs map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := quote(attrs[k])
		if attrs[k] == reconcile.AttributeRemoved {
			v = "(empty in the directory: removed)"
		}
		fmt.Fprintf(w, "  %-15s %s\n", esc("attributes."+k)+":", v)
	}
}
