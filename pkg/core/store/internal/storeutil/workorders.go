package storeutil

import (
	"context"
	"sort"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// Lane is one work order of one account.
type Lane struct {
	Account     string
	WorkOrderID int64
}

// LaneHead is an event's lane, its ID and arrival, as the newest-first
// scan of events returns it.
type LaneHead struct {
	Lane
	ID         int64
	ReceivedAt time.Time
}

// WorkOrderSource are the indexed, read-only lookups RecentWorkOrders is
// built from; each store supplies them in its SQL dialect.
type WorkOrderSource struct {
	// Heads returns up to n events (ID, lane, arrival) with ID below
	// beforeID (0: no bound), received at or after since (zero: no
	// bound), of account ("" any) and work order ≠ 0, newest ID first:
	// a walk down the primary key.
	Heads func(ctx context.Context, account string, since time.Time, beforeID int64, n int) ([]LaneHead, error)
	// DeadLanes returns the lanes with a dead or parked event or action
	// (through the status indexes), at most n of each kind.
	DeadLanes func(ctx context.Context, account string, n int) ([]Lane, error)
	// Newest returns a lane's newest event (by the work order index);
	// false when it has none.
	Newest func(ctx context.Context, l Lane) (LaneHead, bool, error)
	// Summary fills one lane's summary (by the work order indexes);
	// LastSent is the newest sent action of sentKinds (any when empty).
	Summary func(ctx context.Context, l Lane, sentKinds []string) (store.WorkOrderSummary, error)
}

const (
	// headPage is how many events one Heads call reads.
	headPage = 1000
	// maxHeadScan bounds the events one RecentWorkOrders call walks: a
	// single busy work order must not make the list read the whole
	// table.
	maxHeadScan = 20000
	// maxDeadLanes bounds the dead letter lanes considered.
	maxDeadLanes = 5000
)

// RecentWorkOrders implements store.Store.RecentWorkOrders over src.
func RecentWorkOrders(ctx context.Context, src WorkOrderSource, f store.WorkOrderFilter) ([]store.WorkOrderSummary, error) {
	limit := Limit(f.Limit)
	var lanes []Lane
	if f.DeadLetters {
		dl, err := src.DeadLanes(ctx, f.Account, maxDeadLanes)
		if err != nil {
			return nil, err
		}
		// Order the lanes by their newest event (one indexed read each)
		// and summarize only the page's.
		seen := map[Lane]bool{}
		var heads []LaneHead
		for _, l := range dl {
			if seen[l] || l.WorkOrderID == 0 {
				continue
			}
			seen[l] = true
			h, ok, err := src.Newest(ctx, l)
			if err != nil {
				return nil, err
			}
			if !ok || f.BeforeEventID > 0 && h.ID >= f.BeforeEventID || !f.Since.IsZero() && h.ReceivedAt.Before(Micro(f.Since)) {
				continue
			}
			heads = append(heads, h)
		}
		sort.Slice(heads, func(i, j int) bool { return heads[i].ID > heads[j].ID })
		for _, h := range heads[:min(len(heads), limit)] {
			lanes = append(lanes, h.Lane)
		}
	} else {
		// The walk starts at the newest event even for a later page: a
		// lane belongs to the page of its newest event, so the lanes
		// seen above BeforeEventID are skipped, not listed again.
		seen := map[Lane]bool{}
		before, scanned := int64(0), 0
		for len(lanes) < limit && scanned < maxHeadScan {
			hs, err := src.Heads(ctx, f.Account, Micro(f.Since), before, headPage)
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				if !seen[h.Lane] {
					seen[h.Lane] = true
					if f.BeforeEventID > 0 && h.ID >= f.BeforeEventID {
						continue
					}
					lanes = append(lanes, h.Lane)
					if len(lanes) == limit {
						break
					}
				}
			}
			scanned += len(hs)
			if len(hs) < headPage {
				break
			}
			before = hs[len(hs)-1].ID
		}
	}
	out := make([]store.WorkOrderSummary, 0, len(lanes))
	for _, l := range lanes {
		s, err := src.Summary(ctx, l, f.SentKinds)
		if err != nil {
			return nil, err
		}
		if len(s.Recent) == 0 {
			continue // only its actions are left (pruned events)
		}
		if f.DeadLetters && s.DeadLetters == 0 {
			continue // resolved since DeadLanes looked
		}
		out = append(out, s)
	}
	// Newest last event first; the head scan already is, the dead letter
	// lanes are not.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Recent[0].ID > out[j].Recent[0].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
