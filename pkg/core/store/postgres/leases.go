package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// RenewEventLeases implements store.Store.
func (s *Store) RenewEventLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error) {
	return s.renew(ctx, eventLanes, owner, lease, ids)
}

// RenewActionLeases implements store.Store.
func (s *Store) RenewActionLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error) {
	return s.renew(ctx, actionLanes, owner, lease, ids)
}

// renew extends the lane and the row of each id owner still holds. The
// lanes are locked first, in (account, work_order_id) order — the order
// claim and release lock them — so a renewal racing a release cannot
// deadlock; a lane another replica has taken no longer names owner and is
// left alone.
func (s *Store) renew(ctx context.Context, k laneKind, owner string, lease time.Duration, ids []int64) (int, error) {
	what := "renew " + k.kind + " leases"
	if err := storeutil.CheckLease(owner, lease, 1); err != nil {
		return 0, fmt.Errorf("postgres %s: %w", what, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := s.tx(ctx, what, func(ctx context.Context, tx pgx.Tx) error {
		until := storeutil.Now().Add(lease)
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lanes WHERE kind = $1 AND row_id = ANY($2) AND lease_owner = $3
			ORDER BY account, work_order_id FOR UPDATE`, k.kind, ids, owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lanes SET lease_until = $4 WHERE kind = $1 AND row_id = ANY($2) AND lease_owner = $3`,
			k.kind, ids, owner, until); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE `+k.table+` SET lease_until = $3 WHERE id = ANY($1) AND lease_owner = $2 AND status = 'pending'`,
			ids, owner, until)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// SizeBytes is the size of the database (pg_database_size), for the
// overload limit overload.max_store_bytes.
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres size: %w", err)
	}
	return n, nil
}
