package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

const insertEventSQL = `INSERT INTO events (account, message_id, work_order_id, action, action_date,
	received_at, source, plugin, body, status, next_at, handled_at, last_error, updated_at, trace_parent)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (account, message_id) DO NOTHING
	RETURNING id`

// InsertEvent implements store.Store. Concurrent calls share a commit.
func (s *Store) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	now := storeutil.Now()
	if err := storeutil.PrepareEvent(e, now); err != nil {
		return false, fmt.Errorf("sqlite insert event: %w", err)
	}
	args := []any{e.Account, e.MessageID, e.WorkOrderID, e.Action, enc(e.ActionDate),
		enc(e.ReceivedAt), e.Source, e.Plugin, blob(e.Body), string(e.Status), enc(e.NextAt), enc(e.HandledAt), e.LastError, enc(now), nullText(e.TraceParent)}
	var id int64
	err := s.writeOne(ctx, "insert event", func(tx *sql.Tx) error {
		err := tx.StmtContext(bg, s.insertEvent).QueryRowContext(bg, args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id = 0 // a duplicate
			return nil
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if id == 0 {
		return false, nil
	}
	e.ID = id
	return true, nil
}

// claimEventsSQL leases lane heads. A candidate is a pending, due event with
// no earlier pending event in its lane (it is the head) and no leased
// pending event in its lane (the lane is free). Claims run on the single
// writer, so the check and the lease are atomic. Candidates are walked in id
// order (events_pending), so a claim stops after limit lane heads instead
// of looking at the whole backlog; the lane checks use events_lane.
const claimEventsSQL = `UPDATE events SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
WHERE id IN (
	SELECT e.id FROM events e INDEXED BY events_pending
	WHERE e.status = 'pending' AND e.next_at <= ?3 AND e.lease_until <= ?3
	AND NOT EXISTS (
		SELECT 1 FROM events p INDEXED BY events_lane
		WHERE p.status = 'pending' AND p.account = e.account AND p.work_order_id = e.work_order_id
		AND (p.action_date < e.action_date OR (p.action_date = e.action_date AND p.id < e.id)))
	AND NOT EXISTS (
		SELECT 1 FROM events l INDEXED BY events_lane
		WHERE l.status = 'pending' AND l.account = e.account AND l.work_order_id = e.work_order_id
		AND l.lease_until > ?3)
	ORDER BY e.id LIMIT ?4)
RETURNING ` + eventCols

// ClaimEvents implements store.Store.
func (s *Store) ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.Event, error) {
	if err := storeutil.CheckLease(owner, lease, limit); err != nil {
		return nil, fmt.Errorf("sqlite claim events: %w", err)
	}
	var out []store.Event
	err := s.write(ctx, "claim events", func(tx *sql.Tx) error {
		now := storeutil.Now()
		rows, err := s.stmt(tx, claimEventsSQL).QueryContext(bg, owner, enc(now.Add(lease)), enc(now), limit)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanEvent)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// leaseHeld checks, inside the writer, that owner holds the lease of a
// pending row of table.
func (s *Store) leaseHeld(tx *sql.Tx, table string, id int64, owner string) (account string, err error) {
	var status, holder string
	q := leaseHeldEventsSQL
	if table == "actions" {
		q = leaseHeldActionsSQL
	}
	err = s.stmt(tx, q).QueryRowContext(bg, id).Scan(&status, &holder, &account)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s %d: %w", strings.TrimSuffix(table, "s"), id, store.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	if status != "pending" || holder != owner {
		return "", fmt.Errorf("%s %d (status %s, held by %q): %w", strings.TrimSuffix(table, "s"), id, status, holder, store.ErrLeaseLost)
	}
	return account, nil
}

const insertActionSQL = `INSERT INTO actions (event_id, idempotency_key, account, work_order_id, rule, plugin, kind,
	payload, created_at, status, next_at, last_error, sent_at, updated_at, trace_parent)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (idempotency_key) DO NOTHING`

// CompleteEvent implements store.Store.
func (s *Store) CompleteEvent(ctx context.Context, id int64, owner string, out store.Outcome) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("sqlite complete event: %w", err)
	}
	now := storeutil.Now()
	acts, err := storeutil.CheckOutcome(out, id, "", now)
	if err != nil {
		return fmt.Errorf("sqlite complete event: %w", err)
	}
	return s.write(ctx, "complete event", func(tx *sql.Tx) error {
		account, err := s.leaseHeld(tx, "events", id, owner)
		if err != nil {
			return err
		}
		if _, err := s.stmt(tx, completeEventSQL).ExecContext(bg,
			string(out.Status), blob(out.Decision), out.ConfigVersion, out.LastError, enc(now), enc(now), id); err != nil {
			return err
		}
		if len(acts) == 0 {
			return nil
		}
		st := s.stmt(tx, insertActionSQL)
		for _, a := range acts {
			if a.Account == "" {
				a.Account = account
			}
			if _, err := st.ExecContext(bg, a.EventID, a.IdempotencyKey, a.Account, a.WorkOrderID, a.Rule, a.Plugin, a.Kind,
				blob(a.Payload), enc(a.CreatedAt), string(a.Status), enc(a.NextAt), a.LastError, enc(a.SentAt), enc(now), nullText(a.TraceParent)); err != nil {
				return fmt.Errorf("insert action %q: %w", a.IdempotencyKey, err)
			}
		}
		return nil
	})
}

// RetryEvent implements store.Store.
func (s *Store) RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("sqlite retry event: %w", err)
	}
	now := storeutil.Now()
	return s.write(ctx, "retry event", func(tx *sql.Tx) error {
		if _, err := s.leaseHeld(tx, "events", id, owner); err != nil {
			return err
		}
		_, err := s.stmt(tx, retryEventSQL).ExecContext(bg, enc(storeutil.Micro(next)), lastErr, enc(now), id)
		return err
	})
}

// DeferEvent implements store.Store.
func (s *Store) DeferEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("sqlite defer event: %w", err)
	}
	if minAttempts < 0 {
		return fmt.Errorf("sqlite defer event: minAttempts %d: %w", minAttempts, store.ErrInvalid)
	}
	now := storeutil.Now()
	return s.write(ctx, "defer event", func(tx *sql.Tx) error {
		if _, err := s.leaseHeld(tx, "events", id, owner); err != nil {
			return err
		}
		_, err := s.stmt(tx, deferEventSQL).ExecContext(bg, enc(storeutil.Micro(next)), lastErr, minAttempts, enc(now), id)
		return err
	})
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, id int64) (*store.Event, error) {
	evs, err := query(ctx, s, "get event", scanEvent, "SELECT "+eventCols+" FROM events WHERE id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("sqlite get event %d: %w", id, store.ErrNotFound)
	}
	return &evs[0], nil
}

// EventsForWorkOrder implements store.Store, in lane order.
func (s *Store) EventsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.Event, error) {
	return queryStmt(ctx, s, "events for work order", scanEvent, s.eventsForWO, account, workOrderID)
}

// SeenMessage implements store.Store.
func (s *Store) SeenMessage(ctx context.Context, account, messageID string) (bool, error) {
	n, err := query(ctx, s, "seen message", scanInt,
		"SELECT count(*) FROM events WHERE account = ? AND message_id = ?", account, messageID)
	if err != nil {
		return false, err
	}
	return n[0] > 0, nil
}

func scanInt(r scanner) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}

// SeenWorkOrders implements store.Store.
func (s *Store) SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error) {
	seen := make(map[int64]bool)
	const chunk = 500
	for len(ids) > 0 {
		part := ids[:min(chunk, len(ids))]
		ids = ids[len(part):]
		args := []any{account}
		ph := make([]string, len(part))
		for i, id := range part {
			ph[i] = "?"
			args = append(args, id)
		}
		got, err := query(ctx, s, "seen work orders", scanInt,
			"SELECT DISTINCT work_order_id FROM events WHERE account = ? AND work_order_id IN ("+strings.Join(ph, ",")+")", args...)
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			seen[id] = true
		}
	}
	return seen, nil
}

// RequeueEvent implements store.Store.
func (s *Store) RequeueEvent(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.write(ctx, "requeue event", func(tx *sql.Tx) error {
		if err := checkStatus(tx, "events", id, storeutil.RequeueableEvents); err != nil {
			return err
		}
		_, err := tx.ExecContext(bg, `UPDATE events SET status = 'pending', attempts = 0, next_at = ?, lease_owner = '',
			lease_until = 0, updated_at = ? WHERE id = ?`, enc(now), enc(now), id)
		return err
	})
}

// IgnoreEvent implements store.Store.
func (s *Store) IgnoreEvent(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.write(ctx, "ignore event", func(tx *sql.Tx) error {
		if err := checkStatus(tx, "events", id, storeutil.IgnorableEvents); err != nil {
			return err
		}
		_, err := tx.ExecContext(bg, `UPDATE events SET status = 'ignored', updated_at = ? WHERE id = ? AND status <> 'ignored'`, enc(now), id)
		return err
	})
}

// checkStatus returns ErrNotFound or ErrWrongState unless the row's status
// is one of allowed.
func checkStatus(tx *sql.Tx, table string, id int64, allowed []string) error {
	var status string
	err := tx.QueryRowContext(bg, "SELECT status FROM "+table+" WHERE id = ?", id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %d: %w", strings.TrimSuffix(table, "s"), id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if !storeutil.Contains(allowed, status) {
		return fmt.Errorf("%s %d is %s (want %s): %w", strings.TrimSuffix(table, "s"), id, status, strings.Join(allowed, ", "), store.ErrWrongState)
	}
	return nil
}

// Backlog implements store.Store.
func (s *Store) Backlog(ctx context.Context) (map[string]store.Backlog, error) {
	type row struct {
		account string
		n       int
		oldest  int64
	}
	scan := func(r scanner) (row, error) {
		var v row
		err := r.Scan(&v.account, &v.n, &v.oldest)
		return v, err
	}
	evs, err := query(ctx, s, "backlog", scan,
		"SELECT account, count(*), min(received_at) FROM events WHERE status = 'pending' GROUP BY account")
	if err != nil {
		return nil, err
	}
	acts, err := query(ctx, s, "backlog", scan,
		"SELECT account, count(*), min(created_at) FROM actions WHERE status = 'pending' GROUP BY account")
	if err != nil {
		return nil, err
	}
	out := map[string]store.Backlog{}
	for _, r := range evs {
		b := out[r.account]
		b.PendingEvents, b.OldestEvent = r.n, dec(r.oldest)
		out[r.account] = b
	}
	for _, r := range acts {
		b := out[r.account]
		b.PendingActions, b.OldestAction = r.n, dec(r.oldest)
		out[r.account] = b
	}
	return out, nil
}

// ListDeadLetters implements store.Store.
func (s *Store) ListDeadLetters(ctx context.Context, f store.DeadLetterFilter) ([]store.DeadLetter, error) {
	evStatuses, actStatuses, err := storeutil.DeadStatuses(f)
	if err != nil {
		return nil, fmt.Errorf("sqlite list dead letters: %w", err)
	}
	limit := storeutil.Limit(f.Limit)
	var evs []store.Event
	if len(evStatuses) > 0 {
		w := deadLetterWhere(f, evStatuses, "action", "received_at")
		evs, err = query(ctx, s, "list dead letters", scanEvent,
			"SELECT "+eventCols+" FROM events"+w.String()+" ORDER BY received_at DESC, id DESC LIMIT ?", append(w.args, limit)...)
		if err != nil {
			return nil, err
		}
	}
	var acts []store.OutboxAction
	if len(actStatuses) > 0 {
		w := deadLetterWhere(f, actStatuses, "kind", "created_at")
		acts, err = query(ctx, s, "list dead letters", scanAction,
			"SELECT "+actionCols+" FROM actions"+w.String()+" ORDER BY created_at DESC, id DESC LIMIT ?", append(w.args, limit)...)
		if err != nil {
			return nil, err
		}
	}
	return storeutil.MergeDeadLetters(evs, acts, limit), nil
}

// deadLetterWhere is the filter of ListDeadLetters for one table: events
// and actions name the action and the arrival time differently.
func deadLetterWhere(f store.DeadLetterFilter, statuses []string, actionCol, timeCol string) where {
	var w where
	w.in("status", statuses)
	if f.Account != "" {
		w.add("account = ?", f.Account)
	}
	if f.WorkOrderID != 0 {
		w.add("work_order_id = ?", f.WorkOrderID)
	}
	if f.Action != "" {
		w.add(actionCol+" = ?", f.Action)
	}
	if !f.Since.IsZero() {
		w.add(timeCol+" >= ?", enc(storeutil.Micro(f.Since)))
	}
	return w
}

func (f eventFilter) where(paged bool) where {
	var w where
	if f.Account != "" {
		w.add("account = ?", f.Account)
	}
	if f.WorkOrderID != 0 {
		w.add("work_order_id = ?", f.WorkOrderID)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		w.add("received_at >= ?", enc(storeutil.Micro(f.Since)))
	}
	if !f.Until.IsZero() {
		w.add("received_at < ?", enc(storeutil.Micro(f.Until)))
	}
	if paged && f.AfterID > 0 {
		w.add("id > ?", f.AfterID)
	}
	return w
}

type eventFilter store.EventFilter

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	w := eventFilter(f).where(true)
	return query(ctx, s, "list events", scanEvent,
		"SELECT "+eventCols+" FROM events"+w.String()+" ORDER BY id LIMIT ?", append(w.args, storeutil.Limit(f.Limit))...)
}

// CountEvents implements store.Store.
func (s *Store) CountEvents(ctx context.Context, f store.EventFilter) (int64, error) {
	w := eventFilter(f).where(false)
	n, err := query(ctx, s, "count events", scanInt, "SELECT count(*) FROM events"+w.String(), w.args...)
	if err != nil {
		return 0, err
	}
	return n[0], nil
}
