package statuspage

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"when":  when,
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"rel":   Relative,
	"dur":   Duration,
	"chart": DriftChart,
	"lower": strings.ToLower,
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Duration is d for people: "850ms", "12s", "4m 05s", "2h 10m".
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute && d%time.Second == 0:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Relative is t seen from now: "in 14m 10s", "3m 02s ago".
func Relative(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := t.Sub(now)
	if d >= 0 {
		if d < time.Second {
			return "now"
		}
		return "in " + Duration(d)
	}
	return Duration(-d) + " ago"
}

// DriftChart draws the operations pending and held after each pass as an
// SVG line chart, with a text description for screen readers.
func DriftChart(points []Point) template.HTML {
	if len(points) == 0 {
		return template.HTML(`<p class="empty">No pass recorded yet.</p>`)
	}
	const w, h, left, right, top, bottom = 640.0, 180.0, 44.0, 12.0, 12.0, 28.0
	maxY := 1
	for _, p := range points {
		maxY = max(maxY, p.Pending, p.Held)
	}
	t0, t1 := points[0].At, points[len(points)-1].At
	span := t1.Sub(t0).Seconds()
	x := func(i int) float64 {
		if len(points) == 1 {
			return left + (w-left-right)/2
		}
		if span <= 0 {
			return left + float64(i)*(w-left-right)/float64(len(points)-1)
		}
		return left + points[i].At.Sub(t0).Seconds()/span*(w-left-right)
	}
	y := func(v int) float64 { return top + (h-top-bottom)*(1-float64(v)/float64(maxY)) }
	line := func(val func(Point) int) string {
		var b strings.Builder
		for i, p := range points {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(val(p)))
		}
		return strings.TrimSpace(b.String())
	}
	last := points[len(points)-1]
	desc := fmt.Sprintf("%d passes from %s to %s. Operations pending after the last pass: %d; held: %d; the most pending at any pass: %d.",
		len(points), when(t0), when(t1), last.Pending, last.Held, maxY)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="drift-title drift-desc" xmlns="http://www.w3.org/2000/svg">`, w, h)
	b.WriteString(`<title id="drift-title">Drift over time: operations pending and held after each pass</title>`)
	fmt.Fprintf(&b, `<desc id="drift-desc">%s</desc>`, template.HTMLEscapeString(desc))
	// Axes and grid.
	for _, v := range []int{0, maxY / 2, maxY} {
		if v == maxY/2 && (v == 0 || v == maxY) {
			continue
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f"/>`, left, w-right, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f" text-anchor="end">%d</text>`, left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="start">%s</text>`, left, h-8, t0.UTC().Format("Jan 2 15:04"))
	if len(points) > 1 {
		fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="end">%s</text>`, w-right, h-8, t1.UTC().Format("Jan 2 15:04"))
	}
	fmt.Fprintf(&b, `<polyline class="pending" points="%s"/>`, line(func(p Point) int { return p.Pending }))
	fmt.Fprintf(&b, `<polyline class="held" points="%s"/>`, line(func(p Point) int { return p.Held }))
	for i, p := range points {
		fmt.Fprintf(&b, `<circle class="pending" cx="%.1f" cy="%.1f" r="3"><title>%s: %d pending, %d held</title></circle>`,
			x(i), y(p.Pending), when(p.At), p.Pending, p.Held)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
