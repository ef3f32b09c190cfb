package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestLoad is the endpoint benchmark of the issue: 100,000 stored users,
// concurrent clients over loopback, requests/s and p99 for a userName filter
// and for a member-add PATCH on a 10,000-member group. It runs only with
// SCIM_LOAD=1:
//
//	SCIM_LOAD=1 go test -run TestLoad -v ./sources/scim/
//
// SCIM_LOAD_USERS, SCIM_LOAD_MEMBERS, SCIM_LOAD_CLIENTS, SCIM_LOAD_SECONDS and
// SCIM_LOAD_ROUNDS change the defaults (100000, 10000, 8, 5, 1). The lookups run
// in rounds, each followed by the same load on the SCIM library serving a map
// (baselineServer). The last row of the final table is another baseline,
// measured in the same run: the filter served from a Go map, which is the
// floor any SCIM server over HTTP on this machine could reach.
func TestLoad(t *testing.T) {
	if os.Getenv("SCIM_LOAD") == "" {
		t.Skip("set SCIM_LOAD=1 to run the load benchmark")
	}
	users := envInt("SCIM_LOAD_USERS", 100_000)
	members := envInt("SCIM_LOAD_MEMBERS", 10_000)
	clients := envInt("SCIM_LOAD_CLIENTS", 8)
	seconds := envInt("SCIM_LOAD_SECONDS", 5)

	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	ids, gid := seedLoad(t, st, users, members)
	t.Logf("seeded %d users and a %d-member group in %v", users, members, time.Since(start).Round(time.Millisecond))

	h, err := NewServer(Config{}, st, WithTokens(map[string]string{"load": testToken}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	// Filter: random existing userNames, in rounds, each followed by the same lookups on the
	// SCIM library serving a map (baselineServer), so that every round has its own floor.
	lib, err := baselineServer(users)
	if err != nil {
		t.Fatal(err)
	}
	libSrv := httptest.NewServer(lib)
	defer libSrv.Close()
	lookup := func(url0 string) func(rng *rand.Rand, _ int64) (*http.Request, int) {
		return func(rng *rand.Rand, _ int64) (*http.Request, int) {
			n := rng.IntN(users)
			f := url.QueryEscape(fmt.Sprintf(`userName eq "user%06d@example.com"`, n))
			req, _ := http.NewRequest("GET", url0+"/scim/v2/Users?filter="+f, nil)
			return req, 200
		}
	}
	// A second of each first, not measured: connections, caches and the heap after seeding.
	runLoad(t, client, clients, time.Second, lookup(srv.URL))
	runLoad(t, client, clients, time.Second, lookup(libSrv.URL))
	var filterRes loadResult
	type round struct{ ours, lib loadResult }
	var rounds []round
	for range envInt("SCIM_LOAD_ROUNDS", 1) {
		ours := runLoad(t, client, clients, time.Duration(seconds)*time.Second, lookup(srv.URL))
		floor := runLoad(t, client, clients, time.Duration(seconds)*time.Second, lookup(libSrv.URL))
		rounds = append(rounds, round{ours, floor})
		filterRes = ours
	}
	t.Logf("userName lookups, %d users, %d clients, %d s per round: this endpoint, then the SCIM library over a map", users, clients, seconds)
	t.Logf("%-6s %9s %9s %12s | %9s %9s %12s", "round", "req/s", "p99 ms", "CPU µs/req", "lib r/s", "lib p99", "lib CPU µs")
	for i, r := range rounds {
		t.Logf("%-6d %9.0f %9.2f %12.0f | %9.0f %9.2f %12.0f", i+1, r.ours.rate, r.ours.p99, r.ours.cpu, r.lib.rate, r.lib.p99, r.lib.cpu)
	}
	// Okta's import: pages of 100 at random offsets.
	pageRes := runLoad(t, client, clients, time.Duration(seconds)*time.Second, func(rng *rand.Rand, _ int64) (*http.Request, int) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/scim/v2/Users?startIndex=%d&count=100", srv.URL, 1+rng.IntN(users)), nil)
		return req, 200
	})
	// Member add: each request adds a different user who is not yet a member.
	var next atomic.Int64
	next.Store(int64(members))
	patchRes := runLoad(t, client, clients, time.Duration(seconds)*time.Second, func(_ *rand.Rand, _ int64) (*http.Request, int) {
		i := int(next.Add(1)-1) % len(ids)
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + ids[i] + `"}]}]}`
		req, _ := http.NewRequest("PATCH", srv.URL+"/scim/v2/Groups/"+gid, strings.NewReader(body))
		return req, 204
	})
	// The baseline: the same clients, requests and response body against
	// a handler that only looks the userName up in a Go map. It is what the
	// loopback HTTP round trip, the filter's parsing and the JSON cost on
	// this machine in this run, so the rows above it show what the SCIM
	// server and its SQLite store add on top, whatever else the machine is
	// doing.
	baseRes := runLoad(t, client, clients, time.Duration(seconds)*time.Second, baselineFilter(t, client, srv.URL, users))
	var count int
	if err := st.db.QueryRow(`SELECT count(*) FROM members`).Scan(&count); err != nil {
		t.Fatal(err)
	}

	t.Logf("GOMAXPROCS=%d, %d clients, %d s per case, group size at the end %d", runtime.GOMAXPROCS(0), clients, seconds, count)
	// CPU per request counts the clients too; it does not depend on what
	// else runs on the machine, unlike req/s and latency.
	t.Logf("%-44s %9s %9s %9s %9s %12s", "case", "requests", "req/s", "p50 ms", "p99 ms", "CPU µs/req")
	for _, r := range []struct {
		name string
		res  loadResult
	}{
		{`GET /Users?filter=userName eq "…"`, filterRes},
		{"PATCH /Groups/{id} add member (10k group)", patchRes},
		{"GET /Users?startIndex=…&count=100", pageRes},
		{`baseline: filter on a Go map (HTTP+JSON)`, baseRes},
	} {
		t.Logf("%-44s %9d %9.0f %9.2f %9.2f %12.0f", r.name, r.res.n, r.res.rate, r.res.p50, r.res.p99, r.res.cpu)
	}
}

// baselineFilter serves the userName filter from a map of userName to
// index, answering every hit with the body the real server gives for one
// user, and returns the request maker for runLoad.
func baselineFilter(t *testing.T, client *http.Client, realURL string, users int) func(*rand.Rand, int64) (*http.Request, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", realURL+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "user000000@example.com"`), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	index := make(map[string]int, users)
	for i := range users {
		index[fmt.Sprintf("user%06d@example.com", i)] = i
	}
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.URL.Query().Get("filter")
		name, ok := strings.CutPrefix(f, `userName eq "`)
		if _, found := index[strings.TrimSuffix(name, `"`)]; !ok || !found || r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		var v any
		json.Unmarshal(body, &v) // decode and encode, as a server renders a resource
		w.Header().Set("Content-Type", "application/scim+json")
		json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(base.Close)
	return func(rng *rand.Rand, _ int64) (*http.Request, int) {
		f := url.QueryEscape(fmt.Sprintf(`userName eq "user%06d@example.com"`, rng.IntN(users)))
		req, _ := http.NewRequest("GET", base.URL+"/scim/v2/Users?filter="+f, nil)
		return req, 200
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// seedLoad inserts users directly in one transaction (the HTTP path is what
// is measured, not the seeding) and a group with the first members users.
func seedLoad(t testing.TB, st *Store, users, members int) ([]string, string) {
	ctx := context.Background()
	ids := make([]string, users)
	var gid string
	err := st.write(ctx, func(tx wtx) error {
		now := st.nowMS()
		for i := range users {
			name := fmt.Sprintf("user%06d@example.com", i)
			doc := map[string]any{
				"userName": name, "active": true,
				"name":   map[string]any{"givenName": "Given", "familyName": fmt.Sprintf("Family%d", i)},
				"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}},
			}
			body, _ := json.Marshal(doc)
			s := &stored{rtype: typeUser, id: newID(), createdMS: now, modifiedMS: now, version: 1}
			if err := insertResource(ctx, tx, s, columnsOf(typeUser, doc), body); err != nil {
				return err
			}
			ids[i] = s.id
		}
		doc := map[string]any{"displayName": "Load Team"}
		body, _ := json.Marshal(doc)
		g := &stored{rtype: typeGroup, id: newID(), createdMS: now, modifiedMS: now, version: 1}
		if err := insertResource(ctx, tx, g, columnsOf(typeGroup, doc), body); err != nil {
			return err
		}
		gid = g.id
		refs := make([]memberRef, members)
		for i := range refs {
			refs[i] = memberRef{value: ids[i]}
		}
		_, _, err := addMembers(ctx, tx, g.seq, refs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, gid
}

type loadResult struct {
	n        int
	rate     float64
	p50, p99 float64 // milliseconds
	cpu      float64 // process CPU (server and clients) per request, microseconds
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runLoad sends requests from clients goroutines for d and measures them.
func runLoad(t *testing.T, client *http.Client, clients int, d time.Duration,
	mk func(rng *rand.Rand, i int64) (*http.Request, int)) loadResult {
	var (
		mu   sync.Mutex
		lats []time.Duration
		bad  atomic.Int64
		wg   sync.WaitGroup
		seq  atomic.Int64
	)
	deadline := time.Now().Add(d)
	begin := time.Now()
	cpu0 := cpuTime()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			var mine []time.Duration
			for time.Now().Before(deadline) {
				req, want := mk(rng, seq.Add(1))
				req.Header.Set("Authorization", "Bearer "+testToken)
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mine = append(mine, time.Since(t0))
				if res.StatusCode != want {
					bad.Add(1)
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	cpu := cpuTime() - cpu0
	if bad.Load() > 0 {
		t.Errorf("%d requests failed or got an unexpected status", bad.Load())
	}
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[int(float64(len(lats)-1)*p)].Microseconds()) / 1000
	}
	res := loadResult{n: len(lats), rate: float64(len(lats)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99)}
	if len(lats) > 0 {
		res.cpu = float64(cpu.Microseconds()) / float64(len(lats))
	}
	return res
}

// BenchmarkUserNameFilter is one `userName eq` lookup through the whole handler (no network)
// over SCIM_LOAD_USERS stored users (default 100,000), with its allocations.
func BenchmarkUserNameFilter(b *testing.B) {
	users := envInt("SCIM_LOAD_USERS", 100_000)
	st, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	seedLoad(b, st, users, 10)
	h, err := NewServer(Config{}, st, WithTokens(map[string]string{"load": testToken}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		f := url.QueryEscape(fmt.Sprintf(`userName eq "user%06d@example.com"`, rng.IntN(users)))
		req := httptest.NewRequest("GET", "/scim/v2/Users?filter="+f, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"totalResults":1`) {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}
