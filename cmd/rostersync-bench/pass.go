package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// person i of a data set: the same in the source and on the platform, before drift.
func person(i int) (key, first, last, email, team string) {
	key = fmt.Sprintf("E%07d", i)
	first, last = "F"+key, "S"+key[len(key)-3:]
	email = strings.ToLower(key) + "@example.com"
	return key, first, last, email, ""
}

func teamName(i, teams int) string { return fmt.Sprintf("Team %03d", i%teams) }

// drift says what the drifted source does to person i: 1% of people change, a quarter each
// leaving, changing email (and so username), moving team, and a new hire next to them.
func drift(i int) string {
	switch i % 400 {
	case 1:
		return "leave"
	case 2:
		return "email"
	case 3:
		return "move"
	case 4:
		return "hire"
	}
	return ""
}

const mappingYAML = `sources:
  - name: hr
    type: csv
    csv:
      path: %s
      key: employee_id
      min_rows: 10
mapping:
  user:
    username: email
    email: email
    forename: first_name
    surname: last_name
    start_date: start_date
  roles:
    attr: role
    values:
      Agent: agent
    default: [agent]
  team:
    attr: team
    level: Team
`

// dataset writes the simulator seed, the source CSV before and after drift, and a mapping file
// for each.
func dataset(dir string, n, teams int) error {
	seed, err := os.Create(filepath.Join(dir, "seed.json"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(seed, 1<<20)
	fmt.Fprint(w, `{"groups":[{"name":"Acme Contact Centre","level":"Business"}`)
	for t := range teams {
		fmt.Fprintf(w, `,{"id":"00000000-0000-4000-9000-%012d","name":%q,"level":"Team","parent":"Acme Contact Centre"}`, t, teamName(t, teams))
	}
	fmt.Fprint(w, `],"users":[`)
	for i := range n {
		key, first, last, email, _ := person(i)
		if i > 0 {
			w.WriteByte(',')
		}
		// Fixed ids: a state directory adopted against one simulator fits another from the same seed.
		fmt.Fprintf(w, `{"id":"00000000-0000-4000-8000-%012d","forename":%q,"surname":%q,"username":%q,"email":%q,"start_date":"2024-01-15","third_party_id":%q,"roles":["agent"],"team":%q}`,
			i, first, last, email, email, key, teamName(i, teams))
	}
	fmt.Fprint(w, "]}\n")
	if err := w.Flush(); err != nil {
		return err
	}
	if err := seed.Close(); err != nil {
		return err
	}
	for _, drifted := range []bool{false, true} {
		name := "people.csv"
		if drifted {
			name = "people-drift.csv"
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fmt.Fprintln(w, "employee_id,first_name,last_name,email,start_date,role,team")
		for i := range n {
			key, first, last, email, _ := person(i)
			team := teamName(i, teams)
			if drifted {
				switch drift(i) {
				case "leave":
					continue
				case "email":
					email = "new." + email
				case "move":
					team = teamName(i+1, teams)
				case "hire":
					fmt.Fprintf(w, "N%07d,New,Hire,n%07d@example.com,2026-01-05,Agent,%s\n", i, i, team)
				}
			}
			fmt.Fprintf(w, "%s,%s,%s,%s,2024-01-15,Agent,%s\n", key, first, last, email, team)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		yaml := strings.TrimSuffix(name, ".csv") + ".yaml"
		if err := os.WriteFile(filepath.Join(dir, yaml), fmt.Appendf(nil, mappingYAML, name), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "secret"), []byte("0123456789abcdef0123456789abcdef01234567\n"), 0o600)
}

// simulator is a running `rostersync simulator`.
type simulator struct {
	cmd     *exec.Cmd
	baseURL string
	seeded  time.Duration // from start until it listened
}

func startSimulator(ctx context.Context, bin, dir string) (*simulator, error) {
	cmd := exec.CommandContext(ctx, bin, "simulator", "-seed", filepath.Join(dir, "seed.json"), "-listen", "127.0.0.1:0",
		"-rate-per-minute", "1000000", "-rate-per-day", "1000000000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "base URL:"); ok {
			s := &simulator{cmd: cmd, baseURL: strings.TrimSpace(rest), seeded: time.Since(start)}
			go io.Copy(io.Discard, out)
			return s, nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("simulator: exited before listening")
}

func (s *simulator) stop() { stopProc(s.cmd, os.Interrupt, 10*time.Second) }

// stopProc signals cmd's process with sig and waits for it to exit, killing it after grace.
func stopProc(cmd *exec.Cmd, sig os.Signal, grace time.Duration) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// env is the environment of a rostersync run against the simulator.
func (s *simulator) env(dir, mapping, stateDir string, adopt bool) []string {
	return []string{
		"ROSTERSYNC_MAPPING=" + filepath.Join(dir, mapping),
		"ROSTERSYNC_STATE_DIR=" + stateDir,
		"ROSTERSYNC_EVALUAGENT_BASE_URL=" + s.baseURL,
		"ROSTERSYNC_EVALUAGENT_KEY_ID=00000000-0000-4000-8000-000000000001",
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE=" + filepath.Join(dir, "secret"),
		"ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE=1000000",
		"ROSTERSYNC_EVALUAGENT_RATE_PER_DAY=1000000000",
		fmt.Sprintf("ROSTERSYNC_EVALUAGENT_ADOPT=%v", adopt),
		"ROSTERSYNC_LOG_LEVEL=warn",
		"ROSTERSYNC_LOG_FORMAT=text",
	}
}

type build struct {
	name string
	bin  string
}

// planRig is one size's simulator, data and state, kept after its rows so that the next size's
// plan can be timed against it run by run (growthRows).
type planRig struct {
	n     int
	sim   *simulator
	dir   string
	state string
	close func() // stops the simulator and removes the data unless -keep
}

// plan runs `rostersync plan` of the drifted people against the rig's platform.
func (r *planRig) plan(ctx context.Context, bin string) (measured, error) {
	return runProc(ctx, r.sim.env(r.dir, "people-drift.yaml", r.state, false), io.Discard, bin, "plan", "-detailed-exitcode")
}

// benchSize measures one size. Unless the plan is skipped it hands its simulator and state over
// as a rig, which the caller closes.
func benchSize(ctx context.Context, o options, n int, t *table, log io.Writer) (rig *planRig, err error) {
	dir, done, err := o.workDir(fmt.Sprintf("n%d", n))
	if err != nil {
		return nil, err
	}
	defer func() {
		if rig == nil {
			done()
		}
	}()
	fmt.Fprintf(log, "%s people: writing data …\n", humanN(n))
	if err := dataset(dir, n, o.teams); err != nil {
		return nil, err
	}
	if !o.skip["diff"] {
		if err := benchDiff(ctx, n, o, t, log); err != nil {
			return nil, err
		}
	}
	if o.skip["seed"] && o.skip["adopt"] && o.skip["plan"] {
		return nil, nil
	}
	fmt.Fprintf(log, "%s people: starting the simulator …\n", humanN(n))
	sim, err := startSimulator(ctx, o.bin, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rig == nil {
			sim.stop()
		}
	}()
	if !o.skip["seed"] {
		t.add("simulator seeding", n, secs(sim.seeded.Seconds()), "", 0)
	}
	builds := []build{{"current", o.bin}}
	if o.base != "" {
		builds = append(builds, build{"base", o.base})
	}
	// Adopt into a fresh state directory per run; the plan runs use each build's first. Adoption
	// writes nothing to the platform when source and platform agree, so every run adopts the
	// same account.
	states := map[string]string{}
	failed := map[string]bool{} // measures the base build failed
	adopt := map[string][]float64{}
	for run := range o.adoptRuns {
		for _, b := range builds {
			if run > 0 && (o.skip["adopt"] || b.name == "base") || b.name == "base" && n > o.baseAdoptMax {
				continue // the base adopts once and only when small: it may take minutes
			}
			st := filepath.Join(dir, fmt.Sprintf("state-%s-%d", b.name, run))
			m, err := runProc(ctx, sim.env(dir, "people.yaml", st, true), io.Discard, b.bin, "apply", "-yes")
			if err != nil {
				if b.name == "base" {
					fmt.Fprintf(log, "  adopt base failed: %v\n", firstLine(err))
					failed["adopt"] = true
					continue
				}
				return nil, fmt.Errorf("adopt (%s): %w", b.name, err)
			}
			if o.verbose {
				fmt.Fprintf(log, "  adopt %s: %v, %.0f MiB\n", b.name, m.wall.Round(time.Millisecond), m.maxRSS)
			}
			adopt[b.name] = append(adopt[b.name], m.wall.Seconds())
			if states[b.name] == "" {
				states[b.name] = st
			}
		}
	}
	if !o.skip["adopt"] {
		addPair(t, "adopt existing users (apply)", n, adopt, secs, failed["adopt"])
	}
	if o.skip["plan"] {
		return nil, nil
	}
	if states["base"] == "" {
		states["base"] = states["current"]
	}
	wall, rss := map[string][]float64{}, map[string][]float64{}
	for range o.runs {
		for _, b := range builds {
			if b.name == "base" && failed["plan"] {
				continue
			}
			m, err := runProc(ctx, sim.env(dir, "people-drift.yaml", states[b.name], false), io.Discard, b.bin, "plan", "-detailed-exitcode")
			if err != nil {
				if b.name == "base" {
					fmt.Fprintf(log, "  plan base failed: %v\n", firstLine(err))
					failed["plan"] = true
					continue
				}
				return nil, fmt.Errorf("plan (%s): %w", b.name, err)
			}
			if o.verbose {
				fmt.Fprintf(log, "  plan %s: %v, %.0f MiB\n", b.name, m.wall.Round(time.Millisecond), m.maxRSS)
			}
			wall[b.name] = append(wall[b.name], m.wall.Seconds())
			rss[b.name] = append(rss[b.name], m.maxRSS)
		}
	}
	addPair(t, "plan, 1% drift: wall", n, wall, secs, failed["plan"])
	addPair(t, "plan, 1% drift: peak RSS", n, rss, mib, failed["plan"])
	return &planRig{n: n, sim: sim, dir: dir, state: states["current"], close: func() { sim.stop(); done() }}, nil
}

// growthRows times the plan at two sizes in turn, the larger first, -runs times, and adds the
// median of the pairs' ratios in wall time and peak RSS: how the pass grows with its people,
// with each pair run back to back, so that the machine's load changing between the two sizes'
// own rows (measured minutes apart) does not count. The baseline is the ratio of the people;
// value/baseline is then 1.00× for a pass that grows linearly.
func growthRows(ctx context.Context, o options, small, large *planRig, t *table, log io.Writer) error {
	fmt.Fprintf(log, "%s against %s people, paired plans …\n", humanN(large.n), humanN(small.n))
	var wall, rss []float64
	for range o.runs {
		a, err := large.plan(ctx, o.bin)
		if err != nil {
			return fmt.Errorf("plan (%s people): %w", humanN(large.n), err)
		}
		b, err := small.plan(ctx, o.bin)
		if err != nil {
			return fmt.Errorf("plan (%s people): %w", humanN(small.n), err)
		}
		if o.verbose {
			fmt.Fprintf(log, "  plan %s: %v, %.0f MiB; %s: %v, %.0f MiB\n", humanN(large.n), a.wall.Round(time.Millisecond), a.maxRSS,
				humanN(small.n), b.wall.Round(time.Millisecond), b.maxRSS)
		}
		wall = append(wall, a.wall.Seconds()/b.wall.Seconds())
		rss = append(rss, a.maxRSS/b.maxRSS)
	}
	people := float64(large.n) / float64(small.n)
	for _, m := range []struct {
		what string
		v    []float64
	}{{"wall", wall}, {"peak RSS", rss}} {
		t.add(fmt.Sprintf("plan, 1%% drift: %s, × the %s run (paired runs)", m.what, humanN(small.n)), large.n,
			fmt.Sprintf("%.2f×", median(m.v)), fmt.Sprintf("%g× the people", people), median(m.v)/people)
	}
	return nil
}

// addPair adds the current build's median, with the base build's as the baseline when measured.
func addPair(t *table, measure string, n int, v map[string][]float64, format func(float64) string, baseFailed bool) {
	cur := median(v["current"])
	if baseFailed {
		t.add(measure, n, format(cur), "fails (base build)", 0)
		return
	}
	if b, ok := v["base"]; ok {
		base := median(b)
		t.add(measure, n, format(cur), format(base)+" (base build)", cur/base)
		return
	}
	t.add(measure, n, format(cur), "", 0)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
