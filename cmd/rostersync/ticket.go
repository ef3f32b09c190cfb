package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/ticket"
	"github.com/rostersync/rostersync/reconcile"
)

// renderTickets writes each plan as a Markdown change ticket, with what
// this pass knows of its sources, safety settings and time needed.
func (a *app) renderTickets(ctx context.Context, w io.Writer, plans passes) error {
	for i, p := range plans {
		if i > 0 {
			if _, err := io.WriteString(w, "\n---\n\n"); err != nil {
				return err
			}
		}
		if err := ticket.Render(w, p.Plan, a.ticketHeader(ctx, p)); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) ticketHeader(ctx context.Context, p *pass) ticket.Header {
	var h ticket.Header
	if t := a.target(p.Target); t != nil {
		h.Mode = string(t.policy.Mode)
	}
	if h.Mode == "" {
		h.Mode = string(reconcile.ModeSync)
	}
	types := map[string]string{}
	for _, s := range a.file.Sources {
		types[s.Name] = s.Type
	}
	if pf := p.facts; pf != nil && pf.sources != nil {
		for i, f := range pf.sources.facts {
			h.Sources = append(h.Sources, ticket.Source{Name: f.Name, Type: types[f.Name], Records: f.Count,
				Complete: f.Complete, Reason: f.Reason, Healthy: pf.sources.healthy[i], LastHealthy: f.LastHealthy})
		}
	}
	s := a.env.Safety
	if s.HoldDeactivationsOver >= 0 || s.HoldDeactivationsPercent >= 0 {
		var lim []string
		if s.HoldDeactivationsOver >= 0 {
			lim = append(lim, fmt.Sprintf("more than %d removals", s.HoldDeactivationsOver))
		}
		if s.HoldDeactivationsPercent >= 0 {
			lim = append(lim, fmt.Sprintf("more than %g%% of the active users rostersync owns", s.HoldDeactivationsPercent))
		}
		h.Safety = append(h.Safety, "Removals are held for approval when a plan has "+strings.Join(lim, " or ")+".")
	} else {
		h.Safety = append(h.Safety, "Removals are never held for approval (both hold limits are off).")
	}
	absent := fmt.Sprintf("A person is deactivated after being missing from %d healthy passes", s.AbsentPasses)
	if s.AbsentFor > 0 {
		absent += " and for " + s.AbsentFor.String()
	}
	h.Safety = append(h.Safety, absent+".")
	if s.MaxDrop < 1 {
		h.Safety = append(h.Safety, fmt.Sprintf("A source whose record count falls by more than %g%% since its last healthy read is unhealthy.", s.MaxDrop*100))
	}
	if e, err := a.estimatePlan(ctx, p.Plan); err == nil && e.Requests > 0 {
		line := strings.TrimSuffix(e.Line(p.Target), ".")
		_, after, _ := strings.Cut(line, " takes ")
		h.TimeNeeded = after
	}
	return h
}
