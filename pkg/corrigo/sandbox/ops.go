package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wogate/wogate/pkg/corrigo"
)

// apiError is a CorrigoPro error answer (API.md §2.2, §5).
type apiError struct {
	Status     int
	Code       int
	Message    string
	Validation []corrigo.ValidationError
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %d %s", e.Status, e.Code, e.Message) }

func errCode(code int, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validation error types used in ValidationErrors[].ErrorType.
const (
	vRequired      = "Required"
	vIncorrectType = "IncorrectType"
	vInvalidValue  = "InvalidValue"
	vMaxLength     = "MaxLength"
	vNotAllowed    = "NotAllowed"
)

func verr(field, typ, msg string) corrigo.ValidationError {
	return corrigo.ValidationError{FieldName: field, ErrorType: typ, Message: msg}
}

func errValidation(v ...corrigo.ValidationError) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: corrigo.CodeValidation, Message: "Model data validation failed", Validation: v}
}

var errEmptyModel = errValidation(verr("", vIncorrectType, "Empty request model"))

func errInternal() *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: corrigo.CodeInternal,
		Message: "Internal server error occurred. This might be a configuration, integration, or setup Internal server error."}
}

func errRecalled(id int64) *apiError {
	return errCode(corrigo.CodeNotFoundOrRecalled, "Work order %d not found or recalled by the customer; no action is possible", id)
}

func errState(w *corrigo.WorkOrder, op string) *apiError {
	return errCode(corrigo.CodeInvalidState, "Operation %s is not allowed for work order %d in status %s", op, w.WorkOrderId, w.Status)
}

// guard allows op only from the given statuses. A recalled work order is
// always 3005: CorrigoPro reports "not found or recalled" for it.
func guard(w *corrigo.WorkOrder, op string, allowed ...corrigo.Status) *apiError {
	if w.Status == corrigo.StatusRecalled {
		return errRecalled(w.WorkOrderId)
	}
	if !slices.Contains(allowed, w.Status) {
		return errState(w, op)
	}
	return nil
}

// notTerminal refuses an operation on a Rejected or Recalled work order
// (attachments, messages, notes, appointment, equipment).
func notTerminal(w *corrigo.WorkOrder, op string) *apiError {
	switch w.Status {
	case corrigo.StatusRecalled:
		return errRecalled(w.WorkOrderId)
	case corrigo.StatusRejected:
		return errState(w, op)
	}
	return nil
}

// change collects what an operation did, for the history and webhooks.
type change struct {
	actor   string
	op      string
	msgID   string
	comment string
	sender  *corrigo.Sender // who performs a Desktop/customer action (default per actor)
	notify  []pendingNotification
	noLog   bool    // nothing to record (read-only outcome)
	sent    []int64 // ids of the notifications queued, set by apply
}

// emit queues a notification unless the change came through the REST API:
// CorrigoPro sends no webhook for actions initiated via CorrigoPro Direct
// (API.md §3.1).
func (c *change) emit(w *corrigo.WorkOrder, p corrigo.Payload) {
	if c.actor == ActorProvider {
		return
	}
	var snd corrigo.Sender
	switch {
	case c.sender != nil:
		snd = *c.sender
	case c.actor == ActorCustomer:
		snd = customerSender(w)
	default:
		snd = corrigo.Sender{Name: "Jon Snow", Phone: "+12025550141", Type: "CorrigoPro"}
	}
	c.notify = append(c.notify, pendingNotification{action: corrigo.ActionOf(p), sender: snd, payload: p})
}

func customerSender(w *corrigo.WorkOrder) corrigo.Sender {
	snd := corrigo.Sender{Type: "Customer"}
	if w.Contact != nil {
		snd.Name = w.Contact.FullName
		if len(w.Contact.Phones) > 0 {
			snd.Phone = w.Contact.Phones[0]
		}
	}
	if snd.Name == "" && w.Customer != nil {
		snd.Name = w.Customer.Name
	}
	return snd
}

// apply runs fn on a copy of the work order under the record's lock. On
// success the copy replaces the stored work order, the change is recorded in
// the history and its notifications are queued (after the lock is
// released). fn must validate before it changes anything on rec.
func (s *Sandbox) apply(id int64, c *change, fn func(rec *record, w *corrigo.WorkOrder) *apiError) (*corrigo.WorkOrder, *apiError) {
	rec := s.rec(id)
	if rec == nil {
		return nil, errRecalled(id)
	}
	rec.mu.Lock()
	w := cloneWO(rec.wo)
	if e := fn(rec, &w); e != nil {
		rec.mu.Unlock()
		return nil, e
	}
	if c.noLog {
		rec.mu.Unlock()
		return &w, nil
	}
	from := rec.wo.Status
	now := s.now().UTC()
	w.LastUpdate = corrigo.NewTime(now)
	rec.wo = &w
	ns := s.hooks.prepare(rec, c.notify)
	entry := HistoryEntry{Seq: s.nextSeq(), Time: now, Actor: c.actor, Action: c.op, MessageId: c.msgID, Comment: c.comment}
	if from != w.Status {
		entry.From, entry.To = from, w.Status
	}
	if len(ns) > 0 {
		entry.NotificationId = ns[0].Id
	}
	for _, n := range ns {
		c.sent = append(c.sent, n.Id)
	}
	rec.history = append(rec.history, entry)
	rec.mu.Unlock()
	s.hooks.enqueue(ns)
	return &w, nil
}

// checkComment validates an optional comment's length.
func checkComment(field, comment string, required bool) *apiError {
	if required && strings.TrimSpace(comment) == "" {
		return errValidation(verr(field, vRequired, field+" is required"))
	}
	if len(comment) > 3000 {
		return errValidation(verr(field, vMaxLength, field+" must be at most 3000 characters"))
	}
	return nil
}

// checkActionDate refuses a backdated ActualActionDate unless the customer
// allows backdating, and any date in the future.
func (s *Sandbox) checkActionDate(rec *record, d *corrigo.Time) *apiError {
	if d == nil || d.IsZero() {
		return nil
	}
	if !rec.customer.settings().BackdatingAllowed {
		return errValidation(verr("ActualActionDate", vNotAllowed, "the customer does not allow backdating; omit ActualActionDate"))
	}
	if d.After(s.now().Add(5 * 60 * 1e9)) {
		return errValidation(verr("ActualActionDate", vInvalidValue, "ActualActionDate is in the future"))
	}
	return nil
}

// workflow is one of the status-changing operations; it is shared by the
// REST API (actor Provider, no webhook) and Desktop actions (webhook).
type workflow func(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError

func statusChange(w *corrigo.WorkOrder, req *corrigo.CheckOutRequest) corrigo.StatusChange {
	return corrigo.StatusChange{Status: w.Status, Comment: req.Comment, Location: req.Location}
}

func wfAccept(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := checkComment("Comment", req.Comment, false); e != nil {
		return e
	}
	switch {
	case w.Status == corrigo.StatusRecalled:
		return errRecalled(w.WorkOrderId)
	case w.IsPreBilled:
		return errCode(corrigo.CodePrebilledAccept, "Work order %d is prebilled and cannot be accepted; submit its invoice instead", w.WorkOrderId)
	case w.Status == corrigo.StatusPaused:
		return errCode(corrigo.CodeInvalidState, "Work order %d is paused and cannot be accepted", w.WorkOrderId)
	case w.Status != corrigo.StatusNew:
		return errState(w, "accept")
	}
	w.Status = corrigo.StatusAccepted
	c.emit(w, corrigo.AcceptedPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: req.Comment}})
	return nil
}

func wfReject(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := checkComment("Comment", req.Comment, true); e != nil {
		return e
	}
	if e := guard(w, "reject", corrigo.StatusNew); e != nil {
		return e
	}
	w.Status = corrigo.StatusRejected
	c.emit(w, corrigo.RejectedPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: req.Comment}})
	return nil
}

func wfCheckIn(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := checkComment("Comment", req.Comment, false); e != nil {
		return e
	}
	if e := s.checkActionDate(rec, req.ActualActionDate); e != nil {
		return e
	}
	if e := guard(w, "checkIn", corrigo.StatusAccepted, corrigo.StatusPaused); e != nil {
		return e
	}
	w.Status = corrigo.StatusCheckedIn
	c.emit(w, corrigo.CheckedInPayload{StatusChange: statusChange(w, req)})
	return nil
}

func wfPause(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := checkComment("Comment", req.Comment, false); e != nil {
		return e
	}
	if e := s.checkActionDate(rec, req.ActualActionDate); e != nil {
		return e
	}
	if e := guard(w, "pause", corrigo.StatusCheckedIn); e != nil {
		return e
	}
	w.Status = corrigo.StatusPaused
	c.emit(w, corrigo.PausedPayload{StatusChange: statusChange(w, req)})
	return nil
}

func wfReopen(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := checkComment("Comment", req.Comment, false); e != nil {
		return e
	}
	if e := guard(w, "reopen", corrigo.StatusOnHold, corrigo.StatusCheckedOut, corrigo.StatusNeedsCompletionDetails, corrigo.StatusVerified); e != nil {
		return e
	}
	w.Status = corrigo.StatusNew
	c.emit(w, corrigo.ReopenedPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: req.Comment}})
	return nil
}

// completionProblems checks the completion information against the
// customer's settings. missing lists what is absent (a PMRM check-out then
// ends in NeedsCompletionDetails); invalid lists values that are wrong
// whatever the type (always 2100).
func completionProblems(rec *record, w *corrigo.WorkOrder, info completionInfo) (missing, invalid []corrigo.ValidationError) {
	st := rec.customer.settings()
	if st.CommentRequired && strings.TrimSpace(info.Comment) == "" {
		missing = append(missing, verr("Comment", vRequired, "the customer requires a completion comment"))
	}
	if len(info.Comment) > 3000 {
		invalid = append(invalid, verr("Comment", vMaxLength, "Comment must be at most 3000 characters"))
	}
	if ri := info.RepairInfo; ri == nil || (ri.CodeId == 0 && ri.Code == "") {
		if st.RepairInfoRequired {
			missing = append(missing, verr("RepairInfo", vRequired, "the customer requires repair information (RepairInfo.CodeId)"))
		}
	} else if !slices.ContainsFunc(st.RepairCodes, func(c corrigo.RepairCodeSetting) bool {
		return (ri.CodeId != 0 && c.CodeId == ri.CodeId) || (ri.CodeId == 0 && c.Code == ri.Code)
	}) {
		invalid = append(invalid, verr("RepairInfo.CodeId", vInvalidValue, fmt.Sprintf("repair code %d %q is not one of the customer's codes", ri.CodeId, ri.Code)))
	}
	given := map[int]string{}
	for _, f := range info.CustomFields {
		given[f.Id] = f.Value
		i := slices.IndexFunc(st.CustomFields, func(s corrigo.CustomFieldSetting) bool { return s.Id == f.Id })
		if i < 0 {
			invalid = append(invalid, verr(fmt.Sprintf("CustomFields[%d]", f.Id), vInvalidValue, "unknown custom field"))
			continue
		}
		if vals := st.CustomFields[i].Values; len(vals) > 0 && f.Value != "" && !slices.Contains(vals, f.Value) {
			invalid = append(invalid, verr(fmt.Sprintf("CustomFields[%d]", f.Id), vInvalidValue,
				fmt.Sprintf("value %q is not one of %q (values are case-sensitive)", f.Value, vals)))
		}
	}
	if st.CustomFieldsRequired {
		for _, f := range st.CustomFields {
			if f.IsRequired && strings.TrimSpace(given[f.Id]) == "" {
				missing = append(missing, verr(fmt.Sprintf("CustomFields[%d]", f.Id), vRequired, fmt.Sprintf("custom field %q is required", f.Label)))
			}
		}
	}
	if st.CheckListRequired && w.WorkDetails != nil {
		for _, p := range w.WorkDetails.Procedures {
			if p.Status == "NA" {
				continue
			}
			for _, step := range p.Steps {
				if step.IsRequired && step.Status != "Done" && step.Status != "NA" {
					missing = append(missing, verr(fmt.Sprintf("Procedures[%d].Steps[%d]", p.Id, step.Id), vRequired,
						fmt.Sprintf("required step %q is not done", step.Description)))
				}
			}
		}
	}
	if st.EquipmentRequired && len(rec.equipment) == 0 {
		missing = append(missing, verr("Equipment", vRequired, "the customer requires the equipment used (POST api/equipment)"))
	}
	return missing, invalid
}

// applyStepUpdates copies step statuses and values sent with a check-out
// into the work order's procedures.
func applyStepUpdates(w *corrigo.WorkOrder, procs []corrigo.Procedure) *apiError {
	if len(procs) == 0 {
		return nil
	}
	if w.WorkDetails == nil {
		return errValidation(verr("Procedures", vInvalidValue, "the work order has no procedures"))
	}
	for _, p := range procs {
		pi := slices.IndexFunc(w.WorkDetails.Procedures, func(x corrigo.Procedure) bool { return x.Id == p.Id })
		if pi < 0 {
			return errValidation(verr(fmt.Sprintf("Procedures[%d]", p.Id), vInvalidValue, "unknown procedure"))
		}
		wp := &w.WorkDetails.Procedures[pi]
		for _, st := range p.Steps {
			si := slices.IndexFunc(wp.Steps, func(x corrigo.StepDescriptor) bool { return x.Id == st.Id })
			if si < 0 {
				return errValidation(verr(fmt.Sprintf("Procedures[%d].Steps[%d]", p.Id, st.Id), vInvalidValue, "unknown step"))
			}
			if e := setStep(&wp.Steps[si], corrigo.Step{Id: st.Id, Status: st.Status, Value: st.Value, Comment: st.Comment, Currency: st.Currency}); e != nil {
				return e
			}
		}
		updateProcedureStatus(wp)
	}
	return nil
}

func mergeCompletion(old completionInfo, req *corrigo.CheckOutRequest) completionInfo {
	info := old
	if req.Comment != "" {
		info.Comment = req.Comment
	}
	if req.RepairInfo != nil {
		ri := *req.RepairInfo
		info.RepairInfo = &ri
	}
	if len(req.CustomFields) > 0 {
		merged := slices.Clone(info.CustomFields)
		for _, f := range req.CustomFields {
			if i := slices.IndexFunc(merged, func(x corrigo.CustomField) bool { return x.Id == f.Id }); i >= 0 {
				merged[i] = f
			} else {
				merged = append(merged, f)
			}
		}
		info.CustomFields = merged
	}
	return info
}

func checkedOutPayload(w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, info completionInfo) corrigo.CheckedOutPayload {
	p := corrigo.CheckedOutPayload{Comment: info.Comment, Location: req.Location, RepairInfo: info.RepairInfo, CustomFields: info.CustomFields, CheckList: req.CheckList}
	if w.WorkDetails != nil {
		p.Procedures = w.WorkDetails.Procedures
	}
	return p
}

func wfCheckOut(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := s.checkActionDate(rec, req.ActualActionDate); e != nil {
		return e
	}
	if e := guard(w, "checkOut", corrigo.StatusCheckedIn, corrigo.StatusPaused); e != nil {
		return e
	}
	if e := applyStepUpdates(w, req.Procedures); e != nil {
		return e
	}
	info := mergeCompletion(rec.completion, req)
	missing, invalid := completionProblems(rec, w, info)
	if len(invalid) > 0 {
		return errValidation(invalid...)
	}
	if len(missing) > 0 && w.Type != corrigo.TypePMRM {
		return errValidation(missing...)
	}
	rec.completion = info
	if len(missing) > 0 {
		// PMRM: CorrigoPro accepts the check-out and asks for the details.
		w.Status = corrigo.StatusNeedsCompletionDetails
		c.emit(w, corrigo.CheckedOutPayload{Comment: info.Comment, Location: req.Location})
		return nil
	}
	w.Status = corrigo.StatusCheckedOut
	c.emit(w, checkedOutPayload(w, req, info))
	return nil
}

// wfIVRCheckOut is a technician's check-out by phone: the work order always
// needs completion details afterwards (Desktop action only).
func wfIVRCheckOut(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := guard(w, "checkOut", corrigo.StatusCheckedIn, corrigo.StatusPaused); e != nil {
		return e
	}
	w.Status = corrigo.StatusNeedsCompletionDetails
	c.sender = &corrigo.Sender{Name: "IVR", Type: "CorrigoPro"}
	c.emit(w, corrigo.NeedsCompletionDetailsPayload{StatusChange: corrigo.StatusChange{Status: w.Status}})
	return nil
}

func wfWorkDoneDetails(s *Sandbox, rec *record, w *corrigo.WorkOrder, req *corrigo.CheckOutRequest, c *change) *apiError {
	if e := guard(w, "workDoneDetails", corrigo.StatusNeedsCompletionDetails); e != nil {
		return e
	}
	if e := applyStepUpdates(w, req.Procedures); e != nil {
		return e
	}
	info := mergeCompletion(rec.completion, req)
	missing, invalid := completionProblems(rec, w, info)
	if len(invalid)+len(missing) > 0 {
		return errValidation(append(invalid, missing...)...)
	}
	rec.completion = info
	w.Status = corrigo.StatusCheckedOut
	c.emit(w, checkedOutPayload(w, req, info))
	return nil
}

// validStepStatuses are the step statuses PUT api/procedure/step accepts.
var validStepStatuses = []string{"Unknown", "Open", "NA", "Done"}

// setStep applies a step update after validating it.
func setStep(d *corrigo.StepDescriptor, st corrigo.Step) *apiError {
	field := fmt.Sprintf("Step[%d]", st.Id)
	if st.Status != "" && !slices.Contains(validStepStatuses, st.Status) {
		return errValidation(verr(field+".Status", vInvalidValue, fmt.Sprintf("Status must be one of %q", validStepStatuses)))
	}
	if d.DataType == "Money" && st.Value != "" {
		if st.Currency == "" && d.Currency == "" {
			return errValidation(verr(field+".Currency", vRequired, "Currency (ISO 4217) is required for a Money step"))
		}
	}
	if st.Currency != "" && (len(st.Currency) != 3 || strings.ToUpper(st.Currency) != st.Currency) {
		return errValidation(verr(field+".Currency", vInvalidValue, "Currency must be an ISO 4217 code such as USD"))
	}
	if len(st.Comment) > 3000 {
		return errValidation(verr(field+".Comment", vMaxLength, "Comment must be at most 3000 characters"))
	}
	if st.Status != "" {
		d.Status = st.Status
	}
	if st.Value != "" {
		d.Value = st.Value
	}
	if st.Comment != "" {
		d.Comment = st.Comment
	}
	if st.Currency != "" {
		d.Currency = st.Currency
	}
	return nil
}

// updateProcedureStatus marks a procedure Done when every step is Done or NA.
func updateProcedureStatus(p *corrigo.Procedure) {
	if p.Status == "NA" {
		return
	}
	done := len(p.Steps) > 0
	for _, st := range p.Steps {
		if st.Status != "Done" && st.Status != "NA" {
			done = false
		}
	}
	if done {
		p.Status = "Done"
	} else {
		p.Status = "Open"
	}
}
