package egress

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// TestSetBreakersReplacesOnlyChangedAccounts: a config reload keeps the
// breaker (and its open state) of an account whose settings did not
// change, and gives a changed account a new breaker with the new settings.
func TestSetBreakersReplacesOnlyChangedAccounts(t *testing.T) {
	a, b := newFakeCorrigo(t), newFakeCorrigo(t)
	for _, f := range []*fakeCorrigo{a, b} {
		f.addWO(wo(1, corrigo.StatusAccepted))
		f.down.Store(true)
	}
	def := BreakerOptions{ConsecutiveFailures: 1, OpenTimeout: time.Hour}
	s := NewSender(map[string]API{"a": a.client(t), "b": b.client(t)}, Options{Logger: quiet, Breaker: def})
	ctx := context.Background()
	note := func(account string) store.OutboxAction {
		x := outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 1)
		x.Account = account
		return x
	}
	for _, acc := range []string{"a", "b"} {
		s.Send(ctx, note(acc))
		if st := s.BreakerState(acc); st != BreakerOpen {
			t.Fatalf("%s: breaker %s after a failure, want open", acc, st)
		}
	}
	if got := s.SetBreakers(def, nil); len(got) != 0 {
		t.Fatalf("unchanged settings replaced %v", got)
	}
	got := s.SetBreakers(def, map[string]BreakerOptions{"b": {ConsecutiveFailures: 3}})
	if !slices.Equal(got, []string{"b"}) {
		t.Fatalf("replaced %v, want [b]", got)
	}
	if st := s.BreakerState("a"); st != BreakerOpen {
		t.Errorf("a: breaker %s; unchanged settings must keep its state", st)
	}
	// b's new breaker takes three failures to open.
	for i := range 3 {
		if st := s.BreakerState("b"); st != BreakerClosed {
			t.Fatalf("b: breaker %s after %d failures under the new settings, want closed", st, i)
		}
		s.Send(ctx, note("b"))
	}
	if st := s.BreakerState("b"); st != BreakerOpen {
		t.Fatalf("b: breaker %s after 3 failures, want open", st)
	}
}

func TestSetRetryPolicy(t *testing.T) {
	f := newFakeCorrigo(t)
	f.addWO(wo(1, corrigo.StatusAccepted))
	f.down.Store(true)
	s := newTestSender(t, f, Options{MaxAttempts: 10, Breaker: BreakerOptions{ConsecutiveFailures: 100},
		InitialBackoff: time.Second, MaxBackoff: time.Second, Jitter: func() float64 { return 0.999 }})
	act := outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 3)
	if r := s.Send(context.Background(), act); !r.Retry {
		t.Fatalf("attempt 3 of 10: %+v", r)
	}
	s.SetRetryPolicy(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Minute, MaxBackoff: time.Minute})
	if r := s.Send(context.Background(), act); r.Retry || r.Status != store.ActionDead {
		t.Fatalf("attempt 3 of 3 after the change: %+v", r)
	}
	if d := s.Backoff(1); d < 30*time.Second || d > time.Minute {
		t.Fatalf("backoff %s, want the new initial backoff (1m, jittered)", d)
	}
}
