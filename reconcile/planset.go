package reconcile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// PlanSet is the JSON of the plans of several targets, one per target in
// configuration order:
//
//	{"format_version": 1, "targets": [plan, plan]}
//
// With a single target the plan's own JSON is used instead, as before
// targets could be listed, so saved plans and scripts keep working.
type PlanSet struct {
	FormatVersion int     `json:"format_version"`
	Targets       []*Plan `json:"targets"`
	// MAC authenticates a saved set (see SignPlans); empty otherwise.
	MAC string `json:"mac,omitempty"`
}

// EncodePlans returns the plans as indented JSON: the plan itself for one,
// a PlanSet for several.
func EncodePlans(plans []*Plan) ([]byte, error) {
	if len(plans) == 1 {
		return plans[0].Encode()
	}
	return json.MarshalIndent(PlanSet{FormatVersion: PlanFormatVersion, Targets: plans}, "", "  ")
}

// DecodePlans reads what EncodePlans wrote: a single plan or a PlanSet.
func DecodePlans(b []byte) ([]*Plan, error) {
	var probe struct {
		Targets json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	if probe.Targets == nil || bytes.Equal(bytes.TrimSpace(probe.Targets), []byte("null")) {
		p, err := DecodePlan(b)
		if err != nil {
			return nil, err
		}
		return []*Plan{p}, nil
	}
	var set PlanSet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("decode plans: %w", err)
	}
	if set.FormatVersion != PlanFormatVersion {
		return nil, fmt.Errorf("decode plans: format_version %d, this rostersync reads %d", set.FormatVersion, PlanFormatVersion)
	}
	seen := map[string]bool{}
	for i, p := range set.Targets {
		if p == nil || p.FormatVersion != PlanFormatVersion {
			return nil, fmt.Errorf("decode plans: targets[%d]: missing, or not format_version %d", i, PlanFormatVersion)
		}
		if seen[p.Target] {
			return nil, fmt.Errorf("decode plans: target %q appears twice", p.Target)
		}
		seen[p.Target] = true
	}
	return set.Targets, nil
}

// RenderPlans writes the plans of several targets: JSON as EncodePlans; text
// and Markdown as one section per target, each under its own heading.
func RenderPlans(w io.Writer, plans []*Plan, f Format) error {
	if f == FormatJSON {
		b, err := EncodePlans(plans)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	for i, p := range plans {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := Render(w, p, f); err != nil {
			return err
		}
	}
	return nil
}
