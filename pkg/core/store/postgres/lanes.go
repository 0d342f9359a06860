package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// laneKind describes one kind of lane: events ordered by (action_date, id),
// actions ordered by id.
type laneKind struct {
	kind  string // lanes.kind
	table string
	order string // lane order after (account, work_order_id)
	cols  string
}

var (
	eventLanes  = laneKind{kind: "event", table: "events", order: "action_date, id", cols: eventCols}
	actionLanes = laneKind{kind: "action", table: "actions", order: "id", cols: actionCols}
)

type lane struct {
	account string
	wo      int64
}

// claimLanes leases the heads of up to limit free lanes of kind k, in one
// transaction:
//
//  1. candidates: lanes whose head is due and whose lane row is not leased
//     (a plain read; it may be stale by the time we lock);
//  2. create missing lane rows;
//  3. lock the candidates' lane rows FOR UPDATE SKIP LOCKED, re-checking the
//     lease on the current row version: a lane another replica is claiming
//     is skipped, one it just leased fails the re-check;
//  4. with the lanes locked, read each lane's head again (a new snapshot:
//     an earlier event may have arrived) and lease it and the lane.
func claimLanes[T any](ctx context.Context, s *Store, k laneKind, owner string, lease time.Duration, limit int,
	scan func(pgx.Row) (T, error), id func(T) int64) ([]T, error) {
	what := "claim " + k.table
	if err := storeutil.CheckLease(owner, lease, limit); err != nil {
		return nil, fmt.Errorf("postgres %s: %w", what, err)
	}
	var out []T
	err := s.tx(ctx, what, func(ctx context.Context, tx pgx.Tx) error {
		out = nil
		now := storeutil.Now()
		until := now.Add(lease)
		// 1. Candidates.
		rows, err := tx.Query(ctx, `WITH heads AS (
				SELECT DISTINCT ON (account, work_order_id) id, account, work_order_id, next_at
				FROM `+k.table+` WHERE status = 'pending'
				ORDER BY account, work_order_id, `+k.order+`)
			SELECT h.account, h.work_order_id, l.kind IS NULL FROM heads h
			LEFT JOIN lanes l ON l.kind = $1 AND l.account = h.account AND l.work_order_id = h.work_order_id
			WHERE h.next_at <= $2 AND (l.lease_until IS NULL OR l.lease_until <= $2)
			ORDER BY h.id LIMIT $3`, k.kind, now, limit)
		if err != nil {
			return err
		}
		var accts, missingAccts []string
		var wos, missingWOs []int64
		for rows.Next() {
			var l lane
			var missing bool
			if err := rows.Scan(&l.account, &l.wo, &missing); err != nil {
				rows.Close()
				return err
			}
			accts, wos = append(accts, l.account), append(wos, l.wo)
			if missing {
				missingAccts, missingWOs = append(missingAccts, l.account), append(missingWOs, l.wo)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(accts) == 0 {
			return nil
		}
		// 2. Lane rows for lanes never claimed before.
		if len(missingAccts) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO lanes (kind, account, work_order_id)
				SELECT $1, a, w FROM unnest($2::text[], $3::bigint[]) AS u(a, w)
				ON CONFLICT DO NOTHING`, k.kind, missingAccts, missingWOs); err != nil {
				return err
			}
		}
		// 3. Lock free lanes, skipping those another claimer holds.
		rows, err = tx.Query(ctx, `SELECT account, work_order_id FROM lanes
			WHERE kind = $1 AND (account, work_order_id) IN (SELECT a, w FROM unnest($2::text[], $3::bigint[]) AS u(a, w))
			AND (lease_until IS NULL OR lease_until <= $4)
			ORDER BY account, work_order_id
			FOR UPDATE SKIP LOCKED`, k.kind, accts, wos, now)
		if err != nil {
			return err
		}
		accts, wos = accts[:0], wos[:0]
		for rows.Next() {
			var l lane
			if err := rows.Scan(&l.account, &l.wo); err != nil {
				rows.Close()
				return err
			}
			accts, wos = append(accts, l.account), append(wos, l.wo)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(accts) == 0 {
			return nil
		}
		// 4. Fresh heads of the locked lanes; lease the due ones.
		rows, err = tx.Query(ctx, `WITH heads AS (
				SELECT DISTINCT ON (account, work_order_id) id, account, work_order_id, next_at
				FROM `+k.table+` WHERE status = 'pending'
				AND (account, work_order_id) IN (SELECT a, w FROM unnest($1::text[], $2::bigint[]) AS u(a, w))
				ORDER BY account, work_order_id, `+k.order+`)
			SELECT id, account, work_order_id FROM heads WHERE next_at <= $3`, accts, wos, now)
		if err != nil {
			return err
		}
		var ids []int64
		accts, wos = accts[:0], wos[:0]
		for rows.Next() {
			var id int64
			var l lane
			if err := rows.Scan(&id, &l.account, &l.wo); err != nil {
				rows.Close()
				return err
			}
			ids, accts, wos = append(ids, id), append(accts, l.account), append(wos, l.wo)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE lanes SET lease_owner = $1, lease_until = $2, row_id = u.id
			FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS u(a, w, id)
			WHERE lanes.kind = $6 AND lanes.account = u.a AND lanes.work_order_id = u.w`,
			owner, until, accts, wos, ids, k.kind); err != nil {
			return err
		}
		out, err = collect(ctx, tx, scan, `UPDATE `+k.table+` SET lease_owner = $1, lease_until = $2,
			attempts = attempts + 1, updated_at = $3
			WHERE id = ANY($4) AND status = 'pending'
			RETURNING `+k.cols, owner, until, now, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return id(out[i]) < id(out[j]) })
	return out, nil
}

// release checks that owner holds the lease of row id of kind k and runs
// update (which must change the row) with the lane released, in one
// transaction. The lane row is locked before the row itself — the order
// claim uses — so a completion racing a reclaim cannot deadlock.
func (s *Store) release(ctx context.Context, what string, k laneKind, id int64, owner string,
	update func(ctx context.Context, tx pgx.Tx, account string) error) error {
	if err := storeutil.CheckOwner(owner); err != nil {
		return fmt.Errorf("postgres %s: %w", what, err)
	}
	return s.tx(ctx, what, func(ctx context.Context, tx pgx.Tx) error {
		var l lane
		err := tx.QueryRow(ctx, "SELECT account, work_order_id FROM "+k.table+" WHERE id = $1", id).Scan(&l.account, &l.wo)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s %d: %w", k.kind, id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// Lock the lane (if it exists: a row is only leased through it).
		if _, err := tx.Exec(ctx, "SELECT 1 FROM lanes WHERE kind = $1 AND account = $2 AND work_order_id = $3 FOR UPDATE",
			k.kind, l.account, l.wo); err != nil {
			return err
		}
		var status, holder string
		err = tx.QueryRow(ctx, "SELECT status, lease_owner FROM "+k.table+" WHERE id = $1 FOR UPDATE", id).Scan(&status, &holder)
		if err != nil {
			return err
		}
		if status != "pending" || holder != owner {
			return fmt.Errorf("%s %d (status %s, held by %q): %w", k.kind, id, status, holder, store.ErrLeaseLost)
		}
		if err := update(ctx, tx, l.account); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE lanes SET lease_owner = '', lease_until = NULL, row_id = NULL
			WHERE kind = $1 AND account = $2 AND work_order_id = $3 AND row_id = $4 AND lease_owner = $5`,
			k.kind, l.account, l.wo, id, owner)
		return err
	})
}

// setStatus moves row id of table from one of allowed statuses with update;
// ErrNotFound or ErrWrongState otherwise.
func (s *Store) setStatus(ctx context.Context, what, table string, id int64, allowed []string, set string, args ...any) error {
	return s.tx(ctx, what, func(ctx context.Context, tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, "SELECT status FROM "+table+" WHERE id = $1 FOR UPDATE", id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s %d: %w", table[:len(table)-1], id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !storeutil.Contains(allowed, status) {
			return fmt.Errorf("%s %d is %s (want one of %v): %w", table[:len(table)-1], id, status, allowed, store.ErrWrongState)
		}
		_, err = tx.Exec(ctx, "UPDATE "+table+" SET "+set+" WHERE id = $1", append([]any{id}, args...)...)
		return err
	})
}
