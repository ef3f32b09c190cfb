package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/samber/lo"

	"github.com/rostersync/rostersync/sources/scim"
	"github.com/rostersync/rostersync/state"
	"github.com/rostersync/rostersync/state/pgtest"
)

// pgDatabase returns an empty PostgreSQL database's URL without its
// password, and a file holding the password.
func pgDatabase(t *testing.T, dir string) (string, string) {
	t.Helper()
	u, err := url.Parse(pgtest.Shared(t).Database(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(u.User.Username())
	pw := filepath.Join(dir, "state-password")
	if err := os.WriteFile(pw, []byte(pgtest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return u.String(), pw
}

// copied reads the count 'state copy' printed for table.
func copied(t *testing.T, out, table string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(table) + ` +(\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("state copy printed no count for %s:\n%s", table, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestStateCopyToPostgres: a SQLite state, with a saved plan's key, is
// copied into PostgreSQL; pointed there, rostersync applies the plan saved
// before the move (its key and the ledger came along) and then has nothing
// to do.
func TestStateCopyToPostgres(t *testing.T) {
	r := newRig(t)
	pgURL, pwFile := pgDatabase(t, r.dir) // first: skips without PostgreSQL
	r.mustRun("apply", "-yes")
	r.leave("E1002")
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-out", planFile)

	// What the SQLite state holds.
	sq, err := state.Open(r.env["ROSTERSYNC_STATE_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := sq.LedgerEntries(context.Background(), "evaluagent")
	sq.Close()
	if err != nil || len(ledger) == 0 {
		t.Fatalf("the SQLite ledger holds %d rows (%v)", len(ledger), err)
	}

	withPassword, _ := url.Parse(pgURL)
	withPassword.User = url.UserPassword(pgtest.Superuser, pgtest.Password)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"state", "copy"}, "-to is required"},
		{[]string{"state", "copy", "-to", withPassword.String()}, "holds a password"},
		{[]string{"state", "copy", "-to", "mysql://db/rs"}, "want a postgres://"},
		{[]string{"state", "move", "-to", pgURL}, `unknown subcommand "move"`},
	} {
		if code := r.run(c.args...); code == 0 || !strings.Contains(r.stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant %q", c.args, code, r.stderr.String(), c.want)
		}
		if strings.Contains(r.stderr.String(), pgtest.Password) {
			t.Errorf("%q: the password is in the output:\n%s", c.args, r.stderr.String())
		}
	}

	r.mustRun("state", "copy", "-to", pgURL, "-password-file", pwFile)
	out := r.stdout.String()
	if got := copied(t, out, "ownership"); got != len(ledger) {
		t.Errorf("copied %d ownership rows, the ledger holds %d:\n%s", got, len(ledger), out)
	}
	if copied(t, out, "plan key") != 1 || copied(t, out, "journal") == 0 || copied(t, out, "budgets") == 0 {
		t.Errorf("the copy left out the plan key, the journal or the budgets:\n%s", out)
	}
	if !strings.Contains(out, "ROSTERSYNC_STATE_URL="+pgURL) || strings.Contains(out, pgtest.Password) {
		t.Errorf("the copy does not say what to set next, or shows the password:\n%s", out)
	}

	// Again: the database holds state now.
	if code := r.run("state", "copy", "-to", pgURL, "-password-file", pwFile); code != 1 ||
		!strings.Contains(r.stderr.String(), "already holds state") || !strings.Contains(r.stderr.String(), "-force") {
		t.Errorf("second copy: exit %d, stderr:\n%s", code, r.stderr.String())
	}
	r.mustRun("state", "copy", "-to", pgURL, "-password-file", pwFile, "-force")

	// Point rostersync at PostgreSQL, the SQLite state out of reach.
	if err := os.Rename(r.env["ROSTERSYNC_STATE_DIR"], r.env["ROSTERSYNC_STATE_DIR"]+".moved"); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_STATE_URL"] = pgURL
	r.env["ROSTERSYNC_STATE_PASSWORD_FILE"] = pwFile
	r.mustRun("check")
	if want := "ok   state (postgres): connected to " + pgURL; !strings.Contains(r.stdout.String(), want) {
		t.Errorf("check does not report the backend:\n%s\nwant %q", r.stdout.String(), want)
	}
	promised := lo.Sum(lo.Values(readPlanFile(t, planFile).Requests))
	r.sim.ResetCounts()
	r.mustRun("apply", planFile)
	if got := r.sim.Writes(); got != promised || got == 0 {
		t.Errorf("applying the plan saved before the copy made %d writes, the plan promised %d", got, promised)
	}
	// The shell commands read the same state.
	r.mustRun("history", "-format", "json")
	if !strings.Contains(r.stdout.String(), `"key": "E1001"`) {
		t.Errorf("history after the copy lacks the writes made before it:\n%.2000s", r.stdout.String())
	}
	r.mustRun("held", "list")
	if want := "No held operations. (State: " + pgURL + ")"; !strings.Contains(r.stdout.String(), want) {
		t.Errorf("held list:\n%s\nwant %q", r.stdout.String(), want)
	}
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after the copy: exit %d, want 0 (no changes: the ledger came along)\n%s", code, r.stdout.String())
	}
}

// TestStatePasswordInURLIsWarned: a password in ROSTERSYNC_STATE_URL works,
// with a warning that names the URL without it.
func TestStatePasswordInURLIsWarned(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_STATE_URL"] = pgtest.Shared(t).Database(t)
	r.mustRun("plan")
	errOut := r.stderr.String()
	if !strings.Contains(errOut, "the state URL holds a password") || strings.Contains(errOut, pgtest.Password) {
		t.Errorf("stderr:\n%s\nwant a warning without the password", errOut)
	}
}

// TestStatePasswordFromCredentials: without ROSTERSYNC_STATE_PASSWORD_FILE
// the password is the credential state-password; one readable by others
// works, with a warning naming the file.
func TestStatePasswordFromCredentials(t *testing.T) {
	r := newRig(t)
	creds := filepath.Join(r.dir, "creds")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	pgURL, pwFile := pgDatabase(t, creds)
	if err := os.Chmod(pwFile, 0o644); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_STATE_URL"] = pgURL
	r.env["CREDENTIALS_DIRECTORY"] = creds
	r.mustRun("apply", "-yes")
	if errOut := r.stderr.String(); !strings.Contains(errOut, "readable by group or others") || !strings.Contains(errOut, pwFile) {
		t.Errorf("stderr:\n%s\nwant a warning about %s", errOut, pwFile)
	}
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after apply on PostgreSQL: exit %d\n%s", code, r.stdout.String())
	}
	// Without it, the server refuses, and the error names the URL.
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "connect to "+pgURL) ||
		!strings.Contains(r.stderr.String(), "no password was given: put it in a file named by ROSTERSYNC_STATE_PASSWORD_FILE") {
		t.Errorf("plan without a password: exit %d, stderr:\n%s", code, r.stderr.String())
	}
}

// TestStateCopyCarriesTheSCIMStore: what identity providers pushed into the
// SQLite state directory comes along to PostgreSQL, so the first plan there
// sees the same people; a second copy replaces it only with -force.
func TestStateCopyCarriesTheSCIMStore(t *testing.T) {
	r := newRig(t)
	pgURL, pwFile := pgDatabase(t, r.dir)
	for name, body := range map[string]string{"mapping.yaml": scimConfig, "scim-tokens": "entra:entra-token\n"} {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stateDir := r.env["ROSTERSYNC_STATE_DIR"]
	store, err := scim.OpenStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scimPushAgent(t, scimTestEndpoint(t, r, store), "grace@contoso.com", "Grace", "Hopper", "South")
	store.Close()
	if p := r.planJSON(); p.Summary.Create != 2 {
		t.Fatalf("plan over the SQLite store: %+v, want Team South and grace created", p.Summary)
	}

	r.mustRun("state", "copy", "-to", pgURL, "-password-file", pwFile)
	if got := copied(t, r.stdout.String(), "scim resources"); got != 2 {
		t.Errorf("copied %d SCIM resources, want 2 (grace and Team South):\n%s", got, r.stdout.String())
	}
	r.mustRun("state", "copy", "-to", pgURL, "-password-file", pwFile, "-force")
	if got := copied(t, r.stdout.String(), "scim resources"); got != 2 {
		t.Errorf("a forced copy copied %d SCIM resources, want 2:\n%s", got, r.stdout.String())
	}

	if err := os.Rename(stateDir, stateDir+".moved"); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_STATE_URL"] = pgURL
	r.env["ROSTERSYNC_STATE_PASSWORD_FILE"] = pwFile
	if p := r.planJSON(); p.Summary.Create != 2 {
		t.Fatalf("plan on PostgreSQL after the copy: %+v, want the pushed people still there\n%s", p.Summary, r.stdout.String())
	}
}
