// Command rostersync-bench measures whole rostersync passes at 10k, 100k and 1M people and prints
// a table with, for each measure, a baseline taken in the same run:
//
//   - seeding: the Evaluagent simulator starting with N users (no baseline; it must stay linear);
//   - adopt: the first `rostersync apply -yes` adopting N existing platform users, on a
//     disk-backed state directory;
//   - plan: `rostersync plan`, N people in a CSV against N platform users with 1% drift, wall
//     time and peak RSS of the rostersync process (the simulator runs in its own process);
//   - diff: reconcile.Diff in process against a plain map-join of the same two sets, the floor;
//   - ldap: a whole `rostersync plan` reading a real slapd (the test harness's) against
//     `ldapsearch` reading the same people, and the LDAP source's read benchmark;
//   - scim-daemon: the peak RSS of `rostersync serve` once its first pass over N users pushed to
//     its SCIM endpoint has finished;
//   - scim: userName lookups against the SCIM library serving a map.
//
// With -base BINARY, the plan and adopt runs are repeated with that build of rostersync,
// interleaved with the current one, so that before and after share the machine's noise.
//
//	go run ./cmd/rostersync-bench -sizes 10000,100000 -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rostersync-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	sizes     []int
	runs      int
	adoptRuns int
	bin       string
	base      string
	work      string
	skip      map[string]bool
	teams     int
	verbose   bool
	keep      bool
	// baseAdoptMax is the largest size at which the base build adopts on its own; above it the
	// base plans against a copy of the current build's state, which it refuses if that state's
	// schema is newer than it knows.
	baseAdoptMax int
}

// workDir makes the directory name under the working directory for one measure; done removes
// it unless -keep.
func (o options) workDir(name string) (dir string, done func(), err error) {
	dir = filepath.Join(o.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	if o.keep {
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rostersync-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "10000,100000,1000000", "comma-separated numbers of people")
	runs := fs.Int("runs", 3, "runs per measure; the table shows medians")
	adoptRuns := fs.Int("adopt-runs", 0, "runs of the adoption measure (default -runs); each adopts every user afresh")
	bin := fs.String("bin", "", "rostersync binary to measure (default: build ./cmd/rostersync)")
	base := fs.String("base", "", "a second rostersync binary (an older build) measured interleaved as the baseline; the LDAP and SCIM daemon rows' state is made by it, as a build migrates an older state forward but refuses a newer one")
	work := fs.String("work", "", "working directory for data and state (default: a new directory under $TMPDIR, removed after)")
	skip := fs.String("skip", "", "comma-separated measures to skip: seed, adopt, plan, diff, ldap, scim-daemon, scim")
	scimDaemonUsers := fs.Int("scim-daemon-users", 100_000, "users pushed to the SCIM endpoint before the daemon's first pass is measured")
	ldapUsers := fs.Int("ldap-users", 100_000, "people in the slapd directory for the LDAP rows (needs slapd and ldapsearch)")
	scimUsers := fs.Int("scim-users", 100_000, "users stored for the SCIM lookup rounds")
	teams := fs.Int("teams", 50, "number of teams people are spread over")
	verbose := fs.Bool("v", false, "log each run to standard error")
	baseAdoptMax := fs.Int("base-adopt-max", 20000, "largest size at which the -base build runs its own adoption (it may take minutes); above it the base plans against a copy of the current build's state, which a build older than that state's schema refuses (the row then says so)")
	keep := fs.Bool("keep", false, "keep the data and state directories under -work")
	diffChild := fs.Int("diff-child", 0, "internal: measure Diff for this many people in this process and print the medians")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./cmd/rostersync-bench [flags]\n\nMeasures seeding, adoption, plan and Diff at each size and prints a table of medians.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *diffChild > 0 {
		d, j, err := diffMeasure(*diffChild, max(1, *runs), *teams)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "diff %g join %g\n", d, j)
		return nil
	}
	o := options{runs: max(1, *runs), adoptRuns: *adoptRuns, bin: *bin, base: *base, work: *work, skip: map[string]bool{}, teams: *teams, verbose: *verbose, keep: *keep, baseAdoptMax: *baseAdoptMax}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 {
			return fmt.Errorf("-sizes: %q is not a number of people (at least 100)", s)
		}
		o.sizes = append(o.sizes, n)
	}
	for _, s := range strings.Split(*skip, ",") {
		if s != "" {
			o.skip[strings.TrimSpace(s)] = true
		}
	}
	if o.adoptRuns <= 0 {
		o.adoptRuns = o.runs
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "rostersync-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.work, "rostersync")
		fmt.Fprintln(stderr, "building ./cmd/rostersync …")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/rostersync")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build rostersync: %w", err)
		}
	}
	t := &table{}
	var prev *planRig // the last size's, for the next size's growth rows
	defer func() {
		if prev != nil {
			prev.close()
		}
	}()
	for _, n := range o.sizes {
		rig, err := benchSize(ctx, o, n, t, stderr)
		if err != nil {
			return fmt.Errorf("%d people: %w", n, err)
		}
		if rig == nil {
			continue
		}
		if prev != nil {
			err := growthRows(ctx, o, prev, rig, t, stderr)
			prev.close()
			prev = nil
			if err != nil {
				rig.close()
				return err
			}
		}
		prev = rig
	}
	if prev != nil {
		prev.close()
		prev = nil
	}
	var ldapOut string
	if !o.skip["ldap"] && *ldapUsers > 0 {
		if err := benchLDAP(ctx, o, *ldapUsers, t, stderr); err != nil {
			return fmt.Errorf("ldap, %d people: %w", *ldapUsers, err)
		}
		if _, err := exec.LookPath("ldapsearch"); err == nil {
			fmt.Fprintln(stderr, "LDAP read against ldapsearch (sources/ldap TestBenchLDAP) …")
			out, err := ldapRead(ctx, *ldapUsers)
			if err != nil {
				return err
			}
			ldapOut = out
		}
	}
	if !o.skip["scim-daemon"] && *scimDaemonUsers > 0 {
		if err := benchSCIMDaemon(ctx, o, *scimDaemonUsers, t, stderr); err != nil {
			return fmt.Errorf("scim daemon, %d people: %w", *scimDaemonUsers, err)
		}
	}
	var scimOut string
	if !o.skip["scim"] {
		fmt.Fprintln(stderr, "SCIM endpoint: userName lookups against the library over a map …")
		out, err := scimLoad(ctx, *scimUsers)
		if err != nil {
			return err
		}
		scimOut = out
	}
	fmt.Fprintf(stdout, "rostersync-bench: %d CPUs, %s, medians of %d runs\n\n", runtime.NumCPU(), runtime.Version(), o.runs)
	t.print(stdout)
	if scimOut != "" {
		fmt.Fprintf(stdout, "\n%s", scimOut)
	}
	if ldapOut != "" {
		fmt.Fprintf(stdout, "\nLDAP read against ldapsearch, %s people:\n%s", humanN(*ldapUsers), ldapOut)
	}
	return nil
}

// table collects rows: measure, size, value, baseline, ratio.
type table struct{ rows [][]string }

func (t *table) add(measure string, n int, value, baseline string, ratio float64) {
	r := "—"
	if ratio > 0 {
		r = fmt.Sprintf("%.2f×", ratio)
	}
	t.rows = append(t.rows, []string{measure, humanN(n), value, baseline, r})
}

func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "measure\tpeople\tvalue\tbaseline\tvalue/baseline\t")
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
}

func humanN(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func median(ds []float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(v float64) string { return fmt.Sprintf("%.2f s", v) }
func mib(v float64) string  { return fmt.Sprintf("%.0f MiB", v) }

// measured is one process run: wall time and peak RSS.
type measured struct {
	wall   time.Duration
	maxRSS float64 // MiB
}

// runProc runs a command to the end and reports its wall time and peak RSS.
func runProc(ctx context.Context, env []string, stdout io.Writer, name string, args ...string) (measured, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var errBuf strings.Builder
	cmd.Stdout, cmd.Stderr = stdout, &errBuf
	start := time.Now()
	err := cmd.Run()
	m := measured{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.maxRSS = float64(ru.Maxrss) / 1024
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		err = nil // -detailed-exitcode: changes present
	}
	if err != nil {
		return m, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(errBuf.String(), 2000))
	}
	return m, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// scimLoad runs the SCIM endpoint's load benchmark (a test of sources/scim, which seeds the store
// directly) for five rounds and returns its table of rounds.
func scimLoad(ctx context.Context, users int) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestLoad$", "-v", "./sources/scim/")
	cmd.Env = append(os.Environ(), "SCIM_LOAD=1", "SCIM_LOAD_ROUNDS=5", fmt.Sprintf("SCIM_LOAD_USERS=%d", users))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("scim load: %w\n%s", err, tail(string(out), 2000))
	}
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "load_test.go:"); ok {
			if _, text, ok := strings.Cut(rest, ": "); ok {
				b.WriteString(text + "\n")
			}
		}
	}
	return b.String(), nil
}
