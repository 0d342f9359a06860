package sandbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestStatusRules runs the real client against the sandbox for every
// documented status rule (API.md §4.2) and error code.
func TestStatusRules(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	past := corrigo.NewTime(time.Now().Add(-time.Hour))
	harborOK := func(id int64) corrigo.CheckOutRequest {
		return corrigo.CheckOutRequest{
			ActionRequest: corrigo.ActionRequest{WorkOrderId: id, Comment: "replaced compressor"},
			RepairInfo:    &corrigo.RepairInfo{CodeId: 11},
			CustomFields:  []corrigo.CustomField{{Id: 501, Value: "Technician"}},
		}
	}
	type op func(id int64) error
	accept := func(id int64) error { return c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: id}) }
	reject := func(comment string) op {
		return func(id int64) error { return c.Reject(ctx, corrigo.RejectRequest{WorkOrderId: id, Comment: comment}) }
	}
	checkIn := func(id int64) error {
		return c.CheckIn(ctx, corrigo.CheckInRequest{WorkOrderId: id, Location: &corrigo.GeoLocation{Latitude: 47.6, Longitude: -122.3}})
	}
	checkInAt := func(id int64) error {
		return c.CheckIn(ctx, corrigo.CheckInRequest{WorkOrderId: id, ActualActionDate: past.Ptr()})
	}
	pause := func(id int64) error { return c.Pause(ctx, corrigo.PauseRequest{WorkOrderId: id}) }
	reopen := func(id int64) error { return c.Reopen(ctx, corrigo.ReopenRequest{WorkOrderId: id}) }
	checkOut := func(req func(int64) corrigo.CheckOutRequest) op {
		return func(id int64) error { return c.CheckOut(ctx, req(id)) }
	}
	bare := func(id int64) corrigo.CheckOutRequest {
		return corrigo.CheckOutRequest{ActionRequest: corrigo.ActionRequest{WorkOrderId: id}}
	}
	withComment := func(id int64) corrigo.CheckOutRequest {
		return corrigo.CheckOutRequest{ActionRequest: corrigo.ActionRequest{WorkOrderId: id, Comment: "done"}}
	}
	wrongCase := func(id int64) corrigo.CheckOutRequest {
		r := harborOK(id)
		r.CustomFields[0].Value = "technician"
		return r
	}
	badCode := func(id int64) corrigo.CheckOutRequest {
		r := harborOK(id)
		r.RepairInfo.CodeId = 999
		return r
	}
	wdd := func(req func(int64) corrigo.CheckOutRequest) op {
		return func(id int64) error { return c.WorkDoneDetails(ctx, req(id)) }
	}
	quote := func(amount float64) op {
		return func(id int64) error {
			return c.SubmitQuote(ctx, corrigo.QuoteSubmitRequest{WorkOrderId: id, Amount: amount, Comment: "replace RTU"})
		}
	}
	appt := func(start corrigo.Time) op {
		return func(id int64) error {
			return c.SetAppointmentInfo(ctx, corrigo.AppointmentInfoRequest{WorkOrderId: id, Appointment: corrigo.Appointment{ScheduledStart: start, Pte: "Appointment"}})
		}
	}
	note := func(text string) op {
		return func(id int64) error { return c.AddNote(ctx, corrigo.NoteRequest{WorkOrderId: id, InternalNote: text}) }
	}
	msg := func(text, vis string) op {
		return func(id int64) error {
			return c.PostMessage(ctx, corrigo.PostMessageRequest{WorkOrderId: id, Text: text, MessageVisibility: vis})
		}
	}
	upload := func(id int64) error {
		_, err := c.UploadAttachment(ctx, corrigo.AttachmentUpload{WorkOrderId: id, Name: "photo.jpg", MimeType: "image/jpeg", DocumentType: "Picture", Content: strings.NewReader("jpeg")})
		return err
	}
	firstStep := func(id int64) (int, int) {
		wo, _, _ := sb.WorkOrder(id)
		p := wo.WorkDetails.Procedures[0]
		return p.Id, p.Steps[0].Id
	}
	step := func(mod func(*corrigo.StepUpdateRequest)) op {
		return func(id int64) error {
			pid, sid := firstStep(id)
			req := corrigo.StepUpdateRequest{WorkOrderId: id, ProcedureId: pid, Step: corrigo.Step{Id: sid, Status: "Done", Value: "true"}}
			if mod != nil {
				mod(&req)
			}
			return c.UpdateProcedureStep(ctx, req)
		}
	}
	equip := func(typ string, asset int64) op {
		return func(id int64) error {
			if asset < 0 {
				wo, _, _ := sb.WorkOrder(id)
				avail, err := c.AvailableEquipment(ctx, wo.WorkOrderId)
				if err != nil || len(avail) == 0 {
					t.Fatalf("available equipment: %v %v", avail, err)
				}
				asset = avail[0].EquipmentAssetId
			}
			return c.AddEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Type: typ, EquipmentAssetId: asset, Name: "new pump"}})
		}
	}

	H, B, S, N := sandbox.CustomerHarbor, sandbox.CustomerBluebird, sandbox.CustomerSummit, sandbox.CustomerNorthwind
	R, P := corrigo.TypeRequest, corrigo.TypePMRM
	tests := []struct {
		name      string
		cust      int
		typ       string
		from      corrigo.Status
		prebilled bool
		op        op
		code      int
		to        corrigo.Status // "" = unchanged
	}{
		{"accept New", N, R, corrigo.StatusNew, false, accept, 0, corrigo.StatusAccepted},
		{"accept prebilled", N, R, corrigo.StatusNew, true, accept, corrigo.CodePrebilledAccept, ""},
		{"accept Paused", N, R, corrigo.StatusPaused, false, accept, corrigo.CodeInvalidState, ""},
		{"accept Accepted", N, R, corrigo.StatusAccepted, false, accept, corrigo.CodeInvalidState, ""},
		{"accept Recalled", N, R, corrigo.StatusRecalled, false, accept, corrigo.CodeNotFoundOrRecalled, ""},
		{"reject New", N, R, corrigo.StatusNew, false, reject("no coverage"), 0, corrigo.StatusRejected},
		{"reject without comment", N, R, corrigo.StatusNew, false, reject(""), corrigo.CodeValidation, ""},
		{"reject after accept", N, R, corrigo.StatusAccepted, false, reject("too late"), corrigo.CodeInvalidState, ""},
		{"reject Recalled", N, R, corrigo.StatusRecalled, false, reject("x"), corrigo.CodeNotFoundOrRecalled, ""},
		{"checkIn Accepted", N, R, corrigo.StatusAccepted, false, checkIn, 0, corrigo.StatusCheckedIn},
		{"checkIn Paused", N, R, corrigo.StatusPaused, false, checkIn, 0, corrigo.StatusCheckedIn},
		{"checkIn New", N, R, corrigo.StatusNew, false, checkIn, corrigo.CodeInvalidState, ""},
		{"checkIn Rejected", N, R, corrigo.StatusRejected, false, checkIn, corrigo.CodeInvalidState, ""},
		{"checkIn backdated, allowed", N, R, corrigo.StatusAccepted, false, checkInAt, 0, corrigo.StatusCheckedIn},
		{"checkIn backdated, not allowed", H, R, corrigo.StatusAccepted, false, checkInAt, corrigo.CodeValidation, ""},
		{"pause CheckedIn", N, R, corrigo.StatusCheckedIn, false, pause, 0, corrigo.StatusPaused},
		{"pause Accepted", N, R, corrigo.StatusAccepted, false, pause, corrigo.CodeInvalidState, ""},
		{"pause Paused", N, R, corrigo.StatusPaused, false, pause, corrigo.CodeInvalidState, ""},
		{"checkOut no requirements", N, R, corrigo.StatusCheckedIn, false, checkOut(bare), 0, corrigo.StatusCheckedOut},
		{"checkOut from Paused", N, R, corrigo.StatusPaused, false, checkOut(bare), 0, corrigo.StatusCheckedOut},
		{"checkOut Accepted", N, R, corrigo.StatusAccepted, false, checkOut(bare), corrigo.CodeInvalidState, ""},
		{"checkOut Recalled", N, R, corrigo.StatusRecalled, false, checkOut(bare), corrigo.CodeNotFoundOrRecalled, ""},
		{"checkOut Request missing info", H, R, corrigo.StatusCheckedIn, false, checkOut(bare), corrigo.CodeValidation, ""},
		{"checkOut PMRM missing info", H, P, corrigo.StatusCheckedIn, false, checkOut(bare), 0, corrigo.StatusNeedsCompletionDetails},
		{"checkOut Request complete", H, R, corrigo.StatusCheckedIn, false, checkOut(harborOK), 0, corrigo.StatusCheckedOut},
		{"checkOut custom field value case", H, R, corrigo.StatusCheckedIn, false, checkOut(wrongCase), corrigo.CodeValidation, ""},
		{"checkOut PMRM unknown repair code", H, P, corrigo.StatusCheckedIn, false, checkOut(badCode), corrigo.CodeValidation, ""},
		{"checkOut comment required", B, R, corrigo.StatusCheckedIn, false, checkOut(bare), corrigo.CodeValidation, ""},
		{"checkOut comment given", B, R, corrigo.StatusCheckedIn, false, checkOut(withComment), 0, corrigo.StatusCheckedOut},
		{"checkOut procedures+equipment required", S, R, corrigo.StatusCheckedIn, false, checkOut(bare), corrigo.CodeValidation, ""},
		{"workDoneDetails complete", H, P, corrigo.StatusNeedsCompletionDetails, false, wdd(harborOK), 0, corrigo.StatusCheckedOut},
		{"workDoneDetails missing", H, P, corrigo.StatusNeedsCompletionDetails, false, wdd(bare), corrigo.CodeValidation, ""},
		{"workDoneDetails CheckedIn", H, P, corrigo.StatusCheckedIn, false, wdd(harborOK), corrigo.CodeInvalidState, ""},
		{"reopen CheckedOut", N, R, corrigo.StatusCheckedOut, false, reopen, 0, corrigo.StatusNew},
		{"reopen New", N, R, corrigo.StatusNew, false, reopen, corrigo.CodeInvalidState, ""},
		{"reopen Recalled", N, R, corrigo.StatusRecalled, false, reopen, corrigo.CodeNotFoundOrRecalled, ""},
		{"quote Accepted", H, R, corrigo.StatusAccepted, false, quote(450), 0, ""},
		{"quote twice", H, R, corrigo.StatusAccepted, false, quote(200), corrigo.CodeQuoteNotAllowed, ""},
		{"quote customer disallows", B, R, corrigo.StatusAccepted, false, quote(450), corrigo.CodeQuoteNotAllowed, ""},
		{"quote Rejected", H, R, corrigo.StatusRejected, false, quote(450), corrigo.CodeQuoteNotAllowed, ""},
		{"quote Recalled", H, R, corrigo.StatusRecalled, false, quote(450), corrigo.CodeNotFoundOrRecalled, ""},
		{"quote zero amount", H, R, corrigo.StatusAccepted, false, quote(0), corrigo.CodeValidation, ""},
		{"appointment", N, R, corrigo.StatusAccepted, false, appt(corrigo.NewTime(time.Now().Add(time.Hour))), 0, ""},
		{"appointment without start", N, R, corrigo.StatusAccepted, false, appt(corrigo.Time{}), corrigo.CodeValidation, ""},
		{"appointment Rejected", N, R, corrigo.StatusRejected, false, appt(corrigo.NewTime(time.Now())), corrigo.CodeInvalidState, ""},
		{"note", N, R, corrigo.StatusAccepted, false, note("gate code 1234"), 0, ""},
		{"note empty", N, R, corrigo.StatusAccepted, false, note(" "), corrigo.CodeValidation, ""},
		{"note Recalled", N, R, corrigo.StatusRecalled, false, note("x"), corrigo.CodeNotFoundOrRecalled, ""},
		{"note Rejected", N, R, corrigo.StatusRejected, false, note("x"), corrigo.CodeInvalidState, ""},
		{"message", N, R, corrigo.StatusAccepted, false, msg("ETA 2pm", ""), 0, ""},
		{"message Rejected", N, R, corrigo.StatusRejected, false, msg("hi", "All"), corrigo.CodeInvalidState, ""},
		{"message Recalled", N, R, corrigo.StatusRecalled, false, msg("hi", "All"), corrigo.CodeNotFoundOrRecalled, ""},
		{"message empty", N, R, corrigo.StatusAccepted, false, msg("", "All"), corrigo.CodeValidation, ""},
		{"message too long", N, R, corrigo.StatusAccepted, false, msg(strings.Repeat("x", 3001), "All"), corrigo.CodeValidation, ""},
		{"message bad visibility", N, R, corrigo.StatusAccepted, false, msg("hi", "Everyone"), corrigo.CodeValidation, ""},
		{"attachment", N, R, corrigo.StatusAccepted, false, upload, 0, ""},
		{"attachment Rejected", N, R, corrigo.StatusRejected, false, upload, corrigo.CodeInvalidState, ""},
		{"attachment Recalled", N, R, corrigo.StatusRecalled, false, upload, corrigo.CodeNotFoundOrRecalled, ""},
		{"step Accepted", N, P, corrigo.StatusAccepted, false, step(nil), 0, ""},
		{"step CheckedIn", N, P, corrigo.StatusCheckedIn, false, step(nil), 0, ""},
		{"step Paused", N, P, corrigo.StatusPaused, false, step(nil), 0, ""},
		{"step OnHold", N, P, corrigo.StatusOnHold, false, step(nil), 0, ""},
		{"step New", N, P, corrigo.StatusNew, false, step(nil), corrigo.CodeInvalidState, ""},
		{"step CheckedOut", N, P, corrigo.StatusCheckedOut, false, step(nil), corrigo.CodeInvalidState, ""},
		{"step Recalled", N, P, corrigo.StatusRecalled, false, step(nil), corrigo.CodeNotFoundOrRecalled, ""},
		{"step unknown", N, P, corrigo.StatusAccepted, false, step(func(r *corrigo.StepUpdateRequest) { r.Step.Id = 1 }), corrigo.CodeEntityNotFound, ""},
		{"step unknown procedure", N, P, corrigo.StatusAccepted, false, step(func(r *corrigo.StepUpdateRequest) { r.ProcedureId = 1 }), corrigo.CodeEntityNotFound, ""},
		{"step bad status", N, P, corrigo.StatusAccepted, false, step(func(r *corrigo.StepUpdateRequest) { r.Step.Status = "Finished" }), corrigo.CodeValidation, ""},
		{"step money without currency", N, P, corrigo.StatusAccepted, false, step(func(r *corrigo.StepUpdateRequest) { r.Step.Id += 2; r.Step.Value = "12.50" }), corrigo.CodeValidation, ""},
		{"step money with currency", N, P, corrigo.StatusAccepted, false, step(func(r *corrigo.StepUpdateRequest) { r.Step.Id += 2; r.Step.Value = "12.50"; r.Step.Currency = "USD" }), 0, ""},
		{"equipment existing", N, R, corrigo.StatusCheckedIn, false, equip("Existing", -1), 0, ""},
		{"equipment unknown asset", N, R, corrigo.StatusCheckedIn, false, equip("Existing", 424242), corrigo.CodeEntityNotFound, ""},
		{"equipment Unknown type", N, R, corrigo.StatusCheckedIn, false, equip("Unknown", 0), 0, ""},
		{"equipment bad type", N, R, corrigo.StatusCheckedIn, false, equip("Borrowed", 0), corrigo.CodeValidation, ""},
		{"equipment Recalled", N, R, corrigo.StatusRecalled, false, equip("Unknown", 0), corrigo.CodeNotFoundOrRecalled, ""},
		{"unknown work order", N, R, corrigo.StatusNew, false, func(int64) error { return accept(987654) }, corrigo.CodeNotFoundOrRecalled, ""},
		{"missing WorkOrderId", N, R, corrigo.StatusNew, false, func(int64) error { return accept(0) }, corrigo.CodeValidation, ""},
	}
	// setup runs before the operation under test.
	setup := map[string]op{"quote twice": quote(100)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: tc.cust, Type: tc.typ, Status: tc.from, PreBilled: tc.prebilled})
			if f := setup[tc.name]; f != nil {
				wantErr(t, f(id), 0)
			}
			before, hist0, _ := sb.WorkOrder(id)
			wantErr(t, tc.op(id), tc.code)
			after, hist, _ := sb.WorkOrder(id)
			want := tc.to
			if want == "" {
				want = before.Status
			}
			if after.Status != want {
				t.Fatalf("status %s, want %s", after.Status, want)
			}
			if tc.code != 0 && len(hist) != len(hist0) {
				t.Fatalf("a refused call changed the history: %+v", hist[len(hist0):])
			}
			if tc.code == 0 && len(hist) <= len(hist0) {
				t.Fatalf("an accepted call left no history entry")
			}
		})
	}
}

// TestSummitCompletion walks the customer that needs procedures and
// equipment through a complete check-out.
func TestSummitCompletion(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerSummit, Type: corrigo.TypePMRM, Status: corrigo.StatusCheckedIn})
	procs, err := c.Procedures(ctx, id)
	if err != nil || len(procs) == 0 {
		t.Fatalf("procedures: %v %v", procs, err)
	}
	steps, err := c.ProcedureSteps(ctx, id, procs[0].Id)
	if err != nil || len(steps) != len(procs[0].Steps) {
		t.Fatalf("steps: %v %v", steps, err)
	}
	// Missing procedures and equipment: PMRM ends in NeedsCompletionDetails.
	wantErr(t, c.CheckOut(ctx, corrigo.CheckOutRequest{ActionRequest: corrigo.ActionRequest{WorkOrderId: id}}), 0)
	if st := status(t, sb, id); st != corrigo.StatusNeedsCompletionDetails {
		t.Fatalf("status %s", st)
	}
	// workDoneDetails with the steps but without equipment is still 2100.
	var done []corrigo.StepDescriptor
	for _, s := range steps {
		if s.IsRequired {
			done = append(done, corrigo.StepDescriptor{Id: s.Id, Status: "Done", Value: "ok"})
		}
	}
	req := corrigo.CheckOutRequest{ActionRequest: corrigo.ActionRequest{WorkOrderId: id}, Procedures: []corrigo.Procedure{{Id: procs[0].Id, Steps: done}}}
	wantErr(t, c.WorkDoneDetails(ctx, req), corrigo.CodeValidation)
	// Equipment cannot be added in NeedsCompletionDetails? It can: only
	// Rejected and Recalled refuse it.
	wantErr(t, c.AddEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Type: "Unknown"}}), 0)
	wantErr(t, c.WorkDoneDetails(ctx, req), 0)
	if st := status(t, sb, id); st != corrigo.StatusCheckedOut {
		t.Fatalf("status %s", st)
	}
	eq, err := c.Equipment(ctx, id)
	if err != nil || len(eq) != 1 {
		t.Fatalf("equipment %v %v", eq, err)
	}
	procs, _ = c.Procedures(ctx, id)
	if procs[0].Status != "Open" && procs[0].Status != "Done" {
		t.Fatalf("procedure status %q", procs[0].Status)
	}
}
