// Package storetest is the conformance suite every store.Store
// implementation passes. It pins down the behaviour the rest of the gateway
// relies on — dedup, lanes, leases, the transactional outbox, dead letters,
// retention — so sqlite and postgres cannot drift apart.
//
// Use it from an implementation's tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) },
//			storetest.WithReopen(openReopenable))
//	}
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// Option adds optional parts to the suite.
type Option func(*suite)

// WithReopen enables the durability test: open returns a fresh store and a
// function that opens the same database again (called after the first store
// is closed).
func WithReopen(open func(t *testing.T) (store.Store, func(t *testing.T) store.Store)) Option {
	return func(s *suite) { s.reopen = open }
}

// Only limits the suite to the named subtests (e.g. "ConcurrentInsert"),
// for running a second configuration of a store on the paths it changes.
func Only(names ...string) Option {
	return func(s *suite) {
		s.only = map[string]bool{}
		for _, n := range names {
			s.only[n] = true
		}
	}
}

type suite struct {
	open   func(t *testing.T) store.Store
	reopen func(t *testing.T) (store.Store, func(t *testing.T) store.Store)
	only   map[string]bool
}

// Run runs the suite. open must return a fresh, empty store each call and
// register its cleanup with t.Cleanup (closing an already closed store must
// be harmless). Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store, opts ...Option) {
	s := &suite{open: open}
	for _, o := range opts {
		o(s)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, st store.Store)
	}{
		{"InsertAndDedup", testInsertDedup},
		{"InsertRejectsBadInput", testInsertInvalid},
		{"OddStrings", testOddStrings},
		{"ConcurrentInsert", testConcurrentInsert},
		{"ClaimHeadOfLane", testClaimHeadOfLane},
		{"ClaimTwoLanes", testClaimTwoLanes},
		{"LeasedLaneBlocked", testLeasedLaneBlocked},
		{"ExpiredLeaseReclaimed", testExpiredLease},
		{"NextAtRespected", testNextAt},
		{"ClaimLimitAndArgs", testClaimLimit},
		{"CompleteWithActions", testCompleteWithActions},
		{"CompleteErrors", testCompleteErrors},
		{"TraceContext", testTraceContext},
		{"ClaimActionsOrder", testClaimActions},
		{"ActionLeases", testActionLeases},
		{"RenewEventLeases", testRenewEventLeases},
		{"RenewActionLeases", testRenewActionLeases},
		{"DeferAction", testDeferAction},
		{"DeferEvent", testDeferEvent},
		{"DeadLetterEvents", testDeadLetterEvents},
		{"DeadLetterActions", testDeadLetterActions},
		{"DeadLetterFilters", testDeadLetterFilters},
		{"Backlog", testBacklog},
		{"SeenWorkOrders", testSeenWorkOrders},
		{"ListEvents", testListEvents},
		{"RecentWorkOrders", testRecentWorkOrders},
		{"CommLog", testCommLog},
		{"KV", testKV},
		{"Watermarks", testWatermarks},
		{"Prune", testPrune},
		{"ConcurrentWorkers", testConcurrentWorkers},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		if s.only != nil && !s.only[tc.name] {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s.open(t))
		})
	}
	if s.only != nil && !s.only["ReopenKeepsData"] {
		return
	}
	t.Run("ReopenKeepsData", func(t *testing.T) {
		if s.reopen == nil {
			t.Skip("implementation gave no WithReopen")
		}
		t.Parallel()
		testReopen(t, s.reopen)
	})
}

// base is a fixed, microsecond-precise UTC time for ActionDates.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func newEvent(account, msg string, wo int64, actionDate time.Time) *store.Event {
	return &store.Event{
		Account:     account,
		MessageID:   msg,
		WorkOrderID: wo,
		Action:      "NewWorkOrder",
		ActionDate:  actionDate,
		Source:      "webhook",
		Body:        json.RawMessage(fmt.Sprintf(`{"Header":{"MessageId":%q,"WorkOrderId":%d}}`, msg, wo)),
	}
}

func mustInsert(t *testing.T, st store.Store, e *store.Event) int64 {
	t.Helper()
	ok, err := st.InsertEvent(ctx(t), e)
	if err != nil {
		t.Fatalf("InsertEvent(%s): %v", e.MessageID, err)
	}
	if !ok {
		t.Fatalf("InsertEvent(%s): not inserted", e.MessageID)
	}
	if e.ID <= 0 {
		t.Fatalf("InsertEvent(%s): ID %d not set", e.MessageID, e.ID)
	}
	return e.ID
}

func claimEvents(t *testing.T, st store.Store, owner string, lease time.Duration, limit int) []store.Event {
	t.Helper()
	evs, err := st.ClaimEvents(ctx(t), owner, lease, limit)
	if err != nil {
		t.Fatalf("ClaimEvents(%s): %v", owner, err)
	}
	for _, e := range evs {
		if e.Status != store.EventPending {
			t.Fatalf("claimed event %d has status %s", e.ID, e.Status)
		}
	}
	return evs
}

func ids[T any](xs []T, id func(T) int64) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func eventIDs(evs []store.Event) []int64 { return ids(evs, func(e store.Event) int64 { return e.ID }) }
func actionIDs(as []store.OutboxAction) []int64 {
	return ids(as, func(a store.OutboxAction) int64 { return a.ID })
}

func sameIDs(t *testing.T, what string, got, want []int64) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got ids %v, want %v", what, got, want)
	}
}

func done(decision string, actions ...store.OutboxAction) store.Outcome {
	return store.Outcome{Status: store.EventDone, Decision: json.RawMessage(decision), ConfigVersion: "cfg-1", Actions: actions}
}

func complete(t *testing.T, st store.Store, id int64, owner string, out store.Outcome) {
	t.Helper()
	if err := st.CompleteEvent(ctx(t), id, owner, out); err != nil {
		t.Fatalf("CompleteEvent(%d, %s): %v", id, owner, err)
	}
}

func action(key string, wo int64, kind string) store.OutboxAction {
	return store.OutboxAction{
		IdempotencyKey: key,
		WorkOrderID:    wo,
		Rule:           "rule-" + kind,
		Plugin:         "erp",
		Kind:           kind,
		Payload:        json.RawMessage(fmt.Sprintf(`{"kind":%q,"key":%q}`, kind, key)),
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func testInsertDedup(t *testing.T, st store.Store) {
	c := ctx(t)
	recv := base.Add(time.Hour)
	e := newEvent("acme", "m-1", 42, base)
	e.ReceivedAt = recv
	e.Plugin = "erp"
	id := mustInsert(t, st, e)

	got, err := st.GetEvent(c, id)
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	if got.Account != "acme" || got.MessageID != "m-1" || got.WorkOrderID != 42 || got.Action != "NewWorkOrder" ||
		got.Source != "webhook" || got.Plugin != "erp" || got.Status != store.EventPending || got.Attempts != 0 {
		t.Fatalf("GetEvent: fields differ: %+v", got)
	}
	if !got.ActionDate.Equal(base) || got.ActionDate.Location() != time.UTC {
		t.Fatalf("ActionDate %v, want %v in UTC", got.ActionDate, base)
	}
	if !got.ReceivedAt.Equal(recv) {
		t.Fatalf("ReceivedAt %v, want %v", got.ReceivedAt, recv)
	}
	if !bytes.Equal(got.Body, e.Body) {
		t.Fatalf("Body %s, want %s", got.Body, e.Body)
	}
	if !got.HandledAt.IsZero() || got.Decision != nil || got.LastError != "" {
		t.Fatalf("fresh event has outcome fields: %+v", got)
	}

	again := newEvent("acme", "m-1", 42, base)
	ok, err := st.InsertEvent(c, again)
	if err != nil || ok {
		t.Fatalf("duplicate InsertEvent = %v, %v; want false, nil", ok, err)
	}
	other := newEvent("globex", "m-1", 42, base)
	if mustInsert(t, st, other) == id {
		t.Fatal("another account's event got the same id")
	}
	for _, tc := range []struct {
		account, msg string
		want         bool
	}{{"acme", "m-1", true}, {"globex", "m-1", true}, {"acme", "m-2", false}, {"initech", "m-1", false}} {
		seen, err := st.SeenMessage(c, tc.account, tc.msg)
		if err != nil || seen != tc.want {
			t.Fatalf("SeenMessage(%s, %s) = %v, %v; want %v", tc.account, tc.msg, seen, err, tc.want)
		}
	}
	// Defaults: ReceivedAt is now, zero ActionDate stays zero.
	before := time.Now().Add(-time.Second)
	d := newEvent("acme", "m-3", 43, time.Time{})
	d.Body = nil
	mustInsert(t, st, d)
	got, err = st.GetEvent(c, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReceivedAt.Before(before) || got.ReceivedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("default ReceivedAt %v is not now", got.ReceivedAt)
	}
	if !got.ActionDate.IsZero() || got.Body != nil {
		t.Fatalf("zero ActionDate/nil body came back as %v / %q", got.ActionDate, got.Body)
	}
	_, err = st.GetEvent(c, 999999)
	wantErr(t, "GetEvent(unknown)", err, store.ErrNotFound)
	evs, err := st.EventsForWorkOrder(c, "acme", 42)
	if err != nil || len(evs) != 1 || evs[0].ID != id {
		t.Fatalf("EventsForWorkOrder = %v, %v", eventIDs(evs), err)
	}
}

func testInsertInvalid(t *testing.T, st store.Store) {
	c := ctx(t)
	for _, e := range []*store.Event{
		newEvent("", "m", 1, base),
		newEvent("acme", "", 1, base),
		func() *store.Event { e := newEvent("acme", "m", 1, base); e.Status = "bogus"; return e }(),
	} {
		ok, err := st.InsertEvent(c, e)
		if ok || !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("InsertEvent(%+v) = %v, %v; want ErrInvalid", e, ok, err)
		}
	}
	if _, err := st.InsertEvent(c, nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("InsertEvent(nil) = %v, want ErrInvalid", err)
	}
}

// testOddStrings feeds what a hostile or broken sender could put in a
// webhook: NUL bytes and invalid UTF-8. The store must keep and dedup such
// events, not fail them (CorrigoPro would retry a failure forever).
func testOddStrings(t *testing.T, st store.Store) {
	c := ctx(t)
	for _, msg := range []string{"nul\x00byte", "bad\xff\xfeutf8", strings.Repeat("long", 2000)} {
		e := newEvent("acme", msg, -1, base)
		e.Action = "Odd\x00Action"
		e.Body = json.RawMessage("\x00\xff not json at all")
		id := mustInsert(t, st, e)
		if ok, err := st.InsertEvent(c, newEvent("acme", msg, -1, base)); ok || err != nil {
			t.Fatalf("redelivery of %q = %v, %v; want a duplicate", msg, ok, err)
		}
		got, err := st.GetEvent(c, id)
		if err != nil || !bytes.Equal(got.Body, e.Body) {
			t.Fatalf("GetEvent(%q) body %q, %v; bodies are kept byte for byte", msg, got.Body, err)
		}
		if seen, err := st.SeenMessage(c, "acme", msg); err != nil || !seen {
			t.Fatalf("SeenMessage(%q) = %v, %v", msg, seen, err)
		}
	}
	if err := st.AppendLog(c, store.LogEntry{Account: "acme", Request: "a\x00b\xff", Response: "\xfe"}); err != nil {
		t.Fatalf("AppendLog with odd bytes: %v", err)
	}
	if err := st.KVPut(c, "p\x00", "k\xff", []byte{0}); err != nil {
		t.Fatalf("KVPut with odd key: %v", err)
	}
	if v, ok, err := st.KVGet(c, "p\x00", "k\xff"); err != nil || !ok || !bytes.Equal(v, []byte{0}) {
		t.Fatalf("KVGet with odd key = %v, %v, %v", v, ok, err)
	}
}

func testConcurrentInsert(t *testing.T, st store.Store) {
	const goroutines = 50
	perG := 20
	if raceEnabled {
		perG = 6
	}
	c := ctx(t)
	var inserted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				// Goroutines 2k and 2k+1 insert the same message ids:
				// redeliveries racing each other.
				msg := fmt.Sprintf("m-%d-%d", g/2, i)
				e := newEvent("acme", msg, int64((g/2)%7), base.Add(time.Duration(i)*time.Second))
				ok, err := st.InsertEvent(c, e)
				if err != nil {
					errs <- fmt.Errorf("insert %s: %w", msg, err)
					return
				}
				if ok {
					inserted.Add(1)
					// Committed before InsertEvent returned: visible now.
					got, err := st.GetEvent(c, e.ID)
					if err != nil || got.MessageID != msg {
						errs <- fmt.Errorf("event %s (id %d) not readable right after insert: %w", msg, e.ID, err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	unique := int64(goroutines / 2 * perG)
	if inserted.Load() != unique {
		t.Fatalf("inserted %d events, want %d unique", inserted.Load(), unique)
	}
	var total int
	for wo := int64(0); wo < 7; wo++ {
		evs, err := st.EventsForWorkOrder(c, "acme", wo)
		if err != nil {
			t.Fatal(err)
		}
		total += len(evs)
	}
	if int64(total) != unique {
		t.Fatalf("stored %d events, want %d", total, unique)
	}
}

func testClaimHeadOfLane(t *testing.T, st store.Store) {
	// Arrival order c, a, b; ActionDate order a, b, c; b and b2 tie on
	// ActionDate and go by arrival (id).
	ec := mustInsert(t, st, newEvent("acme", "c", 7, base.Add(3*time.Minute)))
	ea := mustInsert(t, st, newEvent("acme", "a", 7, base.Add(1*time.Minute)))
	eb := mustInsert(t, st, newEvent("acme", "b", 7, base.Add(2*time.Minute)))
	eb2 := mustInsert(t, st, newEvent("acme", "b2", 7, base.Add(2*time.Minute)))
	for i, want := range []int64{ea, eb, eb2, ec} {
		got := claimEvents(t, st, "w1", time.Minute, 10)
		sameIDs(t, fmt.Sprintf("claim %d", i), eventIDs(got), []int64{want})
		if got[0].Attempts != 1 {
			t.Fatalf("claimed event has Attempts %d, want 1", got[0].Attempts)
		}
		complete(t, st, want, "w1", done(`{"n":1}`))
	}
	if got := claimEvents(t, st, "w1", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claim on drained lane returned %v", eventIDs(got))
	}
}

func testClaimTwoLanes(t *testing.T, st store.Store) {
	a1 := mustInsert(t, st, newEvent("acme", "a1", 1, base))
	mustInsert(t, st, newEvent("acme", "a2", 1, base.Add(time.Second)))
	b1 := mustInsert(t, st, newEvent("acme", "b1", 2, base.Add(time.Hour)))
	mustInsert(t, st, newEvent("acme", "b2", 2, base.Add(2*time.Hour)))
	// Same work order id, other account: its own lane.
	c1 := mustInsert(t, st, newEvent("globex", "c1", 1, base.Add(time.Minute)))
	got := claimEvents(t, st, "w1", time.Minute, 10)
	sameIDs(t, "heads of three lanes", eventIDs(got), []int64{a1, b1, c1})
	if again := claimEvents(t, st, "w2", time.Minute, 10); len(again) != 0 {
		t.Fatalf("second claimer got %v while every lane is leased", eventIDs(again))
	}
}

func testLeasedLaneBlocked(t *testing.T, st store.Store) {
	c := ctx(t)
	e2 := mustInsert(t, st, newEvent("acme", "e2", 5, base.Add(2*time.Minute)))
	mustInsert(t, st, newEvent("acme", "e3", 5, base.Add(3*time.Minute)))
	got := claimEvents(t, st, "w1", time.Minute, 10)
	sameIDs(t, "first claim", eventIDs(got), []int64{e2})
	// An earlier event arrives late, while e2 is in flight: it is now the
	// earliest pending event, but the lane is busy.
	e1 := mustInsert(t, st, newEvent("acme", "e1", 5, base.Add(1*time.Minute)))
	if got := claimEvents(t, st, "w2", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v from a lane with a leased event", eventIDs(got))
	}
	if err := st.CompleteEvent(c, e2, "w1", done(`{}`)); err != nil {
		t.Fatal(err)
	}
	got = claimEvents(t, st, "w2", time.Minute, 10)
	sameIDs(t, "late earlier event next", eventIDs(got), []int64{e1})
}

func testExpiredLease(t *testing.T, st store.Store) {
	c := ctx(t)
	const lease = 100 * time.Millisecond
	e1 := mustInsert(t, st, newEvent("acme", "x1", 9, base))
	e2 := mustInsert(t, st, newEvent("acme", "y1", 10, base))
	got := claimEvents(t, st, "w1", lease, 10)
	sameIDs(t, "claim", eventIDs(got), []int64{e1, e2})
	time.Sleep(lease + 50*time.Millisecond)
	// Expired: reclaimable. Claim only one, leaving e2 expired but not taken.
	got = claimEvents(t, st, "w2", time.Minute, 1)
	sameIDs(t, "reclaim", eventIDs(got), []int64{e1})
	if got[0].Attempts != 2 {
		t.Fatalf("reclaimed event Attempts %d, want 2", got[0].Attempts)
	}
	err := st.CompleteEvent(c, e1, "w1", done(`{}`, action("k-lost", 9, "Accept")))
	wantErr(t, "CompleteEvent by the old owner", err, store.ErrLeaseLost)
	if as, _ := st.ActionsForWorkOrder(c, "acme", 9); len(as) != 0 {
		t.Fatalf("a lost-lease completion inserted actions %v", actionIDs(as))
	}
	err = st.RetryEvent(c, e1, "w1", time.Now(), "x")
	wantErr(t, "RetryEvent by the old owner", err, store.ErrLeaseLost)
	complete(t, st, e1, "w2", done(`{}`))
	// e2's lease expired but nobody took it: w1 still holds it.
	complete(t, st, e2, "w1", done(`{}`))
	ev, err := st.GetEvent(c, e2)
	if err != nil || ev.Status != store.EventDone {
		t.Fatalf("e2 = %+v, %v", ev, err)
	}
}

func testNextAt(t *testing.T, st store.Store) {
	c := ctx(t)
	e1 := mustInsert(t, st, newEvent("acme", "n1", 3, base))
	mustInsert(t, st, newEvent("acme", "n2", 3, base.Add(time.Minute)))
	// Not due yet: a future NextAt set at insert.
	future := newEvent("acme", "f1", 4, base)
	future.NextAt = time.Now().Add(time.Hour)
	mustInsert(t, st, future)

	got := claimEvents(t, st, "w1", time.Minute, 10)
	sameIDs(t, "claim", eventIDs(got), []int64{e1})
	next := time.Now().Add(200 * time.Millisecond)
	if err := st.RetryEvent(c, e1, "w1", next, "plugin unavailable"); err != nil {
		t.Fatal(err)
	}
	ev, _ := st.GetEvent(c, e1)
	if ev.Status != store.EventPending || ev.LastError != "plugin unavailable" || ev.NextAt.Before(next.Add(-time.Millisecond)) {
		t.Fatalf("after RetryEvent: %+v", ev)
	}
	// The head waits for NextAt and the later event must not overtake it.
	if got := claimEvents(t, st, "w1", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the head's NextAt", eventIDs(got))
	}
	time.Sleep(time.Until(next) + 20*time.Millisecond)
	got = claimEvents(t, st, "w2", time.Minute, 10)
	sameIDs(t, "after NextAt", eventIDs(got), []int64{e1})
	if got[0].Attempts != 2 || got[0].LastError != "plugin unavailable" {
		t.Fatalf("retried event: Attempts %d LastError %q", got[0].Attempts, got[0].LastError)
	}
}

func testClaimLimit(t *testing.T, st store.Store) {
	c := ctx(t)
	for i := 0; i < 5; i++ {
		mustInsert(t, st, newEvent("acme", fmt.Sprintf("l%d", i), int64(100+i), base))
	}
	if got := claimEvents(t, st, "w1", time.Minute, 2); len(got) != 2 {
		t.Fatalf("limit 2 claimed %d", len(got))
	}
	if got := claimEvents(t, st, "w1", time.Minute, 10); len(got) != 3 {
		t.Fatalf("second claim got %d, want the other 3", len(got))
	}
	for _, tc := range []struct {
		owner string
		lease time.Duration
		limit int
	}{{"", time.Minute, 1}, {"w", 0, 1}, {"w", time.Minute, 0}} {
		_, err := st.ClaimEvents(c, tc.owner, tc.lease, tc.limit)
		wantErr(t, fmt.Sprintf("ClaimEvents(%q, %v, %d)", tc.owner, tc.lease, tc.limit), err, store.ErrInvalid)
		_, err = st.ClaimActions(c, tc.owner, tc.lease, tc.limit)
		wantErr(t, fmt.Sprintf("ClaimActions(%q, %v, %d)", tc.owner, tc.lease, tc.limit), err, store.ErrInvalid)
	}
}

func testCompleteWithActions(t *testing.T, st store.Store) {
	c := ctx(t)
	e1 := mustInsert(t, st, newEvent("acme", "c1", 11, base))
	e2 := mustInsert(t, st, newEvent("acme", "c2", 12, base))
	claimEvents(t, st, "w1", time.Minute, 10)
	shadow := action("k3", 11, "AddNote")
	shadow.Status = store.ActionShadow
	other := action("k4", 99, "AddNote") // an action may target another work order
	complete(t, st, e1, "w1", done(`{"rules":["r1"]}`, action("k1", 11, "Accept"), action("k2", 11, "CheckIn"), shadow, other))

	ev, err := st.GetEvent(c, e1)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != store.EventDone || string(ev.Decision) != `{"rules":["r1"]}` || ev.ConfigVersion != "cfg-1" || ev.HandledAt.IsZero() {
		t.Fatalf("completed event: %+v", ev)
	}
	as, err := st.ActionsForWorkOrder(c, "acme", 11)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 {
		t.Fatalf("ActionsForWorkOrder = %d actions, want 3", len(as))
	}
	for i, want := range []struct {
		key    string
		kind   string
		status store.ActionStatus
	}{{"k1", "Accept", store.ActionPending}, {"k2", "CheckIn", store.ActionPending}, {"k3", "AddNote", store.ActionShadow}} {
		a := as[i]
		if a.IdempotencyKey != want.key || a.Kind != want.kind || a.Status != want.status || a.EventID != e1 ||
			a.Account != "acme" || a.Rule != "rule-"+want.kind || a.Plugin != "erp" || a.CreatedAt.IsZero() ||
			a.Attempts != 0 || !a.SentAt.IsZero() {
			t.Fatalf("action %d = %+v, want key %s kind %s status %s", i, a, want.key, want.kind, want.status)
		}
		var p map[string]string
		if err := json.Unmarshal(a.Payload, &p); err != nil || p["key"] != want.key {
			t.Fatalf("action %d payload %s", i, a.Payload)
		}
		got, err := st.GetAction(c, a.ID)
		if err != nil || got.IdempotencyKey != want.key {
			t.Fatalf("GetAction(%d) = %+v, %v", a.ID, got, err)
		}
	}
	if as, _ := st.ActionsForWorkOrder(c, "acme", 99); len(as) != 1 || as[0].IdempotencyKey != "k4" {
		t.Fatalf("action for work order 99 missing: %v", as)
	}
	// A second outcome repeating idempotency keys (a redelivered event
	// handled again) adds only the new action.
	complete(t, st, e2, "w1", done(`{}`, action("k1", 12, "Accept"), action("k5", 12, "Accept")))
	as12, _ := st.ActionsForWorkOrder(c, "acme", 12)
	if len(as12) != 1 || as12[0].IdempotencyKey != "k5" || as12[0].EventID != e2 {
		t.Fatalf("duplicate key not skipped: %+v", as12)
	}
	as11, _ := st.ActionsForWorkOrder(c, "acme", 11)
	if len(as11) != 3 || as11[0].EventID != e1 {
		t.Fatalf("the first k1 changed: %+v", as11)
	}
	_, err = st.GetAction(c, 999999)
	wantErr(t, "GetAction(unknown)", err, store.ErrNotFound)
}

func testCompleteErrors(t *testing.T, st store.Store) {
	c := ctx(t)
	e1 := mustInsert(t, st, newEvent("acme", "ce1", 21, base))
	claimEvents(t, st, "w1", time.Minute, 10)
	err := st.CompleteEvent(c, e1, "w1", store.Outcome{Status: store.EventPending})
	wantErr(t, "CompleteEvent(status pending)", err, store.ErrInvalid)
	err = st.CompleteEvent(c, e1, "w1", done(`{}`, store.OutboxAction{Kind: "Accept"}))
	wantErr(t, "CompleteEvent(action without key)", err, store.ErrInvalid)
	err = st.CompleteEvent(c, e1, "intruder", done(`{}`, action("ce-k", 21, "Accept")))
	wantErr(t, "CompleteEvent(wrong owner)", err, store.ErrLeaseLost)
	err = st.CompleteEvent(c, 999999, "w1", done(`{}`))
	wantErr(t, "CompleteEvent(unknown)", err, store.ErrNotFound)
	err = st.RetryEvent(c, 999999, "w1", time.Now(), "")
	wantErr(t, "RetryEvent(unknown)", err, store.ErrNotFound)
	if as, _ := st.ActionsForWorkOrder(c, "acme", 21); len(as) != 0 {
		t.Fatalf("failed completions inserted actions: %v", actionIDs(as))
	}
	// Dead outcome, then completing again is a lost lease (it is no longer
	// pending), not a second outcome.
	if err := st.CompleteEvent(c, e1, "w1", store.Outcome{Status: store.EventDead, LastError: "bad body"}); err != nil {
		t.Fatal(err)
	}
	err = st.CompleteEvent(c, e1, "w1", done(`{}`))
	wantErr(t, "CompleteEvent twice", err, store.ErrLeaseLost)
	ev, _ := st.GetEvent(c, e1)
	if ev.Status != store.EventDead || ev.LastError != "bad body" {
		t.Fatalf("dead event: %+v", ev)
	}
}

// outbox makes one event whose outcome carries acts, returning their ids in
// order.
func outbox(t *testing.T, st store.Store, msg string, acts ...store.OutboxAction) []int64 {
	t.Helper()
	id := mustInsert(t, st, newEvent("acme", msg, 1000+int64(len(msg)), base))
	got := claimEvents(t, st, "disp", time.Minute, 100)
	found := false
	for _, e := range got {
		if e.ID == id {
			found = true
		}
	}
	if !found {
		t.Fatalf("event %s not claimable", msg)
	}
	complete(t, st, id, "disp", done(`{}`, acts...))
	var out []int64
	for _, a := range acts {
		as, err := st.ActionsForWorkOrder(ctx(t), "acme", a.WorkOrderID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range as {
			if x.IdempotencyKey == a.IdempotencyKey {
				out = append(out, x.ID)
			}
		}
	}
	if len(out) != len(acts) {
		t.Fatalf("outbox: found %d of %d actions", len(out), len(acts))
	}
	return out
}

func claimActions(t *testing.T, st store.Store, owner string, lease time.Duration, limit int) []store.OutboxAction {
	t.Helper()
	as, err := st.ClaimActions(ctx(t), owner, lease, limit)
	if err != nil {
		t.Fatalf("ClaimActions: %v", err)
	}
	return as
}

func testClaimActions(t *testing.T, st store.Store) {
	c := ctx(t)
	ids := outbox(t, st, "oa", action("a1", 1, "Accept"), action("a2", 1, "CheckIn"), action("b1", 2, "Accept"), action("a3", 1, "CheckOut"))
	a1, a2, b1, a3 := ids[0], ids[1], ids[2], ids[3]
	got := claimActions(t, st, "eg", time.Minute, 10)
	sameIDs(t, "heads", actionIDs(got), []int64{a1, b1})
	if got[0].Attempts != 1 {
		t.Fatalf("claimed action Attempts %d", got[0].Attempts)
	}
	if again := claimActions(t, st, "eg2", time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed %v from leased lanes", actionIDs(again))
	}
	if err := st.FinishAction(c, a1, "eg", store.ActionSent, ""); err != nil {
		t.Fatal(err)
	}
	a, _ := st.GetAction(c, a1)
	if a.Status != store.ActionSent || a.SentAt.IsZero() {
		t.Fatalf("sent action: %+v", a)
	}
	got = claimActions(t, st, "eg", time.Minute, 10)
	sameIDs(t, "next in lane", actionIDs(got), []int64{a2})
	// A retry in the future blocks the lane: a3 must not overtake a2.
	if err := st.RetryAction(c, a2, "eg", time.Now().Add(150*time.Millisecond), "503"); err != nil {
		t.Fatal(err)
	}
	if got := claimActions(t, st, "eg", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v while the lane head waits", actionIDs(got))
	}
	time.Sleep(200 * time.Millisecond)
	got = claimActions(t, st, "eg", time.Minute, 10)
	sameIDs(t, "retried head", actionIDs(got), []int64{a2})
	if got[0].Attempts != 2 || got[0].LastError != "503" {
		t.Fatalf("retried action: %+v", got[0])
	}
	if err := st.FinishAction(c, a2, "eg", store.ActionRefused, "status does not allow"); err != nil {
		t.Fatal(err)
	}
	got = claimActions(t, st, "eg", time.Minute, 10)
	sameIDs(t, "last in lane", actionIDs(got), []int64{a3})
	_ = b1
}

// testDeferAction: a deferred claim gives its Attempts back (down to the
// floor), keeps the lane's order and the lease rules of RetryAction.
func testDeferAction(t *testing.T, st store.Store) {
	c := ctx(t)
	ids := outbox(t, st, "da", action("d1", 1, "Accept"), action("d2", 1, "CheckIn"))
	claim := func(what string, want int64, attempts int) {
		t.Helper()
		got := claimActions(t, st, "eg", time.Minute, 10)
		sameIDs(t, what, actionIDs(got), []int64{want})
		if got[0].Attempts != attempts {
			t.Fatalf("%s: Attempts %d, want %d", what, got[0].Attempts, attempts)
		}
	}
	claim("first claim", ids[0], 1)
	// Nothing was tried: the claim is taken back entirely.
	if err := st.DeferAction(c, ids[0], "eg", time.Now(), "breaker open", 0); err != nil {
		t.Fatal(err)
	}
	a, _ := st.GetAction(c, ids[0])
	if a.Attempts != 0 || a.LastError != "breaker open" || a.Status != store.ActionPending {
		t.Fatalf("deferred action: %+v", a)
	}
	claim("after a deferral", ids[0], 1)
	// A try that may have reached CorrigoPro keeps Attempts at 1 at least.
	if err := st.DeferAction(c, ids[0], "eg", time.Now(), "probe failed", 1); err != nil {
		t.Fatal(err)
	}
	claim("after a floored deferral", ids[0], 2)
	if err := st.RetryAction(c, ids[0], "eg", time.Now(), "503"); err != nil {
		t.Fatal(err)
	}
	claim("after a retry", ids[0], 3)
	if err := st.DeferAction(c, ids[0], "eg", time.Now(), "probe failed", 1); err != nil {
		t.Fatal(err)
	}
	claim("floor below the count", ids[0], 3)
	// A deferral in the future blocks the lane like a retry.
	if err := st.DeferAction(c, ids[0], "eg", time.Now().Add(time.Hour), "breaker open", 0); err != nil {
		t.Fatal(err)
	}
	if got := claimActions(t, st, "eg", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v while the lane head waits", actionIDs(got))
	}
	a, _ = st.GetAction(c, ids[0])
	if a.Attempts != 2 || a.NextAt.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("deferred action: Attempts %d, NextAt %v", a.Attempts, a.NextAt)
	}
	err := st.DeferAction(c, ids[0], "eg", time.Now(), "", 0)
	wantErr(t, "DeferAction(not leased)", err, store.ErrLeaseLost)
	err = st.DeferAction(c, 999999, "eg", time.Now(), "", 0)
	wantErr(t, "DeferAction(unknown)", err, store.ErrNotFound)
	err = st.DeferAction(c, ids[0], "", time.Now(), "", 0)
	wantErr(t, "DeferAction(no owner)", err, store.ErrInvalid)
	err = st.DeferAction(c, ids[0], "eg", time.Now(), "", -1)
	wantErr(t, "DeferAction(negative floor)", err, store.ErrInvalid)
}

// testDeferEvent: a deferred event gives its attempt back down to the
// floor and waits like a retried one.
func testDeferEvent(t *testing.T, st store.Store) {
	c := ctx(t)
	id := mustInsert(t, st, newEvent("acme", "defer-1", 4242, base))
	claim := func(what string, attempts int) {
		t.Helper()
		got := claimEvents(t, st, "disp", time.Minute, 100)
		for _, e := range got {
			if e.ID == id {
				if e.Attempts != attempts {
					t.Fatalf("%s: Attempts %d, want %d", what, e.Attempts, attempts)
				}
				return
			}
		}
		t.Fatalf("%s: event not claimed", what)
	}
	claim("first claim", 1)
	if err := st.RetryEvent(c, id, "disp", time.Now(), "plugin down"); err != nil {
		t.Fatal(err)
	}
	claim("after a retry", 2)
	if err := st.DeferEvent(c, id, "disp", time.Now(), "corrigo down", 1); err != nil {
		t.Fatal(err)
	}
	claim("after a deferral", 2)
	if err := st.DeferEvent(c, id, "disp", time.Now().Add(time.Hour), "corrigo down", 1); err != nil {
		t.Fatal(err)
	}
	for _, e := range claimEvents(t, st, "disp", time.Minute, 100) {
		if e.ID == id {
			t.Fatal("claimed a deferred event before its time")
		}
	}
	e, err := st.GetEvent(c, id)
	if err != nil || e.Attempts != 1 || e.LastError != "corrigo down" || e.Status != store.EventPending {
		t.Fatalf("deferred event: %+v, %v", e, err)
	}
	wantErr(t, "DeferEvent(not leased)", st.DeferEvent(c, id, "disp", time.Now(), "", 0), store.ErrLeaseLost)
	wantErr(t, "DeferEvent(negative floor)", st.DeferEvent(c, id, "disp", time.Now(), "", -1), store.ErrInvalid)
}

func testActionLeases(t *testing.T, st store.Store) {
	c := ctx(t)
	ids := outbox(t, st, "al", action("l1", 1, "Accept"), action("l2", 2, "Accept"))
	got := claimActions(t, st, "eg", 100*time.Millisecond, 10)
	sameIDs(t, "claim", actionIDs(got), ids)
	err := st.FinishAction(c, ids[0], "eg", "bogus", "")
	wantErr(t, "FinishAction(bogus status)", err, store.ErrInvalid)
	err = st.FinishAction(c, ids[0], "eg", store.ActionPending, "")
	wantErr(t, "FinishAction(pending)", err, store.ErrInvalid)
	err = st.FinishAction(c, ids[0], "other", store.ActionSent, "")
	wantErr(t, "FinishAction(wrong owner)", err, store.ErrLeaseLost)
	err = st.FinishAction(c, 999999, "eg", store.ActionSent, "")
	wantErr(t, "FinishAction(unknown)", err, store.ErrNotFound)
	time.Sleep(150 * time.Millisecond)
	got = claimActions(t, st, "eg2", time.Minute, 1)
	sameIDs(t, "reclaim", actionIDs(got), ids[:1])
	err = st.FinishAction(c, ids[0], "eg", store.ActionSent, "")
	wantErr(t, "FinishAction after reclaim", err, store.ErrLeaseLost)
	err = st.RetryAction(c, ids[0], "eg", time.Now(), "")
	wantErr(t, "RetryAction after reclaim", err, store.ErrLeaseLost)
	if err := st.FinishAction(c, ids[0], "eg2", store.ActionDead, "400 validation"); err != nil {
		t.Fatal(err)
	}
	// Expired, not reclaimed: still held.
	if err := st.FinishAction(c, ids[1], "eg", store.ActionParked, "3056 tax mismatch"); err != nil {
		t.Fatal(err)
	}
	a, _ := st.GetAction(c, ids[1])
	if a.Status != store.ActionParked || a.LastError != "3056 tax mismatch" || !a.SentAt.IsZero() {
		t.Fatalf("parked action: %+v", a)
	}
	err = st.FinishAction(c, ids[1], "eg", store.ActionSent, "")
	wantErr(t, "FinishAction twice", err, store.ErrLeaseLost)
}

func testDeadLetterEvents(t *testing.T, st store.Store) {
	c := ctx(t)
	dead := mustInsert(t, st, newEvent("acme", "d1", 31, base))
	parked := mustInsert(t, st, newEvent("acme", "p1", 32, base))
	pending := mustInsert(t, st, newEvent("acme", "q1", 33, base))
	claimEvents(t, st, "w", time.Minute, 10)
	if err := st.CompleteEvent(c, dead, "w", store.Outcome{Status: store.EventDead, LastError: "no plugin"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteEvent(c, parked, "w", store.Outcome{Status: store.EventParked, LastError: "needs a person"}); err != nil {
		t.Fatal(err)
	}
	if err := st.RetryEvent(c, pending, "w", time.Now(), "later"); err != nil {
		t.Fatal(err)
	}
	dls, err := st.ListDeadLetters(c, store.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, d := range dls {
		if d.Kind != "event" || d.Event == nil || d.Action != nil {
			t.Fatalf("dead letter %+v", d)
		}
		got = append(got, d.Event.ID)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	sameIDs(t, "dead letters", got, []int64{dead, parked})

	err = st.RequeueEvent(c, pending)
	wantErr(t, "RequeueEvent(pending)", err, store.ErrWrongState)
	err = st.IgnoreEvent(c, pending)
	wantErr(t, "IgnoreEvent(pending)", err, store.ErrWrongState)
	wantErr(t, "RequeueEvent(unknown)", st.RequeueEvent(c, 999999), store.ErrNotFound)
	wantErr(t, "IgnoreEvent(unknown)", st.IgnoreEvent(c, 999999), store.ErrNotFound)

	if err := st.RequeueEvent(c, dead); err != nil {
		t.Fatal(err)
	}
	ev, _ := st.GetEvent(c, dead)
	if ev.Status != store.EventPending || ev.Attempts != 0 || ev.LastError != "no plugin" {
		t.Fatalf("requeued event: %+v", ev)
	}
	claimed := claimEvents(t, st, "w2", time.Minute, 10)
	sameIDs(t, "requeued event claimable", eventIDs(claimed), []int64{dead, pending})
	if err := st.IgnoreEvent(c, parked); err != nil {
		t.Fatal(err)
	}
	if err := st.IgnoreEvent(c, parked); err != nil {
		t.Fatalf("ignoring twice: %v", err)
	}
	dls, _ = st.ListDeadLetters(c, store.DeadLetterFilter{})
	if len(dls) != 0 {
		t.Fatalf("after requeue and ignore, %d dead letters remain", len(dls))
	}
	dls, _ = st.ListDeadLetters(c, store.DeadLetterFilter{Status: "ignored"})
	if len(dls) != 1 || dls[0].Event.ID != parked || dls[0].Event.Status != store.EventIgnored {
		t.Fatalf("ignored list: %+v", dls)
	}
	// An ignored event can still be reprocessed.
	if err := st.RequeueEvent(c, parked); err != nil {
		t.Fatal(err)
	}
	if ev, _ := st.GetEvent(c, parked); ev.Status != store.EventPending {
		t.Fatalf("requeued ignored event: %s", ev.Status)
	}
}

func testDeadLetterActions(t *testing.T, st store.Store) {
	c := ctx(t)
	ids := outbox(t, st, "dla", action("x1", 41, "Accept"), action("x2", 42, "Accept"), action("x3", 43, "Accept"), action("x4", 44, "Accept"))
	claimActions(t, st, "eg", time.Minute, 10)
	for i, st2 := range []store.ActionStatus{store.ActionDead, store.ActionParked, store.ActionRefused, store.ActionSent} {
		if err := st.FinishAction(c, ids[i], "eg", st2, "reason "+string(st2)); err != nil {
			t.Fatal(err)
		}
	}
	dls, err := st.ListDeadLetters(c, store.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, d := range dls {
		if d.Kind != "action" || d.Action == nil || d.Event != nil {
			t.Fatalf("dead letter %+v", d)
		}
		got = append(got, d.Action.ID)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	sameIDs(t, "dead actions", got, ids[:2])
	dls, _ = st.ListDeadLetters(c, store.DeadLetterFilter{Status: "refused"})
	if len(dls) != 1 || dls[0].Action.ID != ids[2] {
		t.Fatalf("refused list: %+v", dls)
	}
	wantErr(t, "RequeueAction(sent)", st.RequeueAction(c, ids[3]), store.ErrWrongState)
	wantErr(t, "IgnoreAction(sent)", st.IgnoreAction(c, ids[3]), store.ErrWrongState)
	wantErr(t, "RequeueAction(unknown)", st.RequeueAction(c, 999999), store.ErrNotFound)
	wantErr(t, "IgnoreAction(unknown)", st.IgnoreAction(c, 999999), store.ErrNotFound)
	for _, id := range ids[:3] {
		if err := st.RequeueAction(c, id); err != nil {
			t.Fatalf("RequeueAction(%d): %v", id, err)
		}
		a, _ := st.GetAction(c, id)
		if a.Status != store.ActionPending || a.Attempts != 0 {
			t.Fatalf("requeued action: %+v", a)
		}
	}
	wantErr(t, "RequeueAction(pending)", st.RequeueAction(c, ids[0]), store.ErrWrongState)
	got2 := claimActions(t, st, "eg", time.Minute, 10)
	sameIDs(t, "requeued actions claimable", actionIDs(got2), ids[:3])
	if err := st.FinishAction(c, ids[0], "eg", store.ActionDead, "again"); err != nil {
		t.Fatal(err)
	}
	if err := st.IgnoreAction(c, ids[0]); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.GetAction(c, ids[0]); a.Status != store.ActionIgnored {
		t.Fatalf("ignored action status %s", a.Status)
	}
	if dls, _ := st.ListDeadLetters(c, store.DeadLetterFilter{}); len(dls) != 0 {
		t.Fatalf("%d dead letters left", len(dls))
	}
}

func testDeadLetterFilters(t *testing.T, st store.Store) {
	c := ctx(t)
	type mk struct {
		account string
		wo      int64
		action  string
	}
	var evIDs []int64
	for i, m := range []mk{{"acme", 51, "NewWorkOrder"}, {"acme", 52, "StatusChange"}, {"globex", 51, "NewWorkOrder"}} {
		e := newEvent(m.account, fmt.Sprintf("df%d", i), m.wo, base)
		e.Action = m.action
		e.ReceivedAt = base.Add(time.Duration(i) * time.Hour)
		evIDs = append(evIDs, mustInsert(t, st, e))
	}
	claimEvents(t, st, "w", time.Minute, 10)
	for _, id := range evIDs {
		if err := st.CompleteEvent(c, id, "w", store.Outcome{Status: store.EventDead, LastError: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	e := newEvent("acme", "df-src", 53, base)
	e.ReceivedAt = base.Add(-time.Hour)
	src := mustInsert(t, st, e)
	claimEvents(t, st, "w", time.Minute, 10)
	a := action("dfa", 51, "CheckIn")
	a.CreatedAt = base.Add(90 * time.Minute)
	complete(t, st, src, "w", done(`{}`, a))
	acts := claimActions(t, st, "eg", time.Minute, 10)
	if len(acts) != 1 {
		t.Fatalf("claimed %d actions", len(acts))
	}
	if err := st.FinishAction(c, acts[0].ID, "eg", store.ActionParked, "x"); err != nil {
		t.Fatal(err)
	}
	key := func(d store.DeadLetter) string {
		if d.Kind == "event" {
			return fmt.Sprintf("e%d", d.Event.ID)
		}
		return fmt.Sprintf("a%d", d.Action.ID)
	}
	E := func(i int) string { return fmt.Sprintf("e%d", evIDs[i]) }
	A := fmt.Sprintf("a%d", acts[0].ID)
	for _, tc := range []struct {
		name string
		f    store.DeadLetterFilter
		want []string // newest first
	}{
		{"all", store.DeadLetterFilter{}, []string{E(2), A, E(1), E(0)}},
		{"account", store.DeadLetterFilter{Account: "globex"}, []string{E(2)}},
		{"work order", store.DeadLetterFilter{WorkOrderID: 51}, []string{E(2), A, E(0)}},
		{"event action", store.DeadLetterFilter{Action: "StatusChange"}, []string{E(1)}},
		{"action kind", store.DeadLetterFilter{Action: "CheckIn"}, []string{A}},
		{"since", store.DeadLetterFilter{Since: base.Add(time.Hour)}, []string{E(2), A, E(1)}},
		{"kind event", store.DeadLetterFilter{Kind: "event"}, []string{E(2), E(1), E(0)}},
		{"kind action", store.DeadLetterFilter{Kind: "action"}, []string{A}},
		{"status parked", store.DeadLetterFilter{Status: "parked"}, []string{A}},
		{"limit", store.DeadLetterFilter{Limit: 2}, []string{E(2), A}},
		{"combined", store.DeadLetterFilter{Account: "acme", WorkOrderID: 51, Kind: "event"}, []string{E(0)}},
	} {
		dls, err := st.ListDeadLetters(c, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, d := range dls {
			got = append(got, key(d))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, f := range []store.DeadLetterFilter{{Kind: "widget"}, {Status: "pending"}} {
		_, err := st.ListDeadLetters(c, f)
		wantErr(t, fmt.Sprintf("ListDeadLetters(%+v)", f), err, store.ErrInvalid)
	}
}

func testBacklog(t *testing.T, st store.Store) {
	c := ctx(t)
	b, err := st.Backlog(c)
	if err != nil || len(b) != 0 {
		t.Fatalf("empty Backlog = %v, %v", b, err)
	}
	for i := 0; i < 3; i++ {
		e := newEvent("acme", fmt.Sprintf("b%d", i), int64(60+i), base)
		e.ReceivedAt = base.Add(time.Duration(i) * time.Minute)
		mustInsert(t, st, e)
	}
	g := newEvent("globex", "g0", 70, base)
	g.ReceivedAt = base.Add(time.Hour)
	gid := mustInsert(t, st, g)
	// Claim globex's event and give it two actions.
	for _, e := range claimEvents(t, st, "w", time.Minute, 10) {
		if e.ID == gid {
			a1 := action("bk1", 70, "Accept")
			a1.CreatedAt = base.Add(2 * time.Hour)
			a2 := action("bk2", 71, "Accept")
			a2.CreatedAt = base.Add(3 * time.Hour)
			complete(t, st, e.ID, "w", done(`{}`, a1, a2))
		}
	}
	b, err = st.Backlog(c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Backlog{
		"acme":   {PendingEvents: 3, OldestEvent: base},
		"globex": {PendingActions: 2, OldestAction: base.Add(2 * time.Hour)},
	}
	if len(b) != len(want) {
		t.Fatalf("Backlog = %+v, want %+v", b, want)
	}
	for k, w := range want {
		g := b[k]
		if g.PendingEvents != w.PendingEvents || !g.OldestEvent.Equal(w.OldestEvent) ||
			g.PendingActions != w.PendingActions || !g.OldestAction.Equal(w.OldestAction) {
			t.Fatalf("Backlog[%s] = %+v, want %+v", k, g, w)
		}
	}
}

func testListEvents(t *testing.T, st store.Store) {
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var all []int64
	for i, spec := range []struct {
		account, action string
		wo              int64
	}{
		{"acme", "NewWorkOrder", 1}, {"acme", "CheckedIn", 1}, {"other", "NewWorkOrder", 2},
		{"acme", "NewWorkOrder", 3}, {"acme", "CheckedIn", 3},
	} {
		e := newEvent(spec.account, fmt.Sprintf("list-%d", i), spec.wo, t0)
		e.Action = spec.action
		e.ReceivedAt = t0.Add(time.Duration(i) * time.Minute)
		all = append(all, mustInsert(t, st, e))
	}
	list := func(f store.EventFilter) []int64 {
		t.Helper()
		evs, err := st.ListEvents(ctx(t), f)
		if err != nil {
			t.Fatalf("ListEvents(%+v): %v", f, err)
		}
		got := make([]int64, len(evs))
		for i, e := range evs {
			got[i] = e.ID // unsorted: the order is part of the contract
		}
		n, err := st.CountEvents(ctx(t), f)
		if err != nil {
			t.Fatalf("CountEvents(%+v): %v", f, err)
		}
		if f.AfterID == 0 && f.Limit == 0 && n != int64(len(got)) {
			t.Fatalf("CountEvents(%+v) = %d, ListEvents returned %d", f, n, len(got))
		}
		return got
	}
	check := func(what string, got []int64, want ...int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: got ids %v, want %v (in this order)", what, got, want)
		}
	}
	check("everything", list(store.EventFilter{}), all...)
	check("account", list(store.EventFilter{Account: "acme"}), all[0], all[1], all[3], all[4])
	check("work order", list(store.EventFilter{Account: "acme", WorkOrderID: 3}), all[3], all[4])
	check("action", list(store.EventFilter{Action: "CheckedIn"}), all[1], all[4])
	check("since/until", list(store.EventFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}), all[1], all[2])
	check("page 1", list(store.EventFilter{Limit: 2}), all[0], all[1])
	check("page 2", list(store.EventFilter{Limit: 2, AfterID: all[1]}), all[2], all[3])
	check("last page", list(store.EventFilter{Limit: 2, AfterID: all[3]}), all[4])
	if n, err := st.CountEvents(ctx(t), store.EventFilter{Account: "acme", AfterID: all[3], Limit: 1}); err != nil || n != 4 {
		t.Fatalf("CountEvents ignores AfterID and Limit: got %d, %v, want 4", n, err)
	}
	evs, err := st.ListEvents(ctx(t), store.EventFilter{WorkOrderID: 2})
	if err != nil || len(evs) != 1 {
		t.Fatalf("ListEvents(work order 2): %v, %v", evs, err)
	}
	if e := evs[0]; e.Account != "other" || e.MessageID != "list-2" || !e.ReceivedAt.Equal(t0.Add(2*time.Minute)) || len(e.Body) == 0 {
		t.Fatalf("ListEvents returned %+v", e)
	}
}

func testSeenWorkOrders(t *testing.T, st store.Store) {
	c := ctx(t)
	mustInsert(t, st, newEvent("acme", "s1", 81, base))
	mustInsert(t, st, newEvent("acme", "s2", 81, base))
	mustInsert(t, st, newEvent("acme", "s3", 82, base))
	mustInsert(t, st, newEvent("globex", "s4", 83, base))
	query := []int64{81, 82, 83, 84}
	for i := 0; i < 1200; i++ { // more than one chunk of ids
		query = append(query, int64(10000+i))
	}
	seen, err := st.SeenWorkOrders(c, "acme", query)
	if err != nil {
		t.Fatal(err)
	}
	if !seen[81] || !seen[82] || seen[83] || seen[84] || seen[10000] {
		t.Fatalf("SeenWorkOrders = %v", seen)
	}
	if seen, err := st.SeenWorkOrders(c, "acme", nil); err != nil || len(seen) != 0 {
		t.Fatalf("SeenWorkOrders(nil) = %v, %v", seen, err)
	}
}

func testCommLog(t *testing.T, st store.Store) {
	c := ctx(t)
	if err := st.AppendLog(c); err != nil {
		t.Fatalf("AppendLog(): %v", err)
	}
	var entries []store.LogEntry
	for i := 0; i < 30; i++ {
		entries = append(entries, store.LogEntry{
			Time:            base.Add(time.Duration(i) * time.Minute),
			Duration:        time.Duration(i) * time.Millisecond,
			Account:         []string{"acme", "globex"}[i%2],
			Direction:       []string{"inbound", "outbound"}[i%3%2],
			Severity:        []string{"info", "warn", "error"}[i%3],
			Method:          "POST",
			URL:             fmt.Sprintf("https://example.test/api/%d", i),
			Status:          200 + i,
			WorkOrderID:     int64(i % 5),
			WorkOrderNumber: fmt.Sprintf("WO-%d", i%5),
			Customer:        []string{"c1", "c2", "c3"}[i%3],
			MessageID:       fmt.Sprintf("msg-%d", i),
			Request:         `{"a":1}`,
			Response:        `{"ok":true}`,
			Error:           map[bool]string{true: "boom"}[i%3 == 2],
		})
	}
	// Two appends: one of 20 entries, one of 10.
	if err := st.AppendLog(c, entries[:20]...); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendLog(c, entries[20:]...); err != nil {
		t.Fatal(err)
	}
	all, err := st.QueryLog(c, store.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 30 {
		t.Fatalf("QueryLog{} = %d entries", len(all))
	}
	// Newest first; round trip of every field.
	for i, l := range all {
		w := entries[29-i]
		if i > 0 && l.ID >= all[i-1].ID {
			t.Fatal("QueryLog not newest first")
		}
		l.ID = 0
		if !l.Time.Equal(w.Time) {
			t.Fatalf("entry %d time %v, want %v", i, l.Time, w.Time)
		}
		l.Time = w.Time
		if l != w {
			t.Fatalf("entry %d = %+v, want %+v", i, l, w)
		}
	}
	match := func(f store.LogFilter, keep func(i int, e store.LogEntry) bool) {
		t.Helper()
		got, err := st.QueryLog(c, f)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 29; i >= 0; i-- {
			if keep(i, entries[i]) {
				want = append(want, entries[i].MessageID)
			}
		}
		if f.Limit > 0 && len(want) > f.Limit {
			want = want[:f.Limit]
		}
		var have []string
		for _, e := range got {
			have = append(have, e.MessageID)
		}
		if fmt.Sprint(have) != fmt.Sprint(want) {
			t.Fatalf("QueryLog(%+v) = %v, want %v", f, have, want)
		}
	}
	match(store.LogFilter{Account: "globex"}, func(_ int, e store.LogEntry) bool { return e.Account == "globex" })
	match(store.LogFilter{Direction: "outbound"}, func(_ int, e store.LogEntry) bool { return e.Direction == "outbound" })
	match(store.LogFilter{Severity: "error"}, func(_ int, e store.LogEntry) bool { return e.Severity == "error" })
	match(store.LogFilter{WorkOrderID: 3}, func(_ int, e store.LogEntry) bool { return e.WorkOrderID == 3 })
	match(store.LogFilter{Customer: "c2"}, func(_ int, e store.LogEntry) bool { return e.Customer == "c2" })
	match(store.LogFilter{Since: base.Add(10 * time.Minute), Until: base.Add(20 * time.Minute)},
		func(i int, _ store.LogEntry) bool { return i >= 10 && i < 20 })
	match(store.LogFilter{Account: "acme", Severity: "info", Limit: 2},
		func(_ int, e store.LogEntry) bool { return e.Account == "acme" && e.Severity == "info" })
	// Paging: 7 per page until empty.
	var paged []int64
	var before int64
	for page := 0; page < 10; page++ {
		got, err := st.QueryLog(c, store.LogFilter{Limit: 7, BeforeID: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		for _, e := range got {
			paged = append(paged, e.ID)
		}
		before = got[len(got)-1].ID
	}
	if len(paged) != 30 {
		t.Fatalf("paging returned %d entries, want 30", len(paged))
	}
	for i := 1; i < len(paged); i++ {
		if paged[i] >= paged[i-1] {
			t.Fatalf("paging out of order: %v", paged)
		}
	}
	// Default limit is 100.
	var many []store.LogEntry
	for i := 0; i < 120; i++ {
		many = append(many, store.LogEntry{Time: base.Add(time.Hour), Account: "bulk"})
	}
	if err := st.AppendLog(c, many...); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.QueryLog(c, store.LogFilter{Account: "bulk"}); len(got) != 100 {
		t.Fatalf("default limit returned %d entries", len(got))
	}
	// A zero Time is stamped now.
	if err := st.AppendLog(c, store.LogEntry{Account: "now"}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.QueryLog(c, store.LogFilter{Account: "now"})
	if len(got) != 1 || time.Since(got[0].Time) > time.Minute {
		t.Fatalf("zero Time entry: %+v", got)
	}
}

func testKV(t *testing.T, st store.Store) {
	c := ctx(t)
	if v, ok, err := st.KVGet(c, "erp", "wo:1"); err != nil || ok || v != nil {
		t.Fatalf("KVGet(missing) = %q, %v, %v", v, ok, err)
	}
	val := []byte("job-17")
	if err := st.KVPut(c, "erp", "wo:1", val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied it
	if err := st.KVPut(c, "csv", "wo:1", []byte("other plugin")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := st.KVGet(c, "erp", "wo:1"); err != nil || !ok || string(v) != "job-17" {
		t.Fatalf("KVGet(erp) = %q, %v, %v", v, ok, err)
	}
	if v, ok, _ := st.KVGet(c, "csv", "wo:1"); !ok || string(v) != "other plugin" {
		t.Fatalf("KVGet(csv) = %q, %v", v, ok)
	}
	if err := st.KVPut(c, "erp", "wo:1", []byte("job-18")); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := st.KVGet(c, "erp", "wo:1"); string(v) != "job-18" {
		t.Fatalf("overwrite: %q", v)
	}
	if err := st.KVPut(c, "erp", "empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := st.KVGet(c, "erp", "empty"); err != nil || !ok || len(v) != 0 {
		t.Fatalf("empty value: %q, %v, %v", v, ok, err)
	}
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	if err := st.KVPut(c, "erp", "bin", bin); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := st.KVGet(c, "erp", "bin"); !bytes.Equal(v, bin) {
		t.Fatalf("binary value: %v", v)
	}
	if err := st.KVDelete(c, "erp", "wo:1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.KVGet(c, "erp", "wo:1"); ok {
		t.Fatal("deleted key still found")
	}
	if _, ok, _ := st.KVGet(c, "csv", "wo:1"); !ok {
		t.Fatal("deleting erp's key deleted csv's")
	}
	if err := st.KVDelete(c, "erp", "never"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	_, _, err := st.KVGet(c, "", "k")
	wantErr(t, "KVGet(no plugin)", err, store.ErrInvalid)
	wantErr(t, "KVPut(no key)", st.KVPut(c, "erp", "", []byte("x")), store.ErrInvalid)
}

func testWatermarks(t *testing.T, st store.Store) {
	c := ctx(t)
	if v, err := st.GetWatermark(c, "poll:acme"); err != nil || v != "" {
		t.Fatalf("unset watermark = %q, %v", v, err)
	}
	for _, v := range []string{"2025-03-14T09:00:00Z", "2025-03-14T10:00:00Z"} {
		if err := st.SetWatermark(c, "poll:acme", v); err != nil {
			t.Fatal(err)
		}
		if got, err := st.GetWatermark(c, "poll:acme"); err != nil || got != v {
			t.Fatalf("watermark = %q, %v; want %q", got, err, v)
		}
	}
	if got, _ := st.GetWatermark(c, "poll:globex"); got != "" {
		t.Fatalf("other watermark = %q", got)
	}
}

func testPrune(t *testing.T, st store.Store) {
	c := ctx(t)
	// done event with a sent action (prunable), done event with a pending
	// action (kept), dead event (kept), pending event (kept), ignored event
	// (prunable), done with a parked action (kept).
	mk := func(msg string, wo int64) int64 { return mustInsert(t, st, newEvent("acme", msg, wo, base)) }
	doneSent, donePending, dead, pending, ignored, doneParked := mk("p1", 91), mk("p2", 92), mk("p3", 93), mk("p4", 94), mk("p5", 95), mk("p6", 96)
	claimEvents(t, st, "w", time.Minute, 10)
	complete(t, st, doneSent, "w", done(`{}`, action("ps", 91, "Accept")))
	complete(t, st, donePending, "w", done(`{}`, action("pp", 92, "Accept")))
	complete(t, st, doneParked, "w", done(`{}`, action("pk", 96, "Accept")))
	for _, id := range []int64{dead, ignored} {
		if err := st.CompleteEvent(c, id, "w", store.Outcome{Status: store.EventDead}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.IgnoreEvent(c, ignored); err != nil {
		t.Fatal(err)
	}
	if err := st.RetryEvent(c, pending, "w", time.Now().Add(time.Hour), "later"); err != nil {
		t.Fatal(err)
	}
	for _, a := range claimActions(t, st, "eg", time.Minute, 10) {
		status := map[int64]store.ActionStatus{91: store.ActionSent, 96: store.ActionParked}[a.WorkOrderID]
		if status == "" {
			if err := st.RetryAction(c, a.ID, "eg", time.Now().Add(time.Hour), "later"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := st.FinishAction(c, a.ID, "eg", status, ""); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := st.AppendLog(c,
		store.LogEntry{Time: now.Add(-48 * time.Hour), Account: "old"},
		store.LogEntry{Time: now.Add(-10 * time.Minute), Account: "mid"},
		store.LogEntry{Time: now.Add(time.Hour), Account: "new"}); err != nil {
		t.Fatal(err)
	}
	logAccounts := func() string {
		t.Helper()
		got, err := st.QueryLog(c, store.LogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range got {
			names = append(names, e.Account)
		}
		return strings.Join(names, ",")
	}
	// Nothing is older than an hour ago except the old log line.
	n, err := st.Prune(c, store.PruneBefore{Events: now.Add(-time.Hour), Log: now.Add(-time.Hour)})
	if err != nil || n != 1 {
		t.Fatalf("Prune(an hour ago) = %d, %v; want 1 (the old log line)", n, err)
	}
	// The events cutoff alone: every handled event is older than a minute
	// from now, and no log line goes (a zero Log prunes no log).
	n, err = st.Prune(c, store.PruneBefore{Events: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// sent action + its event + ignored event = 3.
	if n != 3 {
		t.Fatalf("Prune(events: now+1m) deleted %d rows, want 3", n)
	}
	if got := logAccounts(); got != "new,mid" {
		t.Fatalf("log after pruning events only: %s, want new,mid", got)
	}
	// The log cutoff applies to the log alone: with the events cutoff a
	// day ahead, dead letters, pending events and events with pending or
	// parked actions still stay, and only the log line older than five
	// minutes goes.
	n, err = st.Prune(c, store.PruneBefore{Events: now.Add(24 * time.Hour), Log: now.Add(-5 * time.Minute)})
	if err != nil || n != 1 {
		t.Fatalf("Prune(events: now+24h, log: now-5m) = %d, %v; want 1 (the mid log line)", n, err)
	}
	if got := logAccounts(); got != "new" {
		t.Fatalf("log after prune: %s, want new", got)
	}
	// The log cutoff alone leaves events be, however far ahead it is.
	before, err := st.CountEvents(c, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err = st.Prune(c, store.PruneBefore{Log: now.Add(24 * time.Hour)}); err != nil || n != 1 {
		t.Fatalf("Prune(log: now+24h) = %d, %v; want 1 (the new log line)", n, err)
	}
	if after, err := st.CountEvents(c, store.EventFilter{}); err != nil || after != before {
		t.Fatalf("events %d before and %d after a log-only prune (%v)", before, after, err)
	}
	if n, err = st.Prune(c, store.PruneBefore{}); err != nil || n != 0 {
		t.Fatalf("Prune(zero) = %d, %v; want 0", n, err)
	}
	for _, id := range []int64{doneSent, ignored} {
		_, err := st.GetEvent(c, id)
		wantErr(t, fmt.Sprintf("pruned event %d", id), err, store.ErrNotFound)
	}
	for _, id := range []int64{donePending, dead, pending, doneParked} {
		if _, err := st.GetEvent(c, id); err != nil {
			t.Fatalf("event %d was pruned: %v", id, err)
		}
	}
	if as, _ := st.ActionsForWorkOrder(c, "acme", 91); len(as) != 0 {
		t.Fatal("sent action not pruned")
	}
	for _, wo := range []int64{92, 96} {
		if as, _ := st.ActionsForWorkOrder(c, "acme", wo); len(as) != 1 {
			t.Fatalf("action of work order %d pruned", wo)
		}
	}
	// A pruned MessageId is forgotten: documented, and checked so it stays
	// deliberate.
	if seen, _ := st.SeenMessage(c, "acme", "p1"); seen {
		t.Fatal("pruned message still seen")
	}
}

// testConcurrentWorkers runs several claimers against many lanes and checks
// the lane guarantees from the outside: never two events of a lane in
// flight at once, and each lane handled in ActionDate order, once.
func testConcurrentWorkers(t *testing.T, st store.Store) {
	const workers = 4
	lanes, perLane := 12, 8
	if raceEnabled {
		lanes, perLane = 8, 5
	}
	c := ctx(t)
	// Insert out of order: each lane's ActionDates in reverse arrival.
	var wg sync.WaitGroup
	for l := 0; l < lanes; l++ {
		wg.Add(1)
		go func(l int) {
			defer wg.Done()
			for i := perLane - 1; i >= 0; i-- {
				e := newEvent("acme", fmt.Sprintf("cw-%d-%d", l, i), int64(500+l), base.Add(time.Duration(i)*time.Minute))
				if _, err := st.InsertEvent(c, e); err != nil {
					t.Error(err)
					return
				}
			}
		}(l)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var mu sync.Mutex
	inFlight := map[int64]bool{}
	handled := map[int64][]time.Time{}
	var total atomic.Int64
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for total.Load() < int64(lanes*perLane) && c.Err() == nil {
				evs, err := st.ClaimEvents(c, owner, time.Minute, 3)
				if err != nil {
					errs <- err
					return
				}
				if len(evs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				for _, e := range evs {
					mu.Lock()
					if inFlight[e.WorkOrderID] {
						mu.Unlock()
						errs <- fmt.Errorf("lane %d: two events in flight", e.WorkOrderID)
						return
					}
					inFlight[e.WorkOrderID] = true
					handled[e.WorkOrderID] = append(handled[e.WorkOrderID], e.ActionDate)
					mu.Unlock()
				}
				time.Sleep(time.Millisecond) // "processing": widen the window a double claim would show in
				for _, e := range evs {
					mu.Lock()
					inFlight[e.WorkOrderID] = false
					mu.Unlock()
					if err := st.CompleteEvent(c, e.ID, owner, done(`{}`)); err != nil {
						errs <- err
						return
					}
					total.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(handled) != lanes {
		t.Fatalf("handled %d lanes, want %d", len(handled), lanes)
	}
	for wo, ts := range handled {
		if len(ts) != perLane {
			t.Fatalf("lane %d handled %d events, want %d", wo, len(ts), perLane)
		}
		for i := 1; i < len(ts); i++ {
			if !ts[i].After(ts[i-1]) {
				t.Fatalf("lane %d out of order: %v", wo, ts)
			}
		}
	}
}

func testClosed(t *testing.T, st store.Store) {
	c := ctx(t)
	id := mustInsert(t, st, newEvent("acme", "z1", 1, base))
	if err := st.Ping(c); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := st.InsertEvent(c, newEvent("acme", "z2", 1, base))
	wantErr(t, "InsertEvent after Close", err, store.ErrClosed)
	_, err = st.GetEvent(c, id)
	wantErr(t, "GetEvent after Close", err, store.ErrClosed)
	_, err = st.ClaimEvents(c, "w", time.Minute, 1)
	wantErr(t, "ClaimEvents after Close", err, store.ErrClosed)
	wantErr(t, "KVPut after Close", st.KVPut(c, "p", "k", nil), store.ErrClosed)
	_, err = st.QueryLog(c, store.LogFilter{})
	wantErr(t, "QueryLog after Close", err, store.ErrClosed)
	_, err = st.RecentWorkOrders(c, store.WorkOrderFilter{})
	wantErr(t, "RecentWorkOrders after Close", err, store.ErrClosed)
	wantErr(t, "Ping after Close", st.Ping(c), store.ErrClosed)
}

func testReopen(t *testing.T, open func(t *testing.T) (store.Store, func(t *testing.T) store.Store)) {
	st, reopen := open(t)
	c := ctx(t)
	e1 := mustInsert(t, st, newEvent("acme", "r1", 1, base))
	e2 := mustInsert(t, st, newEvent("acme", "r2", 2, base))
	claimEvents(t, st, "w", time.Minute, 10)
	complete(t, st, e1, "w", done(`{"kept":true}`, action("rk1", 1, "Accept")))
	if err := st.KVPut(c, "erp", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := st.SetWatermark(c, "poll", "w1"); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendLog(c, store.LogEntry{Account: "acme", MessageID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := reopen(t)
	ev, err := st2.GetEvent(c, e1)
	if err != nil || ev.Status != store.EventDone || string(ev.Decision) != `{"kept":true}` {
		t.Fatalf("event after reopen: %+v, %v", ev, err)
	}
	// e2 was leased by the old process; the lease survives and blocks
	// until it expires, exactly as after a crash.
	ev2, err := st2.GetEvent(c, e2)
	if err != nil || ev2.Status != store.EventPending || ev2.Attempts != 1 {
		t.Fatalf("leased event after reopen: %+v, %v", ev2, err)
	}
	if ok, err := st2.InsertEvent(c, newEvent("acme", "r1", 1, base)); ok || err != nil {
		t.Fatalf("dedup after reopen: %v, %v", ok, err)
	}
	as, err := st2.ActionsForWorkOrder(c, "acme", 1)
	if err != nil || len(as) != 1 || as[0].IdempotencyKey != "rk1" {
		t.Fatalf("actions after reopen: %+v, %v", as, err)
	}
	if v, ok, _ := st2.KVGet(c, "erp", "k"); !ok || string(v) != "v" {
		t.Fatal("kv lost on reopen")
	}
	if w, _ := st2.GetWatermark(c, "poll"); w != "w1" {
		t.Fatal("watermark lost on reopen")
	}
	if l, _ := st2.QueryLog(c, store.LogFilter{}); len(l) != 1 {
		t.Fatal("log lost on reopen")
	}
	// New ids continue after the old ones.
	e3 := mustInsert(t, st2, newEvent("acme", "r3", 3, base))
	if e3 <= e2 {
		t.Fatalf("id %d after reopen is not above %d", e3, e2)
	}
}

// testTraceContext: an event's and an action's W3C trace context survive
// every path that stores and returns them (single and batched inserts,
// claims, reads, dead letters), and an unset one stays empty.
func testTraceContext(t *testing.T, st store.Store) {
	c := ctx(t)
	const tpEvent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const tpAction = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
	traced := newEvent("acme", "t-1", 31, base)
	traced.TraceParent = tpEvent
	idTraced := mustInsert(t, st, traced)
	idPlain := mustInsert(t, st, newEvent("acme", "t-2", 32, base))
	// Concurrent inserts take the batched path of stores with group commit.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			e := newEvent("acme", fmt.Sprintf("t-batch-%d", i), int64(40+i), base)
			if i%2 == 0 {
				e.TraceParent = fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e47%02d-00f067aa0ba902b7-01", i)
			}
			if _, err := st.InsertEvent(c, e); err != nil {
				t.Errorf("InsertEvent(%s): %v", e.MessageID, err)
			}
		})
	}
	wg.Wait()

	evs := claimEvents(t, st, "w1", time.Minute, 20)
	if len(evs) != 10 {
		t.Fatalf("claimed %d events, want 10", len(evs))
	}
	for _, e := range evs {
		want := ""
		switch {
		case e.ID == idTraced:
			want = tpEvent
		case strings.HasPrefix(e.MessageID, "t-batch-"):
			var i int
			if _, err := fmt.Sscanf(e.MessageID, "t-batch-%d", &i); err != nil {
				t.Errorf("claimed event %s: %v", e.MessageID, err)
			}
			if i%2 == 0 {
				want = fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e47%02d-00f067aa0ba902b7-01", i)
			}
		}
		if e.TraceParent != want {
			t.Errorf("claimed event %s: TraceParent %q, want %q", e.MessageID, e.TraceParent, want)
		}
	}
	if got, err := st.GetEvent(c, idTraced); err != nil || got.TraceParent != tpEvent {
		t.Fatalf("GetEvent(traced) = %q, %v", got.TraceParent, err)
	}
	if got, err := st.GetEvent(c, idPlain); err != nil || got.TraceParent != "" {
		t.Fatalf("GetEvent(plain) = %q, %v; want empty", got.TraceParent, err)
	}

	withTrace := action("tk1", 31, "Accept")
	withTrace.TraceParent = tpAction
	complete(t, st, idTraced, "w1", done(`{}`, withTrace, action("tk2", 31, "AddNote")))
	as, err := st.ActionsForWorkOrder(c, "acme", 31)
	if err != nil || len(as) != 2 {
		t.Fatalf("ActionsForWorkOrder = %v, %v", as, err)
	}
	if as[0].TraceParent != tpAction || as[1].TraceParent != "" {
		t.Fatalf("action trace contexts %q, %q; want %q, empty", as[0].TraceParent, as[1].TraceParent, tpAction)
	}
	claimed, err := st.ClaimActions(c, "e1", time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != as[0].ID || claimed[0].TraceParent != tpAction {
		t.Fatalf("ClaimActions = %+v, %v; want action %d with its trace context", claimed, err, as[0].ID)
	}
	if err := st.FinishAction(c, as[0].ID, "e1", store.ActionDead, "boom"); err != nil {
		t.Fatal(err)
	}
	dl, err := st.ListDeadLetters(c, store.DeadLetterFilter{Kind: "action", Account: "acme", WorkOrderID: 31})
	if err != nil || len(dl) != 1 || dl[0].Action.TraceParent != tpAction {
		t.Fatalf("ListDeadLetters = %+v, %v", dl, err)
	}
	if got, err := st.GetAction(c, as[1].ID); err != nil || got.TraceParent != "" {
		t.Fatalf("GetAction(plain) = %q, %v; want empty", got.TraceParent, err)
	}
}
