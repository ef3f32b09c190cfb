package reconcile

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"Ada Lovelace":         "Ada Lovelace",
		"Zoë O'Brien-Łukasz":   "Zoë O'Brien-Łukasz",
		"a\nb":                 `a\nb`,
		"a\r\n- deactivate":    `a\r\n- deactivate`,
		"\x1b[2J\x00\x7f":      `\x1b[2J\x00\x7f`,
		"gnp.exe\u202Egpj":     `gnp.exe\u202egpj`,
		"a\u2066b\u2069\u200b": `a\u2066b\u2069\u200b`,
		"line\u2028sep\u0085":  `line\u2028sep\u0085`,
		"bad\xffutf8":          `bad\xffutf8`,
		"\ufeffbom":            `\ufeffbom`,
	} {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`<script>alert(1)</script>`:      `&lt;script&gt;alert(1)&lt;/script&gt;`,
		`<img src=x onerror="alert(1)">`: `&lt;img src=x onerror=&#34;alert(1)&#34;&gt;`,
		"a|b*c_d`e[f](g)\n":              "a\\|b\\*c\\_d\\`e\\[f\\](g)\\\\n",
	} {
		if got := escapeMarkdown(in); got != want {
			t.Errorf("escapeMarkdown(%q) = %q, want %q", in, got, want)
		}
	}
}

// hostilePlan is a plan whose every source value tries to forge a line.
func hostilePlan(v string) *Plan {
	return &Plan{
		FormatVersion: PlanFormatVersion, Target: "evaluagent" + v,
		CreatedAt: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC),
		Notes:     []string{"note " + v},
		Ops: []Op{
			{Action: ActionCreate, Kind: KindUser, Key: "E1" + v, Name: "ada" + v,
				Changes: []Change{{FieldForename, "", "Ada" + v}, {FieldTeam, "", "North" + v}}, Reason: "new in source (people.csv:2)" + v},
			{Action: ActionUpdate, Kind: KindTeam, Key: "T" + v, Name: "Team" + v,
				Changes: []Change{{FieldName, "Old" + v, "New" + v}}, Reason: "changed" + v, Status: StatusHeld},
			{Action: ActionDeactivate, Kind: KindUser, Key: "E2", Name: "bob" + v,
				Changes: []Change{{FieldActive, "true", "false"}}, Reason: "no longer in source", Status: StatusSuppressed},
		},
		Problems: ProblemList{{Kind: KindUser, Key: "E3" + v, Origin: "people.csv:9" + v, Message: "email " + v}},
	}
}

const actionSymbols = "+~&-!#"

// checkText asserts the text rendering of p has one line group per op and
// one line per problem, and that no other line begins with an action symbol.
func checkText(t *testing.T, p *Plan, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	headers := 0
	want := 0
	for _, o := range p.Ops {
		want += 2 + len(o.Changes)
	}
	inOp := 0
	for i, l := range lines {
		if !utf8.ValidString(l) {
			t.Fatalf("line %d is not UTF-8: %q", i, l)
		}
		trimmed := strings.TrimLeft(l, " ")
		if inOp > 0 {
			if !strings.HasPrefix(l, "      ") || strings.ContainsAny(trimmed[:1], actionSymbols) {
				t.Fatalf("line %d inside an op group: %q\n%s", i, l, out)
			}
			inOp--
			continue
		}
		if trimmed != "" && strings.ContainsAny(trimmed[:1], actionSymbols) {
			if len(l)-len(trimmed) != 2 || len(trimmed) < 2 || trimmed[1] != ' ' {
				t.Fatalf("line %d begins with an action symbol outside an op group: %q\n%s", i, l, out)
			}
			if headers < len(p.Ops) {
				inOp = 1 + len(p.Ops[headers].Changes)
			}
			headers++
		}
	}
	if headers != len(p.Ops)+len(p.Problems) {
		t.Fatalf("%d lines begin with a symbol, want %d (ops and problems)\n%s", headers, len(p.Ops)+len(p.Problems), out)
	}
	// Fixed lines: the title, the notes, a blank and the legend and a blank
	// (or a blank and "No changes"), a blank and "Problems" with the
	// problems, and a blank and the summary.
	fixed := 1 + len(p.Notes) + 3 + 2
	if len(p.Ops) == 0 {
		fixed--
	}
	if len(p.Problems) > 0 {
		fixed += 2 + len(p.Problems)
	}
	if len(lines) != fixed+want {
		t.Fatalf("%d lines, want %d\n%s", len(lines), fixed+want, out)
	}
}

func checkMarkdown(t *testing.T, p *Plan, out string) {
	t.Helper()
	lower := strings.ToLower(strings.ReplaceAll(out, "<br>", ""))
	if strings.Contains(lower, "<") || strings.Contains(lower, ">") && strings.Contains(lower, "<") {
		t.Fatalf("markdown holds raw HTML:\n%s", out)
	}
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| `") {
			rows++
		}
	}
	if rows != len(p.Ops) {
		t.Fatalf("%d table rows, want %d\n%s", rows, len(p.Ops), out)
	}
}

func TestRenderCannotLie(t *testing.T) {
	for _, v := range []string{
		"\n  - deactivate user \"ceo@example.com\"\n      reason: no longer in source",
		"\r  - deactivate user \"ceo@example.com\"",
		"\x1b[1A\x1b[2K  - deactivate user \"ceo@example.com\"",
		"\u202e\"moc.elpmaxe@oec\" resu etavitcaed -",
		"\u2028- deactivate user",
		"<script>alert(1)</script><img src=x onerror=alert(1)>",
		"| x | y |\n| `-` | deactivate |",
	} {
		p := hostilePlan(v)
		var text, md bytes.Buffer
		if err := Render(&text, p, FormatText); err != nil {
			t.Fatal(err)
		}
		checkText(t, p, text.String())
		for _, bad := range []string{"\r", "\x1b", "\u202e", "\u2028", "\n  - deactivate user \"ceo"} {
			if strings.Contains(text.String(), bad) {
				t.Errorf("text plan holds %q:\n%s", bad, text.String())
			}
		}
		if !strings.Contains(text.String(), "(people.csv:9") {
			t.Errorf("text plan: no problem origin:\n%s", text.String())
		}
		if err := Render(&md, p, FormatMarkdown); err != nil {
			t.Fatal(err)
		}
		checkMarkdown(t, p, md.String())
	}
}

// FuzzRender: whatever the source values, a text plan has one line group
// per op and one line per problem, and no line outside them begins with an
// action symbol; a Markdown plan has one table row per op and no raw HTML.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"", "ada", "\n  - deactivate user \"ceo@example.com\"", "\r\n! held", "\x1b]0;x\x07",
		"\u202e", "\u2066x\u2069", "<script>", "\xff\xfe", "\u0085- x", "a\u2028+ create user",
	} {
		f.Add(s, s, s, s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, name, key, value, reason string, shape uint8) {
		p := hostilePlan("")
		p.Ops[0].Name, p.Ops[0].Key, p.Ops[0].Reason = name, key, reason
		p.Ops[0].Changes[1].New = value
		p.Ops[1].Name, p.Ops[1].Changes[0].Old = value, name
		p.Notes = []string{reason}
		p.Problems[0].Key, p.Problems[0].Message, p.Problems[0].Origin = key, value, name
		p.Target = name
		if shape&1 == 0 {
			p.Problems = nil
		}
		if shape&2 == 0 {
			p.Ops = nil
		}
		var text, md bytes.Buffer
		if err := Render(&text, p, FormatText); err != nil {
			t.Fatal(err)
		}
		checkText(t, p, text.String())
		if err := Render(&md, p, FormatMarkdown); err != nil {
			t.Fatal(err)
		}
		checkMarkdown(t, p, md.String())
	})
}
