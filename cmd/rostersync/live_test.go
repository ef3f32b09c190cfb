package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// liveRig is "rostersync serve" in apply mode over a real directory with
// live: {mode: auto}, scheduled passes an hour apart: only a change heard
// from the directory can start a pass in a test's lifetime.
type liveRig struct {
	tb   testing.TB
	dir  liveDirectory
	sim  *evaluagentsim.Server
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

// liveDirectory is the directory a liveRig follows.
type liveDirectory struct {
	// source is the ldap: block of the configuration, indented for it.
	source string
	// mapping is the mapping: block.
	mapping string
	// ldapmodify are the connection arguments of ldapmodify.
	ldapmodify []string
	dn         func(i int) string
	username   func(i int) string
}

func slapdDirectory(s *ldaptest.Slapd) liveDirectory {
	return liveDirectory{
		source: fmt.Sprintf(`      url: %s
      bind_dn: %s
      bind_password_file: %s
      people: {base_dn: "%s"}
      groups: {base_dn: "%s"}
`, s.URL, s.ReaderDN, s.ReaderPasswordFile, s.PeopleDN, s.GroupsDN),
		mapping: `  user: {username: uid, email: mail, forename: givenName, surname: sn, third_party_id: employeeNumber}
  roles: {default: [agent]}
  team: {group_pattern: "^team-(.+)$"}
`,
		ldapmodify: []string{"-x", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword},
		dn:         s.UserDN,
		username:   s.UID,
	}
}

func sambaDirectory(s *ldaptest.SambaAD) liveDirectory {
	return liveDirectory{
		source: fmt.Sprintf(`      url: %s
      flavor: ad
      bind_dn: %s
      bind_password_file: %s
      people: {base_dn: "%s"}
      groups: {base_dn: "%s"}
`, s.URL, s.AdminUPN, s.AdminPasswordFile, s.PeopleDN, s.GroupsDN),
		mapping: `  user: {username: sAMAccountName, email: mail, forename: givenName, surname: sn, active: {attr: _active, values: ["true"]}}
  roles: {default: [agent]}
  team: {group_pattern: "^team-.+$"}
`,
		ldapmodify: []string{"-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword},
		dn:         s.UserDN,
		username:   s.Sam,
	}
}

func startLive(tb testing.TB, d liveDirectory, debounce string) *liveRig {
	tb.Helper()
	cfg := evaluagentsim.DefaultConfig()
	cfg.RatePerMinute = 100_000
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	tb.Cleanup(ts.Close)
	dir := tb.TempDir()
	conf := "sources:\n  - name: corp\n    type: ldap\n    ldap:\n" + d.source + "      live: {mode: auto}\nmapping:\n" + d.mapping
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(evaluagentsim.DemoKeySecret), 0o600); err != nil {
		tb.Fatal(err)
	}
	r := &liveRig{tb: tb, dir: d, sim: sim}
	r.cmd = exec.Command(os.Args[0], "serve")
	r.cmd.Env = []string{"ROSTERSYNC_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"ROSTERSYNC_LISTEN=127.0.0.1:0",
		"ROSTERSYNC_MAPPING=" + filepath.Join(dir, "config.yaml"),
		"ROSTERSYNC_STATE_DIR=" + filepath.Join(dir, "state"),
		"ROSTERSYNC_EVALUAGENT_BASE_URL=" + ts.URL + "/v1",
		"ROSTERSYNC_EVALUAGENT_KEY_ID=" + evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE=" + secret,
		"ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE=100000",
		"ROSTERSYNC_LOG_FORMAT=text", "ROSTERSYNC_LOG_LEVEL=debug",
		"ROSTERSYNC_SERVE_MODE=apply", "ROSTERSYNC_INTERVAL=1h", "ROSTERSYNC_DELTA_INTERVAL=0",
	}
	if debounce != "" {
		r.cmd.Env = append(r.cmd.Env, "ROSTERSYNC_DEBOUNCE="+debounce)
	}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	r.cmd.Stdout = io.Discard
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.logs.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		r.cmd.Process.Kill()
		<-done
		r.cmd.Wait()
		if tb.Failed() {
			tb.Logf("daemon log:\n%s", r.log())
		}
	})
	r.waitLog(`msg="pass finished" kind=full result=ok`, 2*time.Minute)
	return r
}

func (r *liveRig) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

func (r *liveRig) waitLog(s string, timeout time.Duration) {
	r.tb.Helper()
	for start := time.Now(); time.Since(start) < timeout; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(r.log(), s) {
			return
		}
	}
	r.tb.Fatalf("no %q in the daemon's log within %s", s, timeout)
}

// modify changes person i's surname with ldapmodify, as an administrator
// would.
func (r *liveRig) modify(i int, sn string) {
	r.tb.Helper()
	cmd := exec.Command("ldapmodify", r.dir.ldapmodify...)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: sn\nsn: %s\n", r.dir.dn(i), sn))
	if out, err := cmd.CombinedOutput(); err != nil {
		r.tb.Fatalf("ldapmodify: %v\n%s", err, out)
	}
}

// waitSurname waits until the platform holds person i with surname sn.
func (r *liveRig) waitSurname(i int, sn string, timeout time.Duration) time.Duration {
	r.tb.Helper()
	start := time.Now()
	name := r.dir.username(i)
	for time.Since(start) < timeout {
		for _, u := range r.sim.Users() {
			if u.Username == name && u.Surname == sn {
				return time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.tb.Fatalf("the new surname %q of %s did not reach the platform within %s", sn, name, timeout)
	return 0
}

// latency makes changes one at a time on the people picked and prints the
// median and max change-to-write latency.
func (r *liveRig) latency(b *testing.B, what string, people []int) {
	const changes = 20
	var lat []time.Duration
	for n := range changes {
		i := people[n%len(people)]
		sn := fmt.Sprintf("Changed%d-%d", n, time.Now().UnixNano())
		start := time.Now()
		r.modify(i, sn)
		r.waitSurname(i, sn, time.Minute)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	median, worst := lat[len(lat)/2], lat[len(lat)-1]
	b.ReportMetric(median.Seconds(), "median-s")
	b.ReportMetric(worst.Seconds(), "max-s")
	b.Logf("%s change to platform write over %d changes, debounce 2s: median %s, max %s", what, changes,
		median.Round(time.Millisecond), worst.Round(time.Millisecond))
}

// TestLiveLDAPChangeReachesPlatform: with scheduled passes an hour apart, a
// ldapmodify on the directory reaches the platform through the content
// sync watch; after slapd restarts, the watch comes back and so do changes.
func TestLiveLDAPChangeReachesPlatform(t *testing.T) {
	ldaptest.Need(t, ldaptest.SlapdInstall, "ldapmodify")
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 50, TeamSize: 25})
	r := startLive(t, slapdDirectory(s), "200ms")
	r.modify(7, "Livingstone")
	r.waitSurname(7, "Livingstone", time.Minute)
	if strings.Contains(r.log(), "watch lost") {
		t.Errorf("the watch was lost with slapd running")
	}

	s.Stop()
	r.waitLog("live changes: watch lost", time.Minute)
	s.Restart(t)
	r.waitLog("live changes: watching again", 2*time.Minute)
	r.modify(8, "Afterwards")
	r.waitSurname(8, "Afterwards", time.Minute)
}

// BenchmarkLiveLDAPChangeToWrite prints how long a ldapmodify on OpenLDAP
// takes to reach the platform through `serve` at the default debounce
// (2s): median and max over 20 changes, one at a time. Run with
//
//	go test ./cmd/rostersync -run '^$' -bench LiveLDAPChangeToWrite -benchtime 1x
func BenchmarkLiveLDAPChangeToWrite(b *testing.B) {
	ldaptest.Need(b, ldaptest.SlapdInstall, "ldapmodify")
	s := ldaptest.StartSlapd(b, ldaptest.SlapdOptions{Users: 50, TeamSize: 25})
	r := startLive(b, slapdDirectory(s), "")
	for range b.N {
		r.latency(b, "OpenLDAP", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	}
}

// BenchmarkLiveADChangeToWrite is the same against Samba AD, followed by
// change notification. Samba's LDAP port is fixed: never run two at once
// (nor beside the Samba tests of sources/ldap). Run with
//
//	go test ./cmd/rostersync -run '^$' -bench LiveADChangeToWrite -benchtime 1x
func BenchmarkLiveADChangeToWrite(b *testing.B) {
	ldaptest.Need(b, ldaptest.SambaInstall, append(ldaptest.SambaPrograms, "ldapmodify")...)
	dir := b.TempDir()
	s, err := ldaptest.StartSambaAD(dir, 10)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	r := startLive(b, sambaDirectory(s), "")
	for range b.N {
		r.latency(b, "Samba AD", []int{1, 2, 3, 4, 6, 7, 8, 9}) // every fifth is disabled
	}
}
