package evaluagentsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	f, err := ParseFaults("seed=7,429=0.1,storm=3,5xx=0.2,latency=5ms,jitter=1ms,reset=0.05,drop=0.3")
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{Seed: 7, Storm429: 0.1, StormRequests: 3, Error5xx: 0.2, Latency: 5 * time.Millisecond,
		LatencyJitter: time.Millisecond, Reset: 0.05, CommitDrop: 0.3}
	if f != want {
		t.Errorf("ParseFaults = %+v, want %+v", f, want)
	}
	if back, err := ParseFaults(f.String()); err != nil || back != f {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if all, err := ParseFaults("all,seed=3"); err != nil || all.Seed != 3 || all.Error5xx == 0 || all.CommitDrop == 0 || all.Reset == 0 || all.Storm429 == 0 {
		t.Errorf("all: %+v, %v", all, err)
	}
	for _, bad := range []string{"5xx=2", "nope=1", "latency=fast", "drop"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) succeeded", bad)
		}
	}
}

// rawSend makes a request and returns the status, or 0 when the connection broke.
func (h *harness) rawSend(method, path, body string) (int, http.Header) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url+"/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", basicAuth(DemoKeyID, DemoKeySecret))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func userCreateBody(username string) string {
	b, _ := json.Marshal(userBody("", person(username), nil))
	return string(b)
}

func TestFaultsEachKind(t *testing.T) {
	t.Run("reset changes nothing", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Faults = Faults{Reset: 1} })
		if st, _ := h.rawSend("POST", "/org/users", userCreateBody("reset@example.com")); st != 0 {
			t.Errorf("status %d, want a broken connection", st)
		}
		h.sim.SetFaults(Faults{})
		if n := len(h.sim.Users()); n != 0 {
			t.Errorf("%d users after a reset request", n)
		}
	})
	t.Run("commit then drop", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Faults = Faults{CommitDrop: 1} })
		if st, _ := h.rawSend("POST", "/org/users", userCreateBody("drop@example.com")); st != 0 {
			t.Errorf("status %d, want a broken connection", st)
		}
		if n := len(h.sim.Users()); n != 1 {
			t.Errorf("%d users, want the dropped create to have taken effect", n)
		}
		if st, _ := h.rawSend("GET", "/org/users", ""); st != 200 {
			t.Errorf("a GET is never dropped: status %d", st)
		}
		if c := h.sim.FaultCounts()[FaultCommitDrop]; c != 1 {
			t.Errorf("commit-drop count %d, want 1", c)
		}
	})
	t.Run("5xx changes nothing", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Faults = Faults{Error5xx: 1} })
		st, _ := h.rawSend("POST", "/org/users", userCreateBody("fail@example.com"))
		if st != 500 && st != 502 && st != 503 {
			t.Errorf("status %d, want a 5xx", st)
		}
		if n := len(h.sim.Users()); n != 0 {
			t.Errorf("%d users after a 5xx", n)
		}
	})
	t.Run("429 storm", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Faults = Faults{Storm429: 1, StormRequests: 3} })
		for i := range 3 {
			st, hdr := h.rawSend("GET", "/org/users", "")
			if st != 429 || hdr.Get("Retry-After") != "1" {
				t.Errorf("request %d: status %d Retry-After %q", i, st, hdr.Get("Retry-After"))
			}
		}
		h.sim.SetFaults(Faults{})
		if st, _ := h.rawSend("GET", "/org/users", ""); st != 200 {
			t.Errorf("after the storm: %d", st)
		}
	})
	t.Run("latency", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Faults = Faults{Latency: 30 * time.Millisecond} })
		start := time.Now()
		h.rawSend("GET", "/ping", "")
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("answered in %s, want at least 30ms", d)
		}
	})
}

// TestFaultsAreSeeded: the same seed and requests give the same faults.
func TestFaultsAreSeeded(t *testing.T) {
	seq := func(seed uint64) []int {
		h := newHarness(t, func(c *Config) {
			c.Faults = Faults{Seed: seed, Error5xx: 0.3, Storm429: 0.1, StormRequests: 2}
			c.RatePerMinute = 1000
		})
		var out []int
		for range 40 {
			st, _ := h.rawSend("GET", "/ping", "")
			out = append(out, st)
		}
		return out
	}
	a, b, c := seq(1), seq(1), seq(2)
	if !equalInts(a, b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if equalInts(a, c) {
		t.Errorf("different seeds, same faults: %v", a)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
