package sqlite

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// RecentWorkOrders implements store.Store. Every statement reads through
// an index: the primary key (newest events), events_status and
// actions_status (dead letters), events_work_order, actions_work_order
// and comm_log_work_order (one work order); plan_test.go checks the
// plans.
func (s *Store) RecentWorkOrders(ctx context.Context, f store.WorkOrderFilter) ([]store.WorkOrderSummary, error) {
	return storeutil.RecentWorkOrders(ctx, storeutil.WorkOrderSource{Heads: s.woHeads, DeadLanes: s.woDeadLanes, Newest: s.woNewest, Summary: s.woSummary}, f)
}

// The statements of one work order's summary (plan_test.go explains them).
const (
	woCountsSQL = `SELECT
		(SELECT count(*) FROM events WHERE account = ?1 AND work_order_id = ?2),
		(SELECT coalesce(min(received_at), 0) FROM events WHERE account = ?1 AND work_order_id = ?2),
		(SELECT count(*) FROM actions WHERE account = ?1 AND work_order_id = ?2),
		(SELECT count(*) FROM events WHERE account = ?1 AND work_order_id = ?2 AND status IN ('dead', 'parked')) +
		(SELECT count(*) FROM actions WHERE account = ?1 AND work_order_id = ?2 AND status IN ('dead', 'parked'))`
	woNewestSQL      = "SELECT id, received_at FROM events WHERE account = ? AND work_order_id = ? ORDER BY id DESC LIMIT 1"
	woRecentSQL      = "SELECT " + eventCols + " FROM events WHERE account = ? AND work_order_id = ? ORDER BY id DESC LIMIT ?"
	woLastActionSQL  = "SELECT " + actionCols + " FROM actions WHERE account = ? AND work_order_id = ? ORDER BY id DESC LIMIT 1"
	woLastSentPrefix = "SELECT " + actionCols + " FROM actions WHERE account = ? AND work_order_id = ? AND status = 'sent'"
	woLastSentSuffix = " ORDER BY id DESC LIMIT 1"
	woLastSentSQL    = woLastSentPrefix + woLastSentSuffix
)

// woLogSQL repeats work_order_id <> 0 so the partial index
// comm_log_work_order applies.
var woLogSQL = map[string]string{
	"work_order_number": "SELECT work_order_number, customer FROM comm_log WHERE work_order_id = ? AND work_order_id <> 0 AND account = ? AND work_order_number <> '' ORDER BY id DESC LIMIT 1",
	"customer":          "SELECT work_order_number, customer FROM comm_log WHERE work_order_id = ? AND work_order_id <> 0 AND account = ? AND customer <> '' ORDER BY id DESC LIMIT 1",
}

// woHeadsQuery is the newest-events walk of woHeads. NOT INDEXED: walk
// the primary key down and stop after n rows; with an account, the
// planner would otherwise read all of the account's events through
// events_work_order and sort them.
func woHeadsQuery(account string, since time.Time, beforeID int64, n int) (string, []any) {
	var w where
	w.add("work_order_id <> 0")
	if account != "" {
		w.add("account = ?", account)
	}
	if !since.IsZero() {
		w.add("received_at >= ?", enc(since))
	}
	if beforeID > 0 {
		w.add("id < ?", beforeID)
	}
	return "SELECT id, account, work_order_id, received_at FROM events NOT INDEXED" + w.String() + " ORDER BY id DESC LIMIT ?", append(w.args, n)
}

func (s *Store) woHeads(ctx context.Context, account string, since time.Time, beforeID int64, n int) ([]storeutil.LaneHead, error) {
	q, args := woHeadsQuery(account, since, beforeID, n)
	return queryCached(ctx, s, "recent work orders", func(r scanner) (storeutil.LaneHead, error) {
		var h storeutil.LaneHead
		var ra int64
		err := r.Scan(&h.ID, &h.Account, &h.WorkOrderID, &ra)
		h.ReceivedAt = dec(ra)
		return h, err
	}, q, args...)
}

func (s *Store) woDeadLanes(ctx context.Context, account string, n int) ([]storeutil.Lane, error) {
	scan := func(r scanner) (storeutil.Lane, error) {
		var l storeutil.Lane
		err := r.Scan(&l.Account, &l.WorkOrderID)
		return l, err
	}
	var out []storeutil.Lane
	for _, table := range []string{"events", "actions"} {
		var w where
		w.add("status IN ('dead', 'parked')")
		if account != "" {
			w.add("account = ?", account)
		}
		ls, err := queryCached(ctx, s, "dead letter work orders", scan,
			"SELECT DISTINCT account, work_order_id FROM "+table+w.String()+" LIMIT ?", append(w.args, n)...)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

func (s *Store) woNewest(ctx context.Context, l storeutil.Lane) (storeutil.LaneHead, bool, error) {
	hs, err := queryCached(ctx, s, "dead letter work orders", func(r scanner) (storeutil.LaneHead, error) {
		h := storeutil.LaneHead{Lane: l}
		var ra int64
		err := r.Scan(&h.ID, &ra)
		h.ReceivedAt = dec(ra)
		return h, err
	}, woNewestSQL, l.Account, l.WorkOrderID)
	if err != nil || len(hs) == 0 {
		return storeutil.LaneHead{}, false, err
	}
	return hs[0], true, nil
}

func (s *Store) woSummary(ctx context.Context, l storeutil.Lane, sentKinds []string) (store.WorkOrderSummary, error) {
	sum := store.WorkOrderSummary{Account: l.Account, WorkOrderID: l.WorkOrderID}
	type counts struct {
		events, actions, dead int
		first                 int64
	}
	c, err := queryCached(ctx, s, "work order summary", func(r scanner) (counts, error) {
		var c counts
		err := r.Scan(&c.events, &c.first, &c.actions, &c.dead)
		return c, err
	}, woCountsSQL, l.Account, l.WorkOrderID)
	if err != nil {
		return sum, err
	}
	sum.Events, sum.Actions, sum.DeadLetters, sum.FirstSeen = c[0].events, c[0].actions, c[0].dead, dec(c[0].first)
	if sum.Recent, err = queryCached(ctx, s, "work order summary", scanEvent,
		woRecentSQL, l.Account, l.WorkOrderID, store.RecentEventsPerWorkOrder); err != nil {
		return sum, err
	}
	acts, err := queryCached(ctx, s, "work order summary", scanAction,
		woLastActionSQL, l.Account, l.WorkOrderID)
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
		args := []any{l.Account, l.WorkOrderID}
		if len(sentKinds) > 0 {
			q = woLastSentPrefix + " AND kind IN (" + strings.TrimSuffix(strings.Repeat("?,", len(sentKinds)), ",") + ")" + woLastSentSuffix
			for _, k := range sentKinds {
				args = append(args, k)
			}
		}
		sent, err := queryCached(ctx, s, "work order summary", scanAction, q, args...)
		if err != nil {
			return sum, err
		}
		if len(sent) > 0 {
			sum.LastSent = &sent[0]
		}
	}
	type names struct{ number, customer string }
	scanNames := func(r scanner) (names, error) {
		var n names
		err := r.Scan(&n.number, &n.customer)
		return n, err
	}
	// The number and the customer may come from different entries (a
	// Directory lookup that knew only one of them).
	for _, col := range []string{"work_order_number", "customer"} {
		ns, err := queryCached(ctx, s, "work order summary", scanNames, woLogSQL[col], l.WorkOrderID, l.Account)
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
