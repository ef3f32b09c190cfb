package reconcile

import (
	"context"
	"time"
)

// ResultsReader is implemented by targets whose platform reports QA results
// credited to a person (customer ratings, evaluations). The audit looks for
// it; a target without it has its results left out, and the audit says so.
type ResultsReader interface {
	// ResultsOf returns the results credited to each of the platform user
	// ids on the days from to to, both inclusive, by user id; a user with
	// none may be left out.
	ResultsOf(ctx context.Context, userIDs []string, from, to time.Time) (map[string]PersonResults, error)
}

// PersonResults are one person's QA results in a period.
type PersonResults struct {
	// What names the results ("customer ratings").
	What  string `json:"what"`
	Count int    `json:"count"`
	// Average is the mean score, on the platform's scale, when it has one.
	Average float64 `json:"average,omitempty"`
}
