package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/wogate/wogate/pkg/corrigo"
)

// EmulatedWorkOrderId is the work order id of an emulated notification that
// names no work order: like CorrigoPro's Event Notification Emulator, the
// sandbox then sends a sample whose work order does not exist (API.md §3.5).
const EmulatedWorkOrderId = 42

// EmulateRequest asks for one sample notification (POST /_sandbox/emulate,
// `gateway sandbox emulate`).
type EmulateRequest struct {
	// Action is one of the 26 notification types (corrigo.KnownActions),
	// matched case-insensitively.
	Action string
	// WorkOrderId, when set, builds the sample from that work order's real
	// state (details, status, procedures, quote, invoice, ...). Nothing on
	// the work order changes.
	WorkOrderId int64 `json:",omitempty"`
	// BranchId picks the branch of a sample without a work order (default:
	// the provider's first branch); with a work order it must be its branch.
	BranchId int64 `json:",omitempty"`
}

// EmulateResult is the queued sample.
type EmulateResult struct {
	NotificationId int64
	Action         corrigo.Action
	WorkOrderId    int64
	BranchId       int64
	MessageId      string
	Body           json.RawMessage
}

// ErrEmulate is wrapped by the errors of Emulate for bad requests.
var ErrEmulate = errors.New("sandbox: emulate")

// ErrNoWorkOrder is wrapped when the named work order does not exist.
var ErrNoWorkOrder = errors.New("sandbox: no such work order")

// senderType is the Sender.Type of each notification in CorrigoPro's samples
// (API.md §3.3); the others are CorrigoPro.
var customerSent = []corrigo.Action{
	corrigo.ActionNewWorkOrder, corrigo.ActionPutOnHold, corrigo.ActionRecalled, corrigo.ActionNteChanged,
	corrigo.ActionSlaChanged, corrigo.ActionAttachmentRemoved, corrigo.ActionCheckListMigratedToProcedure,
	corrigo.ActionProcedureUpdated, corrigo.ActionInvoiceStatusChanged, corrigo.ActionAdditionalFieldDescriptorUpdate,
}

// Emulate sends a correctly signed sample notification of any type to the
// webhook, like CorrigoPro Desktop's Event Notification Emulator, and
// returns it. It goes through the retry queue like every notification.
func (s *Sandbox) Emulate(req EmulateRequest) (EmulateResult, error) {
	i := slices.IndexFunc(corrigo.KnownActions, func(a corrigo.Action) bool { return strings.EqualFold(string(a), req.Action) })
	if i < 0 {
		names := make([]string, len(corrigo.KnownActions))
		for j, a := range corrigo.KnownActions {
			names[j] = string(a)
		}
		return EmulateResult{}, fmt.Errorf("%w: unknown action %q; one of %s", ErrEmulate, req.Action, strings.Join(names, ", "))
	}
	action := corrigo.KnownActions[i]
	var rec *record
	if req.WorkOrderId != 0 {
		if rec = s.rec(req.WorkOrderId); rec == nil {
			return EmulateResult{}, fmt.Errorf("%w: %d", ErrNoWorkOrder, req.WorkOrderId)
		}
		rec.mu.Lock()
		branch := rec.wo.BranchId
		rec.mu.Unlock()
		if req.BranchId != 0 && req.BranchId != branch {
			return EmulateResult{}, fmt.Errorf("%w: work order %d belongs to branch %d, not %d", ErrEmulate, req.WorkOrderId, branch, req.BranchId)
		}
	} else {
		var err error
		if rec, err = s.sampleRecord(req.BranchId); err != nil {
			return EmulateResult{}, err
		}
	}
	rec.mu.Lock()
	w := cloneWO(rec.wo)
	p := s.samplePayload(action, rec, &w)
	snd := corrigo.Sender{Name: "Jon Snow", Phone: "+12025550141", Type: "CorrigoPro"}
	if slices.Contains(customerSent, action) {
		snd = customerSender(&w)
	}
	if action == corrigo.ActionNeedsCompletionDetails {
		snd = corrigo.Sender{Name: "IVR", Type: "CorrigoPro"}
	}
	ns := s.hooks.prepare(rec, []pendingNotification{{action: action, sender: snd, payload: p}})
	if req.WorkOrderId != 0 {
		rec.history = append(rec.history, HistoryEntry{Seq: s.nextSeq(), Time: s.now().UTC(), Actor: ActorEmulator,
			Action: "emulate " + string(action), NotificationId: ns[0].Id})
	}
	rec.mu.Unlock()
	ns[0].Emulated = true
	s.hooks.enqueue(ns)
	n := ns[0]
	return EmulateResult{NotificationId: n.Id, Action: action, WorkOrderId: n.header.WorkOrderId, BranchId: n.header.BranchId,
		MessageId: n.MessageId, Body: n.Body}, nil
}

// sampleRecord builds a work order that is not stored, for a sample that
// names none: a PMRM work order (so that procedures exist) of a customer the
// branch serves.
func (s *Sandbox) sampleRecord(branch int64) (*record, error) {
	s.mu.RLock()
	customers := slices.Clone(s.customers)
	s.mu.RUnlock()
	branches := s.Branches()
	if branch == 0 {
		branch = branches[0].Id
	} else if !slices.ContainsFunc(branches, func(b BranchInfo) bool { return b.Id == branch }) {
		ids := make([]string, len(branches))
		for i, b := range branches {
			ids[i] = fmt.Sprint(b.Id)
		}
		return nil, fmt.Errorf("%w: unknown branch %d; the provider's branches are %s", ErrEmulate, branch, strings.Join(ids, ", "))
	}
	var cust *customerDef
	for _, c := range customers {
		if slices.Contains(c.BranchIds, branch) {
			cust = c
			break
		}
	}
	if cust == nil {
		return nil, fmt.Errorf("%w: no customer is served by branch %d", ErrEmulate, branch)
	}
	rec, err := s.buildWorkOrder(WorkOrderSpec{BranchId: branch, Type: corrigo.TypePMRM, Status: corrigo.StatusAccepted},
		cust, EmulatedWorkOrderId, "EMU42")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEmulate, err)
	}
	return rec, nil
}

var sampleLocation = &corrigo.GeoLocation{Latitude: 36.281445, Longitude: -75.794662}

// samplePayload builds the payload of action from the work order's state,
// with documented sample values where the state has none. Called with
// rec.mu held.
func (s *Sandbox) samplePayload(action corrigo.Action, rec *record, w *corrigo.WorkOrder) corrigo.Payload {
	sc := func(st corrigo.Status, comment string, loc *corrigo.GeoLocation) corrigo.StatusChange {
		return corrigo.StatusChange{Status: st, Comment: comment, Location: loc}
	}
	procs := func() []corrigo.Procedure {
		if w.WorkDetails != nil && len(w.WorkDetails.Procedures) > 0 {
			return cloneProcedures(w.WorkDetails.Procedures)
		}
		asset := rec.customer.Sites[0].Assets[0]
		return s.pmProcedures(asset)
	}
	steps := func(p corrigo.Procedure) []corrigo.Step {
		out := make([]corrigo.Step, 0, len(p.Steps))
		for _, d := range p.Steps {
			st := corrigo.Step{Id: d.Id, Status: d.Status, Value: d.Value, Comment: d.Comment, Currency: d.Currency}
			if st.Status == "" || st.Status == "Open" {
				st.Status = "Done"
			}
			out = append(out, st)
		}
		return out
	}
	checklist := func() []corrigo.CheckListItem {
		if w.WorkDetails != nil && len(w.WorkDetails.CheckList) > 0 {
			return slices.Clone(w.WorkDetails.CheckList)
		}
		return sampleCheckList(w.WorkOrderId)
	}
	info := rec.completion
	if info.Comment == "" {
		info.Comment = "Replaced the failed part and tested the unit."
	}
	if info.RepairInfo == nil && len(rec.customer.settings().RepairCodes) > 0 {
		rc := rec.customer.settings().RepairCodes[0]
		info.RepairInfo = &corrigo.RepairInfo{CodeId: rc.CodeId, Code: rc.Code}
	}
	if len(info.CustomFields) == 0 {
		for _, f := range rec.customer.settings().CustomFields {
			v := "1"
			if len(f.Values) > 0 {
				v = f.Values[0]
			}
			info.CustomFields = append(info.CustomFields, corrigo.CustomField{Id: f.Id, Value: v})
		}
	}
	attachment := corrigo.Attachment{AttachmentId: uuid.NewString(), Name: "photo.jpg", MimeType: "image/jpeg", Size: 48213, Subtype: "Picture"}
	if n := len(rec.attachments); n > 0 {
		attachment = rec.attachments[n-1]
	}
	switch action {
	case corrigo.ActionNewWorkOrder:
		return corrigo.NewWorkOrderPayload{Details: *w, Attachments: slices.Clone(rec.attachments)}
	case corrigo.ActionAccepted:
		return corrigo.AcceptedPayload{StatusChange: sc(corrigo.StatusAccepted, "Technician assigned", nil)}
	case corrigo.ActionRejected:
		return corrigo.RejectedPayload{StatusChange: sc(corrigo.StatusRejected, "Outside our service area", nil)}
	case corrigo.ActionCheckedIn:
		return corrigo.CheckedInPayload{StatusChange: sc(corrigo.StatusCheckedIn, "", sampleLocation)}
	case corrigo.ActionPaused:
		return corrigo.PausedPayload{StatusChange: sc(corrigo.StatusPaused, "Waiting for parts", sampleLocation)}
	case corrigo.ActionNeedsCompletionDetails:
		return corrigo.NeedsCompletionDetailsPayload{StatusChange: sc(corrigo.StatusNeedsCompletionDetails, "", nil)}
	case corrigo.ActionPutOnHold:
		return corrigo.PutOnHoldPayload{StatusChange: sc(corrigo.StatusOnHold, "Store closed for inventory", nil)}
	case corrigo.ActionReopened:
		return corrigo.ReopenedPayload{StatusChange: sc(corrigo.StatusNew, "The problem is back", nil)}
	case corrigo.ActionRecalled:
		return corrigo.RecalledPayload{StatusChange: sc(corrigo.StatusRecalled, "Dispatched in error", nil)}
	case corrigo.ActionCheckedOut:
		return corrigo.CheckedOutPayload{Comment: info.Comment, Location: sampleLocation, Procedures: procs(),
			RepairInfo: info.RepairInfo, CustomFields: info.CustomFields}
	case corrigo.ActionMessageSent:
		text := "Please call the store manager on arrival."
		for i := len(rec.messages) - 1; i >= 0; i-- {
			if rec.messages[i].MessageVisibility == "All" {
				text = rec.messages[i].Text
				break
			}
		}
		return corrigo.MessageSentPayload{Text: text}
	case corrigo.ActionNteChanged:
		amount := 500.0
		if w.Nte != nil && w.Nte.Amount != 0 {
			amount = w.Nte.Amount
		}
		return corrigo.NteChangedPayload{Amount: amount}
	case corrigo.ActionQuoteChanged:
		q := corrigo.Quote{QuoteStatus: corrigo.QuoteRequested, Comment: "Please quote the repair"}
		if w.Nte != nil && w.Nte.Quote != nil {
			q = *w.Nte.Quote
		}
		return corrigo.QuoteChangedPayload{Quote: q}
	case corrigo.ActionSlaChanged:
		sla := corrigo.Sla{}
		if w.Sla != nil {
			sla = *w.Sla
		}
		sla.PriorityId = 0
		return corrigo.SlaChangedPayload{Sla: sla}
	case corrigo.ActionAttachmentAdded:
		return corrigo.AttachmentAddedPayload(attachment)
	case corrigo.ActionAttachmentRemoved:
		return corrigo.AttachmentRemovedPayload{AttachmentId: attachment.AttachmentId}
	case corrigo.ActionCheckListUpdated:
		items := checklist()
		for i := range items {
			items[i].IsDone = true
		}
		return corrigo.CheckListUpdatedPayload{CheckList: items}
	case corrigo.ActionCheckListMigratedToProcedure:
		p := procs()[0]
		return corrigo.CheckListMigratedToProcedurePayload{ProcedureId: p.Id, Steps: steps(p)}
	case corrigo.ActionProcedureUpdated:
		return corrigo.ProcedureUpdatedPayload{ProcedureUpdates: []corrigo.ProcedureUpdate{{Procedure: procs()[0], UpdateType: "Add"}}}
	case corrigo.ActionProcedureMarked:
		return corrigo.ProcedureMarkedPayload{ProcedureId: procs()[0].Id, IsMarkedNa: true}
	case corrigo.ActionProcedureStepUpdated:
		p := procs()[0]
		return corrigo.ProcedureStepUpdatedPayload{ProcedureId: p.Id, Steps: steps(p)}
	case corrigo.ActionCompletionInfoChanged:
		return corrigo.CompletionInfoChangedPayload{Comment: info.Comment, RepairInfo: info.RepairInfo, CustomFields: info.CustomFields}
	case corrigo.ActionInvoiceStatusChanged:
		p := corrigo.InvoiceStatusChangedPayload{Status: corrigo.InvoiceAuthorized, AuthNumber: fmt.Sprintf("AUTH-%d", w.WorkOrderId), Amount: rec.invoice.TotalAmount}
		if st := rec.invoice.Status; st != corrigo.InvoiceDraft && st != "" {
			p.Status = st
		}
		if p.Amount == 0 {
			p.Amount = 420
		}
		return p
	case corrigo.ActionAppointmentInfoChanged:
		a := corrigo.Appointment{ScheduledStart: corrigo.NewTime(s.now().Add(24 * 60 * 60 * 1e9).UTC().Truncate(60 * 1e9)), Pte: "Appointment"}
		if w.Schedule != nil && !w.Schedule.ScheduledStart.IsZero() {
			a = *w.Schedule
		}
		return corrigo.AppointmentInfoChangedPayload{Appointment: a}
	case corrigo.ActionAdditionalFieldDescriptorUpdate:
		return corrigo.AdditionalFieldDescriptorUpdatedPayload{Fields: map[string]json.RawMessage{
			"AdditionalFields": mustJSON(descriptorsOf(rec.customer.settings().CustomFields)),
		}}
	case corrigo.ActionIsmStatusChanged:
		st := rec.ism
		if st.Status == "" {
			st = ismStatus{Status: "Complete", Comment: "Inspection submitted."}
		}
		return corrigo.IsmStatusChangedPayload{Fields: map[string]json.RawMessage{
			"Status": mustJSON(st.Status), "Comment": mustJSON(st.Comment),
		}}
	}
	return corrigo.Unknown{Action: action}
}

// ismStatus is a work order's ISM (induction and safety) status [I]: the
// IsmStatusChanged notification has no retrieved documentation page; its
// fields follow pkg/corrigo's fixture.
type ismStatus struct {
	Status  string
	Comment string `json:",omitempty"`
}

// descriptorsOf renders custom field settings as AdditionalFieldDescriptors
// (API.md §2.4), the body of AdditionalFieldDescriptorUpdated [I].
func descriptorsOf(fs []corrigo.CustomFieldSetting) []additionalFieldDescriptor {
	out := make([]additionalFieldDescriptor, 0, len(fs))
	for _, f := range fs {
		out = append(out, additionalFieldDescriptor{Id: fmt.Sprint(f.Id), Label: f.Label, Values: slices.Clone(f.Values),
			DataType: "String", DataLength: 50})
	}
	return out
}

// additionalFieldDescriptor is CorrigoPro's AdditionalFieldDescriptor
// (API.md §2.4 [C]).
type additionalFieldDescriptor struct {
	Id         string
	Label      string
	Values     []string
	DataType   string
	DataLength int
	IsDeleted  bool
	IsReadonly bool
}

// sampleCheckList is the legacy checklist of the emulator's samples and of
// the seeded Bluebird Request work orders.
func sampleCheckList(id int64) []corrigo.CheckListItem {
	base := int(id%100000) * 10
	return []corrigo.CheckListItem{
		{Id: base + 1, SortingIndex: 1, Description: "Photograph the area before work"},
		{Id: base + 2, SortingIndex: 2, Description: "Clean up the work area"},
		{Id: base + 3, SortingIndex: 3, Description: "Have the manager sign off"},
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain values are marshalled here
	}
	return b
}
