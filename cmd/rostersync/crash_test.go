package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/state"
)

// buildBinary compiles rostersync into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rostersync")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// peopleCSV writes n people in four teams under two sites.
func peopleCSV(t *testing.T, dir string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("employee_id,first_name,last_name,email,start_date,status,role,site,department,team\n")
	teams := [][3]string{{"Leeds", "Support", "North"}, {"Leeds", "Support", "South"}, {"Leeds", "Sales", "Outbound"}, {"Glasgow", "Retentions", "Saves"}}
	for i := range n {
		tm := teams[i%len(teams)]
		fmt.Fprintf(&b, "P%05d,Person,Number%d,person%d@example.com,2024-01-15,active,Agent,%s,%s,%s\n", i, i, i, tm[0], tm[1], tm[2])
	}
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mapping.yaml"), m, 0o600); err != nil {
		t.Fatal(err)
	}
}

// simCounts reads the simulator's /_sim/counts.
func simCounts(base string) (writes int, statuses map[string]map[string]int, err error) {
	resp, err := http.Get(base + "/_sim/counts")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var v struct {
		Writes   int                       `json:"writes"`
		Statuses map[string]map[string]int `json:"statuses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, nil, err
	}
	return v.Writes, v.Statuses, nil
}

// TestKillMidApplyThenRestartConverges kills a real 'rostersync apply'
// process with SIGKILL in the middle of creating 300 people, restarts it,
// and checks that the platform converges with every person exactly once.
func TestKillMidApplyThenRestartConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const people = 300
	bin := buildBinary(t)
	dir := t.TempDir()
	peopleCSV(t, dir, people)

	// The simulator, in its own process, answering each request 10ms after
	// it took effect: a kill most likely lands while a write is in flight.
	simCmd := exec.Command(bin, "simulator", "-listen", "127.0.0.1:0", "-faults", "latency=10ms,seed=1", "-rate-per-minute", "1000000")
	simOut, err := simCmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	simCmd.Stderr = os.Stderr
	if err := simCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = simCmd.Process.Kill(); _ = simCmd.Wait() })
	sc := bufio.NewScanner(simOut)
	var base string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "base URL:"); ok {
			base = strings.TrimSpace(u)
			break
		}
	}
	if base == "" {
		t.Fatal("the simulator did not print its base URL")
	}
	go func() {
		for sc.Scan() { // drain
		}
	}()
	root := strings.TrimSuffix(base, "/v1")

	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(evaluagentsim.DemoKeySecret), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	env := append(os.Environ(),
		"ROSTERSYNC_MAPPING="+filepath.Join(dir, "mapping.yaml"),
		"ROSTERSYNC_STATE_DIR="+stateDir,
		"ROSTERSYNC_EVALUAGENT_BASE_URL="+base,
		"ROSTERSYNC_EVALUAGENT_KEY_ID="+evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE="+secret,
		"ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE=1000000",
		"ROSTERSYNC_LOG_FORMAT=text",
	)
	rs := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = env
		return c
	}

	// First apply: killed once a third of the people exist.
	first := rs("apply", "-yes")
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	writesAtKill := 0
	for {
		w, _, err := simCounts(root)
		if err != nil {
			t.Fatal(err)
		}
		if w >= people/3 {
			if err := first.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			writesAtKill = w
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the apply made only %d writes in 60s\n%s", w, firstErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Wait(); err == nil {
		t.Fatal("the first apply finished before it was killed; the test proves nothing")
	}
	time.Sleep(50 * time.Millisecond) // let the simulator finish the request in flight

	// What the kill left: journal entries begun and never finished, and
	// whether the platform had them.
	ctx := context.Background()
	client, err := evaluagent.New(evaluagent.Config{BaseURL: base, KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret, RatePerMinute: 1000000})
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := db.JournalPending(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	led, err := db.Ledger(ctx, "evaluagent")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	mid, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	committedUnrecorded := 0
	for _, u := range mid.Users {
		if _, ok := led["user"][u.ThirdPartyID]; !ok {
			committedUnrecorded++
		}
	}

	// Restart: it must resume, recover what was in flight, and finish.
	second := rs("apply", "-yes")
	var secondOut, secondErr bytes.Buffer
	second.Stdout, second.Stderr = &secondOut, &secondErr
	if err := second.Run(); err != nil {
		t.Fatalf("restarted apply: %v\n%s\n%s", err, secondOut.String(), secondErr.String())
	}
	check := rs("plan", "-detailed-exitcode")
	var checkOut bytes.Buffer
	check.Stdout = &checkOut
	if err := check.Run(); err != nil {
		t.Fatalf("plan after the restart: %v (exit 2 means changes remain)\n%s", err, checkOut.String())
	}

	final, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byTPID := map[string]int{}
	byName := map[string]int{}
	for _, u := range final.Users {
		byTPID[u.ThirdPartyID]++
		byName[strings.ToLower(u.Username)]++
	}
	dups := 0
	for k, n := range byTPID {
		if n > 1 {
			t.Errorf("third_party_id %s: %d users", k, n)
			dups++
		}
	}
	for k, n := range byName {
		if n > 1 {
			t.Errorf("username %s: %d users", k, n)
			dups++
		}
	}
	if len(final.Users) != people {
		t.Errorf("%d users on the platform, want %d", len(final.Users), people)
	}
	_, statuses, err := simCounts(root)
	if err != nil {
		t.Fatal(err)
	}
	creates := statuses["POST /org/users"]
	if creates["422"] != 0 {
		t.Errorf("%d creates were refused (422): a create was sent again for someone who existed", creates["422"])
	}
	if creates["201"] != people {
		t.Errorf("%d successful creates, want exactly %d", creates["201"], people)
	}
	recovered := strings.Count(secondErr.String(), "recovered an interrupted create")
	if committedUnrecorded > 0 && recovered == 0 {
		t.Errorf("%d users took effect without being recorded, but the restart recovered none:\n%s", committedUnrecorded, secondErr.String())
	}
	if strings.Contains(secondOut.String(), "\n  & adopt ") {
		t.Errorf("the restart adopted users instead of recovering them:\n%s", secondOut.String())
	}
	t.Logf("crash test: killed 'rostersync apply' (SIGKILL) after %d writes; %d journal entries in flight, %d users created but not yet recorded; "+
		"the restart recovered %d, converged (plan -detailed-exitcode: 0), %d users for %d people, %d duplicate creates",
		writesAtKill, len(pending), committedUnrecorded, recovered, len(final.Users), people, creates["422"]+dups)
}
