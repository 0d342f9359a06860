package sandbox_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestEmulateEveryNotificationType sends a sample of each of the 26
// notification types through POST /_sandbox/emulate, with and without a
// work order, to a receiver on loopback, and checks each end to end: the
// token verifies against the sandbox's certificate, Event-Type names the
// action, the body decodes with corrigo.DecodeNotification into the same
// payload type as pkg/corrigo's fixture of that type, no payload is empty,
// and a sample of a real work order carries its state.
func TestEmulateEveryNotificationType(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url})
	v, err := corrigo.NewVerifier(sb.CertificatePEM(), corrigo.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypePMRM,
		Status: corrigo.StatusCheckedIn, QuoteRequested: true, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(corrigo.KnownActions) != 26 {
		t.Fatalf("%d known actions, want CorrigoPro's 26", len(corrigo.KnownActions))
	}
	for _, action := range corrigo.KnownActions {
		fixture, err := os.ReadFile(filepath.Join("..", "testdata", "notifications", string(action)+".json"))
		if err != nil {
			t.Fatalf("fixture of %s: %v", action, err)
		}
		fn, err := corrigo.DecodeNotification(fixture)
		if err != nil {
			t.Fatalf("fixture of %s does not decode: %v", action, err)
		}
		for _, real := range []bool{false, true} {
			name := string(action) + "/sample"
			req := sandbox.EmulateRequest{Action: string(action), BranchId: 500480}
			if real {
				name = string(action) + "/work-order"
				req = sandbox.EmulateRequest{Action: string(action), WorkOrderId: wo.WorkOrderId}
			}
			t.Run(name, func(t *testing.T) {
				var res sandbox.EmulateResult
				if st := ctl(t, sb, "POST", "/_sandbox/emulate", req, &res); st != 200 {
					t.Fatalf("emulate: HTTP %d", st)
				}
				var d delivery
				waitFor(t, "the emulated notification", 5*time.Second, func() bool {
					for _, x := range rc.deliveries() {
						if x.N != nil && x.N.Header.MessageId == res.MessageId {
							d = x
							return true
						}
					}
					return false
				})
				if _, err := v.Verify(d.Header.Get("Authorization")); err != nil {
					t.Fatalf("token does not verify: %v", err)
				}
				if et := d.Header.Get("Event-Type"); et != string(action) {
					t.Fatalf("Event-Type %q", et)
				}
				h := d.N.Header
				if h.Action != action || h.Sender == nil || h.Sender.Type == "" || h.ActionDate.IsZero() || h.ApiVersion != sandbox.ApiVersion {
					t.Fatalf("header %+v", h)
				}
				if got, want := reflect.TypeOf(d.N.Payload), reflect.TypeOf(fn.Payload); got != want {
					t.Fatalf("payload %v, the fixture decodes to %v", got, want)
				}
				if reflect.ValueOf(d.N.Payload).IsZero() {
					t.Fatalf("empty payload: %s", d.Body)
				}
				if !real {
					if h.WorkOrderId != sandbox.EmulatedWorkOrderId || h.BranchId != 500480 {
						t.Fatalf("sample header %+v", h)
					}
					return
				}
				if h.WorkOrderId != wo.WorkOrderId || h.BranchId != wo.BranchId {
					t.Fatalf("header %+v, work order %d branch %d", h, wo.WorkOrderId, wo.BranchId)
				}
				proc := wo.WorkDetails.Procedures[0]
				switch p := d.N.Payload.(type) {
				case corrigo.NewWorkOrderPayload:
					if p.Details.WorkOrderNumber != wo.WorkOrderNumber || p.Details.Status != corrigo.StatusCheckedIn {
						t.Fatalf("details %+v", p.Details)
					}
				case corrigo.ProcedureMarkedPayload:
					if p.ProcedureId != proc.Id {
						t.Fatalf("procedure %d, the work order's is %d", p.ProcedureId, proc.Id)
					}
				case corrigo.ProcedureStepUpdatedPayload:
					if p.ProcedureId != proc.Id || len(p.Steps) != len(proc.Steps) || p.Steps[0].Id != proc.Steps[0].Id {
						t.Fatalf("steps %+v", p)
					}
				case corrigo.QuoteChangedPayload:
					if p.Quote.QuoteStatus != corrigo.QuoteRequested {
						t.Fatalf("quote %+v", p.Quote)
					}
				case corrigo.SlaChangedPayload:
					if !p.Sla.DueDate.Equal(wo.Sla.DueDate.Time) {
						t.Fatalf("sla %+v, work order %+v", p.Sla, wo.Sla)
					}
				case corrigo.AdditionalFieldDescriptorUpdatedPayload:
					var ds []struct{ Id, Label string }
					if err := json.Unmarshal(p.Fields["AdditionalFields"], &ds); err != nil || len(ds) != 2 || ds[0].Id != "501" || ds[0].Label != "Work performed by" {
						t.Fatalf("descriptors %s %v", p.Fields["AdditionalFields"], err)
					}
				}
			})
		}
	}
	// Emulating changes nothing on the work order.
	after, hist, _ := sb.WorkOrder(wo.WorkOrderId)
	if after.Status != wo.Status || !reflect.DeepEqual(after.Nte, wo.Nte) {
		t.Fatalf("emulating changed the work order: %+v", after)
	}
	n := 0
	for _, e := range hist {
		if e.Actor == sandbox.ActorEmulator {
			n++
		}
	}
	if n != 26 {
		t.Fatalf("%d emulator history entries, want 26", n)
	}
	if ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId}); len(ns) != 26 || !ns[0].Emulated {
		t.Fatalf("%d notifications of the work order (emulated %v)", len(ns), len(ns) > 0 && ns[0].Emulated)
	}
}

// TestEmulateRefusals: bad emulate requests answer 4xx with a reason.
func TestEmulateRefusals(t *testing.T) {
	sb, _ := start(t, sandbox.Options{})
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, BranchId: 500478})
	tests := []struct {
		name string
		body any
		want int
	}{
		{"unknown action", map[string]any{"Action": "Nope"}, 400},
		{"no action", map[string]any{}, 400},
		{"unknown field", map[string]any{"Action": "Accepted", "Extra": 1}, 400},
		{"unknown work order", map[string]any{"Action": "Accepted", "WorkOrderId": 999999}, 404},
		{"unknown branch", map[string]any{"Action": "Accepted", "BranchId": 1}, 400},
		{"wrong branch for the work order", map[string]any{"Action": "Accepted", "WorkOrderId": id, "BranchId": 500480}, 400},
		{"case-insensitive action", map[string]any{"Action": "ismstatuschanged", "WorkOrderId": id}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			if st := ctl(t, sb, "POST", "/_sandbox/emulate", tc.body, &out); st != tc.want {
				t.Fatalf("HTTP %d, want %d", st, tc.want)
			}
		})
	}
}
