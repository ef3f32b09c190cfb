package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive: absent, the test skips on a
// developer's machine and fails in CI, which installs it (see .ci/run).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found; CI must install it (apt-get install chromium)")
	}
	t.Skip("no Chromium found: install it (apt-get install chromium) to run the status page browser test")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a
// tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return ctx
}

// TestStatusPageInABrowser is what an operator does: open the page in a
// browser, read the figures, approve a held removal there, and see the next
// pass apply it. With ROSTERSYNC_SCREENSHOT=FILE it also saves a PNG of the
// page as the operator first sees it.
func TestStatusPageInABrowser(t *testing.T) {
	ctx := browser(t)
	r := newRig(t)
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0" // every removal waits for a person
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE":     "apply",
		"ROSTERSYNC_DELTA_INTERVAL": "0",
		"ROSTERSYNC_DEBOUNCE":       "100ms",
		"ROSTERSYNC_INTERVAL":       "1h",
	})
	d.waitLog(`msg="pass finished" kind=full result=ok`, 60*time.Second)

	// Two people leave: the next pass holds both removals.
	r.leave("E1002", "E1003")
	d.post("/trigger")
	d.waitLog(`msg="pass finished" kind=trigger`, 60*time.Second)

	// The page as an operator reads it.
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s on the page: %v\ndaemon log:\n%s", sel, err, d.logText())
		}
		return strings.TrimSpace(v)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("counting %s on the page: %v", sel, err)
		}
		return n
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#held-table`))); err != nil {
		t.Fatalf("loading the status page: %v\ndaemon log:\n%s", err, d.logText())
	}
	if held, rows := text(`#held-count`), count(`#held-table tbody tr`); held != "2" || rows != 2 {
		t.Errorf("page shows %q held in %d rows, want 2", held, rows)
	}
	if ready, mode := text(`#ready`), text(`#mode`); ready != "yes" || mode != "apply" {
		t.Errorf("page shows ready %q, mode %q; want yes, apply", ready, mode)
	}
	if records := text(`tr[data-source="hr"] [data-figure="records"]`); records != "12" {
		t.Errorf("source hr shows %q records, want 12", records)
	}
	if applied := text(`#runs tbody tr:last-child [data-figure="applied"]`); applied != "21" {
		t.Errorf("the first pass shows %q applied, want 21", applied)
	}
	if n := count(`svg.chart circle`); n != 2 {
		t.Errorf("the drift chart has %d points, want one per pass (2)", n)
	}
	if path := os.Getenv("ROSTERSYNC_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Approve Ben's removal on the page; the button's form asks for a pass.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-key="E1002"] button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#flash`)),
	); err != nil {
		t.Fatalf("approving on the page: %v\ndaemon log:\n%s", err, d.logText())
	}
	if flash := text(`#flash`); !strings.Contains(flash, "approved") {
		t.Errorf("after approving, the page says %q", flash)
	}
	deadline := time.Now().Add(60 * time.Second)
	for r.active()["ben.carter@example.com"] {
		if time.Now().After(deadline) {
			t.Fatalf("the approved removal was not applied by the next pass\ndaemon log:\n%s", d.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !r.active()["chloe.davies@example.com"] {
		t.Error("the hold that was not approved was applied")
	}
	// Once the pass is recorded, the page shows one hold left.
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="ok"}`, 2, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(d.base+"/status"), chromedp.WaitVisible(chromedp.CSS(`#held-table`))); err != nil {
		t.Fatalf("reloading the status page: %v", err)
	}
	if held, ben := text(`#held-count`), count(`#held-table tbody tr[data-key="E1002"]`); held != "1" || ben != 0 {
		t.Errorf("after the pass the page shows %q held (Ben's row %d times); want 1 and none", held, ben)
	}
}
