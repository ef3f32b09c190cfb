package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// The LDAP rows: a whole `rostersync plan` whose source is a real slapd holding N people (read +
// map + list the platform + plan), against `ldapsearch` reading the same people and attributes
// with the same page size, in the same run. The directory is the project's test directory
// (sources/ldap/ldaptest): people in ten departments, one team per department here.

const ldapMappingYAML = `sources:
  - name: directory
    type: ldap
    ldap:
      url: %s
      bind_dn: %s
      bind_password_file: %s
      page_size: 1000
      people: {base_dn: "%s", filter: "(objectClass=inetOrgPerson)"}
      groups: {base_dn: "%s"}
mapping:
  user:
    username: uid
    email: mail
    forename: givenName
    surname: sn
    third_party_id: employeeNumber
  roles:
    default: [agent]
  team:
    attr: departmentNumber
    level: Team
`

// ldapAttrs are the attributes the mapping above reads, which ldapsearch is asked for too.
var ldapAttrs = []string{"uid", "mail", "givenName", "sn", "employeeNumber", "departmentNumber", "entryUUID"}

// errSkip is how the harness's Skip reaches benchLDAP.
var errSkip = errors.New("skipped")

// harnessTB lets the test harness's slapd run outside a test: its failures and skips end the
// LDAP rows with an error, and its clean-ups run when the rows are done.
type harnessTB struct {
	testing.TB
	dir      string
	n        int
	cleanups []func()
}

func (h *harnessTB) Helper()          {}
func (h *harnessTB) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }
func (h *harnessTB) Fatal(a ...any)   { panic(fmt.Errorf("slapd: %s", fmt.Sprint(a...))) }
func (h *harnessTB) Fatalf(f string, a ...any) {
	panic(fmt.Errorf("slapd: "+f, a...))
}
func (h *harnessTB) Skip(a ...any) { panic(fmt.Errorf("%w: %s", errSkip, fmt.Sprint(a...))) }
func (h *harnessTB) TempDir() string {
	h.n++
	d := filepath.Join(h.dir, fmt.Sprintf("slapd-%d", h.n))
	if err := os.MkdirAll(d, 0o700); err != nil {
		h.Fatal(err)
	}
	return d
}

func (h *harnessTB) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
}

// startSlapd starts the harness's slapd with n people, or says why it cannot.
func startSlapd(dir string, n int) (s *ldaptest.Slapd, h *harnessTB, err error) {
	h = &harnessTB{dir: dir}
	defer func() {
		if r := recover(); r != nil {
			h.close()
			e, ok := r.(error)
			if !ok {
				panic(r)
			}
			s, h, err = nil, nil, e
		}
	}()
	return ldaptest.StartSlapd(h, ldaptest.SlapdOptions{Users: n}), h, nil
}

func ldapsearchArgs(s *ldaptest.Slapd) []string {
	return append([]string{"-LLL", "-x", "-o", "ldif-wrap=no", "-H", s.URL, "-D", s.ReaderDN, "-y", s.ReaderPasswordFile,
		"-b", s.PeopleDN, "-s", "sub", "-E", "pr=1000/noprompt", "(objectClass=inetOrgPerson)"}, ldapAttrs...)
}

// ldapSeed reads the directory once with ldapsearch and writes a simulator seed holding the same
// people as platform users (third_party_id = employeeNumber, team = department), so that the
// first apply adopts them unchanged.
func ldapSeed(ctx context.Context, s *ldaptest.Slapd, path string) (int, error) {
	// The output is read entry by entry, never whole: this process stays small, as the peak RSS
	// of the processes it starts later would otherwise include its size.
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "ldapsearch", ldapsearchArgs(s)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("ldapsearch: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, `{"groups":[{"name":"Acme Contact Centre","level":"Business"}`)
	for d := 1; d <= 10; d++ {
		fmt.Fprintf(w, `,{"id":"00000000-0000-4000-9000-%012d","name":"D%02d","level":"Team","parent":"Acme Contact Centre"}`, d, d)
	}
	fmt.Fprint(w, `],"users":[`)
	n := 0
	a := map[string]string{}
	flush := func() {
		if a["uid"] != "" {
			if n > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, `{"id":"00000000-0000-4000-8000-%012d","forename":%q,"surname":%q,"username":%q,"email":%q,"third_party_id":%q,"roles":["agent"],"team":%q}`,
				n, a["givenName"], a["sn"], a["uid"], a["mail"], a["employeeNumber"], a["departmentNumber"])
			n++
		}
		clear(a)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		if k, v, ok := strings.Cut(line, ": "); ok {
			a[k] = v
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("ldapsearch: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("ldapsearch: %w", err)
	}
	fmt.Fprint(w, "]}\n")
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return n, f.Close()
}

// benchLDAP adds the LDAP rows for n people, or a row saying why they were skipped.
func benchLDAP(ctx context.Context, o options, n int, t *table, log io.Writer) error {
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		t.add("LDAP pass: skipped (ldapsearch is not installed)", n, "—", "", 0)
		return nil
	}
	dir, done, err := o.workDir(fmt.Sprintf("ldap%d", n))
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(log, "%s people: loading slapd …\n", humanN(n))
	s, h, err := startSlapd(dir, n)
	if errors.Is(err, errSkip) {
		t.add("LDAP pass: skipped ("+strings.TrimPrefix(err.Error(), errSkip.Error()+": ")+")", n, "—", "", 0)
		return nil
	}
	if err != nil {
		return err
	}
	defer h.close()
	got, err := ldapSeed(ctx, s, filepath.Join(dir, "seed.json"))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("ldapsearch read %d people from slapd, want %d", got, n)
	}
	if err := os.WriteFile(filepath.Join(dir, "ldap.yaml"),
		fmt.Appendf(nil, ldapMappingYAML, s.URL, s.ReaderDN, s.ReaderPasswordFile, s.PeopleDN, s.GroupsDN), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("0123456789abcdef0123456789abcdef01234567\n"), 0o600); err != nil {
		return err
	}
	sim, err := startSimulator(ctx, o.bin, dir)
	if err != nil {
		return err
	}
	defer sim.stop()
	// The state is made by the older build when there are two (a build migrates an older
	// state's schema forward, never back), and each build plans on its own copy of it.
	st := filepath.Join(dir, "state")
	maker := cmp.Or(o.base, o.bin)
	fmt.Fprintf(log, "%s people: adopting the directory's people …\n", humanN(n))
	if _, err := runProc(ctx, sim.env(dir, "ldap.yaml", st, true), io.Discard, maker, "apply", "-yes"); err != nil {
		return fmt.Errorf("ldap adopt: %w", err)
	}
	builds := []build{{"current", o.bin}}
	if o.base != "" {
		builds = append(builds, build{"base", o.base})
	}
	states := map[string]string{}
	for _, b := range builds {
		states[b.name] = filepath.Join(dir, "state-"+b.name)
		if err := copyDir(st, states[b.name]); err != nil {
			return err
		}
	}
	passWall, passRSS := map[string][]float64{}, map[string][]float64{}
	var lsWall, lsRSS []float64
	for i := range o.runs + 1 { // the first round warms slapd's caches and is not counted
		for _, b := range builds {
			m, err := runProc(ctx, sim.env(dir, "ldap.yaml", states[b.name], false), io.Discard, b.bin, "plan", "-detailed-exitcode")
			if err != nil {
				return fmt.Errorf("ldap plan (%s): %w", b.name, err)
			}
			if o.verbose {
				fmt.Fprintf(log, "  ldap plan (%s): %v, %.0f MiB\n", b.name, m.wall.Round(time.Millisecond), m.maxRSS)
			}
			if i > 0 {
				passWall[b.name], passRSS[b.name] = append(passWall[b.name], m.wall.Seconds()), append(passRSS[b.name], m.maxRSS)
			}
		}
		l, err := runProc(ctx, nil, io.Discard, "ldapsearch", ldapsearchArgs(s)...)
		if err != nil {
			return err
		}
		if o.verbose {
			fmt.Fprintf(log, "  ldapsearch: %v, %.0f MiB\n", l.wall.Round(time.Millisecond), l.maxRSS)
		}
		if i > 0 {
			lsWall, lsRSS = append(lsWall, l.wall.Seconds()), append(lsRSS, l.maxRSS)
		}
	}
	addPair(t, "LDAP pass (read+map+list+plan): wall", n, passWall, secs, false)
	addPair(t, "LDAP pass (read+map+list+plan): peak RSS", n, passRSS, mib, false)
	t.add("ldapsearch, same people and attributes: wall", n, secs(median(lsWall)), "", 0)
	t.add("ldapsearch, same people and attributes: peak RSS", n, mib(median(lsRSS)), "", 0)
	return nil
}

// ldapRead runs the LDAP source's own read benchmark (TestBenchLDAP in sources/ldap: the read
// alone, and the read with the mapping, each in a fresh process, against ldapsearch) and returns
// its table.
func ldapRead(ctx context.Context, n int) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "^TestBenchLDAP$", "./sources/ldap/")
	cmd.Env = append(os.Environ(), "ROSTERSYNC_BENCH_LDAP=1", fmt.Sprintf("ROSTERSYNC_BENCH_USERS=%d", n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ldap read benchmark: %w\n%s", err, tail(string(out), 2000))
	}
	// The table is printed once to standard output and once more in the test's log.
	s := string(out)
	i := strings.Index(s, "\nreading ")
	if i < 0 {
		return "", fmt.Errorf("ldap read benchmark printed no table:\n%s", tail(s, 2000))
	}
	s = s[i+1:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return strings.TrimRight(s, "\n") + "\n", nil
}
