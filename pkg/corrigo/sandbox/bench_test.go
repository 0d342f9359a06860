package sandbox_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// BenchmarkAccept measures PUT api/workOrder/accept through the real client
// over loopback HTTP, from parallel goroutines.
func BenchmarkAccept(b *testing.B) {
	sb, c := start(b, sandbox.Options{})
	ids := make(chan int64, b.N)
	for i := 0; i < b.N; i++ {
		wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Silent: true})
		if err != nil {
			b.Fatal(err)
		}
		ids <- wo.WorkOrderId
	}
	ctx := context.Background()
	if _, err := c.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: <-ids}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkGetWorkOrders50 measures GET api/workOrder with 50 ids.
func BenchmarkGetWorkOrders50(b *testing.B) {
	sb, c := start(b, sandbox.Options{SeedWorkOrders: 50})
	ids := sb.WorkOrderIDs()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetWorkOrders(ctx, ids); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWebhookDelivery measures customer actions turned into delivered
// webhooks (receiver on loopback answering 200), end to end.
func BenchmarkWebhookDelivery(b *testing.B) {
	var got atomic.Int64
	rc := newReceiver(b, func(int, delivery) int { got.Add(1); return http.StatusOK })
	sb, _ := start(b, sandbox.Options{WebhookURL: rc.url, WebhookConcurrency: 16, NotificationKeep: 1000, UsageLogSize: 1000})
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Silent: true, Status: corrigo.StatusAccepted})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActNteChange, Amount: float64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	idle(b, sb)
	b.StopTimer()
	if got.Load() != int64(b.N) {
		b.Fatalf("%d deliveries for %d actions", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}
