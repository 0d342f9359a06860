// Package sqlite is the embedded store: one SQLite file under data_dir, in
// WAL mode, written by a single goroutine that group-commits concurrent
// writes, read through a small pool of read-only connections.
//
// Why one writer: SQLite admits one writing transaction at a time anyway.
// Funnelling every write through one goroutine turns that limit into an
// advantage: writes that arrive while a commit is being synced are gathered
// into the next transaction and share its fsync (group commit), so ingest
// throughput grows with concurrency instead of being capped at one fsync per
// webhook. Each caller still returns only after its own write is committed.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Options tune the store. The zero value is the durable default.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "FULL" (default) syncs
	// the WAL on every commit, so an accepted event survives a power loss;
	// "NORMAL" syncs only at checkpoints, so a commit survives a crash of
	// the process (the OS still holds the data) but the last commits can be
	// lost if the machine loses power. "EXTRA" is FULL plus a directory
	// sync. OFF is refused: it breaks "accepted means kept".
	Synchronous string
	// BusyTimeout bounds how long a connection waits for a lock held by
	// another process (e.g. a backup or the sqlite3 shell). Default 5s.
	BusyTimeout time.Duration
	// MaxBatch is the most writes committed in one transaction. Default
	// 256. 1 disables group commit (one transaction per write).
	MaxBatch int
	// MaxWait is how long the writer lingers for more writes after the
	// first of a batch, when the previous batch had more than one write
	// (so a lone write on an idle gateway never waits). Without lingering,
	// callers split into two halves that alternate between commits; with
	// it, batches hold nearly every concurrent caller. Default 1ms; a
	// negative value disables lingering. See docs/storage.md.
	MaxWait time.Duration
	// Readers is the size of the read-only connection pool. Default 4.
	Readers int
	// CheckpointInterval is how often a background connection copies the
	// WAL into the database file (a PASSIVE checkpoint, which never blocks
	// the writer). SQLite's own automatic checkpoint runs inside a
	// committing transaction and adds its syncs to that commit's latency;
	// moving it off the writer's path cuts the p99 of InsertEvent. Default
	// 250ms. A negative value keeps SQLite's automatic checkpoints.
	CheckpointInterval time.Duration
	// ReadOnly opens an existing store for reading only (gateway replay,
	// next to a running gateway): no writer, no checkpointer, no
	// migrations; the schema must already be at this binary's version.
	// Every write returns store.ErrReadOnly.
	ReadOnly bool
	// QuickCheck is what Open checks of the file before serving from it:
	// QuickCheckAuto (default) runs SQLite's quick_check under
	// QuickCheckBudget, QuickCheckAlways runs it to the end, QuickCheckOff
	// skips it. Damage found fails Open with a *CorruptError (check.go).
	// A read-only store is not checked (gateway replay, next to a running
	// gateway that checked it).
	QuickCheck string
	// QuickCheckBudget bounds quick_check in auto mode. Default
	// DefaultQuickCheckBudget.
	QuickCheckBudget time.Duration
	// Exclusive makes this Store the file's only writer (`gateway run`):
	// Open takes an advisory lock on "<path>.lock" (flock, held until
	// Close or the process's death) and fails if another process holds
	// it; then, since no live process can hold a lease, it releases every
	// lease earlier processes left, so work a killed gateway had claimed
	// starts again at once. Without Exclusive (tests, tools) leases are
	// left to expire. On platforms without flock the lock and the take-over
	// are skipped.
	Exclusive bool
}

func (o *Options) defaults() error {
	switch strings.ToUpper(o.Synchronous) {
	case "":
		o.Synchronous = "FULL"
	case "FULL", "NORMAL", "EXTRA":
		o.Synchronous = strings.ToUpper(o.Synchronous)
	default:
		return fmt.Errorf("sqlite synchronous %q: want FULL, NORMAL or EXTRA", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	switch {
	case o.MaxWait == 0:
		o.MaxWait = time.Millisecond
	case o.MaxWait < 0:
		o.MaxWait = 0
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 250 * time.Millisecond
	}
	switch strings.ToLower(o.QuickCheck) {
	case "":
		o.QuickCheck = QuickCheckAuto
	case QuickCheckAuto, QuickCheckAlways, QuickCheckOff:
		o.QuickCheck = strings.ToLower(o.QuickCheck)
	default:
		return fmt.Errorf("sqlite quick_check %q: want auto, always or off", o.QuickCheck)
	}
	if o.QuickCheckBudget <= 0 {
		o.QuickCheckBudget = DefaultQuickCheckBudget
	}
	return nil
}

// Store is the SQLite implementation of store.Store.
type Store struct {
	path string
	opts Options

	wdb  *sql.DB // exactly one connection, used only by the writer goroutine
	rdb  *sql.DB // read-only pool
	cpdb *sql.DB // the checkpointer's connection; nil with automatic checkpoints

	insertEvent *sql.Stmt            // prepared on wdb
	hot         map[string]*sql.Stmt // the writer's other hot statements (stmts.go)
	eventsForWO *sql.Stmt            // prepared on rdb (stmts.go)
	readStmts   readStmtCache        // other reads prepared on rdb on first use (stmts.go)

	ops        chan *op
	closing    chan struct{}
	writerDone chan struct{}
	closed     atomic.Bool
	closeOnce  sync.Once
	closeErr   error
	cpDone     chan struct{}

	stats writerStats
	check OpenCheck // what Open checked (check.go)

	// unlock releases the lock file of Options.Exclusive; nil without it.
	unlock func()
	// tookOver counts the events' and actions' leases Open released.
	tookOver [2]int64
}

var _ store.Store = (*Store)(nil)

// ErrLocked is returned by Open with Options.Exclusive when another
// process holds the store.
var ErrLocked = errors.New("sqlite store is in use")

// Open opens (creating if needed) the database file at path, applies pending
// migrations and starts the writer. The parent directory is created.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if opts.ReadOnly {
		return openReadOnly(ctx, abs, opts)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite store: create directory: %w", err)
	}
	s := &Store{
		path:       abs,
		opts:       opts,
		ops:        make(chan *op),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if opts.Exclusive {
		// Before anything touches the file: a second gateway on the same
		// store must fail here, not after migrating or taking leases.
		unlock, err := lockFile(abs + ".lock")
		if err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
		}
		s.unlock = unlock // nil where there is no flock
	}
	fail := func(err error) (*Store, error) {
		if s.unlock != nil {
			s.unlock()
		}
		return nil, err
	}
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	// The writer: WAL, the chosen synchronous level, foreign keys, and
	// BEGIN IMMEDIATE so a transaction takes the write lock up front
	// instead of failing with SQLITE_BUSY when it first writes.
	// temp_store=MEMORY keeps the savepoint journal (the writer runs each
	// write of a group commit in a savepoint) in memory: it only serves to
	// undo one write within the open transaction and plays no part in crash
	// recovery, which the WAL alone provides. In a temporary file it cost a
	// pwrite per page first touched in a savepoint, about a fifth of the
	// writer's CPU in the end-to-end benchmark.
	wdsn := fileURI(abs) + "?" + busy +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + opts.Synchronous + ")" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=journal_size_limit(67108864)" +
		"&_pragma=temp_store(MEMORY)" +
		"&_txlock=immediate"
	if opts.CheckpointInterval > 0 {
		wdsn += "&_pragma=wal_autocheckpoint(0)"
	}
	s.wdb, err = sql.Open("sqlite", wdsn)
	if err != nil {
		return fail(fmt.Errorf("open sqlite store %s: %w", abs, err))
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.wdb.PingContext(ctx); err != nil {
		_ = s.wdb.Close()
		return fail(openErr(abs, err))
	}
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		_ = s.wdb.Close()
		if corruptCode(err) {
			return fail(openErr(abs, err))
		}
		return fail(fmt.Errorf("open sqlite store %s: journal mode is %q, want wal (%w)", abs, mode, err))
	}
	if err := s.openCheck(ctx); err != nil {
		_ = s.wdb.Close()
		return fail(openErr(abs, err))
	}
	if err := migrate(ctx, s.wdb); err != nil {
		_ = s.wdb.Close()
		return fail(openErr(abs, err))
	}
	s.insertEvent, err = s.wdb.PrepareContext(ctx, insertEventSQL)
	if err == nil {
		err = s.prepareHot(ctx)
	}
	if err != nil {
		_ = s.wdb.Close()
		return fail(fmt.Errorf("open sqlite store %s: prepare: %w", abs, err))
	}
	rdsn := fileURI(abs) + "?" + busy + "&_pragma=query_only(1)"
	s.rdb, err = sql.Open("sqlite", rdsn)
	if err != nil {
		_ = s.wdb.Close()
		return fail(fmt.Errorf("open sqlite store %s: readers: %w", abs, err))
	}
	s.rdb.SetMaxOpenConns(opts.Readers)
	s.rdb.SetMaxIdleConns(opts.Readers)
	if err := s.rdb.PingContext(ctx); err != nil {
		_ = s.rdb.Close()
		_ = s.wdb.Close()
		return fail(fmt.Errorf("open sqlite store %s: readers: %w", abs, err))
	}
	if err := s.prepareReads(ctx); err != nil {
		_ = s.rdb.Close()
		_ = s.wdb.Close()
		return fail(fmt.Errorf("open sqlite store %s: readers: %w", abs, err))
	}
	if opts.CheckpointInterval > 0 {
		// A short busy timeout: a RESTART or TRUNCATE checkpoint holds
		// new writers back while it waits for readers, so it gives up
		// after 200 ms and tries again at a later tick rather than stall
		// ingest for the full busy_timeout.
		s.cpdb, err = sql.Open("sqlite", fileURI(abs)+"?_pragma=busy_timeout(200)&_pragma=synchronous("+opts.Synchronous+")")
		if err != nil {
			_ = s.rdb.Close()
			_ = s.wdb.Close()
			return fail(fmt.Errorf("open sqlite store %s: checkpointer: %w", abs, err))
		}
		s.cpdb.SetMaxOpenConns(1)
		s.cpDone = make(chan struct{})
		go s.checkpointer() //nolint:gosec // G118: the checkpointer lives as long as the store; Close stops it
	}
	go s.run()
	if s.unlock != nil {
		if s.tookOver[0], s.tookOver[1], err = s.takeOverLeases(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("open sqlite store %s: take over leases: %w", abs, err)
		}
	}
	return s, nil
}

// TookOverLeases says how many event and action leases Open released
// because their owners were dead (Options.Exclusive).
func (s *Store) TookOverLeases() (events, actions int64) { return s.tookOver[0], s.tookOver[1] }

// openErr wraps an error of Open. SQLite reporting the file damaged or not
// a database (before quick_check, or where it missed it) becomes a
// *CorruptError, whose message says what to do.
func openErr(abs string, err error) error {
	var ce *CorruptError
	if !errors.As(err, &ce) && corruptCode(err) {
		err = &CorruptError{Path: abs, Result: CheckResult{Check: "open", Problems: []string{err.Error()}}}
	}
	return fmt.Errorf("open sqlite store %s: %w", abs, err)
}

// openReadOnly opens only the reader pool (query_only connections, as the
// gateway's own readers) of an existing, fully migrated store.
func openReadOnly(ctx context.Context, abs string, opts Options) (*Store, error) {
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open sqlite store read-only: %w", err)
	}
	s := &Store{path: abs, opts: opts, ops: make(chan *op), closing: make(chan struct{}), writerDone: make(chan struct{})}
	close(s.writerDone) // there is no writer
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	var err error
	s.rdb, err = sql.Open("sqlite", fileURI(abs)+"?"+busy+"&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s read-only: %w", abs, err)
	}
	s.rdb.SetMaxOpenConns(opts.Readers)
	s.rdb.SetMaxIdleConns(opts.Readers)
	if err := checkMigrated(ctx, s.rdb); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("open sqlite store %s read-only: %w", abs, err)
	}
	if err := s.prepareReads(ctx); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("open sqlite store %s read-only: %w", abs, err)
	}
	return s, nil
}

// checkMigrated fails unless every embedded migration is applied: a
// read-only store cannot migrate, and its queries name the latest columns.
func checkMigrated(ctx context.Context, db *sql.DB) error {
	ms, err := storeutil.LoadMigrations(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("not a wogate store (read schema_migrations: %w)", err)
	}
	defer func() { _ = rows.Close() }() // read-only; rows.Err is what matters
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if !applied[m.Version] {
			return fmt.Errorf("the store's schema lacks migration %d_%s; start the gateway of this version once to migrate it", m.Version, m.Name)
		}
	}
	return nil
}

// checkpointer runs PASSIVE checkpoints while there are new commits. A
// passive checkpoint copies what no reader still needs and never waits for
// the writer; once the whole WAL is copied, the next write starts it over
// from the beginning, so the file stays small.
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	t := time.NewTicker(s.opts.CheckpointInterval)
	defer t.Stop()
	var last int64 = -1
	truncated := false
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		// Errors are transient (SQLITE_BUSY while another process
		// checkpoints); the next tick tries again, and the final Close
		// checkpoints everything anyway.
		c := s.stats.commits.Load()
		switch {
		case c != last:
			last, truncated = c, false
			var busy, logFrames, done int64
			err := s.cpdb.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done)
			if err == nil && logFrames >= walRestartFrames {
				// Under continuous traffic a PASSIVE checkpoint copies the
				// WAL but the writer never starts it over while readers
				// lag, so it grows without bound (1.4 GB in issue 13's
				// soak). RESTART waits for the readers and makes the next
				// commit write from the WAL's start; journal_size_limit
				// then cuts the file back to 64 MiB.
				_, _ = s.cpdb.ExecContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)")
			}
		case !truncated:
			// Idle since the last tick: empty the WAL file, so a quiet
			// gateway keeps its data in the database file alone.
			if _, err := s.cpdb.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err == nil {
				truncated = true
			}
		}
	}
}

// walRestartFrames is the WAL length (in pages) above which the
// checkpointer restarts the WAL: 16384 pages of 4 KiB are 64 MiB, the
// journal_size_limit the writer connection sets.
const walRestartFrames = 16384

// fileURI makes an SQLite URI of an absolute path, escaping the characters
// URIs give meaning to.
func fileURI(abs string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(abs))
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close waits for queued writes, stops the writer and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		<-s.writerDone
		var errs []error
		if s.cpdb != nil {
			<-s.cpDone
			errs = append(errs, s.cpdb.Close())
		}
		if s.insertEvent != nil {
			errs = append(errs, s.insertEvent.Close())
		}
		errs = append(errs, s.closeHot())
		if s.eventsForWO != nil {
			errs = append(errs, s.eventsForWO.Close())
		}
		errs = append(errs, s.readStmts.close())
		errs = append(errs, s.rdb.Close())
		if s.wdb != nil {
			errs = append(errs, s.wdb.Close())
		}
		if s.unlock != nil {
			s.unlock() // after the last write: the next gateway may take over
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close sqlite store: %w", err)
		}
	})
	return s.closeErr
}

// Ping checks that the store is open and the file readable.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return s.wrap("ping", err)
	}
	return nil
}

// wrap adds context to err and turns errors caused by Close into ErrClosed.
func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() && !errors.Is(err, store.ErrClosed) &&
		(errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed")) {
		err = store.ErrClosed
	}
	return fmt.Errorf("sqlite %s: %w", what, err)
}

// enc and dec map times to INTEGER microseconds; the zero time is 0.
func enc(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func dec(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// blob stores empty JSON as NULL.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullText stores an empty string as NULL (optional columns such as
// trace_parent, which most rows leave unset).
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func unblob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

type scanner interface{ Scan(dest ...any) error }

const eventCols = `id, account, message_id, work_order_id, action, action_date, received_at,
	source, plugin, body, status, attempts, next_at, last_error, decision, config_version, handled_at, trace_parent`

func scanEvent(r scanner) (store.Event, error) {
	var e store.Event
	var ad, ra, na, ha int64
	var body, decision []byte
	var status string
	var tp sql.NullString
	err := r.Scan(&e.ID, &e.Account, &e.MessageID, &e.WorkOrderID, &e.Action, &ad, &ra,
		&e.Source, &e.Plugin, &body, &status, &e.Attempts, &na, &e.LastError, &decision, &e.ConfigVersion, &ha, &tp)
	if err != nil {
		return e, err
	}
	e.TraceParent = tp.String
	e.ActionDate, e.ReceivedAt, e.NextAt, e.HandledAt = dec(ad), dec(ra), dec(na), dec(ha)
	e.Body, e.Decision = unblob(body), unblob(decision)
	e.Status = store.EventStatus(status)
	return e, nil
}

const actionCols = `id, event_id, idempotency_key, account, work_order_id, rule, plugin, kind,
	payload, created_at, status, attempts, next_at, last_error, sent_at, trace_parent`

func scanAction(r scanner) (store.OutboxAction, error) {
	var a store.OutboxAction
	var ca, na, sa int64
	var payload []byte
	var status string
	var tp sql.NullString
	err := r.Scan(&a.ID, &a.EventID, &a.IdempotencyKey, &a.Account, &a.WorkOrderID, &a.Rule, &a.Plugin, &a.Kind,
		&payload, &ca, &status, &a.Attempts, &na, &a.LastError, &sa, &tp)
	if err != nil {
		return a, err
	}
	a.TraceParent = tp.String
	a.CreatedAt, a.NextAt, a.SentAt = dec(ca), dec(na), dec(sa)
	a.Payload = unblob(payload)
	a.Status = store.ActionStatus(status)
	return a, nil
}

const logCols = `id, time, duration_ns, account, direction, severity, method, url, status,
	work_order_id, work_order_number, customer, message_id, request, response, error`

func scanLog(r scanner) (store.LogEntry, error) {
	var l store.LogEntry
	var t, d int64
	err := r.Scan(&l.ID, &t, &d, &l.Account, &l.Direction, &l.Severity, &l.Method, &l.URL, &l.Status,
		&l.WorkOrderID, &l.WorkOrderNumber, &l.Customer, &l.MessageID, &l.Request, &l.Response, &l.Error)
	l.Time, l.Duration = dec(t), time.Duration(d)
	return l, err
}

func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer func() { _ = rows.Close() }() // read-only; rows.Err is what matters
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// query runs a read on the reader pool.
func query[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite %s: %w", what, store.ErrClosed)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.wrap(what, err)
	}
	out, err := collect(rows, scan)
	return out, s.wrap(what, err)
}

// queryStmt is query with a statement prepared on rdb.
func queryStmt[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), st *sql.Stmt, args ...any) ([]T, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite %s: %w", what, store.ErrClosed)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, s.wrap(what, err)
	}
	out, err := collect(rows, scan)
	return out, s.wrap(what, err)
}

// where builds a conjunction of optional filters.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = "?"
		w.args = append(w.args, v)
	}
	w.conds = append(w.conds, col+" IN ("+strings.Join(ph, ",")+")")
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
