package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// webhookSink records the events posted to it.
type webhookSink struct {
	mu     sync.Mutex
	events []map[string]any
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev map[string]any
	if json.Unmarshal(b, &ev) == nil {
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	}
}

func (s *webhookSink) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.events {
		out = append(out, ev["event"].(string))
	}
	return out
}

func (s *webhookSink) wait(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Join(s.kinds(), ",") != strings.Join(want, ",") {
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %v, want %v", s.kinds(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeNotifiesHoldsFailuresAndSourceHealth: a webhook hears of held
// removals, of a source that breaks (and the pass that fails with it, once),
// and of its recovery; nothing for passes that go well.
func TestServeNotifiesHoldsFailuresAndSourceHealth(t *testing.T) {
	sink := &webhookSink{}
	ts := httptest.NewServer(sink)
	defer ts.Close()
	r := newRig(t)
	hooks := filepath.Join(r.dir, "webhooks")
	if err := os.WriteFile(hooks, []byte("json "+ts.URL+"/hook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0"
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE": "apply", "ROSTERSYNC_DELTA_INTERVAL": "0", "ROSTERSYNC_INTERVAL": "1h",
		"ROSTERSYNC_DEBOUNCE": "50ms", "ROSTERSYNC_NOTIFY_WEBHOOKS_FILE": hooks,
		"ROSTERSYNC_NOTIFY_LINK": "https://rostersync.example.com/",
	})
	d.waitLog(`msg="pass finished" kind=full result=ok`, 60*time.Second)

	r.leave("E1002")
	d.post("/trigger")
	sink.wait(t, []string{"held"})

	good, err := os.ReadFile(filepath.Join(r.dir, "people.csv"))
	if err != nil {
		t.Fatal(err)
	}
	r.addRow(`E3000,"Broken,Quote,x@example.com,2026-01-01,active,Agent,Leeds,Support,North`)
	d.post("/trigger")
	sink.wait(t, []string{"held", "source_unhealthy", "pass_failed"})
	d.post("/trigger") // fails the same way: nothing new to tell
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="failed"}`, 2, 30*time.Second)

	if err := os.WriteFile(filepath.Join(r.dir, "people.csv"), good, 0o600); err != nil {
		t.Fatal(err)
	}
	d.post("/trigger")
	sink.wait(t, []string{"held", "source_unhealthy", "pass_failed", "source_recovered"})

	sink.mu.Lock()
	defer sink.mu.Unlock()
	held, broken := sink.events[0], sink.events[1]
	if !strings.Contains(held["text"].(string), "ben.carter@example.com") || held["link"] != "https://rostersync.example.com/" || held["severity"] != "warning" {
		t.Errorf("held event: %v", held)
	}
	if !strings.Contains(broken["text"].(string), "people.csv") || broken["severity"] != "critical" {
		t.Errorf("source event does not say which file broke: %v", broken)
	}
}
