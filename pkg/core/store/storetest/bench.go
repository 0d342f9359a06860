package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// BenchInsert measures InsertEvent from concurrent callers (parallelism ×
// GOMAXPROCS goroutines, like webhook requests) and reports events/s and
// the p50/p99 latency of one call. Every call inserts a new event.
func BenchInsert(b *testing.B, st store.Store, parallelism int) {
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	body := []byte(`{"Header":{"Action":"NewWorkOrder","MessageId":"bench","WorkOrderId":1},"Payload":{"Details":{"Number":"WO-1"}}}`)
	ctx := context.Background()
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			n := seq.Add(1)
			e := &store.Event{
				Account:     "bench",
				MessageID:   fmt.Sprintf("bench-%d", n),
				WorkOrderID: n % 1000,
				Action:      "NewWorkOrder",
				ActionDate:  time.Now(),
				Source:      "webhook",
				Body:        body,
			}
			t0 := time.Now()
			ok, err := st.InsertEvent(ctx, e)
			local = append(local, time.Since(t0))
			if err != nil || !ok {
				b.Errorf("InsertEvent = %v, %v", ok, err)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
