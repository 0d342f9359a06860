package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/wogate/wogate/pkg/core/store"
)

// The writer's hot statements are prepared once, on the writer connection,
// at Open. Preparing them per call parsed the claim queries (nested
// subqueries) on every claim, which was the largest CPU cost of the whole
// pipeline (pprof of the end-to-end benchmark: sqlite3Prepare under
// ClaimEvents). Statements used elsewhere are rarer and stay ad hoc.
const (
	leaseHeldEventsSQL  = "SELECT status, lease_owner, account FROM events WHERE id = ?"
	leaseHeldActionsSQL = "SELECT status, lease_owner, account FROM actions WHERE id = ?"
	completeEventSQL    = `UPDATE events SET status = ?, decision = ?, config_version = ?, last_error = ?,
			handled_at = ?, lease_owner = '', lease_until = 0, updated_at = ? WHERE id = ?`
	retryEventSQL = `UPDATE events SET next_at = ?, last_error = ?, lease_owner = '', lease_until = 0,
			updated_at = ? WHERE id = ?`
	deferEventSQL = `UPDATE events SET next_at = ?, last_error = ?, attempts = MAX(attempts - 1, ?), lease_owner = '',
			lease_until = 0, updated_at = ? WHERE id = ?`
	finishActionSQL = `UPDATE actions SET status = ?, last_error = ?, sent_at = ?, lease_owner = '',
			lease_until = 0, updated_at = ? WHERE id = ?`
	retryActionSQL = `UPDATE actions SET next_at = ?, last_error = ?, lease_owner = '', lease_until = 0,
			updated_at = ? WHERE id = ?`
	deferActionSQL = `UPDATE actions SET next_at = ?, last_error = ?, attempts = MAX(attempts - 1, ?), lease_owner = '',
			lease_until = 0, updated_at = ? WHERE id = ?`
	// The ids of a renewal come as one JSON array, so the statement is
	// prepared once whatever their number.
	renewEventLeasesSQL = `UPDATE events SET lease_until = ?1
			WHERE id IN (SELECT value FROM json_each(?2)) AND lease_owner = ?3 AND status = 'pending'`
	renewActionLeasesSQL = `UPDATE actions SET lease_until = ?1
			WHERE id IN (SELECT value FROM json_each(?2)) AND lease_owner = ?3 AND status = 'pending'`
)

var hotSQL = []string{
	claimEventsSQL, claimActionsSQL, insertActionSQL,
	leaseHeldEventsSQL, leaseHeldActionsSQL,
	completeEventSQL, retryEventSQL, deferEventSQL, finishActionSQL, retryActionSQL, deferActionSQL,
	renewEventLeasesSQL, renewActionLeasesSQL,
}

// prepareHot prepares hotSQL on the writer connection.
func (s *Store) prepareHot(ctx context.Context) error {
	s.hot = make(map[string]*sql.Stmt, len(hotSQL))
	for _, q := range hotSQL {
		st, err := s.wdb.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.hot[q] = st
	}
	return nil
}

// stmt returns the prepared statement for q bound to tx. The writer owns
// the only write connection, so binding never re-prepares.
func (s *Store) stmt(tx *sql.Tx, q string) *sql.Stmt {
	st, ok := s.hot[q]
	if !ok {
		panic("sqlite: statement not prepared: " + q) // a programming error, caught by runOp
	}
	return tx.StmtContext(bg, st)
}

func (s *Store) closeHot() error {
	var errs []error
	for _, st := range s.hot {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// eventsForWorkOrderSQL is read for every NewWorkOrder event dispatched
// (the duplicate check), so it is prepared once on the reader pool
// (database/sql prepares it on each reader connection on first use);
// parsing it per call was half of that read's CPU.
const eventsForWorkOrderSQL = "SELECT " + eventCols + " FROM events WHERE account = ? AND work_order_id = ? ORDER BY action_date, id"

// prepareReads prepares the hot reads on rdb.
func (s *Store) prepareReads(ctx context.Context) error {
	st, err := s.rdb.PrepareContext(ctx, eventsForWorkOrderSQL)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	s.eventsForWO = st
	return nil
}

// readStmtCache holds read statements prepared on rdb on first use: the
// work order list runs a handful of small indexed reads per row, and
// preparing each per call was most of their cost (pprof of
// BenchmarkRecentWorkOrders: sqlite3Prepare under woSummary).
type readStmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// readStmt returns q prepared on rdb.
func (s *Store) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c := &s.readStmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	st, err := s.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, s.wrap("prepare", err)
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st, nil
}

func (c *readStmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// queryCached is query with q prepared once (readStmt).
func queryCached[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite %s: %w", what, store.ErrClosed)
	}
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return queryStmt(ctx, s, what, scan, st, args...)
}
