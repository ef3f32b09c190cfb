package evaluagentsim

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// evaluation is a completed QA evaluation (§7.4), credited to an agent.
type evaluation struct {
	id, reference        string
	score                float64
	published            time.Time
	agentID, evaluatorID string
}

func (st *state) seedEvaluations(seeds []SeedEvaluation, newID func(string) (string, error)) error {
	for i, se := range seeds {
		fail := func(err error) error { return fmt.Errorf("evaluations[%d] %q: %w", i, se.Reference, err) }
		id, err := newID(se.ID)
		if err != nil {
			return fail(err)
		}
		published, err := time.Parse(time.RFC3339, se.PublishedAt)
		if err != nil {
			return fail(fmt.Errorf("published_at: %w", err))
		}
		ref := func(r string) (string, error) {
			if r == "" {
				return "", nil
			}
			u := st.user(r)
			if u == nil {
				u = st.userByName[fold(r)]
			}
			if u == nil {
				return "", fmt.Errorf("user %q names nothing", r)
			}
			return u.id, nil
		}
		e := &evaluation{id: id, reference: se.Reference, score: se.Score, published: published.UTC()}
		if e.agentID, err = ref(se.Agent); err != nil || e.agentID == "" {
			return fail(fmt.Errorf("agent: %v", cmp.Or(err, fmt.Errorf("required"))))
		}
		if e.evaluatorID, err = ref(se.Evaluator); err != nil {
			return fail(fmt.Errorf("evaluator: %w", err))
		}
		st.evals = append(st.evals, e)
	}
	return nil
}

type evaluationAttrs struct {
	Reference     string  `json:"reference"`
	Score         float64 `json:"score"`
	PublishedAt   string  `json:"published_at"`
	UpdatedAt     string  `json:"updated_at"`
	AgentName     string  `json:"agent_name"`
	EvaluatorName *string `json:"evaluator_name"`
}

type evaluationRels struct {
	Agent     toOne `json:"agent"`
	Evaluator toOne `json:"evaluator"`
}

// listEvaluations is E1: completed evaluations, filtered by
// filter[published_at;between]=<start>,<end> (RFC 3339, inclusive), sorted by
// published_at.
func (s *Server) listEvaluations(c *call) response {
	var from, to time.Time
	if v := c.r.URL.Query().Get("filter[published_at;between]"); v != "" {
		a, b, ok := strings.Cut(v, ",")
		var errA, errB error
		from, errA = time.Parse(time.RFC3339, a)
		to, errB = time.Parse(time.RFC3339, b)
		if !ok || errA != nil || errB != nil {
			return errorsResp([]apiError{newError(http.StatusBadRequest, "filter[published_at;between] must be two ISO 8601 times, comma-separated", "")})
		}
	}
	evals := slices.Clone(s.st.evals)
	slices.SortStableFunc(evals, func(a, b *evaluation) int { return a.published.Compare(b.published) })
	var items []any
	for _, e := range evals {
		if !from.IsZero() && (e.published.Before(from) || e.published.After(to)) {
			continue
		}
		name := func(id string) string {
			if u := s.st.user(id); u != nil {
				return strings.TrimSpace(u.forename + " " + u.surname)
			}
			return ""
		}
		attrs := evaluationAttrs{Reference: e.reference, Score: e.score, PublishedAt: e.published.Format(time.RFC3339),
			UpdatedAt: e.published.Format(time.RFC3339), AgentName: name(e.agentID)}
		rels := evaluationRels{Agent: toOne{Data: &ident{Type: "users", ID: e.agentID}}}
		if e.evaluatorID != "" {
			n := name(e.evaluatorID)
			attrs.EvaluatorName = &n
			rels.Evaluator = toOne{Data: &ident{Type: "users", ID: e.evaluatorID}}
		}
		items = append(items, resourceRel[evaluationAttrs, evaluationRels]{Type: "evaluations", ID: e.id, Attributes: attrs, Relationships: rels})
	}
	return s.collection(c, items, true)
}
