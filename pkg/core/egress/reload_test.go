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

// PrepareReload builds the new settings without touching the running
// ones: a refused one changes nothing, an accepted one only at Apply.
func TestPrepareReloadAppliesOnlyAtApply(t *testing.T) {
	f := newFakeCorrigo(t)
	s := newTestSender(t, f, Options{MaxAttempts: 10, InitialBackoff: time.Second, MaxBackoff: time.Minute,
		Breaker: BreakerOptions{ConsecutiveFailures: 5}})
	was := s.retryPolicy()
	if _, err := s.PrepareReload(RetryPolicy{MaxAttempts: -1}, BreakerOptions{}, nil); err == nil {
		t.Fatal("negative max attempts accepted")
	}
	if _, err := s.PrepareReload(RetryPolicy{}, BreakerOptions{}, map[string]BreakerOptions{"x": {OpenTimeout: -time.Second}}); err == nil {
		t.Fatal("negative open timeout accepted")
	}
	r, err := s.PrepareReload(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Minute, MaxBackoff: time.Minute},
		BreakerOptions{ConsecutiveFailures: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cbs := map[string]any{}
	for name, a := range s.accounts {
		cbs[name] = a.cb.Load()
	}
	if got := s.retryPolicy(); got != was {
		t.Fatalf("retry policy %+v before Apply, want %+v", got, was)
	}
	for name, a := range s.accounts {
		if a.cb.Load() != cbs[name] || a.bo.ConsecutiveFailures != 5 {
			t.Fatalf("account %s: breaker replaced before Apply", name)
		}
	}
	replaced := s.Apply(r)
	if len(replaced) != len(s.accounts) || len(replaced) == 0 {
		t.Fatalf("replaced %v, want every account", replaced)
	}
	if got := s.retryPolicy(); got.MaxAttempts != 3 || got.InitialBackoff != time.Minute {
		t.Fatalf("retry policy %+v after Apply", got)
	}
	for name, a := range s.accounts {
		if a.cb.Load() == cbs[name] || a.bo.ConsecutiveFailures != 2 {
			t.Fatalf("account %s: breaker not replaced at Apply", name)
		}
	}
}
