package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// ruleFunc is an Evaluator from a function, standing in for compiled rules.
type ruleFunc func(in *Input) (Decision, error)

func (f ruleFunc) Evaluate(ctx context.Context, in *Input) (Decision, error) { return f(in) }

// everything sends every event to plugin "p" under rule "all".
var everything = ruleFunc(func(in *Input) (Decision, error) {
	return Decision{Matched: []Match{{Rule: "all", Plugin: "p"}}, ConfigVersion: "v1"}, nil
})

// pluginFunc is the plugin host stand-in.
type pluginFunc func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error)

func (f pluginFunc) HandleEvent(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	return f(ctx, name, ev)
}

var acceptAll = pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	return []pluginapi.Action{{Kind: pluginapi.KindAccept, Comment: "on our way"}}, nil
})

func notification(t testing.TB, wo int64, msgID string, p corrigo.Payload, at time.Time) []byte {
	t.Helper()
	b, err := corrigo.NewNotification(corrigo.Header{WorkOrderId: wo, MessageId: msgID, ActionDate: corrigo.NewTime(at)}, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newEvent(t testing.TB, wo int64, msgID string, p corrigo.Payload, at time.Time) store.Event {
	return store.Event{Account: "main", MessageID: msgID, WorkOrderID: wo, Action: string(corrigo.ActionOf(p)),
		ActionDate: at, Source: "webhook", Body: notification(t, wo, msgID, p, at)}
}

func newWO(id int64) corrigo.NewWorkOrderPayload {
	return corrigo.NewWorkOrderPayload{Details: corrigo.WorkOrder{WorkOrderId: id, Status: corrigo.StatusNew, WorkOrderNumber: "WO-1"}}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// run starts a dispatcher and returns a stop function that waits for Run.
func run(t *testing.T, o Options) (*Dispatcher, func()) {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestDispatchWritesActionsToOutbox(t *testing.T) {
	st := newMemStore()
	id := st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
	var kicked, observed atomic.Int32
	var got pluginapi.Event
	plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
		got = ev
		return []pluginapi.Action{
			{Kind: pluginapi.KindAccept, Comment: "on our way"},
			{Kind: pluginapi.KindReject}, // invalid: no comment
			{Kind: pluginapi.KindNote, Text: "job 7", WorkOrderID: 43},
		}, nil
	})
	run(t, Options{Store: st, Evaluator: everything, Plugins: plug,
		OnOutbox: func() { kicked.Add(1) },
		Observe: func(acct string, n *corrigo.Notification) {
			if acct == "main" && n.Header.WorkOrderId == 42 {
				observed.Add(1)
			}
		}})
	waitFor(t, "event done", st.settled)

	e := st.event(id)
	if e.Status != store.EventDone || e.ConfigVersion != "v1" {
		t.Fatalf("event = %+v", e)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Decision, &rec); err != nil {
		t.Fatalf("decision is not JSON: %s", e.Decision)
	}
	if !strings.Contains(string(e.Decision), `"rule":"all"`) || !strings.Contains(string(e.Decision), "reject needs a Comment") {
		t.Errorf("decision = %s", e.Decision)
	}
	if got.WorkOrder == nil || got.WorkOrder.WorkOrderId != 42 || got.Rule != "all" || got.Account != "main" || got.Header.MessageId != "m1" {
		t.Errorf("plugin saw %+v", got)
	}
	acts := st.outbox()
	if len(acts) != 2 {
		t.Fatalf("outbox has %d actions, want 2 (the invalid one refused): %+v", len(acts), acts)
	}
	if acts[0].Kind != "accept" || acts[0].WorkOrderID != 42 || acts[0].Status != store.ActionPending ||
		acts[0].IdempotencyKey != IdempotencyKey("main", "m1", "all", 0) || acts[0].EventID != id {
		t.Errorf("first action = %+v", acts[0])
	}
	var a pluginapi.Action
	if err := json.Unmarshal(acts[0].Payload, &a); err != nil || a.WorkOrderID != 42 || a.Comment != "on our way" {
		t.Errorf("payload %s → %+v, %v", acts[0].Payload, a, err)
	}
	if acts[1].WorkOrderID != 43 || acts[1].IdempotencyKey != IdempotencyKey("main", "m1", "all", 2) {
		t.Errorf("second action = %+v", acts[1])
	}
	if kicked.Load() != 1 || observed.Load() != 1 {
		t.Errorf("egress kicked %d times, observed %d; want 1 and 1", kicked.Load(), observed.Load())
	}
}

func TestShadowActionsAreRecordedNotSent(t *testing.T) {
	st := newMemStore()
	st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
	var kicked atomic.Int32
	shadow := ruleFunc(func(in *Input) (Decision, error) {
		return Decision{Matched: []Match{{Rule: "try", Plugin: "p", Shadow: true}}}, nil
	})
	run(t, Options{Store: st, Evaluator: shadow, Plugins: acceptAll, OnOutbox: func() { kicked.Add(1) }})
	waitFor(t, "event done", st.settled)
	acts := st.outbox()
	if len(acts) != 1 || acts[0].Status != store.ActionShadow {
		t.Fatalf("outbox = %+v, want one shadow action", acts)
	}
	if kicked.Load() != 0 {
		t.Error("egress was woken for a shadow action")
	}
}

func TestPluginFailures(t *testing.T) {
	tests := []struct {
		name       string
		verdict    Verdict
		failures   int // plugin calls that fail before it succeeds
		maxAtt     int
		wantStatus store.EventStatus
		wantErr    string
		wantCalls  int
	}{
		{name: "transient then ok", verdict: Retry, failures: 2, maxAtt: 5, wantStatus: store.EventDone, wantCalls: 3},
		{name: "transient forever", verdict: Retry, failures: 100, maxAtt: 3, wantStatus: store.EventDead, wantErr: "gave up after 3 attempts", wantCalls: 3},
		{name: "permanent", verdict: Dead, failures: 100, maxAtt: 5, wantStatus: store.EventDead, wantErr: "plugin \"p\": boom", wantCalls: 1},
		{name: "needs a person", verdict: Park, failures: 100, maxAtt: 5, wantStatus: store.EventParked, wantErr: "boom", wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			id := st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
			var calls atomic.Int32
			plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
				if int(calls.Add(1)) <= tc.failures {
					return nil, errors.New("boom")
				}
				return acceptAll(ctx, name, ev)
			})
			run(t, Options{Store: st, Evaluator: everything, Plugins: plug, MaxAttempts: tc.maxAtt,
				BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
				Classify: func(error) Verdict { return tc.verdict }})
			waitFor(t, "event settled", st.settled)
			e := st.event(id)
			if e.Status != tc.wantStatus || !strings.Contains(e.LastError, tc.wantErr) {
				t.Errorf("event status %s, error %q; want %s containing %q", e.Status, e.LastError, tc.wantStatus, tc.wantErr)
			}
			if int(calls.Load()) != tc.wantCalls {
				t.Errorf("plugin called %d times, want %d", calls.Load(), tc.wantCalls)
			}
			wantActions := 0
			if tc.wantStatus == store.EventDone {
				wantActions = 1
			}
			if len(st.outbox()) != wantActions {
				t.Errorf("outbox has %d actions, want %d", len(st.outbox()), wantActions)
			}
		})
	}
}

// TestPluginRetryAfter: a plugin's retryable error with RetryAfter
// (its ERP's Retry-After) puts the retry off that long though the backoff
// is a millisecond; RetryAfterMax caps it.
func TestPluginRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cap      time.Duration
		min, max time.Duration // the gap between the two calls
	}{
		{"honoured", 0, 1500 * time.Millisecond, time.Minute},
		{"capped", 300 * time.Millisecond, 300 * time.Millisecond, 1400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
			var mu sync.Mutex
			var at []time.Time
			plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
				mu.Lock()
				at = append(at, time.Now())
				n := len(at)
				mu.Unlock()
				if n == 1 {
					return nil, pluginapi.RetryAfter(errors.New("ERP answered 429"), 1500*time.Millisecond)
				}
				return acceptAll(ctx, name, ev)
			})
			run(t, Options{Store: st, Evaluator: everything, Plugins: plug, MaxAttempts: 5,
				BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, RetryAfterMax: tc.cap,
				Classify: func(err error) Verdict { return Retry }})
			waitFor(t, "event settled", st.settled)
			mu.Lock()
			defer mu.Unlock()
			if len(at) != 2 {
				t.Fatalf("%d plugin calls, want 2", len(at))
			}
			if gap := at[1].Sub(at[0]); gap < tc.min || gap > tc.max {
				t.Errorf("retry %v after the first call, want %v..%v", gap, tc.min, tc.max)
			}
		})
	}
}

// TestOutageDoesNotSpendEventAttempts: while OutageWait says CorrigoPro
// is down, retryable failures do not count: six failures with
// MaxAttempts 2 and the event is still handled once CorrigoPro is back.
// Without the outage the same failures make it dead after 2.
func TestOutageDoesNotSpendEventAttempts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		down       bool
		wantStatus store.EventStatus
		wantCalls  int32
	}{
		{"corrigo down", true, store.EventDone, 7},
		{"corrigo up", false, store.EventDead, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			id := st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
			var calls atomic.Int32
			var down atomic.Bool
			down.Store(tc.down)
			plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
				n := calls.Add(1)
				if n <= 6 {
					if n == 6 {
						down.Store(false) // CorrigoPro is back after this failure
					}
					return nil, pluginapi.RetryLater(errors.New("fetch work order: corrigo: HTTP 503"))
				}
				return acceptAll(ctx, name, ev)
			})
			run(t, Options{Store: st, Evaluator: everything, Plugins: plug, MaxAttempts: 2,
				BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
				OutageWait: func(account string) (time.Duration, bool) {
					if account != "main" {
						t.Errorf("OutageWait(%q)", account)
					}
					return time.Millisecond, down.Load()
				}})
			waitFor(t, "event settled", st.settled)
			e := st.event(id)
			if e.Status != tc.wantStatus || calls.Load() != tc.wantCalls {
				t.Fatalf("event %s after %d calls (Attempts %d, %q); want %s after %d", e.Status, calls.Load(), e.Attempts, e.LastError, tc.wantStatus, tc.wantCalls)
			}
			if tc.down && e.Attempts > 2 {
				t.Errorf("Attempts %d: the outage's failures were counted", e.Attempts)
			}
		})
	}
}

func TestOrderPerWorkOrderParallelAcross(t *testing.T) {
	st := newMemStore()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Work order 1's events arrive out of order (a redelivery of an older
	// event comes last); they must be handled by ActionDate.
	st.add(newEvent(t, 1, "c", corrigo.CheckedInPayload{}, base.Add(3*time.Second)))
	st.add(newEvent(t, 1, "a", newWO(1), base.Add(1*time.Second)))
	st.add(newEvent(t, 1, "b", corrigo.AcceptedPayload{}, base.Add(2*time.Second)))
	for wo := int64(2); wo <= 9; wo++ {
		st.add(newEvent(t, wo, "n"+string(rune('0'+wo)), newWO(wo), base))
	}
	var mu sync.Mutex
	var order []string
	var concurrent, peak atomic.Int32
	release := make(chan struct{})
	plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
		n := concurrent.Add(1)
		defer concurrent.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if ev.Header.WorkOrderId != 1 {
			<-release // hold the other lanes until several run at once
		}
		mu.Lock()
		if ev.Header.WorkOrderId == 1 {
			order = append(order, ev.Header.MessageId)
		}
		mu.Unlock()
		return nil, nil
	})
	run(t, Options{Store: st, Evaluator: everything, Plugins: plug, Workers: 8})
	waitFor(t, "several lanes in flight", func() bool { return peak.Load() >= 4 })
	close(release)
	waitFor(t, "all done", st.settled)
	if strings.Join(order, ",") != "a,b,c" {
		t.Errorf("work order 1 handled in order %v, want a,b,c", order)
	}
}

func TestDuplicateNewWorkOrderSkipped(t *testing.T) {
	st := newMemStore()
	now := time.Now()
	st.add(store.Event{Account: "main", MessageID: "poll-main-42", WorkOrderID: 42, Action: "NewWorkOrder", ActionDate: now,
		Source: "poll", Body: notification(t, 42, "poll-main-42", newWO(42), now)})
	late := st.add(newEvent(t, 42, "hook-1", newWO(42), now.Add(time.Second)))
	var calls atomic.Int32
	plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
		calls.Add(1)
		return acceptAll(ctx, name, ev)
	})
	d, _ := run(t, Options{Store: st, Evaluator: everything, Plugins: plug})
	waitFor(t, "both settled", st.settled)
	if calls.Load() != 1 || len(st.outbox()) != 1 {
		t.Errorf("plugin called %d times, %d actions; want 1 and 1", calls.Load(), len(st.outbox()))
	}
	if e := st.event(late); e.Status != store.EventDone || !strings.Contains(string(e.Decision), "already handled") {
		t.Errorf("late webhook event = %s %s", e.Status, e.Decision)
	}
	if d.Stats().Duplicates != 1 {
		t.Errorf("stats = %+v", d.Stats())
	}
}

type fetcher struct{ calls atomic.Int32 }

func (f *fetcher) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	f.calls.Add(1)
	return &corrigo.WorkOrder{WorkOrderId: id, Status: corrigo.StatusAccepted}, nil
}

func TestWorkOrderFetchedOnlyWhenRulesAsk(t *testing.T) {
	st := newMemStore()
	st.add(newEvent(t, 1, "x", corrigo.MessageSentPayload{Text: "hi"}, time.Now()))
	st.add(newEvent(t, 2, "y", corrigo.MessageSentPayload{Text: "hi"}, time.Now()))
	f := &fetcher{}
	var sawWO atomic.Int32
	ev := ruleFunc(func(in *Input) (Decision, error) {
		if in.Event.WorkOrderID == 2 {
			for range 3 { // asking twice costs one call
				wo, err := in.WorkOrder()
				if err != nil || wo.Status != corrigo.StatusAccepted {
					return Decision{}, err
				}
			}
		}
		return Decision{Matched: []Match{{Rule: "r", Plugin: "p"}}}, nil
	})
	plug := pluginFunc(func(ctx context.Context, name string, e pluginapi.Event) ([]pluginapi.Action, error) {
		if e.WorkOrder != nil {
			sawWO.Add(1)
		}
		return nil, nil
	})
	run(t, Options{Store: st, Evaluator: ev, Plugins: plug, WorkOrders: f})
	waitFor(t, "settled", st.settled)
	if f.calls.Load() != 1 || sawWO.Load() != 1 {
		t.Errorf("fetched %d times, plugin saw the work order %d times; want 1 and 1", f.calls.Load(), sawWO.Load())
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	st := newMemStore()
	id := st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
	started := make(chan struct{})
	plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
		close(started)
		time.Sleep(50 * time.Millisecond)
		return acceptAll(ctx, name, ev)
	})
	_, stop := run(t, Options{Store: st, Evaluator: everything, Plugins: plug, DrainTimeout: 5 * time.Second})
	<-started
	stop()
	if e := st.event(id); e.Status != store.EventDone || len(st.outbox()) != 1 {
		t.Errorf("after shutdown event is %s with %d actions; the in-flight event should have finished", e.Status, len(st.outbox()))
	}
}

func TestIdempotencyKeyIsStableAndDistinct(t *testing.T) {
	k := IdempotencyKey("main", "m1", "r", 0)
	if k != IdempotencyKey("main", "m1", "r", 0) || len(k) != 64 {
		t.Fatalf("key %q not stable or not sha256 hex", k)
	}
	for _, other := range []string{
		IdempotencyKey("main2", "m1", "r", 0), IdempotencyKey("main", "m2", "r", 0),
		IdempotencyKey("main", "m1", "r2", 0), IdempotencyKey("main", "m1", "r", 1),
		IdempotencyKey("mai", "nm1", "r", 0),
	} {
		if other == k {
			t.Errorf("distinct inputs share key %s", k)
		}
	}
}

// Decide runs an event as Run would without storing anything; with Replay
// the plugin is told it is a replay.
func TestDecideStoresNothingAndMarksReplay(t *testing.T) {
	st := newMemStore()
	ev := newEvent(t, 42, "m1", newWO(42), time.Now())
	ev.ID = 7
	var replays []bool
	plugin := pluginFunc(func(ctx context.Context, name string, pev pluginapi.Event) ([]pluginapi.Action, error) {
		replays = append(replays, pev.Replay)
		return acceptAll(ctx, name, pev)
	})
	for _, replay := range []bool{false, true} {
		d, err := New(Options{Store: st, Evaluator: everything, Plugins: plugin, Logger: quiet(), Replay: replay})
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := d.Decide(context.Background(), &ev)
		if err != nil || out.Status != store.EventDone || len(out.Actions) != 1 || out.Actions[0].Kind != "accept" ||
			out.Actions[0].IdempotencyKey != IdempotencyKey("main", "m1", "all", 0) || out.ConfigVersion != "v1" {
			t.Fatalf("Decide = %+v, %v", out, err)
		}
	}
	if fmt.Sprint(replays) != "[false true]" {
		t.Fatalf("plugin saw Replay %v, want [false true]", replays)
	}
	if len(st.outbox()) != 0 {
		t.Fatalf("Decide stored actions: %+v", st.outbox())
	}
}

// PrepareRetryPolicy refuses negative settings without changing the
// policy in force; what it accepts applies only when its function runs.
func TestPrepareRetryPolicy(t *testing.T) {
	d, err := New(Options{Store: newMemStore(), Evaluator: everything, Plugins: pluginFunc(acceptAll), Logger: quiet(),
		MaxAttempts: 4, BackoffBase: time.Second, BackoffMax: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	was := d.retryPolicy()
	for _, bad := range []RetryPolicy{{MaxAttempts: -1}, {BackoffBase: -time.Second}, {BackoffMax: -time.Second}} {
		if apply, err := d.PrepareRetryPolicy(bad); err == nil || apply != nil {
			t.Errorf("PrepareRetryPolicy(%+v) = %v, want an error", bad, err)
		}
	}
	apply, err := d.PrepareRetryPolicy(RetryPolicy{MaxAttempts: 9, BackoffMax: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.retryPolicy(); got != was {
		t.Fatalf("policy %+v before apply, want %+v", got, was)
	}
	apply()
	want := was
	want.MaxAttempts, want.BackoffMax = 9, 2*time.Minute
	if got := d.retryPolicy(); got != want {
		t.Fatalf("policy %+v after apply, want %+v", got, want)
	}
}
