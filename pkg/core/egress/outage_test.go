package egress

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// outageScale compresses time: the gateway's default retry settings
// (delivery: max_attempts 10, backoff 1s → 5m; breaker 5 failures, 30s
// open, 1 probe) divided by it, and a 2-hour outage with them.
const outageScale = 1000

// TestLongOutageSpendsNoAttempts plays a 2-hour CorrigoPro outage,
// compressed 1000× (7.2 s), against the worker with a real SQLite store
// and a CorrigoPro on loopback that answers every call 503 while it is
// down. 30 work orders have three actions each (accept, check_in, note)
// before the outage starts; 10 more arrive in its middle. With the
// defaults, 10 counted tries span about 8 minutes: an action that spent
// an attempt on every probe would be dead long before the end. Nothing
// may die; every action must reach CorrigoPro once, in its work order's
// order; no action may have counted more than a few tries.
func TestLongOutageSpendsNoAttempts(t *testing.T) {
	if testing.Short() {
		t.Skip("7 s outage: skipped in -short")
	}
	scale := func(d time.Duration) time.Duration { return d / outageScale }
	st := openStore(t)
	f := newFakeCorrigo(t)
	obs := &recObserver{}
	s := newTestSender(t, f, Options{
		MaxAttempts: 10, InitialBackoff: scale(time.Second), MaxBackoff: scale(5 * time.Minute),
		Breaker:  BreakerOptions{ConsecutiveFailures: 5, OpenTimeout: scale(30 * time.Second), HalfOpenRequests: 1},
		Observer: obs,
	})
	// The gateway's poll interval, not scaled: the worker wakes for its
	// own retries between polls.
	w := NewWorker(st, s, WorkerOptions{Concurrency: 32, PollInterval: 500 * time.Millisecond, Logger: quiet})
	acts := []pluginapi.Action{
		{Kind: pluginapi.KindAccept},
		{Kind: pluginapi.KindCheckIn},
		{Kind: pluginapi.KindNote, Text: "on site"},
	}
	var ids []int64
	add := func(n int) {
		for range n {
			id := int64(1000 + len(ids))
			ids = append(ids, id)
			f.addWO(wo(id, corrigo.StatusNew))
			enqueue(t, st, id, false, acts...)
		}
	}
	add(30)
	outage := 2 * time.Hour / outageScale
	f.down.Store(true)
	start := time.Now()
	runWorker(t, w)
	time.Sleep(outage / 2)
	add(10)
	time.Sleep(outage - time.Since(start))
	f.down.Store(false)
	end := time.Now()
	got := waitSettled(t, st, ids...)
	drained := time.Since(end)

	// Every action sent, none dead; the counted tries stay far below
	// max_attempts.
	maxAttempts, dead := 0, 0
	for id, as := range got {
		if len(as) != len(acts) {
			t.Fatalf("work order %d has %d actions", id, len(as))
		}
		for _, a := range as {
			if a.Status != store.ActionSent {
				dead++
				t.Errorf("work order %d: %s is %s: %s", id, a.Kind, a.Status, a.LastError)
			}
			maxAttempts = max(maxAttempts, a.Attempts)
		}
	}
	if maxAttempts > 5 {
		t.Errorf("an action counted %d tries; an outage must not spend them", maxAttempts)
	}
	// Per work order, the calls CorrigoPro took (not answered 503) are
	// the actions in order, each once.
	want := []string{"api/workOrder/accept", "api/workOrder/checkIn", "api/workOrder/note"}
	f.mu.Lock()
	calls := append([]fakeCall(nil), f.calls...)
	f.mu.Unlock()
	taken := map[int64][]string{}
	refused, probes := 0, 0
	for _, c := range calls {
		if c.Down {
			refused++
			if c.At.After(start.Add(time.Second / 10)) {
				probes++ // after the first seconds' worth of failures: what the breaker let through
			}
			continue
		}
		if !strings.Contains(strings.ToLower(c.Path), "workorder/") || c.Method == "GET" {
			continue
		}
		id, _ := c.Body["WorkOrderId"].(float64)
		taken[int64(id)] = append(taken[int64(id)], c.Path)
	}
	for _, id := range ids {
		if strings.Join(taken[id], ",") != strings.Join(want, ",") {
			t.Errorf("work order %d: CorrigoPro took %v, want %v", id, taken[id], want)
		}
	}
	_, changes := obs.snapshot()
	opened := 0
	for _, c := range changes {
		if strings.HasSuffix(c, "->open") {
			opened++
		}
	}
	t.Logf("compressed 2 h outage (%v): %d actions on %d work orders, %d calls refused 503 (%d of them probes after the first 100 ms), "+
		"breaker opened %d times; after the outage everything landed in %v; max Attempts of an action %d (max_attempts 10); dead %d",
		outage, len(ids)*len(acts), len(ids), refused, probes, opened, drained.Round(time.Millisecond), maxAttempts, dead)
	_ = context.Background
}
