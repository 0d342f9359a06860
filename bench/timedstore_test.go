package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// timedStore records how long each store call takes, to see which stage
// of the pipeline waits on the store (WOGATE_BENCH_TRACE=1).
type timedStore struct {
	store.Store
	mu sync.Mutex
	d  map[string][]time.Duration
}

func (t *timedStore) rec(name string, start time.Time) {
	d := time.Since(start)
	t.mu.Lock()
	if t.d == nil {
		t.d = map[string][]time.Duration{}
	}
	t.d[name] = append(t.d[name], d)
	t.mu.Unlock()
}

func (t *timedStore) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	defer t.rec("InsertEvent", time.Now())
	return t.Store.InsertEvent(ctx, e)
}
func (t *timedStore) ClaimEvents(ctx context.Context, o string, l time.Duration, n int) ([]store.Event, error) {
	defer t.rec("ClaimEvents", time.Now())
	return t.Store.ClaimEvents(ctx, o, l, n)
}
func (t *timedStore) CompleteEvent(ctx context.Context, id int64, o string, out store.Outcome) error {
	defer t.rec("CompleteEvent", time.Now())
	return t.Store.CompleteEvent(ctx, id, o, out)
}
func (t *timedStore) ClaimActions(ctx context.Context, o string, l time.Duration, n int) ([]store.OutboxAction, error) {
	defer t.rec("ClaimActions", time.Now())
	return t.Store.ClaimActions(ctx, o, l, n)
}
func (t *timedStore) FinishAction(ctx context.Context, id int64, o string, s store.ActionStatus, e string) error {
	defer t.rec("FinishAction", time.Now())
	return t.Store.FinishAction(ctx, id, o, s, e)
}
func (t *timedStore) EventsForWorkOrder(ctx context.Context, a string, id int64) ([]store.Event, error) {
	defer t.rec("EventsForWorkOrder", time.Now())
	return t.Store.EventsForWorkOrder(ctx, a, id)
}
func (t *timedStore) AppendLog(ctx context.Context, es ...store.LogEntry) error {
	defer t.rec("AppendLog", time.Now())
	return t.Store.AppendLog(ctx, es...)
}

func (t *timedStore) report(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.d))
	for n := range t.d {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ds := t.d[n]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		fmt.Fprintf(w, "%-20s n=%6d mean=%8v p50=%8v p99=%8v\n", n, len(ds), sum/time.Duration(len(ds)), ds[len(ds)/2], ds[len(ds)*99/100])
	}
}
