package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/state"
)

const heldAbout = `Operations the safety limits held for approval: deactivations and removals
beyond ROSTERSYNC_HOLD_DEACTIVATIONS_OVER, or _PERCENT above _PERCENT_FLOOR.
Creates and updates are never held.

  rostersync held list [-all]         pending and approved holds (-all: every one)
  rostersync held approve ID...|-all  approve, and ask a running daemon for a pass
  rostersync held reject ID...        reject; not applied while the sources say so

Only the state directory is needed; the platform is not contacted. The
state directory is -state-dir, else $ROSTERSYNC_STATE_DIR, else
$STATE_DIRECTORY, else the service's /var/lib/rostersync when it exists
(StateDirectory=rostersync in the unit; reading it needs root: sudo), else
~/.local/state/rostersync. A directory without a state database is refused,
never created.

After an approval, a daemon answering on ROSTERSYNC_LISTEN (POST /trigger)
is asked for a pass, which applies the approved operations at once;
without one, the next 'rostersync apply' does.`

func cmdHeld(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet(c, "held", "list|approve|reject [flags] [ID...]", heldAbout)
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: rostersync held list|approve|reject [flags] [ID...]\n\n%s\n\nRun \"rostersync held list -h\" for the flags.\n", heldAbout)
		}
		if err := parse(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(c, "held "+sub, "[flags] [ID...]", heldAbout)
	var common commonFlags
	common.register(fs)
	all := fs.Bool("all", false, "list: show rejected and done holds too; approve: approve every pending hold")
	noPass := fs.Bool("no-pass", false, "approve: do not ask a running daemon for a pass")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, env, err := openExistingState(ctx, c, common)
	if err != nil {
		return err
	}
	defer db.Close()
	approved := func(n int) error {
		fmt.Fprintf(c.stdout, "Approved %s.\n", plural(n, "operation"))
		if n == 0 {
			return nil
		}
		if *noPass {
			fmt.Fprintln(c.stdout, "The next pass or 'rostersync apply' carries them out.")
			return nil
		}
		askForPass(ctx, c, env)
		return nil
	}
	ids, err := parseIDs(fs.Args())
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(ids) > 0 {
			return errors.New("held list takes no ids")
		}
		return heldList(ctx, c, db, *all, env.StateDir)
	case "approve":
		if *all {
			if len(ids) > 0 {
				return errors.New("held approve: give ids or -all, not both")
			}
			n, err := heldApproveAll(ctx, db)
			if err != nil {
				return err
			}
			return approved(n)
		}
		if len(ids) == 0 {
			return errors.New("held approve: give the ids to approve (see 'rostersync held list'), or -all")
		}
		if err := db.HeldApprove(ctx, ids...); err != nil {
			return err
		}
		return approved(len(ids))
	case "reject":
		if *all {
			return errors.New("held reject: give the ids to reject; -all is only for approve")
		}
		if len(ids) == 0 {
			return errors.New("held reject: give the ids to reject (see 'rostersync held list')")
		}
		if err := db.HeldReject(ctx, ids...); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Rejected %s; they are not applied while the sources still ask for them.\n", plural(len(ids), "operation"))
		return nil
	}
	fmt.Fprintf(c.stderr, "rostersync: unknown held command %q (want list, approve or reject)\n", sub)
	return errUsage
}

func parseIDs(args []string) ([]int64, error) {
	var ids []int64
	for _, a := range args {
		for _, f := range strings.Split(a, ",") {
			if f = strings.TrimPrefix(strings.TrimSpace(f), "#"); f == "" {
				continue
			}
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("%q is not a held operation id (a number from 'rostersync held list')", f)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func heldList(ctx context.Context, c *cli, db *state.DB, all bool, dir string) error {
	hs, err := db.HeldList(ctx, "", "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTARGET\tOPERATION\tNAME\tHELD AT\tREASON")
	n := 0
	for _, h := range hs {
		if !all && h.Status != state.HeldPending && h.Status != state.HeldApproved {
			continue
		}
		n++
		var op reconcile.Op
		name := h.Key
		if json.Unmarshal(h.Payload, &op) == nil && op.Name != "" {
			name = op.Name
			if op.Kind == reconcile.KindQueue && len(op.Changes) == 1 {
				name += " (" + string(op.Changes[0].Field) + " " + op.Changes[0].Old + op.Changes[0].New + ")"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s %s %s\t%s\t%s\t%s\n", h.ID, h.Status, h.Target, h.Action, h.Kind, h.Key, name,
			h.CreatedAt.UTC().Format("2006-01-02 15:04"), h.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		if db.Backend() == state.BackendPostgres {
			fmt.Fprintf(c.stdout, "No held operations. (State: %s)\n", db.Path())
		} else {
			fmt.Fprintf(c.stdout, "No held operations. (State directory: %s)\n", dir)
		}
	}
	return nil
}

func heldApproveAll(ctx context.Context, db *state.DB) (int, error) {
	hs, err := db.HeldList(ctx, "", state.HeldPending)
	if err != nil {
		return 0, err
	}
	targets := map[string]bool{}
	for _, h := range hs {
		targets[h.Target] = true
	}
	total := 0
	for t := range targets {
		n, err := db.HeldApproveAll(ctx, t)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
