// Command rostersync keeps a QA platform's users and teams in line with the
// directory an organisation trusts.
//
// main is tiny: realMain does the work and returns an error; only main
// exits. Plans go to standard output, logs to standard error. This is the
// composition root: registry.go is the one table of source and target
// kinds every command opens them through.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cli{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		lookupEnv: os.LookupEnv, interactive: isTerminal(os.Stdin) && isTerminal(os.Stderr),
		now: time.Now,
	})
	stop()
	os.Exit(code)
}

// cli is the process's outside world, injected so tests can drive realMain.
type cli struct {
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	lookupEnv   func(string) (string, bool)
	interactive bool
	now         func() time.Time
	// sleep waits out rate limits and retry backoffs; nil is a real sleep.
	sleep func(ctx context.Context, d time.Duration) error
	// after is the daemon's bearer-token timer; nil is time.After. Tests
	// give it the clock they move.
	after func(d time.Duration) <-chan time.Time
	// global holds the common flags given before the command
	// ("rostersync -log-format=json plan"); the command's own win.
	global commonFlags
}

// exitError carries an exit code other than 1; a nil err prints nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, c *cli) int {
	// Collect at half the live heap's growth rather than all of it: a pass
	// holds its people (desired and listed) until it ends, and at Go's
	// default the heap grows to twice them before a collection. Measured
	// on two cores at 100k people, plan peaks at 142 MiB instead of
	// 164 MiB, in the same wall time (the collector runs on the core the
	// pass leaves idle while it waits on the platform). GOGC, when set, is
	// the operator's choice and wins.
	if _, set := c.lookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	err := realMain(ctx, args, c)
	var ex *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &ex):
		if ex.err != nil {
			fmt.Fprintf(c.stderr, "rostersync: %v\n", ex.err)
		}
		return ex.code
	}
	fmt.Fprintf(c.stderr, "rostersync: %v\n", err)
	return 1
}

// gcPercent is the collector's GOGC unless GOGC is set.
const gcPercent = 50

var errUsage = errors.New("usage")

// Exit statuses. exitChanges is only ever -detailed-exitcode's "something
// is pending"; a usage error has a code of its own (EX_USAGE of
// sysexits.h), so a mistyped flag never reads as "changes present".
const (
	exitChanges = 2
	exitUsage   = 64
)

// usageError is a command line that cannot be run as given: it prints the
// message and exits with exitUsage.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, c *cli) error
}

func commands() []command {
	return []command{
		{"plan", "show what would change on the platform (a dry run)", cmdPlan},
		{"apply", "apply a saved plan, or plan and apply after confirmation", cmdApply},
		{"serve", "run as a daemon: passes on an interval and on push, health and metrics over HTTP", cmdServe},
		{"check", "validate the configuration and test every connection", cmdCheck},
		{"explain", "explain what rostersync makes of one person, writing nothing", cmdExplain},
		{"audit", "report platform users no source knows, leavers still active, role drift, their QA results", cmdAudit},
		{"held", "list, approve or reject operations held for approval", cmdHeld},
		{"history", "what changed when, by person, target and time", cmdHistory},
		{"state", "copy the SQLite state into PostgreSQL", cmdState},
		{"auth", "an Evaluagent key in bearer-token mode: status, create, import, refresh, revoke", cmdAuth},
		{"demo", "sync the bundled demo CSV into in-process simulators", cmdDemo},
		{"simulator", "serve the Evaluagent or Agent IQ simulator over HTTP", cmdSimulator},
		{"version", "print the version", cmdVersion},
		{"completion", "print a bash or zsh completion script", cmdCompletion},
	}
}

const usageHead = `rostersync keeps QA platforms (Evaluagent, Agent IQ) in line with your directory.

Usage: rostersync [-config FILE] [-state-dir DIR] [-log-level LEVEL] [-log-format FORMAT] <command> [flags]

Commands:
`

const usageTail = `
Configuration comes from ROSTERSYNC_* environment variables and the
configuration file they name (ROSTERSYNC_MAPPING), whose targets: list names
the platforms; see README.md and systemd/rostersync.env.example. The flags
above may come before the command or after it. Run "rostersync <command> -h"
for its flags.
`

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString(usageTail)
	io.WriteString(w, b.String())
}

func realMain(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 {
		usage(c.stderr)
		return errUsage
	}
	// The common flags may come before the command; flag parsing stops at
	// the command's name.
	gfs := flag.NewFlagSet("rostersync", flag.ContinueOnError)
	gfs.SetOutput(c.stderr)
	gfs.Usage = func() {}
	c.global.register(gfs)
	showVersion := gfs.Bool("version", false, "print the version and exit")
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(c.stdout)
			return nil
		}
		fmt.Fprintln(c.stderr)
		usage(c.stderr)
		return errUsage
	}
	args = gfs.Args()
	if *showVersion {
		return cmdVersion(ctx, args, c)
	}
	if len(args) == 0 {
		usage(c.stderr)
		return errUsage
	}
	name := args[0]
	if name == "help" {
		usage(c.stdout)
		return nil
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(ctx, args[1:], c)
		}
	}
	fmt.Fprintf(c.stderr, "rostersync: unknown command %q\n\n", name)
	usage(c.stderr)
	return errUsage
}

// version may be set at build time with -ldflags "-X main.version=…";
// otherwise it comes from the build information (see version.go).
var version = "dev"

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
