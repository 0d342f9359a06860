package erprest_test

import (
	"context"
	"testing"

	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

// BenchmarkCreateJob measures one NewWorkOrder through the gRPC glue: KV
// check, body template, POST to the fake ERP on loopback, two KV writes.
func BenchmarkCreateJob(b *testing.B) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := plugintest.StartConfigured(b, erprest.New(), baseConfig(erp))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev := plugintest.NewWorkOrderEvent(account, workOrder(int64(i+1), "WO-B"+itoa(i)))
		if _, err := c.HandleEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInboundCallback measures one signed callback mapped to check
// out + invoice (three actions) through the gRPC glue.
func BenchmarkInboundCallback(b *testing.B) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	cfg := with(baseConfig(erp), "status_map", statusMap(), "inbound_secret", secret)
	c := plugintest.StartConfigured(b, erprest.New(), cfg)
	ctx := context.Background()
	if _, err := c.HandleEvent(ctx, plugintest.NewWorkOrderEvent(account, workOrder(501, "WO-501"))); err != nil {
		b.Fatal(err)
	}
	req := callback(map[string]any{"job_id": "J-1001", "status": "done", "changed_at": "2030-05-01T10:00:00Z",
		"summary": "Replaced tap", "repair": map[string]any{"code": "PLB-01", "category": "Plumbing"},
		"invoice": map[string]any{"number": "INV-77", "tax": 18.0, "lines": []any{
			map[string]any{"kind": "Labor", "desc": "Labour", "qty": 1.5, "rate": 40}}}}, true)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, acts, err := c.HandleInbound(ctx, req)
		if err != nil || resp.Status != 200 || len(acts) != 3 {
			b.Fatalf("%v %d %d", err, resp.Status, len(acts))
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = digits[i%10]
		i /= 10
	}
	return string(buf[n:])
}
