package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// op is one write waiting for the writer goroutine.
type op struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error // buffered: the writer never blocks on a caller that left
	// single: fn runs exactly one statement. SQLite undoes a failed
	// statement by itself, so no savepoint is needed around it.
	single bool
}

type writerStats struct {
	commits atomic.Int64
	ops     atomic.Int64
}

// WriterStats counts commits and the writes they carried; Ops/Commits is the
// mean group-commit batch size.
type WriterStats struct {
	Commits int64
	Ops     int64
}

// WriterStats reports the writer's counters since Open.
func (s *Store) WriterStats() WriterStats {
	return WriterStats{Commits: s.stats.commits.Load(), Ops: s.stats.ops.Load()}
}

// bg is the context statements run under inside the writer. A caller's
// context is checked before its write starts, never during: interrupting a
// statement can roll back the whole shared transaction, taking other
// callers' writes with it.
var bg = context.Background()

// write hands fn to the writer and waits until the transaction that ran it
// has committed (nil) or fn or the commit failed. fn runs on the writer
// goroutine inside a savepoint; results it stores in captured variables are
// safe to read once write returns nil. If ctx ends while waiting, write
// returns ctx's error; the write may still commit.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	return s.submit(ctx, what, &op{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// writeOne is write for an fn that runs a single statement.
func (s *Store) writeOne(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	return s.submit(ctx, what, &op{ctx: ctx, fn: fn, done: make(chan error, 1), single: true})
}

func (s *Store) submit(ctx context.Context, what string, o *op) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite %s: %w", what, store.ErrClosed)
	}
	if s.opts.ReadOnly {
		return fmt.Errorf("sqlite %s: %w", what, store.ErrReadOnly)
	}
	select {
	case s.ops <- o:
	case <-s.closing:
		return fmt.Errorf("sqlite %s: %w", what, store.ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("sqlite %s: %w", what, ctx.Err())
	}
	select {
	case err := <-o.done:
		if err != nil {
			return s.wrap(what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sqlite %s: %w", what, ctx.Err())
	}
}

// run is the writer goroutine.
func (s *Store) run() {
	defer close(s.writerDone)
	batch := make([]*op, 0, s.opts.MaxBatch)
	busy := false
	for {
		batch = batch[:0]
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.closing:
			return
		}
		batch = s.gather(batch, busy)
		busy = len(batch) > 1
		s.commit(batch)
	}
}

// gather adds the writes already waiting, then, if the writer is busy
// (the last batch had company), lingers up to MaxWait for more, up to
// MaxBatch in all.
func (s *Store) gather(batch []*op, busy bool) []*op {
	max := s.opts.MaxBatch
	for len(batch) < max {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
			continue
		default:
		}
		break
	}
	if !busy || s.opts.MaxWait <= 0 || len(batch) >= max {
		return batch
	}
	t := time.NewTimer(s.opts.MaxWait)
	defer t.Stop()
	for len(batch) < max {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-t.C:
			return batch
		case <-s.closing:
			return batch
		}
	}
	return batch
}

// commit runs a batch in one transaction. With more than one write, each
// runs in its own savepoint so a failing write is undone alone; the others
// commit. Every caller is answered after the COMMIT.
func (s *Store) commit(batch []*op) {
	errs := make([]error, len(batch))
	live := 0
	for i, o := range batch {
		if err := o.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		live++
	}
	answer := func() {
		for i, o := range batch {
			o.done <- errs[i]
		}
	}
	if live == 0 {
		answer()
		return
	}
	failAll := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	tx, err := s.wdb.BeginTx(bg, nil)
	if err != nil {
		failAll(fmt.Errorf("begin: %w", err))
		answer()
		return
	}
	savepoints := live > 1
	ok := make([]bool, len(batch))
	for i, o := range batch {
		if errs[i] != nil {
			continue
		}
		sp := savepoints && !o.single
		if sp {
			if _, err := tx.ExecContext(bg, "SAVEPOINT w"); err != nil {
				_ = tx.Rollback()
				failAll(fmt.Errorf("savepoint: %w", err))
				answer()
				return
			}
		}
		if err := runOp(o, tx); err != nil {
			errs[i] = err
			if !savepoints {
				_ = tx.Rollback()
				answer()
				return
			}
			if !sp {
				if isConstraint(err) {
					continue // the statement undid itself; the transaction is intact
				}
				// Errors such as SQLITE_FULL or IOERR may have rolled the
				// whole transaction back: fail the batch rather than run
				// the rest outside a transaction.
				_ = tx.Rollback()
				failAll(err)
				answer()
				return
			}
			if _, rerr := tx.ExecContext(bg, "ROLLBACK TO w"); rerr != nil {
				_ = tx.Rollback()
				failAll(fmt.Errorf("rollback to savepoint after %w: %w", err, rerr))
				answer()
				return
			}
		}
		if sp {
			if _, err := tx.ExecContext(bg, "RELEASE w"); err != nil {
				_ = tx.Rollback()
				failAll(fmt.Errorf("release savepoint: %w", err))
				answer()
				return
			}
		}
		ok[i] = errs[i] == nil
	}
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("commit: %w", err))
	} else {
		s.stats.commits.Add(1)
		n := 0
		for _, v := range ok {
			if v {
				n++
			}
		}
		s.stats.ops.Add(int64(n))
	}
	answer()
}

// isConstraint reports an SQLite constraint violation (primary result code
// SQLITE_CONSTRAINT = 19), which aborts only the failing statement.
func isConstraint(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 19
}

// runOp runs one write, turning a panic into an error so one bad write
// cannot take the writer (and every caller waiting on it) down.
func runOp(o *op, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return o.fn(tx)
}
