package ldap_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// The benchmark reads 100,000 people from a real slapd with rostersync and
// with ldapsearch (same attributes, same page size, output discarded) and
// prints both. It takes a minute or two, so it runs only when asked:
//
//	ROSTERSYNC_BENCH_LDAP=1 go test -run TestBenchLDAP -v ./sources/ldap/
//
// ROSTERSYNC_BENCH_USERS changes the size (default 100000).
const benchEnv = "ROSTERSYNC_BENCH_LDAP"

var benchAttrs = []string{"uid", "cn", "mail", "givenName", "sn", "departmentNumber", "title"}

type benchRun struct {
	wall     time.Duration
	cpu      time.Duration // user + system
	maxRSS   int64         // bytes
	peakHea  uint64
	retained uint64 // heap still held by the snapshot after a GC
	count    int
}

func rusage(ps *os.ProcessState) (cpu time.Duration, maxRSS int64) {
	ru := ps.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss * 1024
}

func TestBenchLDAP(t *testing.T) {
	if os.Getenv(benchEnv) != "1" {
		t.Skipf("set %s=1 to read 100k people from slapd and compare with ldapsearch", benchEnv)
	}
	ldaptest.Need(t, ldaptest.SlapdInstall, "ldapsearch")
	users := 100_000
	if v, err := strconv.Atoi(os.Getenv("ROSTERSYNC_BENCH_USERS")); err == nil && v > 0 {
		users = v
	}
	start := time.Now()
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: users})
	t.Logf("slapd with %d people ready in %s", users, time.Since(start).Round(time.Millisecond))

	// Warm slapd's caches once with each reader, then alternate three rounds.
	const rounds = 3
	var rs, ls []benchRun
	for i := 0; i <= rounds; i++ {
		r := runChild(t, s)
		l := runLdapsearch(t, s)
		if i == 0 {
			continue
		}
		rs, ls = append(rs, r), append(ls, l)
	}
	r, l := median(rs), median(ls)
	if r.count != users || l.count != users {
		t.Fatalf("read %d (rostersync) and %d (ldapsearch) people, want %d", r.count, l.count, users)
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	var b strings.Builder
	fmt.Fprintf(&b, "\nreading %d people, %d attributes + key, page size 1000 (median of %d)\n", users, len(benchAttrs), rounds)
	fmt.Fprintf(&b, "%-12s %10s %10s %14s %14s %14s\n", "", "wall", "cpu", "max RSS", "peak Go heap", "snapshot heap")
	fmt.Fprintf(&b, "%-12s %10s %10s %10.1f MiB %10.1f MiB %10.1f MiB\n", "rostersync", r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond),
		mib(r.maxRSS), mib(int64(r.peakHea)), mib(int64(r.retained)))
	fmt.Fprintf(&b, "%-12s %10s %10s %10.1f MiB %14s %14s\n", "ldapsearch", l.wall.Round(time.Millisecond), l.cpu.Round(time.Millisecond), mib(l.maxRSS), "-", "-")
	fmt.Fprintf(&b, "%-12s %9.2fx %9.2fx %13.2fx\n", "ratio", float64(r.wall)/float64(l.wall), float64(r.cpu)/float64(l.cpu), float64(r.maxRSS)/float64(l.maxRSS))
	fmt.Fprintf(&b, "goals: time <= 1.5x ldapsearch, peak heap <= 60 MiB; load average at the end: %s\n", loadavg())
	t.Log(b.String())
	fmt.Println(b.String())
}

func median(rs []benchRun) benchRun {
	sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	return rs[len(rs)/2]
}

// runChild runs the fetch in a fresh process (this test binary), so its
// maximum RSS is comparable with ldapsearch's.
func runChild(t *testing.T, s *ldaptest.Slapd) benchRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchLDAPChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ROSTERSYNC_BENCH_CHILD=1", "BENCH_URL="+s.URL, "BENCH_READER="+s.ReaderDN,
		"BENCH_PWFILE="+s.ReaderPasswordFile, "BENCH_BASE="+s.PeopleDN)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r benchRun
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "BENCH "); ok {
			var wall int64
			fmt.Sscanf(v, "wall=%d peakheap=%d retained=%d count=%d", &wall, &r.peakHea, &r.retained, &r.count)
			r.wall = time.Duration(wall)
		}
	}
	r.cpu, r.maxRSS = rusage(cmd.ProcessState)
	return r
}

// TestBenchLDAPChild is the measured side of TestBenchLDAP.
func TestBenchLDAPChild(t *testing.T) {
	if os.Getenv("ROSTERSYNC_BENCH_CHILD") != "1" {
		t.Skip("run by TestBenchLDAP")
	}
	cfg := ldap.Config{
		URL: os.Getenv("BENCH_URL"), BindDN: os.Getenv("BENCH_READER"), BindPasswordFile: os.Getenv("BENCH_PWFILE"),
		PageSize: 1000, People: ldap.Search{BaseDN: os.Getenv("BENCH_BASE")}, Attributes: benchAttrs,
	}
	src, err := ldap.New("bench", cfg, ldap.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	base := heapBytes()
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	interval := 2 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("BENCH_SAMPLE")); err == nil {
		interval = v
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			h := heapBytes()
			mu.Lock()
			peak = max(peak, h)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	snap, err := src.Fetch(context.Background())
	wall := time.Since(start)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Health.Complete {
		t.Fatalf("incomplete: %+v", snap.Health)
	}
	runtime.GC()
	retained := heapBytes() - min(base, heapBytes())
	runtime.KeepAlive(snap)
	fmt.Printf("BENCH wall=%d peakheap=%d retained=%d count=%d\n", wall.Nanoseconds(), peak-min(base, peak), retained, snap.Health.Count)
}

// heapBytes is the heap memory occupied by objects, live or not yet swept.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func runLdapsearch(t *testing.T, s *ldaptest.Slapd) benchRun {
	t.Helper()
	args := append([]string{"-LLL", "-x", "-H", s.URL, "-D", s.ReaderDN, "-y", s.ReaderPasswordFile,
		"-b", s.PeopleDN, "-s", "sub", "-E", "pr=1000/noprompt", "(objectClass=inetOrgPerson)"}, benchAttrs...)
	args = append(args, "entryUUID")
	cmd := exec.Command("ldapsearch", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := countDNs(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ldapsearch: %v", err)
	}
	r := benchRun{wall: time.Since(start), count: n}
	r.cpu, r.maxRSS = rusage(cmd.ProcessState)
	return r
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

// countDNs counts "dn: " lines in LDIF while discarding it.
func countDNs(r io.Reader) int {
	buf := make([]byte, 1<<16)
	n, carry := 0, []byte{}
	for {
		k, err := r.Read(buf)
		chunk := append(carry, buf[:k]...)
		lines := strings.Split(string(chunk), "\n")
		for _, l := range lines[:len(lines)-1] {
			if strings.HasPrefix(l, "dn: ") {
				n++
			}
		}
		carry = []byte(lines[len(lines)-1])
		if err != nil {
			return n
		}
	}
}
