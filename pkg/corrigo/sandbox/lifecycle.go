package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wogate/wogate/pkg/corrigo"
)

// The notifications a technician's or a customer's work on procedures,
// checklists, completion details, custom fields and ISM status causes
// (API.md §3.3). Which events CorrigoPro sends them for is documented only
// by their pages' one-line descriptions; where the sandbox sends them is
// listed in docs/sandbox.md.

// errBusinessRule is CorrigoPro's generic business-rule violation (3000,
// "read Message").
func errBusinessRule(format string, args ...any) *apiError {
	return errCode(corrigo.CodeBusinessRule, format, args...)
}

// procedureNotNA refuses a step update on a procedure marked not
// applicable: a business rule (3000) [I].
func procedureNotNA(p *corrigo.Procedure) *apiError {
	if p.Status == "NA" {
		return errBusinessRule("Procedure %d is marked not applicable; its steps cannot be updated", p.Id)
	}
	return nil
}

// procedureStatuses are where procedures may change (API.md §4.2 [C]).
var procedureStatuses = []corrigo.Status{corrigo.StatusAccepted, corrigo.StatusCheckedIn, corrigo.StatusPaused, corrigo.StatusOnHold}

func stepsOf(p *corrigo.Procedure, ids []int) []corrigo.Step {
	out := make([]corrigo.Step, 0, len(ids))
	for _, d := range p.Steps {
		if slices.Contains(ids, d.Id) {
			out = append(out, corrigo.Step{Id: d.Id, Status: d.Status, Value: d.Value, Comment: d.Comment, Currency: d.Currency})
		}
	}
	return out
}

// updateSteps is a technician updating steps in the mobile app:
// ProcedureStepUpdated with the steps as they are now.
func updateSteps(w *corrigo.WorkOrder, procID int, steps []corrigo.Step, ch *change) *apiError {
	if len(steps) == 0 {
		return errValidation(verr("Steps", vRequired, "Steps is required"))
	}
	if e := guard(w, "procedure/step", procedureStatuses...); e != nil {
		return e
	}
	p := findProcedure(w, procID)
	if p == nil {
		return errCode(corrigo.CodeEntityNotFound, "Procedure %d not found on work order %d", procID, w.WorkOrderId)
	}
	if e := procedureNotNA(p); e != nil {
		return e
	}
	ids := make([]int, 0, len(steps))
	for _, st := range steps {
		i := slices.IndexFunc(p.Steps, func(x corrigo.StepDescriptor) bool { return x.Id == st.Id })
		if i < 0 {
			return errCode(corrigo.CodeEntityNotFound, "Step %d not found in procedure %d", st.Id, procID)
		}
		if e := setStep(&p.Steps[i], st); e != nil {
			return e
		}
		ids = append(ids, st.Id)
	}
	updateProcedureStatus(p)
	ch.emit(w, corrigo.ProcedureStepUpdatedPayload{ProcedureId: procID, Steps: stepsOf(p, ids)})
	return nil
}

// markProcedure marks a procedure not applicable (or applicable again):
// ProcedureMarked. A procedure that does not allow it is a business rule
// violation (3000) [I].
func markProcedure(w *corrigo.WorkOrder, procID int, na bool, ch *change) *apiError {
	if e := guard(w, "procedure/mark", procedureStatuses...); e != nil {
		return e
	}
	p := findProcedure(w, procID)
	if p == nil {
		return errCode(corrigo.CodeEntityNotFound, "Procedure %d not found on work order %d", procID, w.WorkOrderId)
	}
	if na && !p.AllowMarkNotApplicable {
		return errBusinessRule("Procedure %d cannot be marked not applicable", procID)
	}
	if na {
		p.Status = "NA"
	} else {
		p.Status = "Open"
		updateProcedureStatus(p)
	}
	ch.emit(w, corrigo.ProcedureMarkedPayload{ProcedureId: procID, IsMarkedNa: na})
	return nil
}

// desktopCheckOut is a technician's check-out in the mobile app. Before
// CheckedOut it sends what the technician completed with it: one
// ProcedureStepUpdated per procedure whose steps the check-out changed, and
// CheckListUpdated with the work order's legacy checklist ticked off [I].
func (s *Sandbox) desktopCheckOut(rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, ch *change) *apiError {
	for _, p := range req.Procedures {
		if wp := findProcedure(w, p.Id); wp != nil && len(p.Steps) > 0 {
			if e := procedureNotNA(wp); e != nil {
				return e
			}
		}
	}
	if e := wfCheckOut(s, rec, w, req, ch); e != nil {
		return e
	}
	checkedOut := ch.notify
	ch.notify = nil
	for _, p := range req.Procedures {
		wp := findProcedure(w, p.Id)
		if wp == nil || len(p.Steps) == 0 {
			continue
		}
		ids := make([]int, 0, len(p.Steps))
		for _, st := range p.Steps {
			ids = append(ids, st.Id)
		}
		ch.emit(w, corrigo.ProcedureStepUpdatedPayload{ProcedureId: p.Id, Steps: stepsOf(wp, ids)})
	}
	if w.WorkDetails != nil && len(w.WorkDetails.CheckList) > 0 {
		for i := range w.WorkDetails.CheckList {
			w.WorkDetails.CheckList[i].IsDone = true
		}
		ch.emit(w, corrigo.CheckListUpdatedPayload{CheckList: slices.Clone(w.WorkDetails.CheckList)})
		// The CheckedOut payload carries the checklist as it now is.
		for i, n := range checkedOut {
			if p, ok := n.payload.(corrigo.CheckedOutPayload); ok {
				p.CheckList = slices.Clone(w.WorkDetails.CheckList)
				checkedOut[i].payload = p
			}
		}
	}
	ch.notify = append(ch.notify, checkedOut...)
	return nil
}

// changeCompletionInfo changes the completion details of a completed work
// order. CorrigoPro sends CompletionInfoChanged "only after invoice
// submission" (API.md §3.3 [C]): before it, the change sends nothing.
func changeCompletionInfo(rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, ch *change) *apiError {
	if e := guard(w, "completionInfo", corrigo.StatusCheckedOut, corrigo.StatusVerified); e != nil {
		return e
	}
	if req.Comment == "" && req.RepairInfo == nil && len(req.CustomFields) == 0 {
		return errValidation(verr("Comment", vRequired, "a Comment, RepairInfo or CustomFields to change is required"))
	}
	info := mergeCompletion(rec.completion, req)
	if _, invalid := completionProblems(rec, w, info); len(invalid) > 0 {
		return errValidation(invalid...)
	}
	rec.completion = info
	if rec.invoice.Status != corrigo.InvoiceDraft {
		ch.emit(w, corrigo.CompletionInfoChangedPayload{Comment: info.Comment, RepairInfo: info.RepairInfo, CustomFields: slices.Clone(info.CustomFields)})
	}
	return nil
}

// ismStatuses are the ISM statuses the sandbox accepts [I]: no
// documentation page for IsmStatusChanged was retrieved.
var ismStatuses = []string{"NotStarted", "InProgress", "Complete", "Failed"}

func changeIsmStatus(rec *record, w *corrigo.WorkOrder, status, comment string, ch *change) *apiError {
	if !slices.Contains(ismStatuses, status) {
		return errValidation(verr("Status", vInvalidValue, fmt.Sprintf("Status must be one of %q", ismStatuses)))
	}
	if e := notTerminal(w, "ismStatus"); e != nil {
		return e
	}
	rec.ism = ismStatus{Status: status, Comment: comment}
	ch.emit(w, corrigo.IsmStatusChangedPayload{Fields: map[string]json.RawMessage{"Status": mustJSON(status), "Comment": mustJSON(comment)}})
	return nil
}

// migrateCheckList is the customer converting the work order's legacy
// checklist into a procedure ("Checklists are becoming Procedures"):
// CheckListMigratedToProcedure with the new procedure's id and steps.
func (s *Sandbox) migrateCheckList(w *corrigo.WorkOrder, ch *change) *apiError {
	if e := notTerminal(w, "checkListMigrate"); e != nil {
		return e
	}
	if w.WorkDetails == nil || len(w.WorkDetails.CheckList) == 0 {
		return errBusinessRule("Work order %d has no checklist to migrate", w.WorkOrderId)
	}
	p := corrigo.Procedure{Id: 400000 + int(s.nextSeq()), Order: len(w.WorkDetails.Procedures) + 1, Name: "Checklist", Status: "Open"}
	ids := make([]int, 0, len(w.WorkDetails.CheckList))
	for _, it := range w.WorkDetails.CheckList {
		st := "Open"
		if it.IsDone {
			st = "Done"
		}
		p.Steps = append(p.Steps, corrigo.StepDescriptor{Id: it.Id, Order: it.SortingIndex, Status: st, Description: it.Description,
			Comment: it.Comment, StepType: "Text"})
		ids = append(ids, it.Id)
	}
	updateProcedureStatus(&p)
	w.WorkDetails.CheckList = nil
	w.WorkDetails.Procedures = append(w.WorkDetails.Procedures, p)
	ch.emit(w, corrigo.CheckListMigratedToProcedurePayload{ProcedureId: p.Id, Steps: stepsOf(&p, ids)})
	return nil
}

// addProcedure is the customer adding the preventive-maintenance procedure
// of the work order's asset: ProcedureUpdated with UpdateType Add.
func (s *Sandbox) addProcedure(rec *record, w *corrigo.WorkOrder, ch *change) *apiError {
	if e := guard(w, "procedureAdd", append([]corrigo.Status{corrigo.StatusNew}, procedureStatuses...)...); e != nil {
		return e
	}
	asset := rec.customer.Sites[0].Assets[0]
	if w.WorkDetails != nil && len(w.WorkDetails.Assets) > 0 {
		for _, site := range rec.customer.Sites {
			for _, a := range site.Assets {
				if a.Id == w.WorkDetails.Assets[0].Id {
					asset = a
				}
			}
		}
	}
	p := s.pmProcedures(asset)[0]
	if w.WorkDetails == nil {
		w.WorkDetails = &corrigo.WorkDetails{}
	}
	p.Order = len(w.WorkDetails.Procedures) + 1
	w.WorkDetails.Procedures = append(w.WorkDetails.Procedures, p)
	ch.emit(w, corrigo.ProcedureUpdatedPayload{ProcedureUpdates: []corrigo.ProcedureUpdate{{Procedure: p, UpdateType: "Add"}}})
	return nil
}

// changeCustomField is the customer changing the configuration of one of
// its custom fields ("a custom field configuration is updated by the
// requestor"): the customer's settings change for every work order, and
// AdditionalFieldDescriptorUpdated is sent for this one with the customer's
// descriptors.
func (s *Sandbox) changeCustomField(rec *record, w *corrigo.WorkOrder, a Action, ch *change) *apiError {
	if e := notTerminal(w, "customFieldChange"); e != nil {
		return e
	}
	cu := rec.customer
	st := cu.settings()
	i := slices.IndexFunc(st.CustomFields, func(f corrigo.CustomFieldSetting) bool { return f.Id == a.CustomFieldId })
	if i < 0 {
		return errCode(corrigo.CodeEntityNotFound, "Custom field %d is not configured by customer %d", a.CustomFieldId, cu.Id)
	}
	for _, v := range a.Values {
		if strings.TrimSpace(v) == "" {
			return errValidation(verr("Values", vInvalidValue, "a value must not be empty"))
		}
	}
	fields := slices.Clone(st.CustomFields)
	f := fields[i]
	f.Values = slices.Clone(a.Values)
	if a.Label != "" {
		f.Label = a.Label
	}
	if a.IsRequired != nil {
		f.IsRequired = *a.IsRequired
	}
	fields[i] = f
	st.CustomFields = fields
	cu.setSettings(st)
	ch.comment = fmt.Sprintf("custom field %d", f.Id)
	ch.emit(w, corrigo.AdditionalFieldDescriptorUpdatedPayload{Fields: map[string]json.RawMessage{
		"AdditionalFields": mustJSON(descriptorsOf(fields)),
	}})
	return nil
}
