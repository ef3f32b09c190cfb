package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func (d *daemonProc) getAccept(path, accept string) (string, string) {
	d.t.Helper()
	req, _ := http.NewRequest("GET", d.base+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Header.Get("Content-Type"), string(b)
}

// TestStatusHistorySurvivesARestart: the passes /status reports come from
// the stored run history, so a restarted daemon still shows the passes
// before it; a browser gets the page, a program JSON.
func TestStatusHistorySurvivesARestart(t *testing.T) {
	r := newRig(t)
	extra := map[string]string{"ROSTERSYNC_INTERVAL": "1h", "ROSTERSYNC_DELTA_INTERVAL": "0"}
	d := startServe(t, r, extra)
	d.waitLog(`msg="pass finished"`, 60*time.Second)
	d.signal(syscall.SIGTERM)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	d = startServe(t, r, extra)
	d.waitLog(`msg="pass finished"`, 60*time.Second)
	d.waitMetric(`rostersync_passes_total{kind="full",result="planned"}`, 1, 10*time.Second)
	ctype, body := d.getAccept("/status.json", "text/html")
	var rep struct {
		Passes   []struct{ Kind, Result string } `json:"passes"`
		NextPass *struct {
			At   time.Time `json:"at"`
			Kind string    `json:"kind"`
		} `json:"next_pass"`
		Daemon struct {
			Sources []struct {
				Name    string `json:"name"`
				Records int    `json:"records"`
			} `json:"sources"`
		} `json:"daemon"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("/status.json: %s %v\n%s", ctype, err, body)
	}
	if len(rep.Passes) != 2 || rep.Passes[1].Result != "planned" {
		t.Errorf("after a restart /status.json shows %d passes, want this one and the one before: %+v", len(rep.Passes), rep.Passes)
	}
	if rep.NextPass == nil || rep.NextPass.Kind != "full" || time.Until(rep.NextPass.At) < 50*time.Minute {
		t.Errorf("next pass %+v, want a full pass about an hour away", rep.NextPass)
	}
	if len(rep.Daemon.Sources) != 1 || rep.Daemon.Sources[0].Records != 12 {
		t.Errorf("sources %+v, want hr with 12 records", rep.Daemon.Sources)
	}

	if ctype, body := d.getAccept("/status", "application/json"); !strings.HasPrefix(ctype, "application/json") || !strings.Contains(body, `"passes"`) {
		t.Errorf("/status asked for JSON gave %s", ctype)
	}
	if ctype, _ := d.getAccept("/status", ""); !strings.HasPrefix(ctype, "application/json") {
		t.Errorf("/status for a program that states no preference gave %s, want JSON as before", ctype)
	}
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, path := range []string{"/", "/status"} {
		ctype, page := d.getAccept(path, browser)
		if !strings.HasPrefix(ctype, "text/html") || strings.Count(page, "<tr data-run=") != 2 {
			t.Errorf("%s for a browser: %s with %d passes listed, want the page with 2", path, ctype, strings.Count(page, "<tr data-run="))
		}
	}
}

// TestPlanModeLogsOnlyWhatChanged: an unchanged plan is not logged again
// every pass; a new person is one new CHANGE line, with structured fields.
func TestPlanModeLogsOnlyWhatChanged(t *testing.T) {
	r := newRig(t)
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_LOG_FORMAT": "json", "ROSTERSYNC_INTERVAL": "1h",
		"ROSTERSYNC_DELTA_INTERVAL": "0", "ROSTERSYNC_DEBOUNCE": "50ms",
	})
	d.waitLog(`"msg":"pass finished"`, 60*time.Second)
	first := d.countLog(`"level":"CHANGE"`)
	if first != 21 {
		t.Fatalf("the first pass logged %d CHANGE lines, want the plan's 21", first)
	}
	d.post("/trigger")
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="planned"}`, 1, 30*time.Second)
	if n := d.countLog(`"level":"CHANGE"`); n != first {
		t.Errorf("an unchanged plan logged %d more CHANGE lines", n-first)
	}
	r.addPerson("E2001", "Nadia", "Osei")
	d.post("/trigger")
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="planned"}`, 2, 30*time.Second)
	var fresh []map[string]any
	for _, line := range strings.Split(d.logText(), "\n")[1:] {
		line = strings.TrimPrefix(strings.TrimPrefix(line, "<5>"), "<6>")
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "CHANGE" && rec["key"] == "E2001" {
			fresh = append(fresh, rec)
		}
	}
	if len(fresh) != 1 || fresh[0]["action"] != "create" || fresh[0]["kind"] != "user" || fresh[0]["target"] != "evaluagent" {
		t.Errorf("the new person's CHANGE lines: %v; want one, with action, kind, key and target", fresh)
	}
	if !strings.Contains(d.logText(), `"unchanged":21`) {
		t.Errorf("no summary line counting the unchanged operations:\n%s", d.logText())
	}
}

// TestStatusShowsTheFirstPendingOps: with more pending operations than the
// page shows, the page and /status.json show the plan's first ones, in
// plan order, and count the rest; a restarted daemon shows the same from
// the stored plan before its own first pass.
func TestStatusShowsTheFirstPendingOps(t *testing.T) {
	r := newRig(t)
	for i := range 130 {
		r.addPerson(fmt.Sprintf("E3%03d", i), "Extra", fmt.Sprintf("Person%03d", i))
	}
	extra := map[string]string{"ROSTERSYNC_INTERVAL": "1h", "ROSTERSYNC_DELTA_INTERVAL": "0"}
	d := startServe(t, r, extra)
	d.waitLog(`msg="pass finished"`, 60*time.Second)
	_, body := d.getAccept("/status.json", "")
	var rep struct {
		Pending struct {
			Summary struct{ Create, Update, Adopt, Deactivate, Held int } `json:"summary"`
			Ops     []struct {
				Key    string `json:"key"`
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"ops"`
			Omitted int `json:"ops_omitted"`
		} `json:"pending_plan"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/status.json: %v\n%s", err, body)
	}
	p := rep.Pending
	sum := p.Summary
	pending := sum.Create + sum.Update + sum.Adopt + sum.Deactivate + sum.Held
	if sum.Create < 130 || len(p.Ops) != pendingOpsShown || len(p.Ops)+p.Omitted != pending {
		t.Fatalf("pending plan: %d pending, %d ops shown, %d omitted; want the first %d shown and the rest counted",
			pending, len(p.Ops), p.Omitted, pendingOpsShown)
	}
	browser := "text/html,application/xhtml+xml"
	check := func(when string) {
		_, page := d.getAccept("/", browser)
		want := fmt.Sprintf("%d operations (and %d more in the state database)", pendingOpsShown, p.Omitted)
		if !strings.Contains(page, want) {
			t.Errorf("%s: the page does not say %q:\n%s", when, want, page)
		}
		// The page lists the same operations as /status.json, in order.
		last := -1
		for _, op := range []int{0, pendingOpsShown / 2, pendingOpsShown - 1} {
			at := strings.Index(page, "<code>["+p.Ops[op].Key+"]</code>")
			if at < 0 || at < last {
				t.Errorf("%s: op %d (%s) not on the page in plan order", when, op, p.Ops[op].Key)
			}
			last = at
		}
		if n := strings.Count(page, `<li class="op op-`); n != pendingOpsShown {
			t.Errorf("%s: the page lists %d operations, want %d", when, n, pendingOpsShown)
		}
	}
	check("after the first pass")
}

// TestServeCollectorPacing: the daemon collects at gcPercent unless
// GOGC is set, when the operator's value stands (as /metrics reports it).
func TestServeCollectorPacing(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		env  map[string]string
		want float64
	}{
		{map[string]string{}, gcPercent},
		{map[string]string{"GOGC": "120"}, 120},
	} {
		c.env["ROSTERSYNC_INTERVAL"] = "1h"
		d := startServe(t, r, c.env)
		d.waitLog(`msg="pass finished"`, 60*time.Second)
		if got := d.metric("go_gc_gogc_percent"); got != c.want {
			t.Errorf("GOGC %q: go_gc_gogc_percent = %v, want %v", c.env["GOGC"], got, c.want)
		}
		d.signal(syscall.SIGTERM)
		if err := d.wait(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
}
