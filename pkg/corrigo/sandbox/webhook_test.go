package sandbox_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestWebhookDelivery checks the transport of a notification: method,
// headers, a token that verifies against the served certificate, and a body
// that decodes into the action's payload.
func TestWebhookDelivery(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url})
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypePMRM})
	if err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	d := got[0]
	if ct := d.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if et := d.Header.Get("Event-Type"); et != "NewWorkOrder" {
		t.Fatalf("Event-Type %q", et)
	}
	auth := d.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer H4sI") || !strings.Contains(auth, "<---->") {
		t.Fatalf("Authorization %q", auth)
	}
	// The certificate is served at its download URL.
	resp, err := testhttp.Get(t.Context(), sb.CertificateURL())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := make([]byte, 8192)
	n, _ := resp.Body.Read(pemBytes)
	_ = resp.Body.Close()
	v, err := corrigo.NewVerifier(pemBytes[:n], corrigo.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := v.Verify(auth)
	if err != nil {
		t.Fatalf("webhook token does not verify: %v", err)
	}
	if tk.Audience() != corrigo.DefaultAudience {
		t.Fatalf("audience %q", tk.Audience())
	}
	if d.N == nil {
		t.Fatalf("body does not decode: %s", d.Body)
	}
	h := d.N.Header
	if h.WorkOrderId != wo.WorkOrderId || h.BranchId != wo.BranchId || h.Action != corrigo.ActionNewWorkOrder ||
		h.ApiVersion != sandbox.ApiVersion || h.MessageId == "" || h.ActionDate.IsZero() || h.Sender == nil || h.Sender.Type != "Customer" {
		t.Fatalf("header %+v", h)
	}
	p, ok := d.N.Payload.(corrigo.NewWorkOrderPayload)
	if !ok || p.Details.WorkOrderNumber != wo.WorkOrderNumber || len(p.Details.WorkDetails.Procedures) == 0 {
		t.Fatalf("payload %#v", d.N.Payload)
	}
	ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId})
	if len(ns) != 1 || ns[0].State != sandbox.StateDelivered || ns[0].Attempts != 1 || ns[0].MessageId != h.MessageId {
		t.Fatalf("notifications %+v", ns)
	}
	out := sb.Usage(sandbox.UsageFilter{Direction: sandbox.DirectionOutbound})
	if len(out) != 1 || out[0].Status != 200 || out[0].Action != "NewWorkOrder" || out[0].WorkOrderNumber != wo.WorkOrderNumber || out[0].Customer != "Harbor Retail Group" {
		t.Fatalf("outbound usage %+v", out)
	}
}

// TestWebhookPerAction: one notification per customer or Desktop action,
// with the documented payload, and none for API actions.
func TestWebhookPerAction(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, c := start(t, sandbox.Options{WebhookURL: rc.url, WebhookConcurrency: 1})
	ctx := context.Background()

	// API-initiated actions send nothing.
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	wantErr(t, c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: id}), 0)
	wantErr(t, c.CheckIn(ctx, corrigo.CheckInRequest{WorkOrderId: id}), 0)
	wantErr(t, c.PostMessage(ctx, corrigo.PostMessageRequest{WorkOrderId: id, Text: "hello"}), 0)
	idle(t, sb)
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("%d notifications for API actions", n)
	}

	sla := &corrigo.Sla{DueDate: corrigo.NewTime(time.Now().Add(48 * time.Hour)), PriorityName: "EMERGENCY"}
	appt := &corrigo.Appointment{ScheduledStart: corrigo.NewTime(time.Now().Add(3 * time.Hour).Truncate(time.Second)), Pte: "Appointment"}
	tests := []struct {
		name   string
		from   corrigo.Status
		prep   func(id int64)
		act    sandbox.Action
		action corrigo.Action
		sender string
		check  func(t *testing.T, p corrigo.Payload)
		to     corrigo.Status
	}{
		{"hold", corrigo.StatusAccepted, nil, sandbox.Action{Action: "PutOnHold", Comment: "store closed"}, corrigo.ActionPutOnHold, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.PutOnHoldPayload).Status != corrigo.StatusOnHold || p.(corrigo.PutOnHoldPayload).Comment != "store closed" {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusOnHold},
		{"recall", corrigo.StatusCheckedIn, nil, sandbox.Action{Action: "Recall"}, corrigo.ActionRecalled, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.RecalledPayload).Status != corrigo.StatusRecalled {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusRecalled},
		{"reopen", corrigo.StatusOnHold, nil, sandbox.Action{Action: "Reopen", Comment: "open again"}, corrigo.ActionReopened, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.ReopenedPayload).Status != corrigo.StatusNew {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusNew},
		{"nte", corrigo.StatusAccepted, nil, sandbox.Action{Action: "NteChange", Amount: 1250}, corrigo.ActionNteChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.NteChangedPayload).Amount != 1250 {
					t.Fatalf("%+v", p)
				}
			}, ""},
		{"sla", corrigo.StatusAccepted, nil, sandbox.Action{Action: "SlaChange", Sla: sla}, corrigo.ActionSlaChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				s := p.(corrigo.SlaChangedPayload).Sla
				if !s.DueDate.Equal(sla.DueDate.Time) || s.PriorityName != "EMERGENCY" || !s.IsEmergency {
					t.Fatalf("%+v", s)
				}
			}, ""},
		{"quote request", corrigo.StatusAccepted, nil, sandbox.Action{Action: "QuoteRequest"}, corrigo.ActionQuoteChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.QuoteChangedPayload).Quote.QuoteStatus != corrigo.QuoteRequested {
					t.Fatalf("%+v", p)
				}
			}, ""},
		{"quote approve", corrigo.StatusAccepted, func(id int64) {
			wantErr(t, c.SubmitQuote(ctx, corrigo.QuoteSubmitRequest{WorkOrderId: id, Amount: 777}), 0)
		}, sandbox.Action{Action: "QuoteApprove"}, corrigo.ActionQuoteChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				q := p.(corrigo.QuoteChangedPayload).Quote
				if q.QuoteStatus != corrigo.QuoteApproved || q.Amount != 777 {
					t.Fatalf("%+v", q)
				}
			}, ""},
		{"quote reject", corrigo.StatusAccepted, func(id int64) {
			wantErr(t, c.SubmitQuote(ctx, corrigo.QuoteSubmitRequest{WorkOrderId: id, Amount: 10}), 0)
		}, sandbox.Action{Action: "QuoteReject", Comment: "too expensive"}, corrigo.ActionQuoteChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.QuoteChangedPayload).Quote.QuoteStatus != corrigo.QuoteRejected {
					t.Fatalf("%+v", p)
				}
			}, ""},
		{"invoice paid", corrigo.StatusCheckedOut, func(id int64) {
			_, err := c.UpdateInvoice(ctx, corrigo.Invoice{WorkOrderId: id, InvoiceNumber: "I-1", InvoiceDate: corrigo.NewTime(time.Now()),
				LineItems: []corrigo.LineItem{{Type: corrigo.LineItemLabor, Description: "labor", Quantity: 2, Rate: 50}}})
			wantErr(t, err, 0)
			wantErr(t, c.SubmitInvoice(ctx, corrigo.InvoiceSubmitRequest{WorkOrderId: id}), 0)
		}, sandbox.Action{Action: "InvoiceStatus", Status: "Paid", CheckNumber: "1001"}, corrigo.ActionInvoiceStatusChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				ip := p.(corrigo.InvoiceStatusChangedPayload)
				if ip.Status != "Paid" || ip.CheckNumber != "1001" || ip.Amount != 100 || ip.PaidDate.IsZero() {
					t.Fatalf("%+v", ip)
				}
			}, ""},
		{"message", corrigo.StatusAccepted, nil, sandbox.Action{Action: "Message", Text: "please call"}, corrigo.ActionMessageSent, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.MessageSentPayload).Text != "please call" {
					t.Fatalf("%+v", p)
				}
			}, ""},
		{"attachment", corrigo.StatusAccepted, nil, sandbox.Action{Action: "AttachmentAdd", Name: "floorplan.png", MimeType: "image/png", Content: []byte("png")}, corrigo.ActionAttachmentAdded, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				a := p.(corrigo.AttachmentAddedPayload)
				if a.Name != "floorplan.png" || a.Size != 3 || a.AttachmentId == "" {
					t.Fatalf("%+v", a)
				}
			}, ""},
		{"appointment", corrigo.StatusAccepted, nil, sandbox.Action{Action: "AppointmentChange", Appointment: appt}, corrigo.ActionAppointmentInfoChanged, "Customer",
			func(t *testing.T, p corrigo.Payload) {
				if !p.(corrigo.AppointmentInfoChangedPayload).Appointment.ScheduledStart.Equal(appt.ScheduledStart.Time) {
					t.Fatalf("%+v", p)
				}
			}, ""},
		{"desktop accept", corrigo.StatusNew, nil, sandbox.Action{Action: "Accept", Comment: "ok"}, corrigo.ActionAccepted, "CorrigoPro",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.AcceptedPayload).Status != corrigo.StatusAccepted {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusAccepted},
		{"desktop reject", corrigo.StatusNew, nil, sandbox.Action{Action: "Reject", Comment: "no"}, corrigo.ActionRejected, "CorrigoPro", nil, corrigo.StatusRejected},
		{"mobile check-in", corrigo.StatusAccepted, nil, sandbox.Action{Action: "CheckIn", Location: &corrigo.GeoLocation{Latitude: 36.28, Longitude: -75.79}}, corrigo.ActionCheckedIn, "CorrigoPro",
			func(t *testing.T, p corrigo.Payload) {
				if l := p.(corrigo.CheckedInPayload).Location; l == nil || l.Latitude != 36.28 {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusCheckedIn},
		{"mobile pause", corrigo.StatusCheckedIn, nil, sandbox.Action{Action: "Pause"}, corrigo.ActionPaused, "CorrigoPro", nil, corrigo.StatusPaused},
		{"mobile check-out", corrigo.StatusCheckedIn, nil, sandbox.Action{Action: "CheckOut", Comment: "fixed"}, corrigo.ActionCheckedOut, "CorrigoPro",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.CheckedOutPayload).Comment != "fixed" {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusCheckedOut},
		{"ivr check-out", corrigo.StatusCheckedIn, nil, sandbox.Action{Action: "IvrCheckOut"}, corrigo.ActionNeedsCompletionDetails, "CorrigoPro",
			func(t *testing.T, p corrigo.Payload) {
				if p.(corrigo.NeedsCompletionDetailsPayload).Status != corrigo.StatusNeedsCompletionDetails {
					t.Fatalf("%+v", p)
				}
			}, corrigo.StatusNeedsCompletionDetails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: tc.from})
			if tc.prep != nil {
				tc.prep(id)
			}
			idle(t, sb)
			before := len(rc.deliveries())
			res, err := sb.Act(id, tc.act)
			if err != nil {
				t.Fatal(err)
			}
			idle(t, sb)
			got := rc.deliveries()[before:]
			if len(got) != 1 || len(res.NotificationIds) != 1 {
				t.Fatalf("%d deliveries, ids %v", len(got), res.NotificationIds)
			}
			n := got[0].N
			if n == nil || n.Header.Action != tc.action || got[0].Header.Get("Event-Type") != string(tc.action) || n.Header.Sender.Type != tc.sender {
				t.Fatalf("notification %s: %+v", got[0].Body, n)
			}
			if reflect.TypeOf(n.Payload).Name() == "Unknown" {
				t.Fatalf("untyped payload")
			}
			if tc.check != nil {
				tc.check(t, n.Payload)
			}
			if tc.to != "" && res.WorkOrder.Status != tc.to {
				t.Fatalf("status %s, want %s", res.WorkOrder.Status, tc.to)
			}
			_, hist, _ := sb.WorkOrder(id)
			last := hist[len(hist)-1]
			if last.NotificationId != res.NotificationIds[0] || last.Actor == sandbox.ActorProvider {
				t.Fatalf("history %+v", last)
			}
		})
	}

	// Removing a customer attachment.
	id = mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusAccepted})
	added, err := sb.Act(id, sandbox.Action{Action: "AttachmentAdd", Name: "a.txt", Content: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	addedN := rc.deliveries()[len(rc.deliveries())-1].N.Payload.(corrigo.AttachmentAddedPayload)
	if _, err := sb.Act(id, sandbox.Action{Action: "AttachmentRemove", AttachmentId: addedN.AttachmentId}); err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	last := rc.deliveries()[len(rc.deliveries())-1].N
	if p, ok := last.Payload.(corrigo.AttachmentRemovedPayload); !ok || p.AttachmentId != addedN.AttachmentId || len(added.NotificationIds) != 1 {
		t.Fatalf("attachment removed: %+v", last)
	}
	if as, _ := c.Attachments(ctx, id); len(as) != 0 {
		t.Fatalf("attachments after removal: %+v", as)
	}
	if _, err := sb.Act(id, sandbox.Action{Action: "AttachmentRemove", AttachmentId: addedN.AttachmentId}); err == nil {
		t.Fatal("removed twice")
	}

	// Refused actions send nothing and name the code.
	id = mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusRecalled})
	if _, err := sb.Act(id, sandbox.Action{Action: "PutOnHold"}); !isActionError(err, corrigo.CodeNotFoundOrRecalled) {
		t.Fatalf("hold of a recalled work order: %v", err)
	}
	if _, err := sb.Act(id, sandbox.Action{Action: "Dance"}); err == nil {
		t.Fatal("unknown action accepted")
	}
}

// TestWebhookRetrySchedule: a receiver failing with 500 gets the
// notification again on the time-scaled 5/10/20/40/60-minute schedule.
func TestWebhookRetrySchedule(t *testing.T) {
	const scale = 0.0001 // 5 min -> 30 ms, 10 -> 60, 20 -> 120
	rc := newReceiver(t, func(n int, _ delivery) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url, TimeScale: scale})
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	got := rc.deliveries()
	if len(got) != 4 {
		t.Fatalf("%d deliveries", len(got))
	}
	for i, want := range []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute} {
		gap := got[i+1].At.Sub(got[i].At)
		min := time.Duration(float64(want) * scale)
		if gap < min {
			t.Errorf("gap before attempt %d: %v, want at least %v", i+2, gap, min)
		}
		if got[i+1].N.Header.MessageId != got[0].N.Header.MessageId {
			t.Errorf("retry %d has a new MessageId", i+1)
		}
	}
	ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId})
	if len(ns) != 1 || ns[0].State != sandbox.StateDelivered || ns[0].Attempts != 4 {
		t.Fatalf("notification %+v", ns)
	}
	failed := sb.Usage(sandbox.UsageFilter{Direction: sandbox.DirectionOutbound, Status: 500})
	if len(failed) != 3 || failed[2].Attempt != 3 {
		t.Fatalf("usage log of failed attempts %+v", failed)
	}
}

// TestWebhookDeadAndReprocess: after MaxAttempts failures a notification
// is dead; reprocessing sends it again.
func TestWebhookDeadAndReprocess(t *testing.T) {
	var mu sync.Mutex
	up := false
	rc := newReceiver(t, func(int, delivery) int {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url, WebhookMaxAttempts: 6, TimeScale: 0.00001})
	if _, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{}); err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	dead := sb.Notifications(sandbox.NotificationFilter{State: sandbox.StateDead})
	if len(dead) != 1 || dead[0].Attempts != 6 || dead[0].LastStatus != 503 || len(rc.deliveries()) != 6 {
		t.Fatalf("dead %+v after %d deliveries", dead, len(rc.deliveries()))
	}
	mu.Lock()
	up = true
	mu.Unlock()
	var res map[string]int
	if st := ctl(t, sb, "POST", "/_sandbox/notifications/reprocess", map[string]any{}, &res); st != 200 || res["Requeued"] != 1 {
		t.Fatalf("reprocess: %d %v", st, res)
	}
	idle(t, sb)
	ns := sb.Notifications(sandbox.NotificationFilter{})
	if len(ns) != 1 || ns[0].State != sandbox.StateDelivered || len(rc.deliveries()) != 7 {
		t.Fatalf("after reprocess %+v", ns)
	}

	// Without retries a failure is dead at once.
	sb2, _ := start(t, sandbox.Options{WebhookURL: rc.url + "/missing-host-part", NoWebhookRetry: true})
	sb2.SetWebhookURL("http://127.0.0.1:1/unreachable")
	if _, err := sb2.CreateWorkOrder(sandbox.WorkOrderSpec{}); err != nil {
		t.Fatal(err)
	}
	idle(t, sb2)
	dead = sb2.Notifications(sandbox.NotificationFilter{State: sandbox.StateDead})
	if len(dead) != 1 || dead[0].Attempts != 1 || dead[0].LastError == "" {
		t.Fatalf("no-retry dead %+v", dead)
	}
}

// TestWebhookIgnore: the retry queue's Ignore takes dead notifications, and
// queued ones waiting for a retry, out of the queue for good; delivered
// ones cannot be ignored, and reprocessing skips ignored ones.
func TestWebhookIgnore(t *testing.T) {
	rc := newReceiver(t, func(int, delivery) int { return http.StatusInternalServerError })
	// Retries are on by default (CorrigoPro always retries); at time scale
	// 1 the second attempt is 5 minutes away, so a failed notification
	// waits in the queue.
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url})
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first attempt", 5*time.Second, func() bool { return len(rc.deliveries()) == 1 })
	var waiting sandbox.Notification
	waitFor(t, "a scheduled retry", 5*time.Second, func() bool {
		ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId})
		if len(ns) == 1 && ns[0].State == sandbox.StateQueued && !ns[0].NextAttempt.IsZero() {
			waiting = ns[0]
			return true
		}
		return false
	})
	if d := time.Until(waiting.NextAttempt); d < 4*time.Minute || d > 5*time.Minute {
		t.Fatalf("next attempt in %v, want CorrigoPro's 5 minutes", d)
	}
	tests := []struct {
		name    string
		body    any
		ignored int
		state   string
	}{
		{"unknown id", map[string]any{"Ids": []int64{999999}}, 0, sandbox.StateQueued},
		{"queued for a retry", map[string]any{"Ids": []int64{waiting.Id}}, 1, sandbox.StateIgnored},
		{"already ignored", map[string]any{"Ids": []int64{waiting.Id}}, 0, sandbox.StateIgnored},
	}
	for _, tc := range tests {
		var res struct {
			Ignored int
			Ids     []int64
		}
		if st := ctl(t, sb, "POST", "/_sandbox/notifications/ignore", tc.body, &res); st != 200 || res.Ignored != tc.ignored {
			t.Fatalf("%s: HTTP %d %+v", tc.name, st, res)
		}
		if ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId}); ns[0].State != tc.state {
			t.Fatalf("%s: state %s, want %s", tc.name, ns[0].State, tc.state)
		}
	}
	if n := sb.PendingNotifications(); n != 0 {
		t.Fatalf("%d pending after ignore", n)
	}
	if n := sb.Reprocess(); n != 0 {
		t.Fatalf("reprocess requeued %d ignored notifications", n)
	}

	// Dead ones: ignored all at once with an empty body; delivered ones stay.
	rc2 := newReceiver(t, func(n int, _ delivery) int {
		if n == 1 {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	sb2, _ := start(t, sandbox.Options{WebhookURL: rc2.url, NoWebhookRetry: true, WebhookConcurrency: 1})
	for range 3 {
		if _, err := sb2.CreateWorkOrder(sandbox.WorkOrderSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, sb2)
	if dead := sb2.Notifications(sandbox.NotificationFilter{State: sandbox.StateDead}); len(dead) != 2 {
		t.Fatalf("%d dead", len(dead))
	}
	var res struct{ Ignored int }
	if st := ctl(t, sb2, "POST", "/_sandbox/notifications/ignore", nil, &res); st != 200 || res.Ignored != 2 {
		t.Fatalf("ignore all dead: %d %+v", st, res)
	}
	delivered := sb2.Notifications(sandbox.NotificationFilter{State: sandbox.StateDelivered})
	if len(delivered) != 1 || len(sb2.Ignore(delivered[0].Id)) != 0 {
		t.Fatalf("a delivered notification was ignored: %+v", delivered)
	}
	if n := len(sb2.Notifications(sandbox.NotificationFilter{State: sandbox.StateIgnored})); n != 2 {
		t.Fatalf("%d ignored", n)
	}
	if st := ctl(t, sb2, "POST", "/_sandbox/notifications/ignore", map[string]any{"Bogus": 1}, nil); st != 400 {
		t.Fatalf("unknown field: HTTP %d", st)
	}
}

// TestWebhookDefaultMaxAttempts runs the documented 200 attempts.
func TestWebhookDefaultMaxAttempts(t *testing.T) {
	rc := newReceiver(t, func(int, delivery) int { return http.StatusInternalServerError })
	// 5+10+20+40 min + 195 h at 1e-7 is about 70 ms.
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url, TimeScale: 1e-7})
	if _, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{}); err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	dead := sb.Notifications(sandbox.NotificationFilter{State: sandbox.StateDead})
	if len(dead) != 1 || dead[0].Attempts != sandbox.DefaultMaxAttempts || len(rc.deliveries()) != 200 {
		t.Fatalf("dead %+v, %d deliveries", dead, len(rc.deliveries()))
	}
}

// TestWebhookInjection: duplicates and out-of-order redeliveries.
func TestWebhookInjection(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url, WebhookConcurrency: 1,
		Faults: sandbox.Faults{DuplicateRate: 1}})
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	if err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	got := rc.deliveries()
	if len(got) != 2 || got[0].N.Header.MessageId != got[1].N.Header.MessageId || string(got[0].Body) != string(got[1].Body) {
		t.Fatalf("duplicate: %d deliveries", len(got))
	}

	// Out of order: the NewWorkOrder comes again after PutOnHold.
	if err := sb.SetFaults(sandbox.Faults{RedeliverRate: 1, RedeliverDelay: sandbox.Duration(50 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	wo2, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	if err != nil {
		t.Fatal(err)
	}
	// The redelivery is decided after the receiver answered: wait for the
	// copy, not only for the delivery, before the faults are cleared.
	waitFor(t, "first NewWorkOrder and its redelivery copy", 5*time.Second, func() bool {
		return len(rc.deliveries()) == 3 && len(sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo2.WorkOrderId})) == 2
	})
	if err := sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Act(wo2.WorkOrderId, sandbox.Action{Action: "PutOnHold"}); err != nil {
		t.Fatal(err)
	}
	idle(t, sb)
	got = rc.deliveries()[2:]
	var actions []corrigo.Action
	for _, d := range got {
		actions = append(actions, d.N.Header.Action)
	}
	want := []corrigo.Action{corrigo.ActionNewWorkOrder, corrigo.ActionPutOnHold, corrigo.ActionNewWorkOrder}
	if !reflect.DeepEqual(actions, want) {
		t.Fatalf("order %v, want %v", actions, want)
	}
	copies := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo2.WorkOrderId, Action: corrigo.ActionNewWorkOrder})
	if len(copies) != 2 || copies[1].Injected != "redelivery" || copies[1].CopyOf != copies[0].Id {
		t.Fatalf("copies %+v", copies)
	}

	// Manual redelivery through the control API.
	var res map[string]int64
	ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId})
	if st := ctl(t, sb, "POST", "/_sandbox/notifications/"+itoa(ns[0].Id)+"/redeliver", map[string]string{"Delay": "1ms"}, &res); st != 200 || res["Id"] == 0 {
		t.Fatalf("redeliver %d %v", st, res)
	}
	idle(t, sb)
	if n := len(rc.deliveries()); n != 6 {
		t.Fatalf("%d deliveries after redeliver", n)
	}

	// WebhookFailRate: injected failures follow the retry schedule.
	if err := sb.SetFaults(sandbox.Faults{WebhookFailRate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Act(wo.WorkOrderId, sandbox.Action{Action: "PutOnHold"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an injected failure", 5*time.Second, func() bool {
		q := sb.Notifications(sandbox.NotificationFilter{Action: corrigo.ActionPutOnHold, WorkOrderId: wo.WorkOrderId})
		return len(q) == 1 && q[0].Attempts >= 1
	})
	q := sb.Notifications(sandbox.NotificationFilter{Action: corrigo.ActionPutOnHold, WorkOrderId: wo.WorkOrderId})
	if q[0].State != sandbox.StateQueued || q[0].LastError != "injected delivery failure" || q[0].NextAttempt.IsZero() {
		t.Fatalf("injected failure %+v", q[0])
	}
}

// TestWebhookTokens: the sandbox's webhook tokens verify with
// corrigo.Verifier, and each kind of bad token is refused with its reason.
func TestWebhookTokens(t *testing.T) {
	sb, _ := start(t, sandbox.Options{})
	v, err := corrigo.NewVerifier(sb.CertificatePEM(), corrigo.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := sb.WebhookToken()
	if err != nil {
		t.Fatal(err)
	}
	tk, err := v.Verify("Bearer " + good)
	if err != nil {
		t.Fatalf("good token: %v", err)
	}
	if tk.Name() != "CorrigoPro" || tk.Audience() != corrigo.DefaultAudience {
		t.Fatalf("ticket name %q audience %q", tk.Name(), tk.Audience())
	}
	exp, _ := tk.Expires()
	if d := time.Until(exp); d < 19*time.Minute || d > 21*time.Minute {
		t.Fatalf("expires in %v", d)
	}
	data, sig, _ := strings.Cut(good, "<---->")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	expired, _ := sb.IssueToken("CorrigoPro", corrigo.DefaultAudience, -time.Hour)
	wrongAud, _ := sb.IssueToken("CorrigoPro", "SomeoneElse", time.Hour)
	other, err := sandbox.New(sandbox.Options{}) // its own, freshly generated key
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	foreign, _ := other.WebhookToken()
	raw := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	tests := []struct {
		name  string
		token string
		want  corrigo.VerifyReason
	}{
		{"tampered data", flip(data, len(data)/2) + "<---->" + sig, corrigo.ReasonBadSignature},
		{"tampered signature", data + "<---->" + flip(sig, 10), corrigo.ReasonBadSignature},
		{"expired", expired, corrigo.ReasonExpired},
		{"wrong audience", wrongAud, corrigo.ReasonWrongAudience},
		{"wrong certificate", foreign, corrigo.ReasonBadSignature},
		{"no separator", data + sig, corrigo.ReasonMalformed},
		{"not base64", "H4sI!!!<---->" + sig, corrigo.ReasonBadBase64},
		{"empty", "", corrigo.ReasonMissingToken},
		{"unsigned JSON", raw([]byte(`{"Claims":[]}`)) + "<---->" + raw([]byte("sig")), corrigo.ReasonBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			if got := corrigo.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	// The foreign token is fine for its own certificate: only the key differs.
	v2, err := corrigo.NewVerifier(other.CertificatePEM(), corrigo.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(foreign); err != nil {
		t.Fatalf("foreign token with its own certificate: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// isActionError reports whether err is an action refused with code.
func isActionError(err error, code int) bool {
	var ae *sandbox.ActionError
	return errors.As(err, &ae) && ae.Code == code
}
