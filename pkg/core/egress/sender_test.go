package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wogate/wogate/internal/backoff"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func outbox(t *testing.T, id int64, act pluginapi.Action, attempts int) store.OutboxAction {
	t.Helper()
	b, err := json.Marshal(act)
	if err != nil {
		t.Fatal(err)
	}
	return store.OutboxAction{
		ID: id, IdempotencyKey: fmt.Sprintf("ev%d/rule/0", id), Account: "main",
		WorkOrderID: act.WorkOrderID, Kind: string(act.Kind), Payload: b, Attempts: attempts,
		Status: store.ActionPending,
	}
}

type recObserver struct {
	mu       sync.Mutex
	outcomes []Outcome
	changes  []string
}

func (o *recObserver) ActionDone(_ string, _ pluginapi.ActionKind, out Outcome, _ time.Duration) {
	o.mu.Lock()
	o.outcomes = append(o.outcomes, out)
	o.mu.Unlock()
}

func (o *recObserver) BreakerChanged(account string, from, to BreakerState) {
	o.mu.Lock()
	o.changes = append(o.changes, fmt.Sprintf("%s:%s->%s", account, from, to))
	o.mu.Unlock()
}

func (o *recObserver) snapshot() ([]Outcome, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.outcomes...), append([]string(nil), o.changes...)
}

func newTestSender(t *testing.T, f *fakeCorrigo, opts Options) *Sender {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	return NewSender(map[string]API{"main": f.client(t)}, opts)
}

const cust = 90256

func wo(id int64, st corrigo.Status) corrigo.WorkOrder {
	return corrigo.WorkOrder{WorkOrderId: id, Status: st, Type: corrigo.TypeRequest, Customer: &corrigo.CustomerRef{ID: cust}}
}

func TestSendEveryKind(t *testing.T) {
	at := corrigo.NewTime(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	cases := []struct {
		act      pluginapi.Action
		from     corrigo.Status
		path     string
		wantBody string // substring of the JSON body sent
		after    corrigo.Status
	}{
		{pluginapi.Action{Kind: pluginapi.KindAccept, Comment: "on it"}, corrigo.StatusNew, "api/workOrder/accept", `"Comment":"on it"`, corrigo.StatusAccepted},
		{pluginapi.Action{Kind: pluginapi.KindReject, Comment: "out of area"}, corrigo.StatusNew, "api/workOrder/reject", `"Comment":"out of area"`, corrigo.StatusRejected},
		{pluginapi.Action{Kind: pluginapi.KindCheckIn, Location: &corrigo.GeoLocation{Latitude: 1.5, Longitude: 2}}, corrigo.StatusAccepted, "api/workOrder/checkIn", `"Latitude":1.5`, corrigo.StatusCheckedIn},
		{pluginapi.Action{Kind: pluginapi.KindPause}, corrigo.StatusCheckedIn, "api/workOrder/pause", `"WorkOrderId"`, corrigo.StatusPaused},
		{pluginapi.Action{Kind: pluginapi.KindCheckOut, Comment: "fixed", RepairInfo: &corrigo.RepairInfo{CodeId: 11, Code: "FIXED"},
			CustomFields: []corrigo.CustomField{{Id: 7, Value: "Wear"}}}, corrigo.StatusCheckedIn, "api/workOrder/checkOut", `"Code":"FIXED"`, corrigo.StatusCheckedOut},
		{pluginapi.Action{Kind: pluginapi.KindWorkDoneDetails, RepairInfo: &corrigo.RepairInfo{CodeId: 11}, CustomFields: []corrigo.CustomField{{Id: 7, Value: "Wear"}}},
			corrigo.StatusNeedsCompletionDetails, "api/workOrder/workDoneDetails", `"CodeId":11`, corrigo.StatusCheckedOut},
		{pluginapi.Action{Kind: pluginapi.KindQuote, Amount: 250, Comment: "parts"}, corrigo.StatusAccepted, "api/workOrder/quoteSubmit", `"Amount":250`, corrigo.StatusAccepted},
		{pluginapi.Action{Kind: pluginapi.KindQuote, LineItems: []corrigo.LineItem{{Quantity: 2, Rate: 40}, {Amount: 20}}}, corrigo.StatusAccepted, "api/workOrder/quoteSubmit", `"Amount":100`, corrigo.StatusAccepted},
		{pluginapi.Action{Kind: pluginapi.KindInvoiceUpdate, Invoice: &corrigo.Invoice{InvoiceNumber: "INV-1", TotalAmount: 99}}, corrigo.StatusCheckedOut, "api/invoice", `"InvoiceNumber":"INV-1"`, corrigo.StatusCheckedOut},
		{pluginapi.Action{Kind: pluginapi.KindInvoiceSubmit, SubmitAnyway: true}, corrigo.StatusCheckedOut, "api/invoice/submit", `"SubmitAnyway":true`, corrigo.StatusCheckedOut},
		{pluginapi.Action{Kind: pluginapi.KindNote, Text: "called the tenant", PerformedBy: &corrigo.Person{Name: "Ann"}}, corrigo.StatusOnHold, "api/workOrder/note", `"InternalNote":"called the tenant"`, corrigo.StatusOnHold},
		{pluginapi.Action{Kind: pluginapi.KindMessage, Text: "on our way", Visibility: "All"}, corrigo.StatusAccepted, "api/messages", `"MessageVisibility":"All"`, corrigo.StatusAccepted},
		{pluginapi.Action{Kind: pluginapi.KindAppointment, Appointment: &corrigo.Appointment{ScheduledStart: at, Pte: "Appointment"}}, corrigo.StatusAccepted, "api/workOrder/appointmentInfo", `"Pte":"Appointment"`, corrigo.StatusAccepted},
	}
	f := newFakeCorrigo(t)
	f.settings[cust] = corrigo.CustomerSettings{CustomerId: cust, RepairInfoRequired: true,
		CustomFields: []corrigo.CustomFieldSetting{{Id: 7, Label: "Cause", IsRequired: true, Values: []string{"Wear"}}}}
	obs := &recObserver{}
	s := newTestSender(t, f, Options{Observer: obs})
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, c.act.Kind), func(t *testing.T) {
			id := int64(1000 + i)
			f.addWO(wo(id, c.from))
			act := c.act
			act.WorkOrderID = id
			a := outbox(t, id, act, 1)
			r := s.Send(context.Background(), a)
			if r.Status != store.ActionSent || r.Retry {
				t.Fatalf("result %+v", r)
			}
			var mine []fakeCall
			for _, call := range f.callsTo(c.path) {
				if call.Method != "GET" && fmt.Sprint(call.Body["WorkOrderId"]) == fmt.Sprint(id) ||
					call.Body["Invoice"] != nil && fmt.Sprint(call.Body["Invoice"].(map[string]any)["WorkOrderId"]) == fmt.Sprint(id) {
					mine = append(mine, call)
				}
			}
			if len(mine) != 1 {
				t.Fatalf("%d calls to %s for work order %d, want 1", len(mine), c.path, id)
			}
			if want := MessageID("", a.IdempotencyKey); mine[0].MessageID != want {
				t.Fatalf("MessageId %q, want %q derived from the idempotency key", mine[0].MessageID, want)
			}
			body, _ := json.Marshal(mine[0].Body)
			if !strings.Contains(string(body), c.wantBody) {
				t.Fatalf("body %s lacks %s", body, c.wantBody)
			}
			if got := f.wo(id).Status; got != c.after {
				t.Fatalf("CorrigoPro status %s, want %s", got, c.after)
			}
			// Notes need no status, so the guard never learns it for them.
			if st, ok := s.Guard().Status("main", id); act.Kind != pluginapi.KindNote && (!ok || st != c.after) {
				t.Fatalf("guard cache status %q (%v), want %s", st, ok, c.after)
			}
		})
	}
	outs, _ := obs.snapshot()
	if len(outs) != len(cases) {
		t.Fatalf("observer saw %d outcomes, want %d", len(outs), len(cases))
	}
	for _, o := range outs {
		if o != OutcomeSent {
			t.Fatalf("outcome %s", o)
		}
	}
}

func TestSendRefusedSendsNothing(t *testing.T) {
	f := newFakeCorrigo(t)
	f.settings[cust] = corrigo.CustomerSettings{CustomerId: cust, RepairInfoRequired: true}
	f.addWO(wo(1, corrigo.StatusCheckedIn))
	f.addWO(wo(2, corrigo.StatusRecalled))
	s := newTestSender(t, f, Options{})
	cases := []struct {
		act  pluginapi.Action
		want string
	}{
		{pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 1}, "accept refused: CorrigoPro allows it only when the work order is New; work order 1 is CheckedIn"},
		{pluginapi.Action{Kind: pluginapi.KindCheckOut, WorkOrderID: 1}, "check_out refused: customer 90256 requires RepairInfo"},
		{pluginapi.Action{Kind: pluginapi.KindMessage, WorkOrderID: 2, Text: "hi"}, "message refused: work order 2 is Recalled, which is final; CorrigoPro allows nothing on it"},
		{pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 2, Text: "hi"}, "note refused: work order 2 is Recalled, which is final; CorrigoPro allows nothing on it"},
	}
	for i, c := range cases {
		r := s.Send(context.Background(), outbox(t, int64(i+1), c.act, 1))
		if r.Status != store.ActionRefused || r.Retry || r.Reason != c.want {
			t.Errorf("%s: result %+v, want refused %q", c.act.Kind, r, c.want)
		}
	}
	for _, c := range f.calls {
		if c.Method != "GET" {
			t.Fatalf("a refused action reached CorrigoPro: %s %s", c.Method, c.Path)
		}
	}
}

func TestSendClassification(t *testing.T) {
	cases := []struct {
		name      string
		act       pluginapi.Action
		from      corrigo.Status
		path      string
		faults    []fault
		want      store.ActionStatus // when not retried
		retry     bool
		class     corrigo.Class
		reasonHas string
	}{
		{name: "503 transient", path: "api/workOrder/accept", faults: []fault{{503, 1000, "busy", ""}}, retry: true, class: corrigo.ClassTransient},
		{name: "500 transient", path: "api/workOrder/accept", faults: []fault{{500, 0, "", ""}}, retry: true, class: corrigo.ClassTransient},
		{name: "429 transient", path: "api/workOrder/accept", faults: []fault{{429, 0, "slow down", ""}}, retry: true, class: corrigo.ClassTransient},
		{name: "2100 validation dead", path: "api/workOrder/accept", faults: []fault{{400, 2100, "Model data validation failed", ""}}, want: store.ActionDead, class: corrigo.ClassValidation, reasonHas: "code 2100"},
		{name: "3001 state dead", path: "api/workOrder/accept", faults: []fault{{400, 3001, "invalid state", ""}}, want: store.ActionDead, class: corrigo.ClassPermanent, reasonHas: "code 3001"},
		{name: "3002 prebilled dead", path: "api/workOrder/accept", faults: []fault{{400, 3002, "prebilled", ""}}, want: store.ActionDead, class: corrigo.ClassPermanent},
		{name: "3005 recalled dead", path: "api/workOrder/accept", faults: []fault{{400, 3005, "recalled", ""}}, want: store.ActionDead, class: corrigo.ClassPermanent},
		{name: "3000 business parked", path: "api/workOrder/accept", faults: []fault{{400, 3000, "read the message", ""}}, want: store.ActionParked, class: corrigo.ClassNeedsPerson, reasonHas: "read the message"},
		{name: "3056 tax mismatch parked", act: pluginapi.Action{Kind: pluginapi.KindInvoiceSubmit}, from: corrigo.StatusCheckedOut, path: "api/invoice/submit",
			faults: []fault{{400, 3056, "tax mismatch", ""}}, want: store.ActionParked, class: corrigo.ClassNeedsPerson, reasonHas: "3056"},
		{name: "401 twice auth retry", path: "api/workOrder/accept", faults: []fault{{401, 2000, "Unauthorized", ""}, {401, 2000, "Unauthorized", ""}}, retry: true, class: corrigo.ClassAuth},
		{name: "401 once recovers", path: "api/workOrder/accept", faults: []fault{{401, 2000, "Unauthorized", ""}}, want: store.ActionSent},
		{name: "404 without body dead", path: "api/workOrder/accept", faults: []fault{{404, 0, "", ""}}, want: store.ActionDead, class: corrigo.ClassNotFound},
		{name: "guard fetch 503 retries", path: "api/workOrder", faults: []fault{{503, 1000, "busy", ""}}, retry: true, class: corrigo.ClassTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCorrigo(t)
			from := c.from
			if from == "" {
				from = corrigo.StatusNew
			}
			f.addWO(wo(5, from))
			for _, ft := range c.faults {
				f.fail(c.path, 1, ft)
			}
			s := newTestSender(t, f, Options{Breaker: BreakerOptions{ConsecutiveFailures: 100}})
			act := c.act
			if act.Kind == "" {
				act.Kind = pluginapi.KindAccept
			}
			act.WorkOrderID = 5
			r := s.Send(context.Background(), outbox(t, 5, act, 1))
			if r.Retry != c.retry {
				t.Fatalf("retry %v, want %v (%+v)", r.Retry, c.retry, r)
			}
			if c.retry {
				if r.RetryAfter <= 0 {
					t.Fatalf("retry without a delay: %+v", r)
				}
			} else if r.Status != c.want {
				t.Fatalf("status %q, want %q (%+v)", r.Status, c.want, r)
			}
			if r.Class != c.class {
				t.Fatalf("class %q, want %q (%v)", r.Class, c.class, r.Err)
			}
			if !strings.Contains(r.Reason, c.reasonHas) {
				t.Fatalf("reason %q lacks %q", r.Reason, c.reasonHas)
			}
		})
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	// The bounds of the formula are internal/backoff's TestJitteredBounds.
	// Through Send: a transient failure at attempts 1..8 with fixed jitter
	// gives delays that double and then stay at the cap.
	f := newFakeCorrigo(t)
	f.addWO(wo(9, corrigo.StatusAccepted))
	f.fail("api/workOrder/note", 8, fault{503, 1000, "busy", ""})
	s := newTestSender(t, f, Options{InitialBackoff: time.Second, MaxBackoff: 10 * time.Second, MaxAttempts: 100,
		Breaker: BreakerOptions{ConsecutiveFailures: 100}, Jitter: func() float64 { return 0.5 }})
	want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second,
		7500 * time.Millisecond, 7500 * time.Millisecond, 7500 * time.Millisecond, 7500 * time.Millisecond}
	for i, w := range want {
		r := s.Send(context.Background(), outbox(t, 9, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 9, Text: "x"}, i+1))
		if !r.Retry || r.RetryAfter != w {
			t.Fatalf("attempt %d: %+v, want retry after %v", i+1, r, w)
		}
	}
}

func TestMaxAttemptsMakesDead(t *testing.T) {
	f := newFakeCorrigo(t)
	f.addWO(wo(9, corrigo.StatusAccepted))
	f.down.Store(true)
	s := newTestSender(t, f, Options{MaxAttempts: 3, Breaker: BreakerOptions{ConsecutiveFailures: 100}})
	note := pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 9, Text: "x"}
	if r := s.Send(context.Background(), outbox(t, 9, note, 2)); !r.Retry {
		t.Fatalf("attempt 2 of 3: %+v", r)
	}
	r := s.Send(context.Background(), outbox(t, 9, note, 3))
	if r.Retry || r.Status != store.ActionDead || !strings.HasPrefix(r.Reason, "gave up after 3 attempts: ") {
		t.Fatalf("attempt 3 of 3: %+v", r)
	}
}

func TestBreakerOpensAndCloses(t *testing.T) {
	f := newFakeCorrigo(t)
	for id := int64(1); id <= 10; id++ {
		f.addWO(wo(id, corrigo.StatusAccepted))
	}
	obs := &recObserver{}
	s := newTestSender(t, f, Options{Observer: obs,
		Breaker: BreakerOptions{ConsecutiveFailures: 3, OpenTimeout: 50 * time.Millisecond}})
	note := func(id int64) store.OutboxAction {
		return outbox(t, id, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: id, Text: "x"}, 1)
	}
	ctx := context.Background()

	// Business-rule answers come from a healthy CorrigoPro: no trip.
	f.fail("api/workOrder/note", 5, fault{400, 3001, "no", ""})
	for i := range 5 {
		if r := s.Send(ctx, note(int64(i+1))); r.Status != store.ActionDead {
			t.Fatalf("3001: %+v", r)
		}
	}
	if st := s.BreakerState("main"); st != BreakerClosed {
		t.Fatalf("breaker %s after permanent errors, want closed", st)
	}

	// Three transient failures in a row open it.
	f.down.Store(true)
	for i := range 3 {
		if r := s.Send(ctx, note(int64(i+1))); !r.Retry || r.Class != corrigo.ClassTransient {
			t.Fatalf("outage send %d: %+v", i, r)
		}
	}
	if st := s.BreakerState("main"); st != BreakerOpen {
		t.Fatalf("breaker %s after 3 transient failures, want open", st)
	}
	before := f.callCount()
	r := s.Send(ctx, note(4))
	if !r.Retry || !strings.Contains(r.Reason, "circuit breaker") {
		t.Fatalf("send with open breaker: %+v", r)
	}
	if f.callCount() != before {
		t.Fatal("an open breaker let a call through")
	}

	// CorrigoPro recovers: after the open timeout a probe goes through and
	// closes the breaker. Poll (no timing assertion) until it does.
	f.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.Send(ctx, note(5))
		if r.Status == store.ActionSent && !r.Retry {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker never let a probe through: %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.BreakerState("main"); st != BreakerClosed {
		t.Fatalf("breaker %s after recovery, want closed", st)
	}
	_, changes := obs.snapshot()
	want := []string{"main:closed->open", "main:open->half-open", "main:half-open->closed"}
	if strings.Join(changes, ",") != strings.Join(want, ",") {
		t.Fatalf("breaker changes %v, want %v", changes, want)
	}
}

func TestResendCheck(t *testing.T) {
	ctx := context.Background()
	f := newFakeCorrigo(t)
	s := newTestSender(t, f, Options{})

	// accept reached CorrigoPro before the crash: sent, not resent.
	f.addWO(wo(1, corrigo.StatusAccepted))
	r := s.Send(ctx, outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 1}, 2))
	if r.Status != store.ActionSent || r.Retry || !strings.Contains(r.Reason, "already Accepted") {
		t.Fatalf("accept resend: %+v", r)
	}
	if n := len(f.callsTo("api/workOrder/accept")); n != 0 {
		t.Fatalf("accept called %d times, want 0", n)
	}
	// It did not: sent now, marked as a resend.
	f.addWO(wo(2, corrigo.StatusNew))
	r = s.Send(ctx, outbox(t, 2, pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 2}, 2))
	if r.Status != store.ActionSent || !r.Resent || len(f.callsTo("api/workOrder/accept")) != 1 {
		t.Fatalf("accept not yet done: %+v", r)
	}
	// Later state also shows the accept landed.
	f.addWO(wo(3, corrigo.StatusCheckedIn))
	if r = s.Send(ctx, outbox(t, 3, pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 3}, 3)); r.Status != store.ActionSent || r.Reason == "" {
		t.Fatalf("accept on CheckedIn: %+v", r)
	}
	// check in already CheckedIn.
	if r = s.Send(ctx, outbox(t, 3, pluginapi.Action{Kind: pluginapi.KindCheckIn, WorkOrderID: 3}, 2)); r.Status != store.ActionSent || len(f.callsTo("api/workOrder/checkIn")) != 0 {
		t.Fatalf("check in resend: %+v", r)
	}
	// quote already Submitted with the same amount: sent; another amount:
	// refused (CorrigoPro takes one quote).
	q := wo(4, corrigo.StatusAccepted)
	q.Nte = &corrigo.Nte{Quote: &corrigo.Quote{Amount: 250, QuoteStatus: corrigo.QuoteSubmitted}}
	f.addWO(q)
	if r = s.Send(ctx, outbox(t, 4, pluginapi.Action{Kind: pluginapi.KindQuote, WorkOrderID: 4, Amount: 250}, 2)); r.Status != store.ActionSent {
		t.Fatalf("quote resend: %+v", r)
	}
	if r = s.Send(ctx, outbox(t, 4, pluginapi.Action{Kind: pluginapi.KindQuote, WorkOrderID: 4, Amount: 300}, 2)); r.Status != store.ActionRefused {
		t.Fatalf("other quote: %+v", r)
	}
	if n := len(f.callsTo("api/workOrder/quoteSubmit")); n != 0 {
		t.Fatalf("quoteSubmit called %d times", n)
	}
	// invoice already submitted (status left Draft): not resubmitted.
	f.addWO(wo(6, corrigo.StatusCheckedOut))
	f.mu.Lock()
	f.invoices[6] = &corrigo.Invoice{WorkOrderId: 6, Status: corrigo.InvoicePendingVerification}
	f.mu.Unlock()
	if r = s.Send(ctx, outbox(t, 6, pluginapi.Action{Kind: pluginapi.KindInvoiceSubmit, WorkOrderID: 6}, 2)); r.Status != store.ActionSent || !strings.Contains(r.Reason, "PendingVerification") {
		t.Fatalf("invoice resend: %+v", r)
	}
	if n := len(f.callsTo("api/invoice/submit")); n != 0 {
		t.Fatalf("invoice submit called %d times", n)
	}
	// A note whose action has no creation time cannot be checked against
	// the note history (nor can one where the API has no note history, as
	// here): resent with the same MessageId as the first attempt.
	f.addWO(wo(7, corrigo.StatusAccepted))
	n := outbox(t, 7, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 7, Text: "x"}, 1)
	s.Send(ctx, n)
	n.Attempts = 2
	if r = s.Send(ctx, n); r.Status != store.ActionSent || !r.Resent {
		t.Fatalf("note resend: %+v", r)
	}
	calls := f.callsTo("api/workOrder/note")
	if len(calls) != 2 || calls[0].MessageID != calls[1].MessageID || calls[0].MessageID != MessageID("", n.IdempotencyKey) {
		t.Fatalf("note calls %+v: want two with the same derived MessageId", calls)
	}
	// The note history lookup failing transiently means retry; failing
	// otherwise (this fake has no such endpoint: 404) means resend.
	f.fail("api/workOrder/noteHistory", 1, fault{503, 1000, "busy", ""})
	n.Attempts, n.CreatedAt = 3, time.Now()
	if r = s.Send(ctx, n); !r.Retry || !strings.Contains(r.Reason, "note history") {
		t.Fatalf("note history failing: %+v", r)
	}
	if r = s.Send(ctx, n); r.Status != store.ActionSent || !r.Resent || len(f.callsTo("api/workOrder/note")) != 3 {
		t.Fatalf("note without a note history: %+v", r)
	}
	// The resend check itself failing transiently means retry.
	f.fail("api/workOrder", 1, fault{503, 1000, "busy", ""})
	if r = s.Send(ctx, outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 1}, 2)); !r.Retry || !strings.Contains(r.Reason, "before resending") {
		t.Fatalf("resend check failing: %+v", r)
	}
}

func TestSendBadInput(t *testing.T) {
	f := newFakeCorrigo(t)
	s := newTestSender(t, f, Options{})
	good := outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 1)
	cases := []struct {
		name string
		mod  func(*store.OutboxAction)
		want string
	}{
		{"not json", func(a *store.OutboxAction) { a.Payload = []byte("{nope") }, "decode action payload"},
		{"null payload", func(a *store.OutboxAction) { a.Payload = nil }, "decode action payload"},
		{"kind mismatch", func(a *store.OutboxAction) { a.Kind = "accept" }, `payload kind "note" differs from the outbox row's "accept"`},
		{"work order mismatch", func(a *store.OutboxAction) { a.WorkOrderID = 2 }, "payload names work order 1 but the outbox row is for 2"},
		{"no work order", func(a *store.OutboxAction) {
			a.WorkOrderID = 0
			a.Payload = []byte(`{"Kind":"note","Text":"x"}`)
		}, "note has no work order id"},
		{"invalid action", func(a *store.OutboxAction) {
			a.Payload = []byte(`{"Kind":"reject","WorkOrderID":1}`)
			a.Kind = "reject"
		}, "invalid action: reject needs a Comment"},
		{"unknown kind", func(a *store.OutboxAction) { a.Payload = []byte(`{"Kind":"teleport","WorkOrderID":1}`); a.Kind = "" }, `unknown action kind "teleport"`},
		{"unknown account", func(a *store.OutboxAction) { a.Account = "other" }, `unknown account "other"`},
		{"invoice for another work order", func(a *store.OutboxAction) {
			a.Payload = []byte(`{"Kind":"invoice_update","WorkOrderID":1,"Invoice":{"WorkOrderId":2}}`)
			a.Kind = "invoice_update"
		}, "invoice names work order 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := good
			c.mod(&a)
			r := s.Send(context.Background(), a)
			if r.Retry || r.Status != store.ActionDead || !strings.Contains(r.Reason, c.want) {
				t.Fatalf("result %+v, want dead with %q", r, c.want)
			}
		})
	}
	if f.callCount() != 0 {
		t.Fatal("bad input reached CorrigoPro")
	}
}

func TestSendCanceled(t *testing.T) {
	f := newFakeCorrigo(t)
	f.addWO(wo(1, corrigo.StatusAccepted))
	obs := &recObserver{}
	s := newTestSender(t, f, Options{Observer: obs})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := s.Send(ctx, outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 1))
	if !r.Retry || r.Class != corrigo.ClassCanceled || r.Outcome() != OutcomeCanceled {
		t.Fatalf("canceled send: %+v", r)
	}
	if st := s.BreakerState("main"); st != BreakerClosed {
		t.Fatalf("cancellation moved the breaker to %s", st)
	}
}

func TestMessageID(t *testing.T) {
	a, b := MessageID("", "ev1/rule/0"), MessageID("", "ev1/rule/0")
	if a != b {
		t.Fatalf("not deterministic: %s %s", a, b)
	}
	if MessageID("", "ev1/rule/1") == a {
		t.Fatal("different keys share a MessageId")
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 {
		t.Fatalf("%s is not a version 5 UUID: %v", a, err)
	}
	if p := MessageID("wogate-", "ev1/rule/0"); p != "wogate-"+a {
		t.Fatalf("prefix: %s", p)
	}
}

// TestDefaultRetrySpan pins the documented span of the default retry
// schedule (docs/delivery.md): the sum of the waits before the last attempt.
func TestDefaultRetrySpan(t *testing.T) {
	o := Options{}.withDefaults()
	var lo, hi time.Duration
	for attempt := 1; attempt < o.MaxAttempts; attempt++ {
		lo += backoff.Jittered(o.InitialBackoff, o.MaxBackoff, attempt, 0)
		hi += backoff.Jittered(o.InitialBackoff, o.MaxBackoff, attempt, 0.999999999)
	}
	t.Logf("default schedule: %d attempts, %d waits, total wait between %v and %v", o.MaxAttempts, o.MaxAttempts-1, lo, hi.Round(time.Second))
	if lo < 6500*time.Second || hi > 13100*time.Second {
		t.Fatalf("span %v..%v drifted from the documented 1.8–3.6 h", lo, hi)
	}
}

// TestAccountBreakerOverride: an account's own breaker settings apply to
// it alone; other accounts keep Options.Breaker.
func TestAccountBreakerOverride(t *testing.T) {
	strict, lax := newFakeCorrigo(t), newFakeCorrigo(t)
	for _, f := range []*fakeCorrigo{strict, lax} {
		f.addWO(wo(1, corrigo.StatusAccepted))
		f.down.Store(true)
	}
	s := NewSender(map[string]API{"strict": strict.client(t), "lax": lax.client(t)}, Options{Logger: quiet,
		Breaker:         BreakerOptions{ConsecutiveFailures: 3, OpenTimeout: time.Hour},
		AccountBreakers: map[string]BreakerOptions{"strict": {ConsecutiveFailures: 1}}})
	ctx := context.Background()
	note := func(account string) store.OutboxAction {
		a := outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 1)
		a.Account = account
		return a
	}
	if r := s.Send(ctx, note("strict")); !r.Retry || r.Class != corrigo.ClassTransient {
		t.Fatalf("strict send: %+v", r)
	}
	if st := s.BreakerState("strict"); st != BreakerOpen {
		t.Fatalf("strict breaker %s after one failure, want open (its own consecutive_failures: 1)", st)
	}
	for i := range 2 {
		s.Send(ctx, note("lax"))
		if st := s.BreakerState("lax"); st != BreakerClosed {
			t.Fatalf("lax breaker %s after %d failures, want closed (the default 3)", st, i+1)
		}
	}
	s.Send(ctx, note("lax"))
	if st := s.BreakerState("lax"); st != BreakerOpen {
		t.Fatalf("lax breaker %s after 3 failures, want open", st)
	}
	// The override's zero fields take Options.Breaker's: strict stays open
	// for the hour, not the 30s default.
	if got := s.breakerOptions("strict"); got.OpenTimeout != time.Hour || got.HalfOpenRequests != 1 {
		t.Fatalf("strict options %+v", got)
	}
}

func TestInvoiceHasUpdate(t *testing.T) {
	day := corrigo.NewTime(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	update := &corrigo.Invoice{InvoiceNumber: "I-1", InvoiceDate: day, DiscountAmount: 2,
		LineItems: []corrigo.LineItem{{Type: corrigo.LineItemLabor, Quantity: 1.5, Rate: 80}}}
	current := func(mod func(*corrigo.Invoice)) *corrigo.Invoice {
		inv := &corrigo.Invoice{InvoiceNumber: "I-1", InvoiceDate: corrigo.NewTime(day.Add(300 * time.Millisecond)), DiscountAmount: 2.001,
			Status: corrigo.InvoiceDraft, TotalAmount: 118,
			LineItems: []corrigo.LineItem{{Id: 9, Type: corrigo.LineItemLabor, Category: "Labor", Description: "filled in", Quantity: 1.5, Rate: 80, Amount: 120}}}
		if mod != nil {
			mod(inv)
		}
		return inv
	}
	tests := []struct {
		name string
		inv  *corrigo.Invoice
		want bool
	}{
		{"same, with what CorrigoPro fills in", current(nil), true},
		{"other rate", current(func(i *corrigo.Invoice) { i.LineItems[0].Rate = 80.01 }), false},
		{"other quantity", current(func(i *corrigo.Invoice) { i.LineItems[0].Quantity = 2 }), false},
		{"extra line", current(func(i *corrigo.Invoice) { i.LineItems = append(i.LineItems, corrigo.LineItem{Quantity: 1}) }), false},
		{"other number", current(func(i *corrigo.Invoice) { i.InvoiceNumber = "I-2" }), false},
		{"other discount", current(func(i *corrigo.Invoice) { i.DiscountAmount = 3 }), false},
		{"other date", current(func(i *corrigo.Invoice) { i.InvoiceDate = corrigo.NewTime(day.Add(24 * time.Hour)) }), false},
		{"other comment", current(func(i *corrigo.Invoice) { i.Comment = "x" }), false},
	}
	for _, tc := range tests {
		if got := invoiceHasUpdate(tc.inv, update); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	withID := *update
	withID.LineItems = []corrigo.LineItem{{Id: 8, Type: corrigo.LineItemLabor, Quantity: 1.5, Rate: 80}}
	if invoiceHasUpdate(current(nil), &withID) {
		t.Error("a line referenced by another id matched")
	}
}
