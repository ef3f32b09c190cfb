package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

func TestRecordsAndExposes(t *testing.T) {
	m := New("v1.2.3", "apply")
	fin := time.Unix(1700000000, 0)
	m.Pass("full", "ok", 1500*time.Millisecond, true, fin)
	m.Pass("trigger", "failed", time.Second, false, fin.Add(time.Minute))
	m.Op("create", "user", "applied")
	m.Op("create", "user", "applied")
	m.Op("deactivate", "user", "failed")
	m.Plan(3, 7)
	m.Source("hr", 120, true, false)
	m.Source("ad", 0, false, true)
	m.Request("evaluagent", "GET /org/users", 200, 30*time.Millisecond)
	m.Request("evaluagent", "POST /org/users", 429, 10*time.Millisecond)
	m.RateLimitWait("evaluagent", "POST /org/users", 2*time.Second)
	m.Reload(false)

	out := scrape(t, m)
	for _, want := range []string{
		`rostersync_build_info{mode="apply",version="v1.2.3"} 1`,
		`rostersync_passes_total{kind="full",result="ok"} 1`,
		`rostersync_passes_total{kind="trigger",result="failed"} 1`,
		`rostersync_pass_duration_seconds_sum{kind="full",result="ok"} 1.5`,
		`rostersync_last_success_timestamp_seconds 1.7e+09`,
		`rostersync_operations_total{action="create",kind="user",outcome="applied"} 2`,
		`rostersync_operations_total{action="deactivate",kind="user",outcome="failed"} 1`,
		`rostersync_held_operations 3`,
		`rostersync_pending_operations 7`,
		`rostersync_source_records{source="hr"} 120`,
		`rostersync_source_healthy{source="hr"} 1`,
		`rostersync_source_healthy{source="ad"} 0`,
		`rostersync_platform_requests_total{endpoint="GET /org/users",status="200",target="evaluagent"} 1`,
		`rostersync_platform_throttled_total{endpoint="POST /org/users",target="evaluagent"} 1`,
		`rostersync_rate_limit_waits_total{endpoint="POST /org/users",target="evaluagent"} 1`,
		`rostersync_rate_limit_wait_seconds_total{endpoint="POST /org/users",target="evaluagent"} 2`,
		`rostersync_reloads_total{result="failed"} 1`,
		`rostersync_reloads_total{result="ok"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, `rostersync_source_records{source="ad"}`) {
		t.Error("a failed read set a record count")
	}
}

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.Pass("full", "ok", 0, true, time.Now())
	m.Op("create", "user", "applied")
	m.Plan(1, 1)
	m.Source("hr", 1, true, false)
	m.Request("evaluagent", "GET /ping", 200, 0)
	m.RateLimitWait("evaluagent", "GET /ping", 0)
	m.Reload(true)
}

// TestLeaseGauges: the lease's gauges read the role at each scrape.
func TestLeaseGauges(t *testing.T) {
	m := New("v1.2.3", "apply")
	leader, epoch, expires, takeovers := false, int64(3), time.Unix(1700000000, 0), 0
	m.Lease(func() (bool, int64, time.Time, int) { return leader, epoch, expires, takeovers })
	m.Lease(func() (bool, int64, time.Time, int) { panic("a second registration is ignored") })
	out := scrape(t, m)
	for _, want := range []string{"rostersync_lease_leader 0", "rostersync_lease_epoch 3",
		"rostersync_lease_expiry_timestamp_seconds 1.7e+09", "rostersync_lease_takeovers_total 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("standby: no %q in\n%s", want, out)
		}
	}
	leader, epoch, takeovers = true, 4, 1
	out = scrape(t, m)
	for _, want := range []string{"rostersync_lease_leader 1", "rostersync_lease_epoch 4", "rostersync_lease_takeovers_total 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("leader: no %q in\n%s", want, out)
		}
	}
}
