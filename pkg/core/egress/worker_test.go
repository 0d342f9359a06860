package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

var msgSeq atomic.Int64

// enqueue stores an event for work order woID and completes it with acts as
// its outbox actions, as the dispatcher does. shadow stores them as shadow.
func enqueue(t *testing.T, st store.Store, woID int64, shadow bool, acts ...pluginapi.Action) {
	t.Helper()
	ctx := context.Background()
	ev := &store.Event{Account: "main", MessageID: fmt.Sprintf("m-%d", msgSeq.Add(1)), WorkOrderID: woID,
		Action: "NewWorkOrder", Source: "webhook", Body: json.RawMessage(`{}`)}
	if _, err := st.InsertEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimEvents(ctx, "dispatcher", time.Minute, 100)
	if err != nil || len(claimed) != 1 || claimed[0].ID != ev.ID {
		t.Fatalf("claim event: %v %+v", err, claimed)
	}
	out := store.Outcome{Status: store.EventDone}
	for i, a := range acts {
		a.WorkOrderID = woID
		b, _ := json.Marshal(a)
		oa := store.OutboxAction{IdempotencyKey: fmt.Sprintf("%d/rule/%d", ev.ID, i), Account: "main", WorkOrderID: woID,
			Rule: "rule", Plugin: "p", Kind: string(a.Kind), Payload: b}
		if shadow {
			oa.Status = store.ActionShadow
		}
		out.Actions = append(out.Actions, oa)
	}
	if err := st.CompleteEvent(ctx, ev.ID, "dispatcher", out); err != nil {
		t.Fatal(err)
	}
}

// waitSettled polls until no action of the work orders is pending.
func waitSettled(t *testing.T, st store.Store, ids ...int64) map[int64][]store.OutboxAction {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := map[int64][]store.OutboxAction{}
		pending := 0
		for _, id := range ids {
			as, err := st.ActionsForWorkOrder(context.Background(), "main", id)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				if a.Status == store.ActionPending {
					pending++
				}
			}
			all[id] = as
		}
		if pending == 0 {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d actions still pending: %+v", pending, all)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runWorker(t *testing.T, w *Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestWorkerEndToEnd(t *testing.T) {
	st := openStore(t)
	f := newFakeCorrigo(t)
	f.settings[cust] = corrigo.CustomerSettings{CustomerId: cust, RepairInfoRequired: true}
	s := newTestSender(t, f, Options{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	w := NewWorker(st, s, WorkerOptions{Concurrency: 4, PollInterval: 20 * time.Millisecond, Logger: quiet})

	const n = 12
	var ids []int64
	for i := range int64(n) {
		id := 100 + i
		ids = append(ids, id)
		f.addWO(wo(id, corrigo.StatusNew))
		// accept, then a note: one lane, so in this order.
		enqueue(t, st, id, false,
			pluginapi.Action{Kind: pluginapi.KindAccept},
			pluginapi.Action{Kind: pluginapi.KindNote, Text: fmt.Sprintf("note %d", id)})
	}
	// The first accept to arrive meets an outage answer: retried.
	f.fail("api/workOrder/accept", 1, fault{503, 1000, "busy", ""})
	// Refused, dead, parked and shadow actions on their own work orders.
	f.addWO(wo(900, corrigo.StatusCheckedIn))
	enqueue(t, st, 900, false, pluginapi.Action{Kind: pluginapi.KindCheckOut}) // refused: RepairInfo
	f.addWO(wo(901, corrigo.StatusCheckedOut))
	f.fail("api/invoice/submit", 1, fault{400, 3056, "tax mismatch", ""})
	enqueue(t, st, 901, false, pluginapi.Action{Kind: pluginapi.KindInvoiceSubmit}) // parked
	f.addWO(wo(902, corrigo.StatusAccepted))
	f.fail("api/messages", 1, fault{400, 2100, "Model data validation failed", ""})
	enqueue(t, st, 902, false, pluginapi.Action{Kind: pluginapi.KindMessage, Text: "x"}) // dead
	f.addWO(wo(903, corrigo.StatusNew))
	enqueue(t, st, 903, true, pluginapi.Action{Kind: pluginapi.KindAccept}) // shadow: never sent

	stop := runWorker(t, w)
	w.Kick()
	got := waitSettled(t, st, append(ids, 900, 901, 902)...)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	for _, id := range ids {
		if f.wo(id).Status != corrigo.StatusAccepted {
			t.Fatalf("work order %d is %s", id, f.wo(id).Status)
		}
		for _, a := range got[id] {
			if a.Status != store.ActionSent {
				t.Fatalf("work order %d action %s: %s (%s)", id, a.Kind, a.Status, a.LastError)
			}
		}
	}
	// Exactly one accept reached CorrigoPro per work order (plus the one
	// failed attempt), and each work order's note came after its accept.
	accepts := map[string]int{}
	seen := map[string]string{}
	f.mu.Lock()
	for _, c := range f.calls {
		id := fmt.Sprint(c.Body["WorkOrderId"])
		switch strings.ToLower(c.Path) {
		case "api/workorder/accept":
			accepts[id]++
			seen[id] += "a"
		case "api/workorder/note":
			seen[id] += "n"
		}
	}
	f.mu.Unlock()
	twice := 0
	for _, id := range ids {
		k := fmt.Sprint(id)
		if accepts[k] == 2 {
			twice++ // the 503, then the retry
		} else if accepts[k] != 1 {
			t.Fatalf("work order %d: %d accept calls", id, accepts[k])
		}
		if !strings.HasSuffix(seen[k], "an") || strings.Count(seen[k], "n") != 1 {
			t.Fatalf("work order %d: call order %q, want accept then one note", id, seen[k])
		}
	}
	if twice != 1 {
		t.Fatalf("%d work orders saw two accept calls, want exactly the one that met the 503", twice)
	}
	check := func(id int64, want store.ActionStatus, reason string) {
		t.Helper()
		a := got[id][0]
		if a.Status != want || !strings.Contains(a.LastError, reason) {
			t.Fatalf("work order %d: %s %q, want %s with %q", id, a.Status, a.LastError, want, reason)
		}
	}
	check(900, store.ActionRefused, "check_out refused: customer 90256 requires RepairInfo")
	check(901, store.ActionParked, "3056")
	check(902, store.ActionDead, "2100")
	as, _ := st.ActionsForWorkOrder(context.Background(), "main", 903)
	if len(as) != 1 || as[0].Status != store.ActionShadow || len(f.callsTo("api/workOrder/accept")) != n+1 {
		t.Fatalf("shadow action: %+v", as)
	}
}

// TestWorkerCrashResend: a send reaches CorrigoPro but its answer never
// comes back, and the worker is stopped with the lease held. A second
// worker (another process after a restart) claims the action when the lease
// expires, sees the work order already Accepted, and marks the action sent
// without a second accept.
func TestWorkerCrashResend(t *testing.T) {
	st := openStore(t)
	f := newFakeCorrigo(t)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	f.mu.Lock()
	f.stall = func(path string) <-chan struct{} {
		if strings.EqualFold(path, "api/workOrder/accept") {
			signal(entered)
			return release
		}
		return nil
	}
	f.mu.Unlock()
	f.addWO(wo(1, corrigo.StatusNew))
	enqueue(t, st, 1, false, pluginapi.Action{Kind: pluginapi.KindAccept})

	s1 := newTestSender(t, f, Options{})
	w1 := NewWorker(st, s1, WorkerOptions{Owner: "w1", Lease: 300 * time.Millisecond, SendTimeout: 100 * time.Millisecond, StopTimeout: time.Millisecond,
		PollInterval: 10 * time.Millisecond, Logger: quiet})
	stop1 := runWorker(t, w1)
	<-entered // CorrigoPro has accepted; the answer is held
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	as, _ := st.ActionsForWorkOrder(context.Background(), "main", 1)
	if len(as) != 1 || as[0].Status != store.ActionPending {
		t.Fatalf("after the crash: %+v", as)
	}

	s2 := newTestSender(t, f, Options{})
	w2 := NewWorker(st, s2, WorkerOptions{Owner: "w2", Lease: 300 * time.Millisecond, SendTimeout: 100 * time.Millisecond, PollInterval: 10 * time.Millisecond, Logger: quiet})
	runWorker(t, w2)
	got := waitSettled(t, st, 1)[1][0]
	if got.Status != store.ActionSent || !strings.Contains(got.LastError, "already Accepted") {
		t.Fatalf("after restart: %s %q", got.Status, got.LastError)
	}
	if n := len(f.callsTo("api/workOrder/accept")); n != 1 {
		t.Fatalf("accept reached CorrigoPro %d times, want 1", n)
	}
}

// TestWorkerFinishesInFlightOnStop: stopping waits for sends in flight and
// records their results.
func TestWorkerFinishesInFlightOnStop(t *testing.T) {
	st := openStore(t)
	f := newFakeCorrigo(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	f.mu.Lock()
	f.stall = func(string) <-chan struct{} { signal(entered); return release }
	f.mu.Unlock()
	f.addWO(wo(1, corrigo.StatusAccepted))
	enqueue(t, st, 1, false, pluginapi.Action{Kind: pluginapi.KindNote, Text: "x"})
	s := newTestSender(t, f, Options{})
	w := NewWorker(st, s, WorkerOptions{StopTimeout: time.Minute, PollInterval: 10 * time.Millisecond, Logger: quiet})
	stop := runWorker(t, w)
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	as, _ := st.ActionsForWorkOrder(context.Background(), "main", 1)
	if len(as) != 1 || as[0].Status != store.ActionSent {
		t.Fatalf("in-flight send not recorded: %+v", as)
	}
}

func TestWorkerStoreClosed(t *testing.T) {
	st := openStore(t)
	f := newFakeCorrigo(t)
	w := NewWorker(st, newTestSender(t, f, Options{}), WorkerOptions{PollInterval: 10 * time.Millisecond, Logger: quiet})
	_ = st.Close()
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Run on a closed store: %v", err)
	}
}

// TestWorkerBoundsConcurrency holds every call at CorrigoPro and checks that
// no more than Concurrency sends are in flight (a broken bound can only be
// missed, never reported falsely), then lets them all finish.
func TestWorkerBoundsConcurrency(t *testing.T) {
	st := openStore(t)
	f := newFakeCorrigo(t)
	release := make(chan struct{})
	var inFlight, maxInFlight atomic.Int32
	entered := make(chan struct{}, 100)
	f.mu.Lock()
	f.stall = func(string) <-chan struct{} {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		entered <- struct{}{}
		return release
	}
	f.mu.Unlock()
	const conc = 3
	var ids []int64
	for i := range int64(9) {
		id := 10 + i
		ids = append(ids, id)
		f.addWO(wo(id, corrigo.StatusAccepted))
		enqueue(t, st, id, false, pluginapi.Action{Kind: pluginapi.KindNote, Text: "x"})
	}
	w := NewWorker(st, newTestSender(t, f, Options{}), WorkerOptions{Concurrency: conc, PollInterval: 5 * time.Millisecond, Logger: quiet})
	runWorker(t, w)
	for range conc {
		<-entered
	}
	// Give the worker every chance to overshoot: kicks and polls.
	for range 20 {
		w.Kick()
		time.Sleep(5 * time.Millisecond)
	}
	if n := maxInFlight.Load(); n != conc {
		t.Fatalf("%d sends in flight, want %d", n, conc)
	}
	// Let everything through; the rest go out with the same bound.
	f.mu.Lock()
	f.stall = nil
	f.mu.Unlock()
	close(release)
	got := waitSettled(t, st, ids...)
	for _, id := range ids {
		if got[id][0].Status != store.ActionSent {
			t.Fatalf("work order %d: %s", id, got[id][0].Status)
		}
	}
}

// TestDueTimes: the worker remembers when its retries come due, earliest
// first, drops those that passed, and keeps at most maxDue (the earliest).
func TestDueTimes(t *testing.T) {
	var d dueTimes
	now := time.Now()
	if _, ok := d.next(now); ok {
		t.Fatal("empty dueTimes has a next")
	}
	for _, s := range []int{30, 10, 20, -5} {
		d.add(now.Add(time.Duration(s) * time.Second))
	}
	if n, ok := d.next(now); !ok || !n.Equal(now.Add(10*time.Second)) {
		t.Fatalf("next = %v, %v; want now+10s (the past one dropped)", n.Sub(now), ok)
	}
	if n, _ := d.next(now.Add(15 * time.Second)); !n.Equal(now.Add(20 * time.Second)) {
		t.Fatalf("after 15s next = %v, want now+20s", n.Sub(now))
	}
	for i := range maxDue + 10 {
		d.add(now.Add(time.Hour + time.Duration(i)*time.Second))
	}
	d.mu.Lock()
	n := len(d.h)
	d.mu.Unlock()
	if n > maxDue {
		t.Fatalf("%d due times kept, want at most %d", n, maxDue)
	}
	if next, _ := d.next(now.Add(15 * time.Second)); !next.Equal(now.Add(20 * time.Second)) {
		t.Fatalf("the bound dropped an early time: next = %v", next.Sub(now))
	}
}
