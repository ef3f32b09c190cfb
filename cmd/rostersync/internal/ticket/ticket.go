// Package ticket renders a plan as Markdown for a change ticket: a header
// a reviewer can approve from (sources and their health, the safety
// settings, the time the apply needs), a summary table, and the operations
// grouped by action in collapsible sections, each with its stable key.
// Creates show what identifies the new object, not every field.
package ticket

import (
	"fmt"
	"io"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
)

// Header is what the ticket says about the pass that made the plan.
type Header struct {
	// Mode is the target's policy (sync, upsert-only, create-only).
	Mode    string
	Sources []Source
	// Safety lists the safety settings in force, one sentence each.
	Safety []string
	// TimeNeeded says how long applying takes ("about 3m 05s: …"); empty
	// when unknown.
	TimeNeeded string
}

// Source is one source's read for this plan.
type Source struct {
	Name     string
	Type     string
	Records  int
	Healthy  bool
	Complete bool
	Reason   string // why incomplete
	// LastHealthy is the count of the last healthy read (nil: none yet).
	LastHealthy *int
}

// section is one group of operations.
type section struct {
	title string
	sym   string
	ops   []*reconcile.Op
}

// escape makes a value inert in Markdown and HTML: no markup, no table
// cell break, no line break, and control and direction-changing characters
// shown as escapes rather than obeyed.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "`", "'").Replace(inert(s))
}

// inert shows line breaks, control and direction-changing characters as
// escapes.
func inert(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.NewReplacer("`", "'", "|", `\|`).Replace(inert(s)) + "`"
}

// Render writes p as a change ticket.
func Render(w io.Writer, p *reconcile.Plan, h Header) error {
	var b strings.Builder
	target := p.Target
	if target == "" {
		target = "target"
	}
	fmt.Fprintf(&b, "# rostersync plan for %s\n\n", escape(target))
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Planned | %s |\n", p.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if h.Mode != "" {
		fmt.Fprintf(&b, "| Mode | %s |\n", escape(h.Mode))
	}
	if len(h.Sources) > 0 {
		var srcs []string
		healthy := true
		for _, s := range h.Sources {
			state := "healthy"
			switch {
			case !s.Complete:
				state = "**incomplete**: " + escape(s.Reason)
			case !s.Healthy:
				state = "**unhealthy**"
				if s.LastHealthy != nil {
					state += fmt.Sprintf(": down from %d at the last healthy read", *s.LastHealthy)
				}
			}
			healthy = healthy && s.Healthy
			srcs = append(srcs, fmt.Sprintf("%s (%s): %d records, %s", escape(s.Name), escape(s.Type), s.Records, state))
		}
		fmt.Fprintf(&b, "| Sources | %s |\n", strings.Join(srcs, "<br>"))
		if healthy {
			b.WriteString("| Health | every source healthy: deactivations may be applied |\n")
		} else {
			b.WriteString("| Health | **not every source is healthy: no deactivations or removals are applied** |\n")
		}
	}
	if len(h.Safety) > 0 {
		var ss []string
		for _, s := range h.Safety {
			ss = append(ss, escape(s))
		}
		fmt.Fprintf(&b, "| Safety | %s |\n", strings.Join(ss, "<br>"))
	}
	if h.TimeNeeded != "" {
		fmt.Fprintf(&b, "| Time needed | %s |\n", escape(h.TimeNeeded))
	}
	b.WriteString("\n## Summary\n\n| | Action | Operations |\n|---|---|---:|\n")
	s := p.Summary
	for _, row := range []struct {
		sym, what string
		n         int
	}{
		{"+", "create", s.Create}, {"~", "update", s.Update}, {"&", "adopt", s.Adopt}, {"-", "deactivate", s.Deactivate},
		{"!", "held for approval", s.Held}, {"#", "not applied (suppressed, unsupported or waiting)", s.Suppressed + s.Unsupported + s.Waiting},
		{"", "unchanged", s.Unchanged},
	} {
		fmt.Fprintf(&b, "| %s | %s | %d |\n", code(row.sym), row.what, row.n)
	}
	b.WriteString("\n")
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "> %s\n\n", escape(n))
	}

	sections := []*section{
		{title: "Create", sym: "+"}, {title: "Update", sym: "~"}, {title: "Adopt", sym: "&"},
		{title: "Deactivate", sym: "-"}, {title: "Held for approval", sym: "!"}, {title: "Not applied", sym: "#"},
	}
	labels := map[string]string{} // op id → "create team North", for "after:"
	for i := range p.Ops {
		o := &p.Ops[i]
		labels[reconcile.OpID(o)] = fmt.Sprintf("%s %s %s", o.Action, o.Kind, o.Name)
	}
	for i := range p.Ops {
		o := &p.Ops[i]
		var sec *section
		switch {
		case o.Status == reconcile.StatusHeld:
			sec = sections[4]
		case o.Status == reconcile.StatusSuppressed || o.Status == reconcile.StatusUnsupported || o.Status == reconcile.StatusWaiting:
			sec = sections[5]
		case o.Action == reconcile.ActionCreate:
			sec = sections[0]
		case o.Action == reconcile.ActionUpdate:
			sec = sections[1]
		case o.Action == reconcile.ActionAdopt:
			sec = sections[2]
		default:
			sec = sections[3]
		}
		sec.ops = append(sec.ops, o)
	}
	if len(p.Ops) == 0 {
		b.WriteString("Nothing to do: the platform matches the sources.\n\n")
	}
	for _, sec := range sections {
		if len(sec.ops) == 0 {
			continue
		}
		kinds := map[reconcile.Kind]int{}
		var order []reconcile.Kind
		for _, o := range sec.ops {
			if kinds[o.Kind] == 0 {
				order = append(order, o.Kind)
			}
			kinds[o.Kind]++
		}
		var counts []string
		for _, k := range order {
			counts = append(counts, fmt.Sprintf("%d %s", kinds[k], plural(kinds[k], string(k))))
		}
		open := ""
		if sec.sym == "!" || sec.sym == "-" {
			open = " open" // what takes people away is shown unfolded
		}
		fmt.Fprintf(&b, "<details%s>\n<summary><strong>%s %s</strong>: %s</summary>\n\n", open, sec.sym, sec.title, strings.Join(counts, ", "))
		b.WriteString("| Key | Kind | Name | Details |\n|---|---|---|---|\n")
		for _, o := range sec.ops {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(o.Key), o.Kind, escape(o.Name), details(o, labels))
		}
		b.WriteString("\n</details>\n\n")
	}
	if len(p.Problems) > 0 {
		b.WriteString("## Problems\n\n")
		for _, pr := range p.Problems {
			where := ""
			if pr.Origin != "" {
				where = " (" + escape(pr.Origin) + ")"
			}
			fmt.Fprintf(&b, "- %s %s%s: %s\n", pr.Kind, code(pr.Key), where, escape(pr.Message))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// details is what a reviewer needs of one operation: for a create, where
// the new object goes; otherwise what changes, and why.
func details(o *reconcile.Op, labels map[string]string) string {
	var parts []string
	switch {
	case o.Action == reconcile.ActionCreate && o.User != nil:
		u := o.User
		if name := strings.TrimSpace(u.Forename + " " + u.Surname); name != "" {
			parts = append(parts, escape(name))
		}
		if u.Email != "" && u.Email != o.Name {
			parts = append(parts, "email "+escape(u.Email))
		}
		if u.Team != "" {
			parts = append(parts, "team "+code(u.Team))
		}
		if u.Roles.Len() > 0 {
			parts = append(parts, "roles "+escape(strings.Join(u.Roles.List(), ", ")))
		}
	case o.Action == reconcile.ActionCreate && o.Team != nil:
		if o.Team.Parent != "" {
			parts = append(parts, "under "+code(o.Team.Parent))
		}
		if o.Team.Level != "" {
			parts = append(parts, "level "+escape(o.Team.Level))
		}
	case o.Kind == reconcile.KindQueue:
		if len(o.Add) > 0 {
			parts = append(parts, "joining: "+escape(strings.Join(o.Add, ", ")))
		}
		if len(o.Remove) > 0 {
			parts = append(parts, "leaving: "+escape(strings.Join(o.Remove, ", ")))
		}
	default:
		for _, c := range o.Changes {
			parts = append(parts, fmt.Sprintf("%s: %s → %s", escape(string(c.Field)), escape(quote(c.Old)), escape(quote(c.New))))
		}
	}
	if len(o.Needs) > 0 && o.Kind != reconcile.KindUser || len(o.Needs) > 0 && o.Status != reconcile.StatusReady {
		var after []string
		for _, id := range o.Needs {
			if l, ok := labels[id]; ok {
				after = append(after, escape(l))
			}
		}
		if len(after) > 0 {
			parts = append(parts, "after: "+strings.Join(after, ", "))
		}
	}
	if o.Action != reconcile.ActionCreate || o.Status != reconcile.StatusReady {
		parts = append(parts, "<em>"+escape(o.Reason)+"</em>")
	}
	return strings.Join(parts, "<br>")
}

func quote(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
