package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Resource type names, as stored and as rendered in meta.resourceType.
const (
	typeUser  = "User"
	typeGroup = "Group"
)

// StoreFile is the name of the database file inside the store's directory.
const StoreFile = "scim.db"

// Store keeps what identity providers pushed: in its own SQLite database
// (WAL mode), or in PostgreSQL, where the processes of several hosts share
// it (see OpenStoreURL). It is safe for concurrent use. On SQLite the
// writes of a process are serialised; on PostgreSQL they run side by side,
// each resource written under a row lock.
type Store struct {
	db   *sql.DB
	path string // the file, or the database without its password
	now  func() time.Time
	pg   *pgBackend // nil on SQLite

	done      chan struct{} // closed by Close: the Changes watchers end
	closeOnce sync.Once
	smu       sync.Mutex
	subs      map[chan struct{}]struct{} // SQLite: this process's Changes watchers

	rmu    sync.Mutex
	rstmts map[string]*sql.Stmt // read statements on db, by query

	mu     sync.Mutex // serialises writers; guards wconn and wstmts
	wconn  *sql.Conn  // the one connection that writes
	wstmts map[string]*sql.Stmt
}

// maxCachedStmts bounds each statement cache; statements beyond it (filters
// of unusual shapes) run unprepared.
var maxCachedStmts = 512

// migrations are applied in order; PRAGMA user_version counts those done.
var migrations = []string{
	`CREATE TABLE resources (
		seq             INTEGER PRIMARY KEY AUTOINCREMENT,
		rtype           TEXT    NOT NULL,
		id              TEXT    NOT NULL UNIQUE,
		name            TEXT    NOT NULL, -- userName or group displayName
		name_lc         TEXT    NOT NULL,
		display_lc      TEXT,             -- User displayName, lower-cased
		external_id     TEXT,
		active          INTEGER,
		employee_number TEXT,
		created_ms      INTEGER NOT NULL,
		modified_ms     INTEGER NOT NULL,
		version         INTEGER NOT NULL,
		connection      TEXT    NOT NULL DEFAULT '',
		doc             TEXT    NOT NULL
	);
	CREATE UNIQUE INDEX resources_name ON resources(rtype, name_lc);
	CREATE INDEX resources_type ON resources(rtype); -- paging in creation (seq) order
	CREATE INDEX resources_external ON resources(rtype, external_id);
	CREATE INDEX resources_display ON resources(rtype, display_lc);
	CREATE TABLE emails (
		seq        INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
		value_lc   TEXT    NOT NULL,
		type_lc    TEXT    NOT NULL DEFAULT '',
		is_primary INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX emails_seq ON emails(seq);
	CREATE INDEX emails_value ON emails(value_lc);
	CREATE TABLE members (
		group_seq  INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
		member_seq INTEGER NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
		display    TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (group_seq, member_seq)
	);
	CREATE INDEX members_member ON members(member_seq);
	-- The number of resources of each type, so an unfiltered page (Okta's
	-- import) does not count 100,000 rows every time.
	CREATE TABLE counts (rtype TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
	CREATE TRIGGER resources_counted AFTER INSERT ON resources BEGIN
		INSERT INTO counts(rtype, n) VALUES (NEW.rtype, 1)
			ON CONFLICT(rtype) DO UPDATE SET n = n + 1;
	END;
	CREATE TRIGGER resources_uncounted AFTER DELETE ON resources BEGIN
		UPDATE counts SET n = n - 1 WHERE rtype = OLD.rtype;
	END;`,
	// 2: names and emails are keyed in Unicode NFC as well as lower case;
	// refold (below) rewrites the keys stored before.
	`SELECT 1`,
}

// goMigrations run after the SQL migration of the same index (0-based),
// in the same transaction.
var goMigrations = map[int]func(context.Context, *sql.Conn) error{1: refold}

// refold rewrites name, displayName and email keys stored before they were
// normalised (fold). A key that would now collide with another resource's
// is left as it was: the two stay distinct until one is written again.
func refold(ctx context.Context, conn *sql.Conn) error {
	type row struct {
		seq           int64
		name, display string
		hasDisplay    bool
	}
	rows, err := conn.QueryContext(ctx, `SELECT seq, name, display_lc FROM resources`)
	if err != nil {
		return err
	}
	var rs []row
	for rows.Next() {
		var r row
		var d sql.NullString
		if err := rows.Scan(&r.seq, &r.name, &d); err != nil {
			rows.Close()
			return err
		}
		r.display, r.hasDisplay = d.String, d.Valid
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		if _, err := conn.ExecContext(ctx, `UPDATE OR IGNORE resources SET name_lc = ? WHERE seq = ?`, fold(r.name), r.seq); err != nil {
			return err
		}
		if r.hasDisplay {
			if _, err := conn.ExecContext(ctx, `UPDATE resources SET display_lc = ? WHERE seq = ?`, fold(r.display), r.seq); err != nil {
				return err
			}
		}
	}
	erows, err := conn.QueryContext(ctx, `SELECT rowid, value_lc FROM emails`)
	if err != nil {
		return err
	}
	type email struct {
		rowid int64
		value string
	}
	var es []email
	for erows.Next() {
		var e email
		if err := erows.Scan(&e.rowid, &e.value); err != nil {
			erows.Close()
			return err
		}
		if f := fold(e.value); f != e.value {
			es = append(es, email{e.rowid, f})
		}
	}
	erows.Close()
	if err := erows.Err(); err != nil {
		return err
	}
	for _, e := range es {
		if _, err := conn.ExecContext(ctx, `UPDATE emails SET value_lc = ? WHERE rowid = ?`, e.value, e.rowid); err != nil {
			return err
		}
	}
	return nil
}

// OpenStore opens (creating if needed) the store in dir, in the file
// StoreFile, and brings its schema up to date.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scim store: %w", err)
	}
	path := filepath.Join(dir, StoreFile)
	// The store holds personal data: create it readable by its owner only
	// (SQLite gives the WAL files the same mode).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("scim store: %w", err)
	}
	f.Close()
	// Two processes (the daemon and a command) opening a new store at the
	// same moment can both try to switch it to WAL; SQLite answers one of
	// them SQLITE_BUSY without waiting. That first open is retried.
	var s *Store
	for attempt := 1; ; attempt++ {
		s, err = openStore(path)
		if err == nil || attempt == 20 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return s, err
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
}

func openStore(path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" + // the timeout first: switching to WAL waits for a lock
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("scim store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := newStore(db, path)
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("scim store %s: %w", path, err)
	}
	if s.wconn, err = db.Conn(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("scim store %s: %w", path, err)
	}
	return s, nil
}

func newStore(db *sql.DB, path string) *Store {
	return &Store{db: db, path: path, now: time.Now, rstmts: map[string]*sql.Stmt{}, wstmts: map[string]*sql.Stmt{},
		done: make(chan struct{}), subs: map[chan struct{}]struct{}{}}
}

// OpenStoreURL opens the store on the backend rostersync keeps its state
// on: with url "" the SQLite file in dir (OpenStore); else the PostgreSQL
// database at url (postgres://user@host:5432/database?sslmode=verify-full),
// where the store's tables live in the schema PGSchema. A non-empty
// password replaces the one in url. The schema is created or brought up to
// date on open; processes opening it at the same time take turns.
func OpenStoreURL(ctx context.Context, dir, url, password string) (*Store, error) {
	if url == "" {
		return OpenStore(dir)
	}
	return openPostgres(ctx, url, password)
}

// Backend names the store's backend: "sqlite" or "postgres".
func (s *Store) Backend() string {
	if s.pg != nil {
		return "postgres"
	}
	return "sqlite"
}

// Close closes the database; the channels of Changes are closed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.wstmts {
		st.Close()
	}
	if s.wconn != nil {
		s.wconn.Close()
	}
	s.rmu.Lock()
	for _, st := range s.rstmts {
		st.Close()
	}
	s.rmu.Unlock()
	return s.db.Close()
}

// runner runs statements: on the pool for reads, on the write connection inside a
// write transaction. Statements are prepared once and cached.
type runner interface {
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, query string, args ...any) *sql.Row
}

// reader runs statements on the connection pool.
type reader struct{ s *Store }

// stmt returns the cached statement for query, preparing it if there is
// room; nil means "run it unprepared".
func (r reader) stmt(ctx context.Context, query string) *sql.Stmt {
	r.s.rmu.Lock()
	defer r.s.rmu.Unlock()
	if st, ok := r.s.rstmts[query]; ok {
		return st
	}
	if len(r.s.rstmts) >= maxCachedStmts {
		return nil
	}
	st, err := r.s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // running it unprepared reports the error
	}
	r.s.rstmts[query] = st
	return st
}

// On PostgreSQL, the driver prepares and caches statements per connection
// itself: the store's caches stay empty.

func (r reader) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if r.s.pg != nil {
		query = rebind(query)
	}
	return r.s.db.ExecContext(ctx, query, args...)
}

func (r reader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if r.s.pg != nil {
		return r.s.db.QueryContext(ctx, rebind(query), args...)
	}
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.s.db.QueryContext(ctx, query, args...)
}

func (r reader) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if r.s.pg != nil {
		return r.s.db.QueryRowContext(ctx, rebind(query), args...)
	}
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.s.db.QueryRowContext(ctx, query, args...)
}

// wtx is a write transaction: on SQLite on the write connection, with s.mu
// held; on PostgreSQL a transaction of the pool (tx).
type wtx struct {
	s     *Store
	tx    *sql.Tx // PostgreSQL only
	state *writeState
}

// writeState is what a write transaction learns as it goes.
type writeState struct {
	changed bool // something was written: watchers are told after the commit
}

// touch records that the transaction changed the store.
func (w wtx) touch() { w.state.changed = true }

func (w wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := w.s.wstmts[query]; ok {
		return st
	}
	if len(w.s.wstmts) >= maxCachedStmts {
		return nil
	}
	st, err := w.s.wconn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	w.s.wstmts[query] = st
	return st
}

func (w wtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if w.tx != nil {
		return w.tx.ExecContext(ctx, rebind(query), args...)
	}
	if st := w.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return w.s.wconn.ExecContext(ctx, query, args...)
}

func (w wtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if w.tx != nil {
		return w.tx.QueryContext(ctx, rebind(query), args...)
	}
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return w.s.wconn.QueryContext(ctx, query, args...)
}

func (w wtx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if w.tx != nil {
		return w.tx.QueryRowContext(ctx, rebind(query), args...)
	}
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return w.s.wconn.QueryRowContext(ctx, query, args...)
}

// migrate brings the schema up to date. Each step runs in an immediate
// transaction that re-reads the version, so two processes opening the same
// store at once do not both apply it.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			return err
		}
		done, err := migrateStep(ctx, conn)
		if err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
			return err
		}
		if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateStep applies the next migration, or reports that none is left.
func migrateStep(ctx context.Context, conn *sql.Conn) (bool, error) {
	var v int
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return false, err
	}
	switch {
	case v > len(migrations):
		return false, fmt.Errorf("schema version %d is newer than this program (%d)", v, len(migrations))
	case v == len(migrations):
		return true, nil
	}
	if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if f := goMigrations[v]; f != nil {
		if err := f(ctx, conn); err != nil {
			return false, fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
		return false, err
	}
	return false, nil
}

// stored is one resource as kept in the store. doc holds the attributes
// without id, meta, schemas, password, a User's groups and a Group's members.
type stored struct {
	seq        int64
	rtype      string
	id         string
	doc        map[string]any
	createdMS  int64
	modifiedMS int64
	version    int64
	connection string
}

// memberRef is one member of a Group.
type memberRef struct {
	value   string // the member's SCIM id
	display string
}

// groupRef is a Group a User belongs to.
type groupRef struct {
	id   string
	name string
}

// Sentinel errors of the store.
var (
	errNotFound = errors.New("resource not found")
)

// conflictError reports a uniqueness conflict.
type conflictError struct{ attr, value string }

func (e *conflictError) Error() string {
	return fmt.Sprintf("%s %q is already in use", e.attr, e.value)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// columns are the indexed values derived from a document.
type columns struct {
	name, nameLC   string
	displayLC      sql.NullString
	externalID     sql.NullString
	active         sql.NullInt64
	employeeNumber sql.NullString
	emails         []emailRow
}

type emailRow struct {
	valueLC, typeLC string
	primary         bool
}

func nullString(v any) sql.NullString {
	if s, ok := v.(string); ok {
		return sql.NullString{String: s, Valid: true}
	}
	return sql.NullString{}
}

func columnsOf(rtype string, doc map[string]any) columns {
	var c columns
	c.externalID = nullString(doc["externalId"])
	if rtype == typeGroup {
		c.name, _ = doc["displayName"].(string)
		c.nameLC = fold(c.name)
		return c
	}
	c.name, _ = doc["userName"].(string)
	c.nameLC = fold(c.name)
	if d, ok := doc["displayName"].(string); ok {
		c.displayLC = sql.NullString{String: fold(d), Valid: true}
	}
	if b, ok := doc["active"].(bool); ok {
		c.active = sql.NullInt64{Int64: boolInt(b), Valid: true}
	}
	if ext, ok := doc[enterpriseURN].(map[string]any); ok {
		c.employeeNumber = nullString(ext["employeeNumber"])
	}
	if list, ok := doc["emails"].([]any); ok {
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			v, _ := m["value"].(string)
			if v == "" {
				continue
			}
			t, _ := m["type"].(string)
			p, _ := m["primary"].(bool)
			c.emails = append(c.emails, emailRow{fold(v), strings.ToLower(t), p})
		}
	}
	return c
}

// MaxKeyBytes caps, in bytes, each value the store indexes: userName, a
// Group's displayName, a User's displayName, externalId, employeeNumber and
// email values and types. A longer one is refused (400 invalidValue) on
// either backend, so that every store can move to PostgreSQL, whose
// indexes hold entries up to about 2.7 kB.
const MaxKeyBytes = 2048

// storable reports whether a string can be stored and compared on either
// backend: PostgreSQL's text holds neither NUL nor invalid UTF-8.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// check refuses an indexed value that one of the backends cannot hold. On
// an update, prev holds the values stored before: one that did not change
// is left alone, so that a resource stored earlier stays writable.
func (c columns) check(prev *columns) error {
	type value struct {
		attr, v, was string
	}
	vals := []value{{"userName", c.name, ""}, {"displayName", c.displayLC.String, ""},
		{"externalId", c.externalID.String, ""}, {"employeeNumber", c.employeeNumber.String, ""}}
	if prev != nil {
		vals[0].was, vals[1].was, vals[2].was, vals[3].was = prev.name, prev.displayLC.String, prev.externalID.String, prev.employeeNumber.String
	}
	old := map[string]bool{}
	if prev != nil {
		for _, e := range prev.emails {
			old[e.valueLC+"\x00"+e.typeLC] = true
		}
	}
	for _, e := range c.emails {
		if !old[e.valueLC+"\x00"+e.typeLC] {
			vals = append(vals, value{"emails.value", e.valueLC, ""}, value{"emails.type", e.typeLC, ""})
		}
	}
	for _, v := range vals {
		if prev != nil && v.v == v.was {
			continue
		}
		if !storable(v.v) {
			return badValue(fmt.Sprintf("%q contains a NUL character", v.attr))
		}
		if len(v.v) > MaxKeyBytes {
			return badValue(fmt.Sprintf("%q is %d bytes long; at most %d are accepted", v.attr, len(v.v), MaxKeyBytes))
		}
	}
	return nil
}

// checkMembers refuses a member display name the backends cannot hold.
func checkMembers(ms []memberRef) error {
	for _, m := range ms {
		if !storable(m.display) {
			return badValue(`"members.display" contains a NUL character`)
		}
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

const (
	storedColumns = `SELECT r.seq, r.rtype, r.id, r.doc, r.created_ms, r.modified_ms, r.version, r.connection`
	selectStored  = storedColumns + ` FROM resources r`
)

// scanStored scans the columns of storedColumns, then any extra ones.
func scanStored(row interface{ Scan(...any) error }, extra ...any) (*stored, error) {
	var (
		st  stored
		doc string
	)
	dest := append([]any{&st.seq, &st.rtype, &st.id, &doc, &st.createdMS, &st.modifiedMS, &st.version, &st.connection}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if err := decodeJSON([]byte(doc), &st.doc); err != nil {
		return nil, fmt.Errorf("resource %s: stored document: %w", st.id, err)
	}
	return &st, nil
}

func (s *Store) get(ctx context.Context, db runner, rtype, id string) (*stored, error) {
	return s.getLocked(ctx, db, rtype, id, "")
}

// getForUpdate is get inside a write transaction: on PostgreSQL the row
// stays locked until the commit, so that a read-modify-write on another
// host waits and then reads what this one wrote. (SQLite's writers are
// serialised by the database lock.)
func (s *Store) getForUpdate(ctx context.Context, tx wtx, rtype, id string) (*stored, error) {
	lock := ""
	if s.pg != nil {
		lock = " FOR NO KEY UPDATE"
	}
	return s.getLocked(ctx, tx, rtype, id, lock)
}

func (s *Store) getLocked(ctx context.Context, db runner, rtype, id, lock string) (*stored, error) {
	if !storable(id) {
		return nil, errNotFound // no stored id is such a string
	}
	st, err := scanStored(db.queryRow(ctx, selectStored+` WHERE r.id = ? AND r.rtype = ?`+lock, id, rtype))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return st, err
}

// list returns one page of the resources of rtype matching where (an SQL
// condition over alias r, with args), in creation order, and the number of
// all matches. startIndex is 1-based; count 0 returns no resources.
func (s *Store) list(ctx context.Context, rtype, where string, args []any, startIndex, count int) ([]*stored, int, error) {
	cond := `r.rtype = ?`
	all := append([]any{rtype}, args...)
	if where != "" {
		cond += ` AND (` + where + `)`
	}
	db := reader{s}
	out := []*stored{}
	total := -1
	countSQL, countArgs := `SELECT count(*) FROM resources r WHERE `+cond, all
	if where == "" {
		countSQL, countArgs = `SELECT coalesce((SELECT n FROM counts WHERE rtype = ?), 0)`, []any{rtype}
	}
	if count > 0 {
		// One statement, so the page and the number of all matches come
		// from one snapshot; SQLite evaluates the uncorrelated count once.
		qargs := append(append(slices.Clone(countArgs), all...), count, startIndex-1)
		rows, err := db.query(ctx, storedColumns+`, (`+countSQL+`)
			FROM resources r WHERE `+cond+` ORDER BY r.seq LIMIT ? OFFSET ?`, qargs...)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		for rows.Next() {
			st, err := scanStored(rows, &total)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, st)
		}
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
	}
	if total < 0 { // no row on this page: count alone
		if err := db.queryRow(ctx, countSQL, countArgs...).Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// members returns the members of the groups with the given seqs, in the
// order they were added.
func (s *Store) members(ctx context.Context, db runner, seqs []int64) (map[int64][]memberRef, error) {
	out := map[int64][]memberRef{}
	if len(seqs) == 0 {
		return out, nil
	}
	args := make([]any, len(seqs))
	for i, v := range seqs {
		args[i] = v
	}
	rows, err := db.query(ctx, `SELECT m.group_seq, u.id, m.display FROM members m
		JOIN resources u ON u.seq = m.member_seq
		WHERE m.group_seq IN (`+inList(len(seqs))+`) ORDER BY m.rowid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			g int64
			m memberRef
		)
		if err := rows.Scan(&g, &m.value, &m.display); err != nil {
			return nil, err
		}
		out[g] = append(out[g], m)
	}
	return out, rows.Err()
}

// groupsOf returns the groups the users with the given seqs belong to.
func (s *Store) groupsOf(ctx context.Context, db runner, seqs []int64) (map[int64][]groupRef, error) {
	out := map[int64][]groupRef{}
	if len(seqs) == 0 {
		return out, nil
	}
	args := make([]any, len(seqs))
	for i, v := range seqs {
		args[i] = v
	}
	rows, err := db.query(ctx, `SELECT m.member_seq, g.id, g.name FROM members m
		JOIN resources g ON g.seq = m.group_seq
		WHERE m.member_seq IN (`+inList(len(seqs))+`) ORDER BY g.seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u int64
			g groupRef
		)
		if err := rows.Scan(&u, &g.id, &g.name); err != nil {
			return nil, err
		}
		out[u] = append(out[u], g)
	}
	return out, rows.Err()
}

// write runs fn in a write transaction: on SQLite on the write connection,
// writers serialised; on PostgreSQL see writePG. fn may run more than once
// on PostgreSQL, so it starts from what it reads. Watchers of Changes are
// told of a committed transaction that changed something.
func (s *Store) write(ctx context.Context, fn func(tx wtx) error) error {
	if s.pg != nil {
		return s.writePG(ctx, fn)
	}
	changed, err := s.writeSQLite(ctx, fn)
	if err == nil && changed {
		s.broadcast()
	}
	return err
}

func (s *Store) writeSQLite(ctx context.Context, fn func(tx wtx) error) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.wconn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return false, err
	}
	w := wtx{s: s, state: &writeState{}}
	if err := fn(w); err != nil {
		// A cancelled context must not leave the transaction open.
		if _, rerr := s.wconn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); rerr != nil {
			return false, errors.Join(err, rerr)
		}
		return false, err
	}
	if _, err := s.wconn.ExecContext(context.WithoutCancel(ctx), `COMMIT`); err != nil {
		s.wconn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return false, err
	}
	return w.state.changed, nil
}

func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// checkUnique fails with a conflictError when another resource of rtype
// already has the name (case-insensitively).
func checkUnique(ctx context.Context, tx wtx, rtype string, c columns, selfSeq int64) error {
	var seq int64
	err := tx.queryRow(ctx, `SELECT seq FROM resources WHERE rtype = ? AND name_lc = ?`, rtype, c.nameLC).Scan(&seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case seq == selfSeq:
		return nil
	}
	return conflict(rtype, c)
}

// conflict is the uniqueness error for the name in c.
func conflict(rtype string, c columns) error {
	attr := "userName"
	if rtype == typeGroup {
		attr = "displayName"
	}
	return &conflictError{attr: attr, value: c.name}
}

func writeEmails(ctx context.Context, tx wtx, seq int64, c columns) error {
	if _, err := tx.exec(ctx, `DELETE FROM emails WHERE seq = ?`, seq); err != nil {
		return err
	}
	for _, e := range c.emails {
		if _, err := tx.exec(ctx, `INSERT INTO emails(seq, value_lc, type_lc, is_primary) VALUES (?, ?, ?, ?)`,
			seq, e.valueLC, e.typeLC, boolInt(e.primary)); err != nil {
			return err
		}
	}
	return nil
}

// create stores a new resource (and, for a Group, its members) and returns it.
func (s *Store) create(ctx context.Context, rtype string, doc map[string]any, members []memberRef, conn string) (*stored, []string, error) {
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	c := columnsOf(rtype, doc)
	now := s.nowMS()
	st := &stored{rtype: rtype, id: newID(), doc: doc, createdMS: now, modifiedMS: now, version: 1, connection: conn}
	var unknown []string
	if err := c.check(nil); err != nil {
		return nil, nil, err
	}
	if err := checkMembers(members); err != nil {
		return nil, nil, err
	}
	err = s.write(ctx, func(tx wtx) error {
		if err := checkUnique(ctx, tx, rtype, c, 0); err != nil {
			return err
		}
		if err := insertResource(ctx, tx, st, c, body); err != nil {
			if nameTaken(err) { // by another host since the check
				return conflict(rtype, c)
			}
			return err
		}
		tx.touch()
		_, unknown, err = addMembers(ctx, tx, st.seq, members)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return st, unknown, nil
}

// insertResource inserts a new resource row and its emails; it sets st.seq.
func insertResource(ctx context.Context, tx wtx, st *stored, c columns, body []byte) error {
	err := tx.queryRow(ctx, `INSERT INTO resources
		(rtype, id, name, name_lc, display_lc, external_id, active, employee_number, created_ms, modified_ms, version, connection, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		st.rtype, st.id, c.name, c.nameLC, c.displayLC, c.externalID, c.active, c.employeeNumber,
		st.createdMS, st.modifiedMS, st.version, st.connection, string(body)).Scan(&st.seq)
	if err != nil {
		return err
	}
	return writeEmails(ctx, tx, st.seq, c)
}

// addMembers adds members to a group, ignoring those already there. It
// returns how many were added and the values that are not ids of Users.
func addMembers(ctx context.Context, tx wtx, groupSeq int64, ms []memberRef) (int, []string, error) {
	if len(ms) == 0 {
		return 0, nil, nil
	}
	var (
		added   int
		unknown []string
	)
	for _, m := range ms {
		if !storable(m.value) {
			unknown = append(unknown, m.value)
			continue
		}
		res, err := tx.exec(ctx, `INSERT INTO members(group_seq, member_seq, display)
			SELECT CAST(? AS BIGINT), seq, CAST(? AS TEXT) FROM resources WHERE id = ? AND rtype = 'User'
			ON CONFLICT DO NOTHING`, groupSeq, m.display, m.value)
		if err != nil {
			return 0, nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, nil, err
		}
		if n > 0 {
			added++
			continue
		}
		var one int
		err = tx.queryRow(ctx, `SELECT 1 FROM resources WHERE id = ? AND rtype = 'User'`, m.value).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			unknown = append(unknown, m.value)
		} else if err != nil {
			return 0, nil, err
		}
	}
	return added, unknown, nil
}

// removeMembers removes the members whose ids are given; it returns how many
// were removed.
func removeMembers(ctx context.Context, tx wtx, groupSeq int64, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		if !storable(id) {
			continue // not an id of anything stored
		}
		res, err := tx.exec(ctx, `DELETE FROM members WHERE group_seq = ?
			AND member_seq = (SELECT seq FROM resources WHERE id = ?)`, groupSeq, id)
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += int(k)
	}
	return n, nil
}

// removeMembersWhere removes the members matching cond, an SQL condition
// over alias m (members) and u (the member's resource row).
func removeMembersWhere(ctx context.Context, tx wtx, groupSeq int64, cond string, args []any) (int, error) {
	q := `DELETE FROM members WHERE group_seq = ?`
	if cond != "" {
		q += ` AND rowid IN (SELECT m.rowid FROM members m JOIN resources u ON u.seq = m.member_seq
			WHERE m.group_seq = ? AND (` + cond + `))`
		args = append([]any{groupSeq, groupSeq}, args...)
	} else {
		args = []any{groupSeq}
	}
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// mutation is the state of one resource inside a write transaction.
type mutation struct {
	ctx     context.Context
	tx      wtx
	st      *stored
	changed bool     // something other than doc changed (members)
	unknown []string // member values that are not Users
}

func (m *mutation) addMembers(ms []memberRef) error {
	if err := checkMembers(ms); err != nil {
		return err
	}
	n, unknown, err := addMembers(m.ctx, m.tx, m.st.seq, ms)
	if n > 0 {
		m.changed = true
	}
	m.unknown = append(m.unknown, unknown...)
	return err
}

func (m *mutation) removeMembers(ids []string) error {
	n, err := removeMembers(m.ctx, m.tx, m.st.seq, ids)
	if n > 0 {
		m.changed = true
	}
	return err
}

func (m *mutation) removeMembersWhere(cond string, args []any) error {
	n, err := removeMembersWhere(m.ctx, m.tx, m.st.seq, cond, args)
	if n > 0 {
		m.changed = true
	}
	return err
}

// mutate loads resource id, lets fn change its doc (a private copy) and its
// members inside one transaction, and commits if fn succeeds. It reports
// whether anything changed; an unchanged resource is not written.
func (s *Store) mutate(ctx context.Context, rtype, id, conn string, fn func(m *mutation) error) (*stored, bool, []string, error) {
	var (
		out     *stored
		changed bool
		unknown []string
	)
	err := s.write(ctx, func(tx wtx) error {
		changed = false
		st, err := s.getForUpdate(ctx, tx, rtype, id)
		if err != nil {
			return err
		}
		prev := columnsOf(rtype, st.doc)
		before, err := json.Marshal(st.doc)
		if err != nil {
			return err
		}
		m := &mutation{ctx: ctx, tx: tx, st: st}
		if err := fn(m); err != nil {
			return err
		}
		after, err := json.Marshal(st.doc)
		if err != nil {
			return err
		}
		unknown = m.unknown
		out = st
		if !m.changed && string(before) == string(after) {
			return nil
		}
		changed = true
		tx.touch()
		c := columnsOf(rtype, st.doc)
		if err := c.check(&prev); err != nil {
			return err
		}
		if err := checkUnique(ctx, tx, rtype, c, st.seq); err != nil {
			return err
		}
		st.modifiedMS = max(s.nowMS(), st.modifiedMS)
		st.version++
		st.connection = conn
		if _, err := tx.exec(ctx, `UPDATE resources SET name = ?, name_lc = ?, display_lc = ?, external_id = ?,
			active = ?, employee_number = ?, modified_ms = ?, version = ?, connection = ?, doc = ? WHERE seq = ?`,
			c.name, c.nameLC, c.displayLC, c.externalID, c.active, c.employeeNumber,
			st.modifiedMS, st.version, conn, string(after), st.seq); err != nil {
			if nameTaken(err) {
				return conflict(rtype, c)
			}
			return err
		}
		if rtype == typeUser {
			return writeEmails(ctx, tx, st.seq, c)
		}
		return nil
	})
	if err != nil {
		return nil, false, nil, err
	}
	return out, changed, unknown, nil
}

// remove deletes a resource; its memberships go with it.
func (s *Store) remove(ctx context.Context, rtype, id string) error {
	if !storable(id) {
		return errNotFound
	}
	return s.write(ctx, func(tx wtx) error {
		res, err := tx.exec(ctx, `DELETE FROM resources WHERE rtype = ? AND id = ?`, rtype, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return errNotFound
		}
		tx.touch()
		return nil
	})
}

func decodeJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

func (m *mutation) replaceMembers(ms []memberRef) error {
	if err := checkMembers(ms); err != nil {
		return err
	}
	before, err := memberSet(m.ctx, m.tx, m.st.seq)
	if err != nil {
		return err
	}
	if _, err := removeMembersWhere(m.ctx, m.tx, m.st.seq, "", nil); err != nil {
		return err
	}
	if _, unknown, err := addMembers(m.ctx, m.tx, m.st.seq, ms); err != nil {
		return err
	} else {
		m.unknown = append(m.unknown, unknown...)
	}
	after, err := memberSet(m.ctx, m.tx, m.st.seq)
	if err != nil {
		return err
	}
	if before != after {
		m.changed = true
	}
	return nil
}

// memberSet returns a group's member seqs as a comparable string.
func memberSet(ctx context.Context, tx wtx, groupSeq int64) (string, error) {
	rows, err := tx.query(ctx, `SELECT member_seq FROM members WHERE group_seq = ? ORDER BY member_seq`, groupSeq)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d,", seq)
	}
	return b.String(), rows.Err()
}
