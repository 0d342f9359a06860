package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestLifecycleNotifications: the work on procedures, checklists,
// completion details, custom fields and ISM status sends the notifications
// CorrigoPro sends for it, decoded with corrigo.DecodeNotification, and
// refuses what breaks a business rule with 3000.
func TestLifecycleNotifications(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, c := start(t, sandbox.Options{WebhookURL: rc.url, WebhookConcurrency: 1})
	ctx := context.Background()
	H, B, N := sandbox.CustomerHarbor, sandbox.CustomerBluebird, sandbox.CustomerNorthwind
	proc := func(id int64) corrigo.Procedure {
		w, _, _ := sb.WorkOrder(id)
		return w.WorkDetails.Procedures[len(w.WorkDetails.Procedures)-1]
	}
	act := func(id int64, a sandbox.Action) {
		t.Helper()
		if _, err := sb.Act(id, a); err != nil {
			t.Fatalf("prep %s: %v", a.Action, err)
		}
	}
	yes := true
	tests := []struct {
		name    string
		cust    int
		typ     string
		from    corrigo.Status
		prep    func(id int64)
		act     func(id int64) sandbox.Action
		code    int              // refused with this code, nothing sent
		actions []corrigo.Action // notifications, in order
		sender  string
		check   func(t *testing.T, id int64, ps []corrigo.Payload)
	}{
		{"mobile step update", N, corrigo.TypePMRM, corrigo.StatusCheckedIn, nil,
			func(id int64) sandbox.Action {
				p := proc(id)
				return sandbox.Action{Action: "UpdateSteps", ProcedureId: p.Id, Steps: []corrigo.Step{{Id: p.Steps[0].Id, Status: "Done", Value: "true"}}}
			}, 0, []corrigo.Action{corrigo.ActionProcedureStepUpdated}, "CorrigoPro",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				p := ps[0].(corrigo.ProcedureStepUpdatedPayload)
				if p.ProcedureId != proc(id).Id || len(p.Steps) != 1 || p.Steps[0].Status != "Done" || p.Steps[0].Value != "true" {
					t.Fatalf("%+v", p)
				}
			}},
		{"step update in New", N, corrigo.TypePMRM, corrigo.StatusNew, nil,
			func(id int64) sandbox.Action {
				p := proc(id)
				return sandbox.Action{Action: "UpdateSteps", ProcedureId: p.Id, Steps: []corrigo.Step{{Id: p.Steps[0].Id, Status: "Done"}}}
			}, corrigo.CodeInvalidState, nil, "", nil},
		{"mark procedure NA", N, corrigo.TypePMRM, corrigo.StatusAccepted, nil,
			func(id int64) sandbox.Action {
				return sandbox.Action{Action: "MarkProcedureNa", ProcedureId: proc(id).Id, IsMarkedNa: true}
			}, 0, []corrigo.Action{corrigo.ActionProcedureMarked}, "CorrigoPro",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				if p := ps[0].(corrigo.ProcedureMarkedPayload); !p.IsMarkedNa || p.ProcedureId != proc(id).Id || proc(id).Status != "NA" {
					t.Fatalf("%+v, procedure %s", p, proc(id).Status)
				}
			}},
		{"step update of an NA procedure", N, corrigo.TypePMRM, corrigo.StatusAccepted,
			func(id int64) {
				act(id, sandbox.Action{Action: "MarkProcedureNa", ProcedureId: proc(id).Id, IsMarkedNa: true})
			},
			func(id int64) sandbox.Action {
				p := proc(id)
				return sandbox.Action{Action: "UpdateSteps", ProcedureId: p.Id, Steps: []corrigo.Step{{Id: p.Steps[0].Id, Status: "Done"}}}
			}, corrigo.CodeBusinessRule, nil, "", nil},
		{"checklist migrated", B, corrigo.TypeRequest, corrigo.StatusAccepted, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CheckListMigrate"} },
			0, []corrigo.Action{corrigo.ActionCheckListMigratedToProcedure}, "Customer",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				p := ps[0].(corrigo.CheckListMigratedToProcedurePayload)
				w, _, _ := sb.WorkOrder(id)
				if len(w.WorkDetails.CheckList) != 0 || p.ProcedureId != proc(id).Id || len(p.Steps) != 3 {
					t.Fatalf("%+v, work order %+v", p, w.WorkDetails)
				}
			}},
		{"no checklist to migrate", N, corrigo.TypeRequest, corrigo.StatusAccepted, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CheckListMigrate"} },
			corrigo.CodeBusinessRule, nil, "", nil},
		{"migrated procedure cannot be NA", B, corrigo.TypeRequest, corrigo.StatusAccepted,
			func(id int64) { act(id, sandbox.Action{Action: "CheckListMigrate"}) },
			func(id int64) sandbox.Action {
				return sandbox.Action{Action: "MarkProcedureNa", ProcedureId: proc(id).Id, IsMarkedNa: true}
			}, corrigo.CodeBusinessRule, nil, "", nil},
		{"procedure added", N, corrigo.TypeRequest, corrigo.StatusAccepted, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "ProcedureAdd"} },
			0, []corrigo.Action{corrigo.ActionProcedureUpdated}, "Customer",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				p := ps[0].(corrigo.ProcedureUpdatedPayload)
				if len(p.ProcedureUpdates) != 1 || p.ProcedureUpdates[0].UpdateType != "Add" || p.ProcedureUpdates[0].Procedure.Id != proc(id).Id {
					t.Fatalf("%+v", p)
				}
			}},
		{"mobile check-out ticks the checklist", B, corrigo.TypeRequest, corrigo.StatusCheckedIn, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CheckOut", Comment: "done"} },
			0, []corrigo.Action{corrigo.ActionCheckListUpdated, corrigo.ActionCheckedOut}, "CorrigoPro",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				cl := ps[0].(corrigo.CheckListUpdatedPayload).CheckList
				if len(cl) != 3 || !cl[0].IsDone || len(ps[1].(corrigo.CheckedOutPayload).CheckList) != 3 {
					t.Fatalf("%+v %+v", ps[0], ps[1])
				}
			}},
		{"mobile check-out with steps", N, corrigo.TypePMRM, corrigo.StatusCheckedIn, nil,
			func(id int64) sandbox.Action {
				p := proc(id)
				p.Steps = p.Steps[:1]
				p.Steps[0].Status = "Done"
				return sandbox.Action{Action: "CheckOut", Procedures: []corrigo.Procedure{{Id: p.Id, Steps: []corrigo.StepDescriptor{{Id: p.Steps[0].Id, Status: "Done"}}}}}
			}, 0, []corrigo.Action{corrigo.ActionProcedureStepUpdated, corrigo.ActionCheckedOut}, "CorrigoPro",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				if p := ps[0].(corrigo.ProcedureStepUpdatedPayload); len(p.Steps) != 1 || p.Steps[0].Status != "Done" {
					t.Fatalf("%+v", p)
				}
			}},
		{"completion info before the invoice", N, corrigo.TypeRequest, corrigo.StatusCheckedOut, nil,
			func(int64) sandbox.Action {
				return sandbox.Action{Action: "CompletionInfoChange", Comment: "also replaced a fuse"}
			},
			0, nil, "", nil},
		{"completion info after the invoice", N, corrigo.TypeRequest, corrigo.StatusCheckedOut,
			func(id int64) {
				if _, err := c.UpdateInvoice(ctx, corrigo.Invoice{WorkOrderId: id, InvoiceNumber: "I-1", InvoiceDate: corrigo.NewTime(time.Now()),
					LineItems: []corrigo.LineItem{{Type: corrigo.LineItemLabor, Description: "labour", Quantity: 1, Rate: 90}}}); err != nil {
					t.Fatal(err)
				}
				act(id, sandbox.Action{Action: "SubmitInvoice"})
			},
			func(int64) sandbox.Action {
				return sandbox.Action{Action: "CompletionInfoChange", Comment: "also replaced a fuse"}
			},
			0, []corrigo.Action{corrigo.ActionCompletionInfoChanged}, "CorrigoPro",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				if p := ps[0].(corrigo.CompletionInfoChangedPayload); p.Comment != "also replaced a fuse" {
					t.Fatalf("%+v", p)
				}
			}},
		{"completion info of an open work order", N, corrigo.TypeRequest, corrigo.StatusCheckedIn, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CompletionInfoChange", Comment: "x"} },
			corrigo.CodeInvalidState, nil, "", nil},
		{"ISM status", N, corrigo.TypeRequest, corrigo.StatusAccepted, nil,
			func(int64) sandbox.Action {
				return sandbox.Action{Action: "IsmStatusChange", Status: "Complete", Comment: "induction done"}
			},
			0, []corrigo.Action{corrigo.ActionIsmStatusChanged}, "CorrigoPro",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				p := ps[0].(corrigo.IsmStatusChangedPayload)
				if string(p.Fields["Status"]) != `"Complete"` {
					t.Fatalf("%+v", p)
				}
				raw, err := c.IsmSettings(ctx, id)
				if err != nil || !json.Valid(raw) || !strings.Contains(string(raw), `"IsmSettings":{"Status":"Complete","Comment":"induction done"}`) {
					t.Fatalf("IsmSettings %s %v", raw, err)
				}
			}},
		{"ISM status unknown", N, corrigo.TypeRequest, corrigo.StatusAccepted, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "IsmStatusChange", Status: "Bogus"} },
			corrigo.CodeValidation, nil, "", nil},
		{"custom field configuration", H, corrigo.TypeRequest, corrigo.StatusCheckedIn, nil,
			func(int64) sandbox.Action {
				return sandbox.Action{Action: "CustomFieldChange", CustomFieldId: 501, Values: []string{"Technician", "Subcontractor", "Vendor"}, IsRequired: &yes}
			}, 0, []corrigo.Action{corrigo.ActionAdditionalFieldDescriptorUpdate}, "Customer",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				var ds []struct {
					Id     string
					Values []string
				}
				p := ps[0].(corrigo.AdditionalFieldDescriptorUpdatedPayload)
				if err := json.Unmarshal(p.Fields["AdditionalFields"], &ds); err != nil || ds[0].Id != "501" || len(ds[0].Values) != 3 {
					t.Fatalf("%s %v", p.Fields["AdditionalFields"], err)
				}
				// The customer's settings changed: the new value is accepted.
				cs, err := c.CustomerSettings(ctx, H)
				if err != nil || len(cs.CustomFields[0].Values) != 3 {
					t.Fatalf("settings %+v %v", cs, err)
				}
				err = c.CheckOut(ctx, corrigo.CheckOutRequest{ActionRequest: corrigo.ActionRequest{WorkOrderId: id},
					RepairInfo: &corrigo.RepairInfo{CodeId: cs.RepairCodes[0].CodeId}, CustomFields: []corrigo.CustomField{{Id: 501, Value: "Vendor"}}})
				wantErr(t, err, 0)
			}},
		{"custom field unknown", H, corrigo.TypeRequest, corrigo.StatusAccepted, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CustomFieldChange", CustomFieldId: 999} },
			corrigo.CodeEntityNotFound, nil, "", nil},
		{"customer accepts", N, corrigo.TypeRequest, corrigo.StatusNew, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CustomerAccept"} },
			0, []corrigo.Action{corrigo.ActionAccepted}, "Customer",
			func(t *testing.T, id int64, ps []corrigo.Payload) {
				if p := ps[0].(corrigo.AcceptedPayload); p.Status != corrigo.StatusAccepted || status(t, sb, id) != corrigo.StatusAccepted {
					t.Fatalf("%+v", p)
				}
			}},
		{"customer accepts a Paused work order", N, corrigo.TypeRequest, corrigo.StatusPaused, nil,
			func(int64) sandbox.Action { return sandbox.Action{Action: "CustomerAccept"} },
			corrigo.CodeInvalidState, nil, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: tc.cust, Type: tc.typ, Status: tc.from})
			if tc.prep != nil {
				tc.prep(id)
			}
			idle(t, sb)
			before := len(rc.deliveries())
			// Through the control API, as a test or demo drives it.
			res, code := actHTTP(t, sb, id, tc.act(id))
			if code != tc.code {
				t.Fatalf("code %d, want %d", code, tc.code)
			}
			idle(t, sb)
			got := rc.deliveries()[before:]
			if len(got) != len(tc.actions) || len(res.NotificationIds) != len(tc.actions) {
				t.Fatalf("%d deliveries (ids %v), want %v", len(got), res.NotificationIds, tc.actions)
			}
			var ps []corrigo.Payload
			for i, d := range got {
				if d.N == nil || d.N.Header.Action != tc.actions[i] || d.N.Header.Sender.Type != tc.sender || d.N.Header.WorkOrderId != id {
					t.Fatalf("delivery %d: %s", i, d.Body)
				}
				ps = append(ps, d.N.Payload)
			}
			if tc.check != nil {
				tc.check(t, id, ps)
			}
		})
	}
	// Through the REST API too: a step of an NA procedure is a 3000.
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: N, Type: corrigo.TypePMRM, Status: corrigo.StatusAccepted})
	act(id, sandbox.Action{Action: "MarkProcedureNa", ProcedureId: proc(id).Id, IsMarkedNa: true})
	p := proc(id)
	wantErr(t, c.UpdateProcedureStep(ctx, corrigo.StepUpdateRequest{WorkOrderId: id, ProcedureId: p.Id, Step: corrigo.Step{Id: p.Steps[0].Id, Status: "Done"}}), corrigo.CodeBusinessRule)
	act(id, sandbox.Action{Action: "MarkProcedureNa", ProcedureId: p.Id, IsMarkedNa: false})
	wantErr(t, c.UpdateProcedureStep(ctx, corrigo.StepUpdateRequest{WorkOrderId: id, ProcedureId: p.Id, Step: corrigo.Step{Id: p.Steps[0].Id, Status: "Done"}}), 0)
}

// actHTTP posts a to POST /_sandbox/workorders/{id}/actions and returns the
// result, or the CorrigoPro code of a refusal.
func actHTTP(t *testing.T, sb *sandbox.Sandbox, id int64, a sandbox.Action) (sandbox.ActionResult, int) {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, sb.ControlURL()+"workorders/"+strconv.FormatInt(id, 10)+"/actions", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
			Code  int
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code == 0 || e.Error == "" {
			t.Fatalf("HTTP %d without error and code: %s", resp.StatusCode, body)
		}
		return sandbox.ActionResult{}, e.Code
	}
	var res sandbox.ActionResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return res, 0
}
