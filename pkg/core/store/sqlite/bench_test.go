package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/core/store/storetest"
)

// BenchmarkInsertEvent compares group commit with one transaction per
// event (MaxBatch 1), at 32 concurrent callers on 2 CPUs (parallelism 16).
//
//	go test -run '^$' -bench BenchmarkInsertEvent -benchtime 3s ./pkg/core/store/sqlite/
func BenchmarkInsertEvent(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts sqlite.Options
	}{
		{"group/full", sqlite.Options{}},
		{"group/full/nowait", sqlite.Options{MaxWait: -1}},
		{"group/full/autocheckpoint", sqlite.Options{CheckpointInterval: -1}},
		{"batch1/full", sqlite.Options{MaxBatch: 1}},
		{"group/normal", sqlite.Options{Synchronous: "NORMAL"}},
		{"batch1/normal", sqlite.Options{MaxBatch: 1, Synchronous: "NORMAL"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := openAt(b, filepath.Join(b.TempDir(), "bench.db"), tc.opts)
			storetest.BenchInsert(b, st, 16)
			ws := st.WriterStats()
			if ws.Commits > 0 {
				b.ReportMetric(float64(ws.Ops)/float64(ws.Commits), "rows/commit")
			}
		})
	}
}

// BenchmarkClaimBacklog measures one ClaimEvents (limit 32) with 5,000
// pending events in as many lanes, as after a burst of webhooks. Each
// claimed event is released again (RetryEvent, due now) so the backlog
// stays the same; µs/claim times the claim alone.
//
//	go test -run '^$' -bench BenchmarkClaimBacklog -benchtime 200x ./pkg/core/store/sqlite/
func BenchmarkClaimBacklog(b *testing.B) {
	ctx := context.Background()
	st := openAt(b, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{Synchronous: "NORMAL"})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < 5000; i += 16 {
				e := &store.Event{Account: "bench", MessageID: fmt.Sprintf("m-%d", i), WorkOrderID: int64(i + 1),
					Action: "NewWorkOrder", ActionDate: time.Now(), Source: "webhook", Body: []byte(`{}`)}
				if _, err := st.InsertEvent(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var claiming time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		evs, err := st.ClaimEvents(ctx, "bench", time.Minute, 32)
		claiming += time.Since(t0)
		if err != nil || len(evs) != 32 {
			b.Fatalf("claimed %d: %v", len(evs), err)
		}
		for _, e := range evs {
			if err := st.RetryEvent(ctx, e.ID, "bench", time.Now().Add(-time.Second), ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(claiming.Microseconds())/float64(b.N), "µs/claim")
}

// BenchmarkRecentWorkOrders is one page (50) of the admin's work order
// list over 20000 events in 2000 work orders.
//
//	go test -run '^$' -bench BenchmarkRecentWorkOrders -benchtime 20x ./pkg/core/store/sqlite/
func BenchmarkRecentWorkOrders(b *testing.B) {
	for _, tc := range []struct {
		name string
		f    store.WorkOrderFilter
	}{
		{"newest", store.WorkOrderFilter{Limit: 50}},
		{"account", store.WorkOrderFilter{Account: "acme", Limit: 50}},
		{"dead-letters", store.WorkOrderFilter{DeadLetters: true, Limit: 50}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := openAt(b, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{Synchronous: "NORMAL"})
			storetest.BenchRecentWorkOrders(b, st, 20000, 2000, tc.f)
		})
	}
}
