package reconcile

import (
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Values in a plan come from sources that rostersync does not control: a
// CSV cell or a group name may hold a line break, a terminal escape, a
// right-to-left override or HTML. Rendered raw, such a value could add a
// line that looks like an operation, hide text, or run in a change ticket.
// The renderers pass every value through these functions.

// escapeText returns s with every character that could break a line or
// change how the rest of the line is shown written as an escape: control
// characters (\n, \r, \t, \x1b, …), Unicode format characters (bidi
// overrides and isolates, zero-width characters, the byte-order mark), line
// and paragraph separators, and invalid UTF-8 bytes. Everything else is kept
// as it is, so ordinary names read as they are.
func escapeText(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports the runes escapeText writes as \u escapes.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// mdReplacer escapes what Markdown would read as markup inside a table
// cell; it runs after HTML escaping, so < > & are entities already.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "|", `\|`, "[", `\[`, "]", `\]`,
	"~", `\~`,
)

// escapeMarkdown returns s for a Markdown table cell or list item: one line
// (escapeText), HTML-escaped (so <script> or <img onerror> is text), with
// Markdown's own markup characters escaped.
func escapeMarkdown(s string) string {
	return mdReplacer.Replace(html.EscapeString(escapeText(s)))
}

// mdCode shows s as inline code when that is safe (printable ASCII with no
// backtick and nothing HTML reads as markup), else as escaped text.
func mdCode(s string) string {
	if s != "" && isPlain(s) && !strings.ContainsAny(s, "`<>&") {
		return "`" + s + "`"
	}
	return escapeMarkdown(s)
}

// EscapeText is escapeText for the other renderers of source values (the
// CLI's explain): control, format and invalid bytes shown as escapes.
func EscapeText(s string) string { return escapeText(s) }
