package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The SCIM daemon row: N users pushed to `rostersync serve`'s SCIM endpoint (the same people as
// the simulator's platform users), then a fresh daemon on that state directory, whose first pass
// reads every pushed user. The row is that daemon's peak RSS when its first pass has finished.

const scimMappingYAML = `sources:
  - name: idp
    type: scim
    scim:
      tokens_file: %s
mapping:
  user:
    username: userName
    email: email
    forename: name.givenName
    surname: name.familyName
    third_party_id: externalId
    active: {attr: active, values: ["true"]}
  roles:
    default: [agent]
  team:
    attr: title
    level: Team
`

const scimToken = "bench-0123456789abcdef0123456789abcdef"

// daemon is a running `rostersync serve`.
type daemon struct {
	cmd    *exec.Cmd
	listen string
	errBuf *strings.Builder
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startDaemon(ctx context.Context, bin string, env []string) (*daemon, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(append(os.Environ(), env...), "ROSTERSYNC_LISTEN="+addr, "ROSTERSYNC_SERVE_MODE=plan",
		"ROSTERSYNC_INTERVAL=24h", "ROSTERSYNC_DELTA_INTERVAL=0", "ROSTERSYNC_DEBOUNCE=24h")
	d := &daemon{cmd: cmd, listen: addr, errBuf: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = io.Discard, d.errBuf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return d, nil
}

// passes returns rostersync_passes_total summed over its labels, or -1 while the daemon does not answer.
func (d *daemon) passes(ctx context.Context) float64 { return d.metric(ctx, "rostersync_passes_total") }

// metric returns the named metric summed over its labels, or -1 while the daemon does not answer.
func (d *daemon) metric(ctx context.Context, name string) float64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.listen+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok && (rest[0] == ' ' || rest[0] == '{') {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// waitPass waits until the daemon has finished a pass.
func (d *daemon) waitPass(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d.passes(ctx) >= 1 {
			return nil
		}
		if d.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("rostersync serve: no pass finished within %v\n%s", timeout, tail(d.errBuf.String(), 2000))
}

// hwm is the process's peak RSS so far (VmHWM), in MiB.
func (d *daemon) hwm() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", d.cmd.Process.Pid)
}

func (d *daemon) stop() { stopProc(d.cmd, syscall.SIGTERM, 20*time.Second) }

// pushUsers POSTs people 0..n-1 to the SCIM endpoint with 8 clients.
func pushUsers(ctx context.Context, base string, n, teams int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, MaxConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				key, first, last, email, _ := person(i)
				doc, _ := json.Marshal(map[string]any{
					"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
					"userName": email, "externalId": key, "active": true, "title": teamName(i, teams),
					"name":   map[string]string{"givenName": first, "familyName": last},
					"emails": []map[string]any{{"value": email, "type": "work", "primary": true}},
				})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/scim/v2/Users", bytes.NewReader(doc))
				req.Header.Set("Authorization", "Bearer "+scimToken)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("POST /scim/v2/Users (person %d): %s\n%s", i, resp.Status, tail(string(body), 500))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// benchSCIMDaemon adds the SCIM daemon row for n people.
func benchSCIMDaemon(ctx context.Context, o options, n int, t *table, log io.Writer) error {
	dir, done, err := o.workDir(fmt.Sprintf("scim%d", n))
	if err != nil {
		return err
	}
	defer done()
	if err := dataset(dir, n, o.teams); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scim-tokens"), []byte("bench:"+scimToken+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scim.yaml"), fmt.Appendf(nil, scimMappingYAML, filepath.Join(dir, "scim-tokens")), 0o644); err != nil {
		return err
	}
	sim, err := startSimulator(ctx, o.bin, dir)
	if err != nil {
		return err
	}
	defer sim.stop()
	env := sim.env(dir, "scim.yaml", filepath.Join(dir, "state"), false)
	fmt.Fprintf(log, "%s people: pushing users to the SCIM endpoint …\n", humanN(n))
	// The older build receives the push when there are two: a build migrates an older state's
	// schema forward, never back.
	d, err := startDaemon(ctx, cmp.Or(o.base, o.bin), env)
	if err != nil {
		return err
	}
	if err := d.waitPass(ctx, time.Minute); err != nil {
		d.stop()
		return err
	}
	start := time.Now()
	err = pushUsers(ctx, "http://"+d.listen, n, o.teams)
	d.stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "  pushed %d users in %v\n", n, time.Since(start).Round(time.Millisecond))
	builds := []build{{"current", o.bin}}
	if o.base != "" {
		builds = append(builds, build{"base", o.base})
	}
	// Each build runs on its own copy of the state the push left: a build
	// never reads a plan the other stored (in a format it may not read, or
	// read differently). Each starts with a pass that is not counted, so
	// that every counted pass reads the plan of N users its build stored,
	// as a restarted daemon does.
	envs := map[string][]string{}
	for _, b := range builds {
		sd := filepath.Join(dir, "state-"+b.name)
		if err := copyDir(filepath.Join(dir, "state"), sd); err != nil {
			return err
		}
		envs[b.name] = sim.env(dir, "scim.yaml", sd, false)
	}
	rss, wall := map[string][]float64{}, map[string][]float64{}
	for run := -1; run < o.runs; run++ {
		for _, b := range builds {
			start := time.Now()
			d, err := startDaemon(ctx, b.bin, envs[b.name])
			if err != nil {
				return err
			}
			if err := d.waitPass(ctx, 10*time.Minute); err != nil {
				d.stop()
				return fmt.Errorf("%s build: %w", b.name, err)
			}
			w := time.Since(start)
			read := d.metric(ctx, "rostersync_source_records")
			m, err := d.hwm()
			d.stop()
			if err != nil {
				return err
			}
			if int(read) != n {
				return fmt.Errorf("the %s build's first pass read %v SCIM users, want %d", b.name, read, n)
			}
			if o.verbose {
				warm := ""
				if run < 0 {
					warm = " (warm-up, not counted)"
				}
				fmt.Fprintf(log, "  scim daemon first pass (%s)%s: %v, %.0f MiB\n", b.name, warm, w.Round(time.Millisecond), m)
			}
			if run < 0 {
				continue
			}
			rss[b.name], wall[b.name] = append(rss[b.name], m), append(wall[b.name], w.Seconds())
		}
	}
	addPair(t, "SCIM daemon, first pass: peak RSS", n, rss, mib, false)
	addPair(t, "SCIM daemon, start to first pass: wall", n, wall, secs, false)
	return nil
}

// copyDir copies the regular files of the directory tree src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		info, err := in.Stat()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
