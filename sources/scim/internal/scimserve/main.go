// Command scimserve runs the SCIM endpoint alone, on a store in a directory
// or in a PostgreSQL database, for the conformance suites and manual tests.
// It has no reconciler: what is pushed is only stored. The real daemon is
// "rostersync serve".
//
//	go run ./sources/scim/internal/scimserve -addr 127.0.0.1:8089 -dir /tmp/scim -tokens tokens.txt
//	SCIM_STORE_URL=postgres://… go run ./sources/scim/internal/scimserve -reset -tokens tokens.txt
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rostersync/rostersync/sources/scim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scimserve:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address")
	dir := flag.String("dir", "", "store directory (required unless the store is on PostgreSQL)")
	url := flag.String("url", os.Getenv("SCIM_STORE_URL"), "PostgreSQL URL of the store (default $SCIM_STORE_URL; empty: SQLite in -dir)")
	reset := flag.Bool("reset", false, "PostgreSQL: drop the store's schema first, to start from an empty store")
	tokens := flag.String("tokens", "", "tokens file, one token a line (required)")
	base := flag.String("base-url", "", "public base URL (default: derived from each request)")
	debug := flag.Bool("debug", false, "log every request")
	flag.Parse()
	if (*dir == "" && *url == "") || *tokens == "" {
		return errors.New("-tokens and -dir (or -url) are required")
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *reset && *url != "" {
		conn, err := pgx.Connect(context.Background(), *url)
		if err != nil {
			return err
		}
		_, err = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{scim.PGSchema}.Sanitize()+" CASCADE")
		conn.Close(context.Background())
		if err != nil {
			return err
		}
	}
	store, err := scim.OpenStoreURL(context.Background(), *dir, *url, "")
	if err != nil {
		return err
	}
	defer store.Close()
	h, err := scim.NewServer(scim.Config{TokensFile: *tokens, PublicBaseURL: *base}, store, scim.WithLogger(log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("scim endpoint listening", "url", "http://"+ln.Addr().String()+"/scim/v2")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
