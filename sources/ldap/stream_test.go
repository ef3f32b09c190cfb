package ldap

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/sources"
)

// collect streams s and copies each record (Stream reuses them), sorted by
// key as Fetch returns them.
func collect(t *testing.T, s sources.Streamer) ([]sources.Record, sources.Health) {
	t.Helper()
	var out []sources.Record
	h, err := s.Stream(context.Background(), func(r *sources.Record) error {
		cp := *r
		cp.Attrs = maps.Clone(r.Attrs)
		for k, v := range cp.Attrs {
			cp.Attrs[k] = slices.Clone(v)
		}
		cp.Groups = slices.Clone(r.Groups)
		out = append(out, cp)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sources.SortRecords(out)
	return out, h
}

func TestStreamHandsOverWhatFetchReturns(t *testing.T) {
	const g = ",ou=groups,dc=example,dc=org"
	ppl := people(50)
	ppl = append(ppl, ppl[7]) // the same key twice
	groups := []*goldap.Entry{
		entry("cn=a"+g, map[string][]string{"cn": {"a"}, "entryUUID": {"a-uuid"}, "member": {"cn=b" + g, "uid=user00002,ou=people,dc=example,dc=org"}}),
		entry("cn=b"+g, map[string][]string{"cn": {"b"}, "entryUUID": {"b-uuid"}, "member": {"uid=user00001,ou=people,dc=example,dc=org"}}),
	}
	fc := &fakeClient{handle: func(req *goldap.SearchRequest) fakeResult {
		if strings.HasPrefix(req.BaseDN, "ou=groups") {
			return fakeResult{entries: groups}
		}
		return fakeResult{entries: ppl}
	}}
	cfg := Config{Nested: true, Attributes: []string{"uid", "cn"}, Groups: GroupSearch{Search: Search{BaseDN: "ou=groups,dc=example,dc=org"}}}
	d, _ := dialFake(fc, fc)
	snap, err := newTestSource(t, cfg, d).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := dialFake(fc, fc)
	recs, h := collect(t, newTestSource(t, cfg, d2))
	if d := cmp.Diff(snap.Health, h); d != "" {
		t.Errorf("health (-fetch +stream):\n%s", d)
	}
	if h.Complete || !strings.Contains(h.Reason, "share a key") {
		t.Errorf("a duplicate key left the stream complete: %+v", h)
	}
	if d := cmp.Diff(snap.Records, recs); d != "" {
		t.Errorf("records (-fetch +stream):\n%s", d)
	}
}
