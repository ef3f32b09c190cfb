package scim

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/sources"
)

// TestSourceStreamMatchesFetch: a pass that streams the pushed users gets
// the records, groups and health a Fetch gives, and the caller's error
// stops the stream.
func TestSourceStreamMatchesFetch(t *testing.T) {
	e := newEnv(t)
	a := e.createUser("a@example.com")
	b := e.createUser("b@example.com")
	e.createUser("c@example.com")
	e.do("POST", "/Groups", `{"displayName":"Team A","members":[{"value":"`+a+`"},{"value":"`+b+`"}]}`).must(t, 201)
	e.do("PATCH", "/Users/"+b, patchOps(`{"op":"replace","path":"active","value":false}`)).must(t, 204)

	src := NewSource("idp", e.store)
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, ok := src.(sources.Streamer)
	if !ok {
		t.Fatal("the SCIM source does not stream")
	}
	var got []sources.Record
	h, err := st.Stream(context.Background(), func(r *sources.Record) error {
		got = append(got, *r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sources.SortRecords(got)
	if diff := cmp.Diff(snap.Records, got); diff != "" {
		t.Errorf("streamed records (-fetched +streamed):\n%s", diff)
	}
	if h != snap.Health || h.Count != 3 {
		t.Errorf("streamed health %+v, fetched %+v", h, snap.Health)
	}

	stop := errors.New("stop")
	calls := 0
	if _, err := st.Stream(context.Background(), func(*sources.Record) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("error %v after %d calls, want stop after 1", err, calls)
	}
}
