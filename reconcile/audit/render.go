package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
)

// Render writes r as text, JSON or Markdown.
func Render(w io.Writer, r *Report, f reconcile.Format) error {
	switch f {
	case reconcile.FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			FormatVersion int `json:"format_version"`
			*Report
			Findings int `json:"findings"`
		}{1, r, r.Findings()})
	case reconcile.FormatMarkdown:
		return renderMarkdown(w, r)
	}
	return renderText(w, r)
}

func describe(p Person) string {
	s := p.Email
	if p.Name != "" {
		s += " (" + p.Name + ")"
	}
	if len(p.Roles) > 0 {
		s += ", role " + strings.Join(p.Roles, ", ")
	}
	if p.Protected {
		s += ", excluded from plans"
	}
	return s + ", id " + p.ID
}

func active(b bool) string {
	if b {
		return "active"
	}
	return "inactive"
}

func resultLine(x Results) string {
	s := fmt.Sprintf("%d %s", x.Count, x.What)
	if x.Average > 0 {
		s += fmt.Sprintf(", average %.2f", x.Average)
	}
	dir := "unknown to the directory"
	if x.Directory == StatusInactive {
		dir = "inactive in the directory"
	}
	return fmt.Sprintf("%s credited to %s: %s, %s on the platform", s, describe(x.Person), dir, active(x.Active))
}

func renderText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Audit of %d target(s): read only, nothing was written.\n", len(r.Targets))
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "\nTarget %s (%s)\n", reconcile.EscapeText(t.Target), reconcile.EscapeText(t.Platform))
		if len(t.Incomplete) > 0 {
			fmt.Fprintf(&b, "  Caution: the sources are incomplete (%s); some people may be missing from them.\n", reconcile.EscapeText(strings.Join(t.Incomplete, "; ")))
		}
		section := func(title string, lines []string) {
			fmt.Fprintf(&b, "  %s: %d\n", title, len(lines))
			for _, l := range lines {
				// Names and emails come from platforms and sources: escaped,
				// so that none can forge a line or reach the terminal raw.
				fmt.Fprintf(&b, "    ! %s\n", reconcile.EscapeText(l))
			}
		}
		var lines []string
		for _, p := range t.Unknown {
			lines = append(lines, describe(p))
		}
		section("Active on the platform, unknown to every source", lines)
		lines = nil
		for _, p := range t.Inactive {
			lines = append(lines, describe(p)+", directory key "+p.Key)
		}
		section("Inactive in the directory, active on the platform", lines)
		lines = nil
		for _, d := range t.Drift {
			lines = append(lines, fmt.Sprintf("%s: the directory says %s", describe(d.Person), strings.Join(d.Directory, ", ")))
		}
		section("Role drift", lines)
		if !t.ResultsRead {
			fmt.Fprintf(&b, "  QA results by person: not read (%s reports none rostersync can read by person)\n", t.Platform)
			continue
		}
		lines = nil
		for _, x := range t.Results {
			lines = append(lines, resultLine(x))
		}
		section(fmt.Sprintf("QA results from %s to %s of people unknown to or inactive in the directory", t.From, t.To), lines)
	}
	if n := r.Findings(); n == 0 {
		b.WriteString("\nNo findings.\n")
	} else {
		fmt.Fprintf(&b, "\n%d finding(s).\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell escapes a Markdown table cell: control and format characters as
// escapes, then the table's and HTML's markup.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(reconcile.EscapeText(s))
}

func renderMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# rostersync audit\n\nFindings: %d.\n", r.Findings())
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "\n## %s (%s)\n\n", cell(t.Target), cell(t.Platform))
		if t.ResultsRead {
			fmt.Fprintf(&b, "QA results from %s to %s.\n\n", t.From, t.To)
		}
		if len(t.Incomplete) > 0 {
			fmt.Fprintf(&b, "Caution: the sources are incomplete (%s).\n\n", cell(strings.Join(t.Incomplete, "; ")))
		}
		b.WriteString("| finding | email | name | id | platform | detail |\n|---|---|---|---|---|---|\n")
		row := func(kind string, p Person, detail string) {
			if p.Protected {
				detail = strings.TrimPrefix(detail+"; excluded from plans", "; ")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s, %s | %s |\n", kind, cell(p.Email), cell(p.Name), cell(p.ID),
				active(p.Active), cell(strings.Join(p.Roles, ", ")), cell(detail))
		}
		for _, p := range t.Unknown {
			row("unknown", p, "")
		}
		for _, p := range t.Inactive {
			row("inactive in directory", p, "directory key "+p.Key)
		}
		for _, d := range t.Drift {
			row("role drift", d.Person, "directory: "+strings.Join(d.Directory, ", "))
		}
		for _, x := range t.Results {
			detail := fmt.Sprintf("%d %s", x.Count, x.What)
			if x.Average > 0 {
				detail += fmt.Sprintf(", average %.2f", x.Average)
			}
			row("results, "+x.Directory+" in directory", x.Person, detail)
		}
		if !t.ResultsRead {
			fmt.Fprintf(&b, "\nQA results by person: not read on %s.\n", cell(t.Platform))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
