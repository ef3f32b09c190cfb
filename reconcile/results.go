package reconcile

import (
	"context"
	"time"
)

// ResultsReader is implemented by targets whose platform reports QA results
// credited to a person (customer ratings, evaluations). The audit looks for
// it; a target without it has its results left out, and the audit says so.
type ResultsReader interface {
	// ResultsOf returns the results credited to platform user id on the
	// days from to to, both inclusive.
	ResultsOf(ctx context.Context, userID string, from, to time.Time) (PersonResults, error)
}

// PersonResults are one person's QA results in a period.
type PersonResults struct {
	// What names the results ("customer ratings").
	What  string `json:"what"`
	Count int    `json:"count"`
	// Average is the mean score, on the platform's scale, when it has one.
	Average float64 `json:"average,omitempty"`
}
