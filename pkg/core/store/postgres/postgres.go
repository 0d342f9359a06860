// Package postgres is the store for operators who run several gateway
// replicas against one PostgreSQL database.
//
// What makes replicas safe: every claim locks the work order's row in the
// lanes table with FOR UPDATE SKIP LOCKED and records the lane's lease
// there, so two replicas never hold the same lane, and a replica skips lanes
// another is busy claiming instead of waiting for it. Dedup is the unique
// (account, message_id) constraint with ON CONFLICT DO NOTHING, so a
// redelivery racing its original on another replica is still stored once.
// Concurrent InsertEvent calls of one replica are group-committed as one
// multi-row INSERT.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Options tune the store.
type Options struct {
	// Schema holds wogate's tables; created if missing. Default: the
	// connection's search_path (normally public). Tests use a fresh schema
	// per run.
	Schema string
	// MaxBatch is the most InsertEvent calls sent as one INSERT. Default
	// 256; 1 disables group commit (each call inserts on its own).
	MaxBatch int
	// MaxWait is how long a batch lingers for more events after its first.
	// Default 0: batches form from calls that queue while the previous
	// INSERT is in flight.
	MaxWait time.Duration
	// Flushers is how many batches may be in flight at once. Default 2:
	// one gathers while the other commits.
	Flushers int
	// MaxConns caps the connection pool. Default 10.
	MaxConns int32
	// StatementTimeout bounds each store statement. Default 30s.
	StatementTimeout time.Duration
	// ReadOnly connects for reading only (gateway replay): no migrations,
	// no insert batchers, and every transaction read-only on the server
	// (default_transaction_read_only), so a write fails there.
	ReadOnly bool
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (o *Options) defaults() error {
	if o.Schema != "" && !schemaName.MatchString(o.Schema) {
		return fmt.Errorf("schema %q: want lower-case letters, digits and underscores", o.Schema)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxWait < 0 {
		o.MaxWait = 0
	}
	if o.Flushers <= 0 {
		o.Flushers = 2
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 30 * time.Second
	}
	return nil
}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
	opts Options

	inserts     chan *insertReq
	closing     chan struct{}
	flushersWG  sync.WaitGroup
	closed      atomic.Bool
	closeOnce   sync.Once
	batches     atomic.Int64
	batchedRows atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Open connects, creates the schema if needed, applies pending migrations
// under an advisory lock (so replicas starting together migrate once) and
// starts the insert batchers.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: parse dsn: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	// Timestamps come back in UTC regardless of the server's TimeZone.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if opts.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		opts.MaxBatch = 1
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if !opts.ReadOnly { // a read-only store reads the schema as it is
		if err := migrate(ctx, pool, opts.Schema); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
	}
	s := &Store{
		pool:    pool,
		opts:    opts,
		inserts: make(chan *insertReq),
		closing: make(chan struct{}),
	}
	if opts.MaxBatch > 1 {
		for i := 0; i < opts.Flushers; i++ {
			s.flushersWG.Add(1)
			go s.flusher()
		}
	}
	return s, nil
}

// Close stops the batchers after the batches in flight and closes the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		s.flushersWG.Wait()
		s.pool.Close()
	})
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.wrap("ping", s.pool.Ping(ctx))
}

// BatchStats reports how many group-commit batches ran and the events they
// carried.
func (s *Store) BatchStats() (batches, rows int64) {
	return s.batches.Load(), s.batchedRows.Load()
}

func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() && !errors.Is(err, store.ErrClosed) && strings.Contains(err.Error(), "closed pool") {
		err = store.ErrClosed
	}
	return fmt.Errorf("postgres %s: %w", what, err)
}

func (s *Store) open(what string) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres %s: %w", what, store.ErrClosed)
	}
	return nil
}

// stmtCtx bounds one statement or transaction.
func (s *Store) stmtCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.StatementTimeout)
}

// tx runs fn in a transaction (READ COMMITTED).
func (s *Store) tx(ctx context.Context, what string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if err := s.open(what); err != nil {
		return err
	}
	ctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
	return s.wrap(what, err)
}

// clean makes a string storable in a text column: PostgreSQL refuses NUL
// bytes and invalid UTF-8, which would otherwise turn one odd webhook into
// an error CorrigoPro retries forever. The mapping is deterministic, so dedup
// by MessageId still works.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// zt maps the zero time (unset) to NULL for nullable columns.
func zt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// ut reads a possibly NULL timestamp as UTC; NULL and 0001-01-01 are zero.
func ut(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func unblob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullText stores an empty string as NULL (optional columns such as
// trace_parent, which most rows leave unset).
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	s = clean(s)
	return &s
}

func blob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

const eventCols = `id, account, message_id, work_order_id, action, action_date, received_at,
	source, plugin, body, status, attempts, next_at, last_error, decision, config_version, handled_at, trace_parent`

func scanEvent(r pgx.Row) (store.Event, error) {
	var e store.Event
	var ad, ra, na time.Time
	var ha *time.Time
	var status string
	var tp *string
	err := r.Scan(&e.ID, &e.Account, &e.MessageID, &e.WorkOrderID, &e.Action, &ad, &ra,
		&e.Source, &e.Plugin, &e.Body, &status, &e.Attempts, &na, &e.LastError, &e.Decision, &e.ConfigVersion, &ha, &tp)
	if tp != nil {
		e.TraceParent = *tp
	}
	e.ActionDate, e.ReceivedAt, e.NextAt, e.HandledAt = ut(&ad), ut(&ra), ut(&na), ut(ha)
	e.Body, e.Decision = unblob(e.Body), unblob(e.Decision)
	e.Status = store.EventStatus(status)
	return e, err
}

const actionCols = `id, event_id, idempotency_key, account, work_order_id, rule, plugin, kind,
	payload, created_at, status, attempts, next_at, last_error, sent_at, trace_parent`

func scanAction(r pgx.Row) (store.OutboxAction, error) {
	var a store.OutboxAction
	var ca, na time.Time
	var sa *time.Time
	var status string
	var tp *string
	err := r.Scan(&a.ID, &a.EventID, &a.IdempotencyKey, &a.Account, &a.WorkOrderID, &a.Rule, &a.Plugin, &a.Kind,
		&a.Payload, &ca, &status, &a.Attempts, &na, &a.LastError, &sa, &tp)
	if tp != nil {
		a.TraceParent = *tp
	}
	a.CreatedAt, a.NextAt, a.SentAt = ut(&ca), ut(&na), ut(sa)
	a.Payload = unblob(a.Payload)
	a.Status = store.ActionStatus(status)
	return a, err
}

const logCols = `id, time, duration_ns, account, direction, severity, method, url, status,
	work_order_id, work_order_number, customer, message_id, request, response, error`

func scanLog(r pgx.Row) (store.LogEntry, error) {
	var l store.LogEntry
	var t time.Time
	var d int64
	err := r.Scan(&l.ID, &t, &d, &l.Account, &l.Direction, &l.Severity, &l.Method, &l.URL, &l.Status,
		&l.WorkOrderID, &l.WorkOrderNumber, &l.Customer, &l.MessageID, &l.Request, &l.Response, &l.Error)
	l.Time, l.Duration = ut(&t), time.Duration(d)
	return l, err
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func collect[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
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

// query runs a read on the pool.
func query[T any](ctx context.Context, s *Store, what string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	if err := s.open(what); err != nil {
		return nil, err
	}
	ctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	out, err := collect(ctx, s.pool, scan, sql, args...)
	return out, s.wrap(what, err)
}

// exec runs one statement on the pool.
func (s *Store) exec(ctx context.Context, what, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := s.open(what); err != nil {
		return pgconn.CommandTag{}, err
	}
	ctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, sql, args...)
	return tag, s.wrap(what, err)
}

// where builds a conjunction of optional filters with $n placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(w.args))))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// next is the placeholder for one more argument.
func (w *where) next(arg any) string {
	w.args = append(w.args, arg)
	return fmt.Sprintf("$%d", len(w.args))
}

// lockKey is the advisory lock migrations of one schema run under.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("wogate-migrate:" + schema))
	return int64(h.Sum64()) //nolint:gosec // G115: reinterpreting the hash bits is the point
}

// migrate applies pending migrations. The advisory lock is session-level on
// one connection: replicas starting together queue here, and the second
// finds nothing left to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	ms, err := storeutil.LoadMigrations(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	key := lockKey(schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		// A fresh context: unlock even if ctx has ended, or the session
		// keeps the lock until the connection closes.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Conn().Close(uctx) // dropping the session drops the lock
		}
	}()
	if schema != "" {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("migrate: create schema: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	todo, err := storeutil.Pending(ms, applied)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range todo {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}
