package egress

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// BenchmarkSendOverhead measures what egress adds around one CorrigoPro call
// (decode, validate, guard with a cached status, breaker, MessageId,
// classification) against an in-memory API, so the number is egress alone.
func BenchmarkSendOverhead(b *testing.B) {
	api := &fakeAPI{wo: corrigo.WorkOrder{Status: corrigo.StatusCheckedIn, Customer: &corrigo.CustomerRef{ID: 3}}}
	s := NewSender(map[string]API{"main": api}, Options{Logger: quiet})
	payload, _ := json.Marshal(pluginapi.Action{Kind: pluginapi.KindPause, WorkOrderID: 1, Comment: "parts"})
	a := store.OutboxAction{ID: 1, IdempotencyKey: "ev1/rule/0", Account: "main", WorkOrderID: 1, Kind: "pause", Payload: payload, Attempts: 1}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.Guard().Observe("main", 1, corrigo.StatusCheckedIn)
		if r := s.Send(ctx, a); r.Status != store.ActionSent {
			b.Fatalf("%+v", r)
		}
	}
}
