package egress

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// TestCode1000IsRetriedWithTheGuideHint: the sandbox answers every call
// 500 / code 1000. The action is retried like any transient failure, but
// from the second attempt on the log warns that this usually means the
// wrong region or a missing Content-Type, and the dead letter's reason
// says so too.
func TestCode1000IsRetriedWithTheGuideHint(t *testing.T) {
	sb, c := startSandbox(t)
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := NewSender(map[string]API{"main": c}, Options{MaxAttempts: 3, Breaker: BreakerOptions{ConsecutiveFailures: 100},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.Guard().ObserveWorkOrder("main", &wo)
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	act := pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: wo.WorkOrderId, Comment: "on it"}
	const hint = "usually means the request went to the wrong region's URL"
	r := s.Send(context.Background(), outbox(t, 1, act, 1))
	if !r.Retry || r.Class != corrigo.ClassTransient || strings.Contains(r.Reason, hint) {
		t.Fatalf("attempt 1: %+v", r)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the first failure already warns:\n%s", logs.String())
	}
	r = s.Send(context.Background(), outbox(t, 1, act, 2))
	if !r.Retry || !strings.Contains(r.Reason, hint) || !strings.Contains(r.Reason, "corrigo.accounts.main.region") {
		t.Fatalf("attempt 2: %+v", r)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"CorrigoPro answered code 1000") {
		t.Errorf("attempt 2 does not warn:\n%s", logs.String())
	}
	r = s.Send(context.Background(), outbox(t, 1, act, 3))
	if r.Retry || r.Status != store.ActionDead || !strings.HasPrefix(r.Reason, "gave up after 3 attempts: ") || !strings.Contains(r.Reason, hint) {
		t.Fatalf("attempt 3: %+v", r)
	}
	if got, _, _ := sb.WorkOrder(wo.WorkOrderId); got.Status != corrigo.StatusNew {
		t.Errorf("work order %s: the faults touched state", got.Status)
	}
}
