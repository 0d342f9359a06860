package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// RenewEventLeases implements store.Store.
func (s *Store) RenewEventLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error) {
	return s.renew(ctx, "renew event leases", renewEventLeasesSQL, owner, lease, ids)
}

// RenewActionLeases implements store.Store.
func (s *Store) RenewActionLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error) {
	return s.renew(ctx, "renew action leases", renewActionLeasesSQL, owner, lease, ids)
}

func (s *Store) renew(ctx context.Context, what, q, owner string, lease time.Duration, ids []int64) (int, error) {
	if err := storeutil.CheckLease(owner, lease, 1); err != nil {
		return 0, fmt.Errorf("sqlite %s: %w", what, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return 0, fmt.Errorf("sqlite %s: %w", what, err)
	}
	var n int64
	err = s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := s.stmt(tx, q).ExecContext(bg, enc(storeutil.Now().Add(lease)), string(list), owner)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// takeOverLeases releases every lease in the store. Open calls it with
// Options.Exclusive, once it holds the store's lock: no other process can
// be using the store, so every lease left in it belongs to a process that
// died (kill -9, power loss) and its work can start again at once instead
// of waiting out the lease.
func (s *Store) takeOverLeases(ctx context.Context) (events, actions int64, err error) {
	err = s.write(ctx, "take over leases", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(bg, `UPDATE events SET lease_owner = '', lease_until = 0 WHERE status = 'pending' AND (lease_owner != '' OR lease_until != 0)`)
		if err != nil {
			return err
		}
		if events, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = tx.ExecContext(bg, `UPDATE actions SET lease_owner = '', lease_until = 0 WHERE status = 'pending' AND (lease_owner != '' OR lease_until != 0)`)
		if err != nil {
			return err
		}
		actions, err = res.RowsAffected()
		return err
	})
	return events, actions, err
}

// SizeBytes is the size of the database file and its WAL, which is what
// the store takes on disk (the overload limit overload.max_store_bytes).
func (s *Store) SizeBytes(context.Context) (int64, error) {
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			if os.IsNotExist(err) && p != s.path {
				continue
			}
			return 0, fmt.Errorf("sqlite size: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}
