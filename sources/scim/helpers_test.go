package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rostersync/rostersync/state/pgtest"
)

const testToken = "s3cr3t-token"

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend is one of the two a store runs on. The tests of the suite run on
// each, as subtests named after it (TestX/sqlite, TestX/postgres).
type backend struct {
	name string
	url  func(t *testing.T) string // "" for SQLite
}

var backends = []backend{
	{"sqlite", func(*testing.T) string { return "" }},
	// A fresh database of a shared server; skipped, with the package to
	// install, where PostgreSQL is missing (unless CI requires it).
	{"postgres", func(t *testing.T) string { return pgtest.Shared(t).Database(t) }},
}

// testURLs holds the store URL of each running subtest of forEachBackend.
var testURLs sync.Map // *testing.T → string

// forEachBackend runs fn as a subtest per backend; newEnv and openTest in
// fn open the store on that subtest's backend.
func forEachBackend(t *testing.T, fn func(t *testing.T)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			testURLs.Store(t, b.url(t))
			t.Cleanup(func() { testURLs.Delete(t) })
			fn(t)
		})
	}
}

// backendURL is the store URL of t's backend: "" (SQLite) outside
// forEachBackend.
func backendURL(t *testing.T) string {
	u, _ := testURLs.Load(t)
	s, _ := u.(string)
	return s
}

// openTest opens the store of t's backend, in dir on SQLite.
func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	st, err := OpenStoreURL(context.Background(), dir, backendURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type env struct {
	t       *testing.T
	srv     *httptest.Server
	store   *Store
	dir     string
	changes atomic.Int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st := openTest(t, dir)
	e := &env{t: t, store: st, dir: dir}
	e.start()
	t.Cleanup(func() {
		e.srv.Close()
		e.store.Close()
	})
	return e
}

func (e *env) start() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := NewServer(Config{MaxResults: 200}, e.store, WithTokens(map[string]string{"test": testToken}),
		WithLogger(log), WithOnChange(func() { e.changes.Add(1) }))
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request to the endpoint; path is relative to /scim/v2.
func (e *env) do(method, path, body string) resp {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+testToken)
}

func (e *env) doAuth(method, path, body, auth string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/scim/v2"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	if r.status >= 500 {
		e.t.Fatalf("%s %s: %d %s", method, path, r.status, raw)
	}
	return r
}

// must fails the test unless the status is want.
func (r resp) must(t *testing.T, want int) resp {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.raw)
	}
	return r
}

func (r resp) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

// get walks a dotted path with numeric indexes: "Resources.0.id".
func (r resp) get(path string) any {
	var cur any = r.body
	parts := strings.Split(path, ".")
	if rest, ok := strings.CutPrefix(path, enterpriseURN); ok {
		cur = r.body[enterpriseURN]
		parts = strings.Split(strings.TrimPrefix(rest, "."), ".")
	}
	for _, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i := 0
			for _, ch := range p {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (r resp) num(path string) int {
	f, _ := r.get(path).(float64)
	return int(f)
}

func q(s string) string { return strings.ReplaceAll(s, " ", "%20") }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
