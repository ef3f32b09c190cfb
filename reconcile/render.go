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
	case StatusSuppressed, StatusUnsupported:
		return "#"
	}
	return string(rune(o.Action))
}

func statusNote(o *Op) string {
	if o.Status == StatusReady {
		return ""
	}
	return " (" + string(o.Status) + ")"
}

func quote(s string) string {
	if s == "" {
		return `""`
	}
	return strconv.Quote(s)
}

func renderText(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rostersync plan for %s, %s\n", orDefault(p.Target, "target"), p.CreatedAt.Format("2006-01-02T15:04:05Z"))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(p.Ops) == 0 {
		b.WriteString("\nNo changes. The platform matches the sources.\n")
	} else {
		b.WriteString("\nSymbols: + create, ~ update, & adopt, - deactivate, ! held, # not applied\n\n")
	}
	for i := range p.Ops {
		o := &p.Ops[i]
		fmt.Fprintf(&b, "  %s %s %s %s%s\n", symbol(o), o.Action, o.Kind, quote(o.Name), keyNote(o))
		for _, c := range o.Changes {
			from := ""
			if f := o.From[c.Field]; f != "" {
				from = "  (from " + f + ")"
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
		fmt.Fprintf(&b, "      reason: %s%s\n", o.Reason, statusNote(o))
	}
	if len(p.Problems) > 0 {
		b.WriteString("\nProblems (nothing is planned for these):\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "  ! %s %s: %s\n", pr.Kind, quote(pr.Key), pr.Message)
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
	return " [" + o.Key + "]"
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
	if len(extra) > 0 {
		line += " " + strings.Join(extra, ", ") + "."
	}
	return line
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`).Replace(s)
}

func renderMarkdown(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# rostersync plan for %s\n\n", orDefault(p.Target, "target"))
	fmt.Fprintf(&b, "Made %s. **%s**\n\n", p.CreatedAt.Format("2006-01-02 15:04 UTC"), SummaryLine(p.Summary))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "> %s\n\n", mdEscape(n))
	}
	if len(p.Ops) > 0 {
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
					ch = append(ch, fmt.Sprintf("%s: %s%s", c.Field, mdEscape(c.New), from))
				} else {
					ch = append(ch, fmt.Sprintf("%s: %s → %s%s", c.Field, mdEscape(c.Old), mdEscape(c.New), from))
				}
			}
			fmt.Fprintf(&b, "| `%s` | %s%s | %s | %s | %s | %s |\n", symbol(o), o.Action, statusNote(o), o.Kind,
				mdEscape(o.Name), strings.Join(ch, "<br>"), mdEscape(o.Reason))
		}
		b.WriteString("\n")
	}
	if len(p.Problems) > 0 {
		b.WriteString("## Problems\n\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(&b, "- %s `%s`: %s\n", pr.Kind, pr.Key, mdEscape(pr.Message))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
