package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// RecentWorkOrders implements store.Store, with the same statements as
// the sqlite store: the newest events by the primary key, dead letters
// by events_status and actions_status, one work order by
// events_work_order, actions_work_order and comm_log_work_order.
func (s *Store) RecentWorkOrders(ctx context.Context, f store.WorkOrderFilter) ([]store.WorkOrderSummary, error) {
	return storeutil.RecentWorkOrders(ctx, storeutil.WorkOrderSource{Heads: s.woHeads, DeadLanes: s.woDeadLanes, Newest: s.woNewest, Summary: s.woSummary}, f)
}

func (s *Store) woHeads(ctx context.Context, account string, since time.Time, beforeID int64, n int) ([]storeutil.LaneHead, error) {
	var w where
	w.conds = append(w.conds, "work_order_id <> 0")
	if account != "" {
		w.add("account = ?", clean(account))
	}
	if !since.IsZero() {
		w.add("received_at >= ?", since)
	}
	if beforeID > 0 {
		w.add("id < ?", beforeID)
	}
	q := "SELECT id, account, work_order_id, received_at FROM events" + w.String() + " ORDER BY id DESC LIMIT " + w.next(n)
	return query(ctx, s, "recent work orders", func(r pgx.Row) (storeutil.LaneHead, error) {
		var h storeutil.LaneHead
		err := r.Scan(&h.ID, &h.Account, &h.WorkOrderID, &h.ReceivedAt)
		h.ReceivedAt = storeutil.Micro(h.ReceivedAt)
		return h, err
	}, q, w.args...)
}

func (s *Store) woDeadLanes(ctx context.Context, account string, n int) ([]storeutil.Lane, error) {
	scan := func(r pgx.Row) (storeutil.Lane, error) {
		var l storeutil.Lane
		err := r.Scan(&l.Account, &l.WorkOrderID)
		return l, err
	}
	var out []storeutil.Lane
	for _, table := range []string{"events", "actions"} {
		var w where
		w.conds = append(w.conds, "status IN ('dead', 'parked')")
		if account != "" {
			w.add("account = ?", clean(account))
		}
		q := "SELECT DISTINCT account, work_order_id FROM " + table + w.String() + " LIMIT " + w.next(n)
		ls, err := query(ctx, s, "dead letter work orders", scan, q, w.args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

const (
	woCountsSQL = `SELECT
		(SELECT count(*) FROM events WHERE account = $1 AND work_order_id = $2),
		(SELECT min(received_at) FROM events WHERE account = $1 AND work_order_id = $2),
		(SELECT count(*) FROM actions WHERE account = $1 AND work_order_id = $2),
		(SELECT count(*) FROM events WHERE account = $1 AND work_order_id = $2 AND status IN ('dead', 'parked')) +
		(SELECT count(*) FROM actions WHERE account = $1 AND work_order_id = $2 AND status IN ('dead', 'parked'))`
	woNewestSQL      = "SELECT id, received_at FROM events WHERE account = $1 AND work_order_id = $2 ORDER BY id DESC LIMIT 1"
	woRecentSQL      = "SELECT " + eventCols + " FROM events WHERE account = $1 AND work_order_id = $2 ORDER BY id DESC LIMIT $3"
	woLastActionSQL  = "SELECT " + actionCols + " FROM actions WHERE account = $1 AND work_order_id = $2 ORDER BY id DESC LIMIT 1"
	woLastSentPrefix = "SELECT " + actionCols + " FROM actions WHERE account = $1 AND work_order_id = $2 AND status = 'sent'"
	woLastSentSuffix = " ORDER BY id DESC LIMIT 1"
	woLastSentSQL    = woLastSentPrefix + woLastSentSuffix
)

// woLogSQL repeats work_order_id <> 0 so the partial index
// comm_log_work_order applies.
var woLogSQL = map[string]string{
	"work_order_number": "SELECT work_order_number, customer FROM comm_log WHERE work_order_id = $1 AND work_order_id <> 0 AND account = $2 AND work_order_number <> '' ORDER BY id DESC LIMIT 1",
	"customer":          "SELECT work_order_number, customer FROM comm_log WHERE work_order_id = $1 AND work_order_id <> 0 AND account = $2 AND customer <> '' ORDER BY id DESC LIMIT 1",
}

func (s *Store) woNewest(ctx context.Context, l storeutil.Lane) (storeutil.LaneHead, bool, error) {
	hs, err := query(ctx, s, "dead letter work orders", func(r pgx.Row) (storeutil.LaneHead, error) {
		h := storeutil.LaneHead{Lane: l}
		err := r.Scan(&h.ID, &h.ReceivedAt)
		h.ReceivedAt = storeutil.Micro(h.ReceivedAt)
		return h, err
	}, woNewestSQL, clean(l.Account), l.WorkOrderID)
	if err != nil || len(hs) == 0 {
		return storeutil.LaneHead{}, false, err
	}
	return hs[0], true, nil
}

func (s *Store) woSummary(ctx context.Context, l storeutil.Lane, sentKinds []string) (store.WorkOrderSummary, error) {
	sum := store.WorkOrderSummary{Account: l.Account, WorkOrderID: l.WorkOrderID}
	type counts struct {
		events, actions, dead int
		first                 *time.Time
	}
	acc := clean(l.Account)
	c, err := query(ctx, s, "work order summary", func(r pgx.Row) (counts, error) {
		var c counts
		err := r.Scan(&c.events, &c.first, &c.actions, &c.dead)
		return c, err
	}, woCountsSQL, acc, l.WorkOrderID)
	if err != nil {
		return sum, err
	}
	sum.Events, sum.Actions, sum.DeadLetters = c[0].events, c[0].actions, c[0].dead
	if c[0].first != nil {
		sum.FirstSeen = storeutil.Micro(*c[0].first)
	}
	if sum.Recent, err = query(ctx, s, "work order summary", scanEvent, woRecentSQL, acc, l.WorkOrderID, store.RecentEventsPerWorkOrder); err != nil {
		return sum, err
	}
	acts, err := query(ctx, s, "work order summary", scanAction, woLastActionSQL, acc, l.WorkOrderID)
	if err != nil {
		return sum, err
	}
	if len(acts) > 0 {
		sum.LastAction = &acts[0]
	}
	if a := sum.LastAction; a != nil && a.Status == store.ActionSent && (len(sentKinds) == 0 || slices.Contains(sentKinds, a.Kind)) {
		sum.LastSent = a
	} else if a != nil {
		q := woLastSentSQL
		args := []any{acc, l.WorkOrderID}
		if len(sentKinds) > 0 {
			q = woLastSentPrefix + " AND kind = ANY($3)" + woLastSentSuffix
			args = append(args, sentKinds)
		}
		sent, err := query(ctx, s, "work order summary", scanAction, q, args...)
		if err != nil {
			return sum, err
		}
		if len(sent) > 0 {
			sum.LastSent = &sent[0]
		}
	}
	type names struct{ number, customer string }
	for _, col := range []string{"work_order_number", "customer"} {
		ns, err := query(ctx, s, "work order summary", func(r pgx.Row) (names, error) {
			var n names
			err := r.Scan(&n.number, &n.customer)
			return n, err
		}, woLogSQL[col], l.WorkOrderID, acc)
		if err != nil {
			return sum, err
		}
		if len(ns) > 0 {
			if col == "work_order_number" {
				sum.Number = ns[0].number
			} else {
				sum.Customer = ns[0].customer
			}
		}
	}
	return sum, nil
}
