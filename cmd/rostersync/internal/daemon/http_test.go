package daemon

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHandlers(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	st := NewStatus(func() time.Time { return now })
	triggered := 0
	mux := NewMux(HandlerConfig{
		Status: st, ReadyAfter: 30 * time.Minute, Trigger: func() { triggered++ },
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m 1\n") }),
		Extra:   func() map[string]any { return map[string]any{"mode": "plan"} },
	})

	if code, _ := get(t, mux, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, mux, "GET", "/readyz"); code != 503 || !strings.Contains(body, "first pass") {
		t.Errorf("/readyz before any pass = %d %q", code, body)
	}

	st.begin(Full, now)
	st.end(Pass{Kind: Full, Started: now, Finished: now, Result: "failed", Error: "source hr: no such file"}, false, nil)
	if code, body := get(t, mux, "GET", "/readyz"); code != 503 || !strings.Contains(body, "no such file") {
		t.Errorf("/readyz after a failed pass = %d %q", code, body)
	}

	st.begin(Full, now)
	st.end(Pass{Kind: Full, Started: now, Finished: now, Result: "planned", Summary: "2 changes planned", Changes: 2},
		true, json.RawMessage(`{"ops":[1,2]}`))
	if code, _ := get(t, mux, "GET", "/readyz"); code != 200 {
		t.Errorf("/readyz after a good pass = %d", code)
	}
	now = now.Add(31 * time.Minute)
	if code, _ := get(t, mux, "GET", "/readyz"); code != 503 {
		t.Errorf("/readyz 31m after the last good pass = %d, want 503", code)
	}

	code, body := get(t, mux, "GET", "/status")
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 {
		t.Fatalf("/status = %d %v\n%s", code, err, body)
	}
	if len(rep.Passes) != 2 || rep.Passes[0].Summary != "2 changes planned" || !strings.Contains(body, `"ops": [`) || rep.Extra["mode"] != "plan" {
		t.Errorf("/status = %s", body)
	}

	if code, _ := get(t, mux, "POST", "/trigger"); code != 202 || triggered != 1 {
		t.Errorf("POST /trigger = %d, triggered %d", code, triggered)
	}
	if code, _ := get(t, mux, "GET", "/trigger"); code != 405 || triggered != 1 {
		t.Errorf("GET /trigger = %d, triggered %d", code, triggered)
	}
	if code, body := get(t, mux, "GET", "/metrics"); code != 200 || body != "m 1\n" {
		t.Errorf("/metrics = %d %q", code, body)
	}
}

func TestHealthyFollowsProgress(t *testing.T) {
	now := time.Unix(0, 0)
	st := NewStatus(func() time.Time { return now })
	if !st.Healthy(time.Minute) {
		t.Error("idle daemon unhealthy")
	}
	st.begin(Full, now)
	now = now.Add(50 * time.Second)
	st.Progress()
	now = now.Add(50 * time.Second)
	if !st.Healthy(time.Minute) {
		t.Error("unhealthy 50s after progress")
	}
	now = now.Add(20 * time.Second)
	if st.Healthy(time.Minute) {
		t.Error("healthy 70s after the last progress")
	}
	st.end(Pass{Finished: now, Error: errors.New("x").Error()}, false, nil)
	if !st.Healthy(time.Minute) {
		t.Error("unhealthy once the pass ended")
	}
}

func TestPassLine(t *testing.T) {
	p := Pass{Finished: time.Date(2026, 1, 1, 12, 0, 3, 0, time.UTC), Result: "ok", Summary: "3 changes applied"}
	if got, want := p.Line(), "last pass 12:00:03: 3 changes applied"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
	p.Error, p.Result = "list evaluagent: 401", "failed"
	if got, want := p.Line(), "last pass 12:00:03: failed: list evaluagent: 401"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}

// TestStandbyReadiness: a standby runs no pass, so its readiness is the
// role's: ready while it can read the lease, not ready when it cannot; a
// leader's is its passes'.
func TestStandbyReadiness(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	st := NewStatus(func() time.Time { return now })
	standby, ok, why := true, true, "standby; leader is host-a"
	triggered := 0
	mux := NewMux(HandlerConfig{Status: st, ReadyAfter: time.Minute, Trigger: func() { triggered++ },
		Standby: func() (bool, bool, string) { return standby, ok, why }})
	if code, body := get(t, mux, "POST", "/trigger"); code != 503 || !strings.Contains(body, "leader is host-a") || triggered != 0 {
		t.Errorf("POST /trigger on a standby = %d %q, %d passes asked for", code, body, triggered)
	}
	if code, body := get(t, mux, "GET", "/readyz"); code != 200 || !strings.Contains(body, "leader is host-a") {
		t.Errorf("/readyz of a standby = %d %q", code, body)
	}
	_, body := get(t, mux, "GET", "/status.json")
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || !rep.Ready || rep.ReadyReason != why {
		t.Errorf("/status of a standby: %+v %v", rep, err)
	}
	ok, why = false, "standby; the lease cannot be read: connection refused"
	if code, body := get(t, mux, "GET", "/readyz"); code != 503 || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz of a standby without the database = %d %q", code, body)
	}
	standby = false // leading: no pass yet
	if code, body := get(t, mux, "GET", "/readyz"); code != 503 || !strings.Contains(body, "first pass") {
		t.Errorf("/readyz of a leader before its first pass = %d %q", code, body)
	}
	if code, _ := get(t, mux, "POST", "/trigger"); code != 202 || triggered != 1 {
		t.Errorf("POST /trigger on the leader = %d, %d passes asked for", code, triggered)
	}
}
