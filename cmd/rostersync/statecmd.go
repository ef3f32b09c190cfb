package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/state"
)

const stateAbout = `Moves the state between backends.

  copy -to URL   copies the SQLite state of the state directory (the
                 ledger, journal, run history, held operations, cursors,
                 source counts, absences, rate budgets, last plans, the
                 plan key and the bearer tokens) into the empty PostgreSQL
                 database URL (postgres://USER@HOST:5432/DATABASE), in one
                 transaction, and prints how many rows of each it copied.
                 A database that holds state already is refused unless
                 -force, which replaces what it holds.

The state directory is found as for 'rostersync held' (-state-dir, else
$ROSTERSYNC_STATE_DIR, else $STATE_DIRECTORY, else the service's
/var/lib/rostersync, else ~/.local/state/rostersync); it is only read.
Stop the daemon first: the copy takes the directory's writer lock, and
refuses while a daemon or an apply holds it.

The password is never given in the URL, which anyone on the host can read
in the process list: it comes from -password-file, else
$ROSTERSYNC_STATE_PASSWORD_FILE, else $CREDENTIALS_DIRECTORY/state-password,
else PostgreSQL's own PGPASSWORD or ~/.pgpass. Afterwards set
ROSTERSYNC_STATE_URL (and the password file) for every host, and start the
daemon. The SCIM store is not copied by this command.`

func cmdState(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet(c, "state", "copy -to URL [flags]", stateAbout)
		if err := parse(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(c, "state "+sub, "-to URL [flags]", stateAbout)
	var common commonFlags
	common.register(fs)
	to := fs.String("to", "", "copy: the PostgreSQL `URL` to copy into, without its password (required)")
	force := fs.Bool("force", false, "copy: replace what the target database holds")
	pwFile := fs.String("password-file", "", "copy: the `FILE` holding the target's password (default $ROSTERSYNC_STATE_PASSWORD_FILE, else $CREDENTIALS_DIRECTORY/state-password)")
	if sub != "copy" {
		fmt.Fprintf(c.stderr, "rostersync state: unknown subcommand %q\n\n", sub)
		fs.Usage()
		return errUsage
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("state copy takes no arguments, got %q", fs.Args())
	}
	switch {
	case *to == "":
		return usageError("state copy: -to is required: the PostgreSQL URL to copy into (postgres://USER@HOST:5432/DATABASE)")
	case !state.IsPostgresURL(*to):
		return usageError("state copy: -to %s: want a postgres:// or postgresql:// URL", state.RedactURL(*to))
	case state.URLHasPassword(*to):
		return usageError("state copy: -to holds a password, which anyone on this host can read in the process list; remove it from the URL and put it in a file given with -password-file (or ROSTERSYNC_STATE_PASSWORD_FILE)")
	}
	flags := common.over(c.global)
	env, err := loadEnv(ctx, c, flags)
	if err != nil {
		return err
	}
	log := shellLogger(c, env)
	var pw string
	pwPath := *pwFile
	if pwPath == "" {
		pwPath = env.StatePasswordFile
	}
	if p := env.Credential(config.StatePasswordCredential); pwPath == "" && p != "" {
		if _, err := os.Stat(p); err == nil {
			pwPath = p
		}
	}
	if pwPath != "" {
		if pw, err = config.ReadSecretWarn(pwPath, log); err != nil {
			return fmt.Errorf("state copy: the password: %w", err)
		}
	}

	src, err := openExistingDir(c, env, flags)
	if err != nil {
		return err
	}
	defer src.Close()
	dir := filepath.Dir(src.Path())
	lock, err := state.LockWriter(dir, "state copy", now(c))
	if err != nil {
		return err
	}
	defer lock.Release()
	dst, err := state.OpenURL(ctx, "", *to, state.Options{Now: c.now, Password: pw})
	if err != nil {
		return err
	}
	defer dst.Close()
	counts, err := src.CopyTo(ctx, dst, *force)
	if ne := (*state.NotEmptyError)(nil); errors.As(err, &ne) {
		return fmt.Errorf("%w\n(-force replaces everything it holds with the copy)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Copied the state of %s to %s:\n", dir, dst.Path())
	for _, n := range counts {
		fmt.Fprintf(c.stdout, "  %-14s %7d\n", n.Table, n.Rows)
	}
	fmt.Fprintf(c.stdout, "Set ROSTERSYNC_STATE_URL=%s (and its password file) on every host, then start the daemon.\n", dst.Path())
	return nil
}
