package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// scimRig is a rig whose configuration has a SCIM source with the token
// "entra-token".
func scimRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	if err := os.WriteFile(filepath.Join(r.dir, "mapping.yaml"), []byte(scimConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "scim-tokens"), []byte("entra:entra-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestServeSlowBodiesDoNotStarveOthers: 150 connections whose bodies
// trickle in (to SCIM with and without a token, and to /trigger) do not
// keep /healthz, SCIM or /status from answering, and the unauthenticated
// ones are answered 401 before their body arrives.
func TestServeSlowBodiesDoNotStarveOthers(t *testing.T) {
	r := scimRig(t)
	d := startServe(t, r, map[string]string{"ROSTERSYNC_INTERVAL": "1h"})
	d.waitLog(`msg="pass finished"`, 60*time.Second)
	addr := strings.TrimPrefix(d.base, "http://")

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var early []net.Conn // expect a 401 without sending the body
	for i := range 150 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		var req string
		switch i % 3 {
		case 0:
			req = "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer entra-token\r\nContent-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{"
		case 1:
			req = "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{"
			early = append(early, c)
		case 2:
			req = "POST /trigger HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx"
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := d.get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d with 150 slow bodies open", code)
	}
	req, _ := http.NewRequest("GET", d.base+"/scim/v2/Users?count=1", nil)
	req.Header.Set("Authorization", "Bearer entra-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SCIM with 150 slow bodies open: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("SCIM with 150 slow bodies open: %d", resp.StatusCode)
	}
	if code, _ := d.get("/status"); code != 200 {
		t.Fatalf("/status = %d with 150 slow bodies open", code)
	}
	// 100,000 nested parentheses (300 KB once escaped) through the real
	// listener: a SCIM 400, and the daemon still answers afterwards.
	deep := strings.Repeat("(", 100_000) + `userName eq "a"` + strings.Repeat(")", 100_000)
	req, _ = http.NewRequest("GET", d.base+"/scim/v2/Users?filter="+url.QueryEscape(deep), nil)
	req.Header.Set("Authorization", "Bearer entra-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("deep filter: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"scimType":"invalidFilter"`) {
		t.Fatalf("deep filter: %d %s", resp.StatusCode, body)
	}
	if code, _ := d.get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d after the deep filter", code)
	}
	for i, c := range early {
		c.SetReadDeadline(time.Now().Add(10 * time.Second)) // well before the 30s body deadline
		buf := make([]byte, 12)
		if _, err := io.ReadFull(c, buf); err != nil || !strings.HasPrefix(string(buf), "HTTP/1.1 401") {
			t.Fatalf("unauthenticated slow body %d: %q %v, want a 401 before the body", i, buf, err)
		}
	}
}

// TestServeListenerPolicy: settings that would expose SCIM in clear or the
// admin endpoints without a token are refused before listening, each named
// by its variable; with a token, the admin endpoints beyond loopback need it.
func TestServeListenerPolicy(t *testing.T) {
	r := scimRig(t)
	r.env["ROSTERSYNC_LISTEN"] = "0.0.0.0:0"
	if code := r.run("serve"); code != 1 ||
		!strings.Contains(r.stderr.String(), "ROSTERSYNC_ADMIN_TOKEN_FILE: required when ROSTERSYNC_LISTEN (\"0.0.0.0:0\") is not a loopback address") ||
		!strings.Contains(r.stderr.String(), "ROSTERSYNC_SCIM_LISTEN: required when ROSTERSYNC_LISTEN") {
		t.Errorf("admin and SCIM beyond loopback: exit %d\n%s", code, r.stderr.String())
	}
	r.env["ROSTERSYNC_LISTEN"] = "127.0.0.1:0"
	r.env["ROSTERSYNC_SCIM_LISTEN"] = ":0"
	if code := r.run("serve"); code != 1 ||
		!strings.Contains(r.stderr.String(), "ROSTERSYNC_SCIM_LISTEN: \":0\" is not a loopback address and TLS is off") ||
		!strings.Contains(r.stderr.String(), "ROSTERSYNC_SCIM_ALLOW_PLAIN_HTTP=true") {
		t.Errorf("SCIM in clear: exit %d\n%s", code, r.stderr.String())
	}

	// check reports the same, every problem at once, without starting.
	r.env["ROSTERSYNC_LISTEN"] = "0.0.0.0:0"
	if code := r.run("check"); code == 0 ||
		!strings.Contains(r.stderr.String()+r.stdout.String(), "ROSTERSYNC_ADMIN_TOKEN_FILE: required") ||
		!strings.Contains(r.stderr.String()+r.stdout.String(), "ROSTERSYNC_SCIM_LISTEN: \":0\" is not a loopback address") {
		t.Errorf("check: exit %d\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	r.env["ROSTERSYNC_LISTEN"] = "127.0.0.1:0"

	token := filepath.Join(r.dir, "admin-token")
	if err := os.WriteFile(token, []byte("admin-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_LISTEN": "0.0.0.0:0", "ROSTERSYNC_ADMIN_TOKEN_FILE": token,
		"ROSTERSYNC_SCIM_LISTEN": "127.0.0.1:0", "ROSTERSYNC_INTERVAL": "1h",
	})
	for _, path := range []string{"/status", "/metrics"} {
		if code, _ := d.get(path); code != 401 {
			t.Errorf("GET %s without the token = %d, want 401", path, code)
		}
	}
	if code := d.post("/trigger"); code != 401 {
		t.Errorf("POST /trigger without the token = %d, want 401", code)
	}
	if code, _ := d.get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200 without a token", code)
	}
	req, _ := http.NewRequest("GET", d.base+"/status", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /status with the token = %d", resp.StatusCode)
	}
	// SCIM is not on the admin listener.
	if code, _ := d.get("/scim/v2/Users"); code != 401 && code != 404 {
		t.Errorf("SCIM on the admin listener: %d", code)
	}
}

// TestSecondWriterRefused: while "rostersync serve" runs on a state
// directory, "rostersync apply" on it is refused with the holder named and
// nothing written; "plan" (read-only) still runs.
func TestSecondWriterRefused(t *testing.T) {
	r := newRig(t)
	d := startServe(t, r, map[string]string{"ROSTERSYNC_INTERVAL": "1h"})
	d.waitLog(`msg="pass finished"`, 60*time.Second)
	writes := r.sim.Writes()
	code := r.run("apply", "-yes")
	pid := fmt.Sprintf("process %d (rostersync serve), since ", d.cmd.Process.Pid)
	if code != 1 || !strings.Contains(r.stderr.String(), "is in use by "+pid) {
		t.Fatalf("second writer: exit %d\n%s", code, r.stderr.String())
	}
	if w := r.sim.Writes(); w != writes {
		t.Fatalf("the refused apply wrote %d times", w-writes)
	}
	r.mustRun("plan")
}

// gatedWrites holds every write to the platform until open is closed, and
// says on first when the first write arrived.
type gatedWrites struct {
	h     http.Handler
	first chan struct{}
	open  chan struct{}
	once  sync.Once
}

func (g *gatedWrites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		g.once.Do(func() { close(g.first) })
		<-g.open
	}
	g.h.ServeHTTP(w, r)
}

// TestTwoAppliesOnOneStateDir: a second "rostersync apply" on a state
// directory whose first apply is still writing stops at once, naming the
// first (pid, command, since when), and writes nothing; the first finishes.
func TestTwoAppliesOnOneStateDir(t *testing.T) {
	r := newRig(t)
	g := &gatedWrites{h: r.sim, first: make(chan struct{}), open: make(chan struct{})}
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	})
	r.env["ROSTERSYNC_EVALUAGENT_BASE_URL"] = ts.URL + "/v1"

	first := exec.Command(os.Args[0], "apply", "-yes")
	first.Env = []string{"ROSTERSYNC_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range r.env {
		first.Env = append(first.Env, k+"="+v)
	}
	var out strings.Builder
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case <-g.first:
	case err := <-done:
		t.Fatalf("first apply ended before writing: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("first apply wrote nothing within 60s\n%s", out.String())
	}
	writes := r.sim.Writes()

	code := r.run("apply", "-yes")
	want := fmt.Sprintf("is in use by process %d (rostersync apply), since ", first.Process.Pid)
	if code != 1 || !strings.Contains(r.stderr.String(), want) {
		t.Errorf("second apply: exit %d, want 1 and %q in:\n%s", code, want, r.stderr.String())
	}
	if w := r.sim.Writes(); w != writes {
		t.Errorf("writes went from %d to %d during the refused apply", writes, w)
	}
	close(g.open)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first apply: %v\n%s", err, out.String())
		}
	case <-time.After(120 * time.Second):
		t.Fatal("first apply did not finish")
	}
	r.mustRun("apply", "-yes") // the lock is free again
}
