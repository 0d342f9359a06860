package storetest

import (
	"context"
	"encoding/json"
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

// BenchRecentWorkOrders measures one page of the admin's work order list
// (limit 50) over a store holding events events spread over workOrders
// work orders, each handled with one sent action, plus a dead letter in
// every tenth work order and a log entry per event.
func BenchRecentWorkOrders(b *testing.B, st store.Store, events, workOrders int, f store.WorkOrderFilter) {
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	var logs []store.LogEntry
	for i := 0; i < events; i++ {
		wo := int64(i%workOrders + 1)
		e := &store.Event{Account: "acme", MessageID: fmt.Sprintf("m-%d", i), WorkOrderID: wo, Action: "NewWorkOrder",
			ActionDate: base.Add(time.Duration(i) * time.Millisecond), Source: "webhook",
			Body: json.RawMessage(fmt.Sprintf(`{"Header":{"WorkOrderId":%d},"Details":{"Status":"New","WorkOrderNumber":"WO-%d"}}`, wo, wo))}
		if _, err := st.InsertEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
		logs = append(logs, store.LogEntry{Time: base, Account: "acme", Direction: "inbound", Severity: "info", WorkOrderID: wo,
			WorkOrderNumber: fmt.Sprintf("WO-%d", wo), Customer: "Acme Foods"})
	}
	if err := st.AppendLog(ctx, logs...); err != nil {
		b.Fatal(err)
	}
	for {
		evs, err := st.ClaimEvents(ctx, "bench", time.Minute, 500)
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			out := store.Outcome{Status: store.EventDone, Decision: json.RawMessage(`{}`), Actions: []store.OutboxAction{{
				IdempotencyKey: fmt.Sprintf("k-%d", e.ID), WorkOrderID: e.WorkOrderID, Kind: "accept", Payload: json.RawMessage(`{}`)}}}
			if e.WorkOrderID%10 == 0 && e.ID%7 == 0 {
				out = store.Outcome{Status: store.EventParked, LastError: "plugin: needs a person"}
			}
			if err := st.CompleteEvent(ctx, e.ID, "bench", out); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ws, err := st.RecentWorkOrders(ctx, f)
		if err != nil || len(ws) == 0 {
			b.Fatalf("%d work orders, %v", len(ws), err)
		}
	}
}
