package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// ClaimEvents implements store.Store.
func (s *Store) ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.Event, error) {
	return claimLanes(ctx, s, eventLanes, owner, lease, limit, scanEvent, func(e store.Event) int64 { return e.ID })
}

// ClaimActions implements store.Store.
func (s *Store) ClaimActions(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.OutboxAction, error) {
	return claimLanes(ctx, s, actionLanes, owner, lease, limit, scanAction, func(a store.OutboxAction) int64 { return a.ID })
}

// CompleteEvent implements store.Store: outcome and outbox rows in one
// transaction.
func (s *Store) CompleteEvent(ctx context.Context, id int64, owner string, out store.Outcome) error {
	now := storeutil.Now()
	acts, err := storeutil.CheckOutcome(out, id, "", now)
	if err != nil {
		return fmt.Errorf("postgres complete event: %w", err)
	}
	return s.release(ctx, "complete event", eventLanes, id, owner, func(ctx context.Context, tx pgx.Tx, account string) error {
		if _, err := tx.Exec(ctx, `UPDATE events SET status = $2, decision = $3, config_version = $4, last_error = $5,
			handled_at = $6, lease_owner = '', lease_until = NULL, updated_at = $6 WHERE id = $1`,
			id, string(out.Status), blob(out.Decision), clean(out.ConfigVersion), clean(out.LastError), now); err != nil {
			return err
		}
		if len(acts) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, a := range acts {
			if a.Account == "" {
				a.Account = account
			}
			b.Queue(`INSERT INTO actions (event_id, idempotency_key, account, work_order_id, rule, plugin, kind,
				payload, created_at, status, next_at, last_error, sent_at, updated_at, trace_parent)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
				ON CONFLICT (idempotency_key) DO NOTHING`,
				a.EventID, clean(a.IdempotencyKey), clean(a.Account), a.WorkOrderID, clean(a.Rule), clean(a.Plugin), clean(a.Kind),
				blob(a.Payload), a.CreatedAt, string(a.Status), a.NextAt, clean(a.LastError), zt(a.SentAt), now, nullText(a.TraceParent))
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// RetryEvent implements store.Store.
func (s *Store) RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	now := storeutil.Now()
	return s.release(ctx, "retry event", eventLanes, id, owner, func(ctx context.Context, tx pgx.Tx, _ string) error {
		_, err := tx.Exec(ctx, `UPDATE events SET next_at = $2, last_error = $3, lease_owner = '', lease_until = NULL,
			updated_at = $4 WHERE id = $1`, id, storeutil.Micro(next), clean(lastErr), now)
		return err
	})
}

// DeferEvent implements store.Store.
func (s *Store) DeferEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error {
	if minAttempts < 0 {
		return fmt.Errorf("postgres defer event: minAttempts %d: %w", minAttempts, store.ErrInvalid)
	}
	now := storeutil.Now()
	return s.release(ctx, "defer event", eventLanes, id, owner, func(ctx context.Context, tx pgx.Tx, _ string) error {
		_, err := tx.Exec(ctx, `UPDATE events SET next_at = $2, last_error = $3, attempts = GREATEST(attempts - 1, $5),
			lease_owner = '', lease_until = NULL, updated_at = $4 WHERE id = $1`, id, storeutil.Micro(next), clean(lastErr), now, minAttempts)
		return err
	})
}

// FinishAction implements store.Store.
func (s *Store) FinishAction(ctx context.Context, id int64, owner string, status store.ActionStatus, lastErr string) error {
	if err := storeutil.CheckFinal(status); err != nil {
		return fmt.Errorf("postgres finish action: %w", err)
	}
	now := storeutil.Now()
	var sent any
	if status == store.ActionSent {
		sent = now
	}
	return s.release(ctx, "finish action", actionLanes, id, owner, func(ctx context.Context, tx pgx.Tx, _ string) error {
		_, err := tx.Exec(ctx, `UPDATE actions SET status = $2, last_error = $3, sent_at = $4, lease_owner = '',
			lease_until = NULL, updated_at = $5 WHERE id = $1`, id, string(status), clean(lastErr), sent, now)
		return err
	})
}

// RetryAction implements store.Store.
func (s *Store) RetryAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	now := storeutil.Now()
	return s.release(ctx, "retry action", actionLanes, id, owner, func(ctx context.Context, tx pgx.Tx, _ string) error {
		_, err := tx.Exec(ctx, `UPDATE actions SET next_at = $2, last_error = $3, lease_owner = '', lease_until = NULL,
			updated_at = $4 WHERE id = $1`, id, storeutil.Micro(next), clean(lastErr), now)
		return err
	})
}

// DeferAction implements store.Store.
func (s *Store) DeferAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error {
	if minAttempts < 0 {
		return fmt.Errorf("postgres defer action: minAttempts %d: %w", minAttempts, store.ErrInvalid)
	}
	now := storeutil.Now()
	return s.release(ctx, "defer action", actionLanes, id, owner, func(ctx context.Context, tx pgx.Tx, _ string) error {
		_, err := tx.Exec(ctx, `UPDATE actions SET next_at = $2, last_error = $3, attempts = GREATEST(attempts - 1, $5),
			lease_owner = '', lease_until = NULL, updated_at = $4 WHERE id = $1`, id, storeutil.Micro(next), clean(lastErr), now, minAttempts)
		return err
	})
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, id int64) (*store.Event, error) {
	evs, err := query(ctx, s, "get event", scanEvent, "SELECT "+eventCols+" FROM events WHERE id = $1", id)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("postgres get event %d: %w", id, store.ErrNotFound)
	}
	return &evs[0], nil
}

// GetAction implements store.Store.
func (s *Store) GetAction(ctx context.Context, id int64) (*store.OutboxAction, error) {
	as, err := query(ctx, s, "get action", scanAction, "SELECT "+actionCols+" FROM actions WHERE id = $1", id)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("postgres get action %d: %w", id, store.ErrNotFound)
	}
	return &as[0], nil
}

// EventsForWorkOrder implements store.Store, in lane order.
func (s *Store) EventsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.Event, error) {
	return query(ctx, s, "events for work order", scanEvent,
		"SELECT "+eventCols+" FROM events WHERE account = $1 AND work_order_id = $2 ORDER BY action_date, id",
		clean(account), workOrderID)
}

// ActionsForWorkOrder implements store.Store, in creation order.
func (s *Store) ActionsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.OutboxAction, error) {
	return query(ctx, s, "actions for work order", scanAction,
		"SELECT "+actionCols+" FROM actions WHERE account = $1 AND work_order_id = $2 ORDER BY id",
		clean(account), workOrderID)
}

func scanInt(r pgx.Row) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}

// SeenMessage implements store.Store.
func (s *Store) SeenMessage(ctx context.Context, account, messageID string) (bool, error) {
	n, err := query(ctx, s, "seen message", scanInt,
		"SELECT count(*) FROM events WHERE account = $1 AND message_id = $2", clean(account), clean(messageID))
	if err != nil {
		return false, err
	}
	return n[0] > 0, nil
}

// SeenWorkOrders implements store.Store.
func (s *Store) SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error) {
	seen := make(map[int64]bool)
	if len(ids) == 0 {
		return seen, nil
	}
	got, err := query(ctx, s, "seen work orders", scanInt,
		"SELECT DISTINCT work_order_id FROM events WHERE account = $1 AND work_order_id = ANY($2)", clean(account), ids)
	if err != nil {
		return nil, err
	}
	for _, id := range got {
		seen[id] = true
	}
	return seen, nil
}

// RequeueEvent implements store.Store.
func (s *Store) RequeueEvent(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.setStatus(ctx, "requeue event", "events", id, storeutil.RequeueableEvents,
		"status = 'pending', attempts = 0, next_at = $2, lease_owner = '', lease_until = NULL, updated_at = $2", now)
}

// IgnoreEvent implements store.Store.
func (s *Store) IgnoreEvent(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.setStatus(ctx, "ignore event", "events", id, storeutil.IgnorableEvents,
		"status = 'ignored', updated_at = CASE WHEN status = 'ignored' THEN updated_at ELSE $2 END", now)
}

// RequeueAction implements store.Store.
func (s *Store) RequeueAction(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.setStatus(ctx, "requeue action", "actions", id, storeutil.RequeueableActions,
		"status = 'pending', attempts = 0, next_at = $2, lease_owner = '', lease_until = NULL, updated_at = $2", now)
}

// IgnoreAction implements store.Store.
func (s *Store) IgnoreAction(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.setStatus(ctx, "ignore action", "actions", id, storeutil.IgnorableActions,
		"status = 'ignored', updated_at = CASE WHEN status = 'ignored' THEN updated_at ELSE $2 END", now)
}

// Backlog implements store.Store.
func (s *Store) Backlog(ctx context.Context) (map[string]store.Backlog, error) {
	type row struct {
		account string
		n       int
		oldest  time.Time
	}
	scan := func(r pgx.Row) (row, error) {
		var v row
		err := r.Scan(&v.account, &v.n, &v.oldest)
		v.oldest = v.oldest.UTC()
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
		b.PendingEvents, b.OldestEvent = r.n, r.oldest
		out[r.account] = b
	}
	for _, r := range acts {
		b := out[r.account]
		b.PendingActions, b.OldestAction = r.n, r.oldest
		out[r.account] = b
	}
	return out, nil
}

// ListDeadLetters implements store.Store.
func (s *Store) ListDeadLetters(ctx context.Context, f store.DeadLetterFilter) ([]store.DeadLetter, error) {
	evStatuses, actStatuses, err := storeutil.DeadStatuses(f)
	if err != nil {
		return nil, fmt.Errorf("postgres list dead letters: %w", err)
	}
	limit := storeutil.Limit(f.Limit)
	filter := func(kindCol, timeCol string, statuses []string) (string, []any) {
		var w where
		w.add("status = ANY(?)", statuses)
		if f.Account != "" {
			w.add("account = ?", clean(f.Account))
		}
		if f.WorkOrderID != 0 {
			w.add("work_order_id = ?", f.WorkOrderID)
		}
		if f.Action != "" {
			w.add(kindCol+" = ?", clean(f.Action))
		}
		if !f.Since.IsZero() {
			w.add(timeCol+" >= ?", storeutil.Micro(f.Since))
		}
		return w.String() + " ORDER BY " + timeCol + " DESC, id DESC LIMIT " + w.next(limit), w.args
	}
	var evs []store.Event
	if len(evStatuses) > 0 {
		q, args := filter("action", "received_at", evStatuses)
		if evs, err = query(ctx, s, "list dead letters", scanEvent, "SELECT "+eventCols+" FROM events"+q, args...); err != nil {
			return nil, err
		}
	}
	var acts []store.OutboxAction
	if len(actStatuses) > 0 {
		q, args := filter("kind", "created_at", actStatuses)
		if acts, err = query(ctx, s, "list dead letters", scanAction, "SELECT "+actionCols+" FROM actions"+q, args...); err != nil {
			return nil, err
		}
	}
	return storeutil.MergeDeadLetters(evs, acts, limit), nil
}

type eventFilter store.EventFilter

func (f eventFilter) where(paged bool) where {
	var w where
	if f.Account != "" {
		w.add("account = ?", clean(f.Account))
	}
	if f.WorkOrderID != 0 {
		w.add("work_order_id = ?", f.WorkOrderID)
	}
	if f.Action != "" {
		w.add("action = ?", clean(f.Action))
	}
	if !f.Since.IsZero() {
		w.add("received_at >= ?", storeutil.Micro(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("received_at < ?", storeutil.Micro(f.Until))
	}
	if paged && f.AfterID > 0 {
		w.add("id > ?", f.AfterID)
	}
	return w
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	w := eventFilter(f).where(true)
	q := "SELECT " + eventCols + " FROM events" + w.String() + " ORDER BY id LIMIT "
	q += w.next(storeutil.Limit(f.Limit))
	return query(ctx, s, "list events", scanEvent, q, w.args...)
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
