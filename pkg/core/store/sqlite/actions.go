package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// claimActionsSQL leases the head (lowest id) of each work order's pending
// actions, skipping lanes with a leased action. Candidates are walked in id
// order (actions_pending), so a claim stops after limit lane heads.
const claimActionsSQL = `UPDATE actions SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
WHERE id IN (
	SELECT a.id FROM actions a INDEXED BY actions_pending
	WHERE a.status = 'pending' AND a.next_at <= ?3 AND a.lease_until <= ?3
	AND NOT EXISTS (
		SELECT 1 FROM actions p INDEXED BY actions_lane
		WHERE p.status = 'pending' AND p.account = a.account AND p.work_order_id = a.work_order_id AND p.id < a.id)
	AND NOT EXISTS (
		SELECT 1 FROM actions l INDEXED BY actions_lane
		WHERE l.status = 'pending' AND l.account = a.account AND l.work_order_id = a.work_order_id
		AND l.lease_until > ?3)
	ORDER BY a.id LIMIT ?4)
RETURNING ` + actionCols

// ClaimActions implements store.Store.
func (s *Store) ClaimActions(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.OutboxAction, error) {
	if err := storeutil.CheckLease(owner, lease, limit); err != nil {
		return nil, fmt.Errorf("sqlite claim actions: %w", err)
	}
	var out []store.OutboxAction
	err := s.write(ctx, "claim actions", func(tx *sql.Tx) error {
		now := storeutil.Now()
		rows, err := s.stmt(tx, claimActionsSQL).QueryContext(bg, owner, enc(now.Add(lease)), enc(now), limit)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanAction)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FinishAction implements store.Store.
func (s *Store) FinishAction(ctx context.Context, id int64, owner string, status store.ActionStatus, lastErr string) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("sqlite finish action: %w", err)
	}
	if err := storeutil.CheckFinal(status); err != nil {
		return fmt.Errorf("sqlite finish action: %w", err)
	}
	now := storeutil.Now()
	var sent int64
	if status == store.ActionSent {
		sent = enc(now)
	}
	return s.write(ctx, "finish action", func(tx *sql.Tx) error {
		if _, err := s.leaseHeld(tx, "actions", id, owner); err != nil {
			return err
		}
		_, err := s.stmt(tx, finishActionSQL).ExecContext(bg, string(status), lastErr, sent, enc(now), id)
		return err
	})
}

// RetryAction implements store.Store.
func (s *Store) RetryAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("sqlite retry action: %w", err)
	}
	now := storeutil.Now()
	return s.write(ctx, "retry action", func(tx *sql.Tx) error {
		if _, err := s.leaseHeld(tx, "actions", id, owner); err != nil {
			return err
		}
		_, err := s.stmt(tx, retryActionSQL).ExecContext(bg, enc(storeutil.Micro(next)), lastErr, enc(now), id)
		return err
	})
}

// DeferAction implements store.Store.
func (s *Store) DeferAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("sqlite defer action: %w", err)
	}
	if minAttempts < 0 {
		return fmt.Errorf("sqlite defer action: minAttempts %d: %w", minAttempts, store.ErrInvalid)
	}
	now := storeutil.Now()
	return s.write(ctx, "defer action", func(tx *sql.Tx) error {
		if _, err := s.leaseHeld(tx, "actions", id, owner); err != nil {
			return err
		}
		_, err := s.stmt(tx, deferActionSQL).ExecContext(bg, enc(storeutil.Micro(next)), lastErr, minAttempts, enc(now), id)
		return err
	})
}

// GetAction implements store.Store.
func (s *Store) GetAction(ctx context.Context, id int64) (*store.OutboxAction, error) {
	as, err := query(ctx, s, "get action", scanAction, "SELECT "+actionCols+" FROM actions WHERE id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("sqlite get action %d: %w", id, store.ErrNotFound)
	}
	return &as[0], nil
}

// ActionsForWorkOrder implements store.Store, in creation order.
func (s *Store) ActionsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.OutboxAction, error) {
	return query(ctx, s, "actions for work order", scanAction,
		"SELECT "+actionCols+" FROM actions WHERE account = ? AND work_order_id = ? ORDER BY id", account, workOrderID)
}

// RequeueAction implements store.Store.
func (s *Store) RequeueAction(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.write(ctx, "requeue action", func(tx *sql.Tx) error {
		if err := checkStatus(tx, "actions", id, storeutil.RequeueableActions); err != nil {
			return err
		}
		_, err := tx.ExecContext(bg, `UPDATE actions SET status = 'pending', attempts = 0, next_at = ?, lease_owner = '',
			lease_until = 0, updated_at = ? WHERE id = ?`, enc(now), enc(now), id)
		return err
	})
}

// IgnoreAction implements store.Store.
func (s *Store) IgnoreAction(ctx context.Context, id int64) error {
	now := storeutil.Now()
	return s.write(ctx, "ignore action", func(tx *sql.Tx) error {
		if err := checkStatus(tx, "actions", id, storeutil.IgnorableActions); err != nil {
			return err
		}
		_, err := tx.ExecContext(bg, `UPDATE actions SET status = 'ignored', updated_at = ? WHERE id = ? AND status <> 'ignored'`, enc(now), id)
		return err
	})
}
