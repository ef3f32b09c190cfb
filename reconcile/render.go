package reconcile

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Format is a plan rendering.
type Format string

// Formats.
const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
)

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatText, FormatJSON, FormatMarkdown:
		return f, nil
	case "md":
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json or markdown)", s)
}

// Render writes the plan in the given format.
func Render(w io.Writer, p *Plan, f Format) error {
	switch f {
	case FormatJSON:
		b, err := p.Encode()
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case FormatMarkdown:
		return renderMarkdown(w, p)
	}
	return renderText(w, p)
}

func symbol(o *Op) string {
	switch o.Status {
	case StatusHeld:
		return "!"
	case StatusSuppressed, StatusUnsupported, StatusWaiting:
		return "#"
	}
	return string(rune(o.Action))
}

func statusNote(o *Op) string {
	if o.Status == StatusReady {
		return ""
	}
	if o.Status == StatusWaiting && len(o.Waits) > 0 {
		return "; " + waitWords(o.Waits) + " (waiting)"
	}
	return " (" + string(o.Status) + ")"
}

// labels maps each op's OpID to its words ("create team \"North\"").
func labels(p *Plan) map[string]string {
	out := make(map[string]string, len(p.Ops))
	for i := range p.Ops {
		o := &p.Ops[i]
		out[OpID(o)] = opLabel(o)
	}
	return out
}

// opLabel names an op in another op's edges and waits.
func opLabel(o *Op) string {
	if o.Kind == KindQueue && o.Action != ActionCreate {
		switch Lane(o) {
		case "add queue agents":
			return "add to queue " + quote(o.Name)
		case "remove queue agents":
			return "remove from queue " + quote(o.Name)
		}
		return "replace queue " + quote(o.Name)
	}
	return fmt.Sprintf("%s %s %s", o.Action, o.Kind, quote(o.Name))
}

// needWords renders an op's edges: the ops it is sent after.
func needWords(o *Op, names map[string]string) string {
	parts := make([]string, 0, len(o.Needs))
	for _, n := range o.Needs {
		if w, ok := names[n]; ok {
			parts = append(parts, w)
		} else {
			parts = append(parts, quote(n))
		}
	}
	return strings.Join(parts, ", ")
}

func quote(s string) string {
	if s == "" {
		return `""`
	}
	return strconv.Quote(s)
}

func renderText(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rostersync plan for %s, %s\n", escapeText(orDefault(p.Target, "target")), p.CreatedAt.Format("2006-01-02T15:04:05Z"))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", escapeText(n))
	}
	if len(p.Ops) == 0 {
		b.WriteString("\nNo changes. The platform matches the sources.\n")
	} else {
		b.WriteString("\nSymbols: + create, ~ update, & adopt, - deactivate, ! held, # not applied\n\n")
	}
	names := labels(p)
	for i := range p.Ops {
		o := &p.Ops[i]
		fmt.Fprintf(&b, "  %s %s %s %s%s\n", symbol(o), o.Action, o.Kind, quote(o.Name), keyNote(o))
		for _, c := range o.Changes {
			from := ""
			if f := o.From[c.Field]; f != "" {
				from = "  (from " + escapeText(f) + ")"
			}
			switch {
			case o.Action == ActionCreate:
				fmt.Fprintf(&b, "      %s: %s%s\n", c.Field, quote(c.New), from)
			case c.Old == "":
				fmt.Fprintf(&b, "      %s: %s%s\n", c.Field, quote(c.New), from)
			case c.New == "" && o.Kind == KindQueue:
				fmt.Fprintf(&b, "      %s: %s\n", c.Field, quote(c.Old))
			default:
				fmt.Fprintf(&b, "      %s: %s → %s%s\n", c.Field, quote(c.Old), quote(c.New), from)
			}
		}
		if len(o.Needs) > 0 {
			fmt.Fprintf(&b, "      after: %s\n", escapeText(needWords(o, names)))
		}
		fmt.Fprintf(&b, "      reason: %s%s\n", escapeText(o.ReasonWords()), statusNote(o))
	}
	if len(p.Problems) > 0 {
		b.WriteString("\nProblems (nothing is planned for these):\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "  ! %s %s%s: %s\n", pr.Kind, quote(pr.Key), originNote(pr.Origin), escapeText(pr.Message))
		}
	}
	fmt.Fprintf(&b, "\n%s\n", SummaryLine(p.Summary))
	_, err := io.WriteString(w, b.String())
	return err
}

func keyNote(o *Op) string {
	if o.Key == "" || o.Key == o.Name {
		return ""
	}
	return " [" + escapeText(o.Key) + "]"
}

// originNote is " (people.csv:12)" for a known origin.
func originNote(origin string) string {
	if origin == "" {
		return ""
	}
	return " (" + escapeText(origin) + ")"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// SummaryLine is the one-line summary of a plan.
func SummaryLine(s Summary) string {
	line := fmt.Sprintf("Plan: %d to create, %d to update, %d to adopt, %d to deactivate.", s.Create, s.Update, s.Adopt, s.Deactivate)
	var extra []string
	if s.Held > 0 {
		extra = append(extra, fmt.Sprintf("%d held for approval", s.Held))
	}
	if s.Suppressed > 0 {
		extra = append(extra, fmt.Sprintf("%d suppressed", s.Suppressed))
	}
	if s.Unsupported > 0 {
		extra = append(extra, fmt.Sprintf("%d not supported by the target", s.Unsupported))
	}
	if s.Waiting > 0 {
		extra = append(extra, fmt.Sprintf("%d waiting for another operation", s.Waiting))
	}
	if len(extra) > 0 {
		line += " " + strings.Join(extra, ", ") + "."
	}
	return line
}

func mdEscape(s string) string { return escapeMarkdown(s) }

func renderMarkdown(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# rostersync plan for %s\n\n", mdEscape(orDefault(p.Target, "target")))
	fmt.Fprintf(&b, "Made %s. **%s**\n\n", p.CreatedAt.Format("2006-01-02 15:04 UTC"), SummaryLine(p.Summary))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "> %s\n\n", mdEscape(n))
	}
	if len(p.Ops) > 0 {
		names := labels(p)
		b.WriteString("| | Action | Kind | Name | Changes | Reason |\n|---|---|---|---|---|---|\n")
		for i := range p.Ops {
			o := &p.Ops[i]
			var ch []string
			for _, c := range o.Changes {
				from := ""
				if f := o.From[c.Field]; f != "" {
					from = " (from " + mdEscape(f) + ")"
				}
				if c.Old == "" || o.Action == ActionCreate {
					ch = append(ch, fmt.Sprintf("%s: %s%s", mdEscape(string(c.Field)), mdEscape(c.New), from))
				} else {
					ch = append(ch, fmt.Sprintf("%s: %s → %s%s", mdEscape(string(c.Field)), mdEscape(c.Old), mdEscape(c.New), from))
				}
			}
			status, reason := "", mdEscape(o.ReasonWords())
			if o.Status != StatusReady {
				status = " (" + string(o.Status) + ")"
			}
			if o.Status == StatusWaiting && len(o.Waits) > 0 {
				reason += "; " + mdEscape(waitWords(o.Waits))
			}
			if len(o.Needs) > 0 {
				reason += "<br>after: " + mdEscape(needWords(o, names))
			}
			fmt.Fprintf(&b, "| `%s` | %s%s | %s | %s | %s | %s |\n", symbol(o), o.Action, status, o.Kind,
				mdEscape(o.Name), strings.Join(ch, "<br>"), reason)
		}
		b.WriteString("\n")
	}
	if len(p.Problems) > 0 {
		b.WriteString("## Problems\n\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "- %s %s%s: %s\n", pr.Kind, mdCode(pr.Key), mdEscape(originNote(pr.Origin)), mdEscape(pr.Message))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
