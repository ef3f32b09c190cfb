package ldap

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// fakeResult is what the fake server answers to one search, before paging.
type fakeResult struct {
	entries   []*goldap.Entry
	referrals []string
	// err, when set, ends the search after errAfter entries.
	err      error
	errAfter int
	// dropAfter > 0 closes the connection after that many entries.
	dropAfter int
	// noPaging answers without a paging control.
	noPaging bool
}

// fakeClient is an in-memory ldap.Client. Methods the source must not call
// are left to the embedded nil interface and panic. Paging behaves like
// Active Directory: a page size above 1000 is refused.
type fakeClient struct {
	goldap.Client
	handle func(req *goldap.SearchRequest) fakeResult

	mu       sync.Mutex
	requests []*goldap.SearchRequest
	closed   bool
	binds    []string
	cookies  []string
}

func (f *fakeClient) Start()                   {}
func (f *fakeClient) SetTimeout(time.Duration) {}
func (f *fakeClient) Bind(dn, pw string) error { f.binds = append(f.binds, dn+":"+pw); return nil }
func (f *fakeClient) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeClient) IsClosing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeClient) record(req *goldap.SearchRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *req
	cp.Controls = append([]goldap.Control(nil), req.Controls...)
	if p, ok := goldap.FindControl(cp.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
		pc := *p
		for i, c := range cp.Controls {
			if c == goldap.Control(p) {
				cp.Controls[i] = &pc
			}
		}
	}
	f.requests = append(f.requests, &cp)
}

func (f *fakeClient) Search(req *goldap.SearchRequest) (*goldap.SearchResult, error) {
	f.record(req)
	if f.IsClosing() {
		return nil, goldap.NewError(goldap.ErrorNetwork, fmt.Errorf("closed"))
	}
	r := f.handle(req)
	if r.err != nil {
		return nil, r.err
	}
	return &goldap.SearchResult{Entries: r.entries, Referrals: r.referrals}, nil
}

func (f *fakeClient) SearchAsync(ctx context.Context, req *goldap.SearchRequest, _ int) goldap.Response {
	f.record(req)
	resp := &fakeResponse{}
	if f.IsClosing() {
		return resp // like go-ldap: a closing connection ends the stream silently
	}
	r := f.handle(req)
	paging, _ := goldap.FindControl(req.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
	entries := r.entries
	start, next := 0, ""
	if paging != nil && !r.noPaging {
		if paging.PagingSize > 1000 {
			resp.items = append(resp.items, fakeItem{err: goldap.NewError(goldap.LDAPResultUnwillingToPerform, fmt.Errorf("page size %d over MaxPageSize", paging.PagingSize))})
			return resp
		}
		if len(paging.Cookie) > 0 {
			start, _ = strconv.Atoi(string(paging.Cookie))
		}
		end := min(start+int(paging.PagingSize), len(entries))
		if end < len(entries) {
			next = strconv.Itoa(end)
		}
		entries = entries[start:end]
	}
	for i, e := range entries {
		n := start + i
		if r.err != nil && n == r.errAfter {
			resp.items = append(resp.items, fakeItem{err: r.err})
			return resp
		}
		if r.dropAfter > 0 && n == r.dropAfter {
			f.Close()
			resp.items = append(resp.items, fakeItem{err: goldap.NewError(goldap.ErrorNetwork, fmt.Errorf("ldap: response channel closed"))})
			return resp
		}
		resp.items = append(resp.items, fakeItem{entry: e})
	}
	if r.err != nil && start+len(entries) == r.errAfter {
		resp.items = append(resp.items, fakeItem{err: r.err})
		return resp
	}
	if next == "" {
		for _, ref := range r.referrals {
			resp.items = append(resp.items, fakeItem{referral: ref})
		}
	}
	if paging != nil && !r.noPaging {
		resp.items = append(resp.items, fakeItem{controls: []goldap.Control{&goldap.ControlPaging{PagingSize: 0, Cookie: []byte(next)}}})
	}
	return resp
}

func (f *fakeClient) searches() []*goldap.SearchRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*goldap.SearchRequest(nil), f.requests...)
}

type fakeItem struct {
	entry    *goldap.Entry
	referral string
	controls []goldap.Control
	err      error
}

type fakeResponse struct {
	items []fakeItem
	cur   fakeItem
	err   error
}

func (r *fakeResponse) Next() bool {
	if len(r.items) == 0 {
		return false
	}
	r.cur, r.items = r.items[0], r.items[1:]
	if r.cur.err != nil {
		r.err = r.cur.err
		return false
	}
	return true
}
func (r *fakeResponse) Entry() *goldap.Entry       { return r.cur.entry }
func (r *fakeResponse) Referral() string           { return r.cur.referral }
func (r *fakeResponse) Controls() []goldap.Control { return r.cur.controls }
func (r *fakeResponse) Err() error                 { return r.err }

func dialFake(c ...*fakeClient) (Dialer, *int) {
	n := 0
	var mu sync.Mutex
	return func(context.Context, *Config) (goldap.Client, error) {
		mu.Lock()
		defer mu.Unlock()
		if n >= len(c) || c[n] == nil {
			n++
			return nil, goldap.NewError(goldap.ErrorNetwork, fmt.Errorf("dial: connection refused"))
		}
		n++
		return c[n-1], nil
	}, &n
}

// entry builds an entry whose raw values are the strings' bytes.
func entry(dn string, attrs map[string][]string) *goldap.Entry {
	e := &goldap.Entry{DN: dn}
	for k, vs := range attrs {
		a := &goldap.EntryAttribute{Name: k, Values: vs}
		for _, v := range vs {
			a.ByteValues = append(a.ByteValues, []byte(v))
		}
		e.Attributes = append(e.Attributes, a)
	}
	return e
}

func people(n int) []*goldap.Entry {
	out := make([]*goldap.Entry, n)
	for i := range out {
		uid := fmt.Sprintf("user%05d", i+1)
		out[i] = entry("uid="+uid+",ou=people,dc=example,dc=org", map[string][]string{
			"uid":       {uid},
			"cn":        {"User " + uid},
			"entryUUID": {fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1)},
		})
	}
	return out
}

func newTestSource(t *testing.T, cfg Config, d Dialer) *Source {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "ldap://127.0.0.1:1"
	}
	if cfg.People.BaseDN == "" {
		cfg.People.BaseDN = "ou=people,dc=example,dc=org"
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 1
	}
	s, err := New("test", cfg, WithDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Syncrepl answers that the cookie can no longer be served.
func (f *fakeClient) Syncrepl(ctx context.Context, req *goldap.SearchRequest, n int, mode goldap.ControlSyncRequestMode, cookie []byte, reload bool) goldap.Response {
	f.record(req)
	f.mu.Lock()
	f.cookies = append(f.cookies, string(cookie))
	f.mu.Unlock()
	return &fakeResponse{items: []fakeItem{{err: goldap.NewError(resultSyncRefreshRequired, fmt.Errorf("e-syncRefreshRequired"))}}}
}
