package sandbox

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Customer actions: what a customer does in Corrigo Enterprise.
const (
	ActPutOnHold         = "PutOnHold"
	ActRecall            = "Recall"
	ActReopen            = "Reopen"
	ActNteChange         = "NteChange"
	ActSlaChange         = "SlaChange"
	ActQuoteRequest      = "QuoteRequest"
	ActQuoteApprove      = "QuoteApprove"
	ActQuoteReject       = "QuoteReject"
	ActInvoiceStatus     = "InvoiceStatus"
	ActMessage           = "Message"
	ActAttachmentAdd     = "AttachmentAdd"
	ActAttachmentRemove  = "AttachmentRemove"
	ActAppointmentChange = "AppointmentChange"
	ActVerify            = "Verify"
	// ActCheckListMigrate turns the work order's legacy checklist into a
	// procedure (CheckListMigratedToProcedure).
	ActCheckListMigrate = "CheckListMigrate"
	// ActProcedureAdd adds a procedure to the work order (ProcedureUpdated).
	ActProcedureAdd = "ProcedureAdd"
	// ActCustomFieldChange changes the customer's configuration of a custom
	// field (AdditionalFieldDescriptorUpdated).
	ActCustomFieldChange = "CustomFieldChange"
	// ActCustomerAccept is an accept by the customer on the provider's
	// behalf (Accepted, Sender.Type Customer).
	ActCustomerAccept = "CustomerAccept"
)

// Desktop actions: what the provider does outside the API (Desktop, mobile
// apps, IVR). CorrigoPro notifies the integration of these.
const (
	ActAccept      = "Accept"
	ActReject      = "Reject"
	ActCheckIn     = "CheckIn"
	ActPause       = "Pause"
	ActCheckOut    = "CheckOut"
	ActIVRCheckOut = "IvrCheckOut"
	// ActSubmitInvoice submits the invoice in Desktop: the only way to
	// accept a prebilled work order (API.md §4.2).
	ActSubmitInvoice = "SubmitInvoice"
	// ActUpdateSteps updates procedure steps in the mobile app
	// (ProcedureStepUpdated).
	ActUpdateSteps = "UpdateSteps"
	// ActMarkProcedureNa marks a procedure not applicable, or applicable
	// again (ProcedureMarked).
	ActMarkProcedureNa = "MarkProcedureNa"
	// ActCompletionInfoChange changes the completion details of a completed
	// work order (CompletionInfoChanged once its invoice is submitted).
	ActCompletionInfoChange = "CompletionInfoChange"
	// ActIsmStatusChange records an ISM status [I] (IsmStatusChanged).
	ActIsmStatusChange = "IsmStatusChange"
)

// CustomerActions and DesktopActions list the action names Act accepts.
var (
	CustomerActions = []string{ActPutOnHold, ActRecall, ActReopen, ActNteChange, ActSlaChange, ActQuoteRequest,
		ActQuoteApprove, ActQuoteReject, ActInvoiceStatus, ActMessage, ActAttachmentAdd, ActAttachmentRemove,
		ActAppointmentChange, ActVerify, ActCheckListMigrate, ActProcedureAdd, ActCustomFieldChange, ActCustomerAccept}
	DesktopActions = []string{ActAccept, ActReject, ActCheckIn, ActPause, ActCheckOut, ActIVRCheckOut, ActSubmitInvoice,
		ActUpdateSteps, ActMarkProcedureNa, ActCompletionInfoChange, ActIsmStatusChange}
)

// Action is a customer or Desktop action on a work order (control API
// POST /_sandbox/workorders/{id}/actions). Only the fields the action needs
// are read.
type Action struct {
	Action        string
	Comment       string                `json:",omitempty"`
	Amount        float64               `json:",omitempty"` // NteChange, InvoiceStatus
	Sla           *corrigo.Sla          `json:",omitempty"` // SlaChange: fields to change
	Appointment   *corrigo.Appointment  `json:",omitempty"` // AppointmentChange
	Text          string                `json:",omitempty"` // Message
	Status        string                `json:",omitempty"` // InvoiceStatus: Authorized, Paid, Disputed
	AuthNumber    string                `json:",omitempty"`
	CheckNumber   string                `json:",omitempty"`
	PaidDate      corrigo.Time          `json:",omitempty"`
	Name          string                `json:",omitempty"` // AttachmentAdd
	MimeType      string                `json:",omitempty"`
	Content       []byte                `json:",omitempty"` // base64 in JSON
	AttachmentId  string                `json:",omitempty"` // AttachmentRemove
	Location      *corrigo.GeoLocation  `json:",omitempty"`
	RepairInfo    *corrigo.RepairInfo   `json:",omitempty"`
	CustomFields  []corrigo.CustomField `json:",omitempty"`
	Sender        *corrigo.Sender       `json:",omitempty"` // who did it (default: site contact / Jon Snow)
	SubmitAnyway  bool                  `json:",omitempty"` // SubmitInvoice: override a tax mismatch (3056)
	Procedures    []corrigo.Procedure   `json:",omitempty"` // CheckOut: step updates sent with the check-out
	ProcedureId   int                   `json:",omitempty"` // UpdateSteps, MarkProcedureNa
	Steps         []corrigo.Step        `json:",omitempty"` // UpdateSteps
	IsMarkedNa    bool                  `json:",omitempty"` // MarkProcedureNa
	CustomFieldId int                   `json:",omitempty"` // CustomFieldChange
	Label         string                `json:",omitempty"` // CustomFieldChange: new label (empty: unchanged)
	Values        []string              `json:",omitempty"` // CustomFieldChange: the allowed values (empty: any)
	IsRequired    *bool                 `json:",omitempty"` // CustomFieldChange (nil: unchanged)
}

// ActionResult is what an action did.
type ActionResult struct {
	WorkOrder       corrigo.WorkOrder
	NotificationIds []int64 `json:",omitempty"`
}

// ActionError is a refused action; Code is the CorrigoPro code the same
// operation would get through the API.
type ActionError struct {
	Code    int
	Message string
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("sandbox: action refused (code %d): %s", e.Code, e.Message)
}

// Act performs a customer or Desktop action on a work order and sends the
// notification CorrigoPro would send for it.
func (s *Sandbox) Act(id int64, a Action) (ActionResult, error) {
	name := canonicalAction(a.Action)
	if name == "" {
		return ActionResult{}, &ActionError{Code: corrigo.CodeValidation,
			Message: fmt.Sprintf("unknown action %q; customer actions: %s; desktop actions: %s", a.Action, strings.Join(CustomerActions, ", "), strings.Join(DesktopActions, ", "))}
	}
	actor := ActorCustomer
	if slices.Contains(DesktopActions, name) {
		actor = ActorDesktop
	}
	ch := &change{actor: actor, op: name, comment: a.Comment, sender: a.Sender}
	var fileToStore *file
	var fileToDrop string
	fn := func(rec *record, w *corrigo.WorkOrder) *apiError {
		req := &corrigo.CheckOutRequest{
			ActionRequest: corrigo.ActionRequest{WorkOrderId: w.WorkOrderId, Comment: a.Comment, Location: a.Location},
			RepairInfo:    a.RepairInfo, CustomFields: a.CustomFields, Procedures: a.Procedures,
		}
		switch name {
		case ActAccept:
			return wfAccept(s, rec, w, req, ch)
		case ActReject:
			if req.Comment == "" {
				req.Comment = "Rejected in CorrigoPro Desktop"
			}
			return wfReject(s, rec, w, req, ch)
		case ActCheckIn:
			return wfCheckIn(s, rec, w, req, ch)
		case ActPause:
			return wfPause(s, rec, w, req, ch)
		case ActCheckOut:
			return s.desktopCheckOut(rec, w, req, ch)
		case ActUpdateSteps:
			return updateSteps(w, a.ProcedureId, a.Steps, ch)
		case ActMarkProcedureNa:
			return markProcedure(w, a.ProcedureId, a.IsMarkedNa, ch)
		case ActCompletionInfoChange:
			return changeCompletionInfo(rec, w, req, ch)
		case ActIsmStatusChange:
			return changeIsmStatus(rec, w, a.Status, a.Comment, ch)
		case ActCheckListMigrate:
			return s.migrateCheckList(w, ch)
		case ActProcedureAdd:
			return s.addProcedure(rec, w, ch)
		case ActCustomerAccept:
			if e := wfAccept(s, rec, w, req, ch); e != nil {
				return e
			}
			if req.Comment == "" {
				ch.notify[len(ch.notify)-1].payload = corrigo.AcceptedPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: "Accepted by the customer"}}
			}
		case ActCustomFieldChange:
			return s.changeCustomField(rec, w, a, ch)
		case ActIVRCheckOut:
			return wfIVRCheckOut(s, rec, w, req, ch)
		case ActSubmitInvoice:
			return s.submitInvoice(rec, w, a.SubmitAnyway, ch)
		case ActPutOnHold:
			if e := guard(w, "putOnHold", corrigo.StatusNew, corrigo.StatusAccepted, corrigo.StatusCheckedIn, corrigo.StatusPaused); e != nil {
				return e
			}
			if req.Comment == "" {
				req.Comment = "Put on hold by the customer"
			}
			w.Status = corrigo.StatusOnHold
			ch.emit(w, corrigo.PutOnHoldPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: req.Comment}})
		case ActRecall:
			if e := guard(w, "recall", corrigo.StatusNew, corrigo.StatusAccepted, corrigo.StatusCheckedIn, corrigo.StatusPaused,
				corrigo.StatusOnHold, corrigo.StatusNeedsCompletionDetails); e != nil {
				return e
			}
			w.Status = corrigo.StatusRecalled
			ch.emit(w, corrigo.RecalledPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: req.Comment}})
		case ActReopen:
			return wfReopen(s, rec, w, req, ch)
		case ActVerify:
			if e := guard(w, "verify", corrigo.StatusCheckedOut); e != nil {
				return e
			}
			w.Status = corrigo.StatusVerified
		case ActNteChange:
			if a.Amount < 0 {
				return errValidation(verr("Amount", vInvalidValue, "Amount must not be negative"))
			}
			if e := notTerminal(w, "nteChange"); e != nil {
				return e
			}
			if w.Nte == nil {
				w.Nte = &corrigo.Nte{}
			}
			w.Nte.Amount = a.Amount
			ch.emit(w, corrigo.NteChangedPayload{Amount: a.Amount})
		case ActSlaChange:
			if a.Sla == nil {
				return errValidation(verr("Sla", vRequired, "Sla is required"))
			}
			if e := notTerminal(w, "slaChange"); e != nil {
				return e
			}
			if w.Sla == nil {
				w.Sla = &corrigo.Sla{}
			}
			mergeSla(w.Sla, a.Sla)
			out := *w.Sla
			out.PriorityId = 0
			ch.emit(w, corrigo.SlaChangedPayload{Sla: out})
		case ActQuoteRequest:
			if e := notTerminal(w, "quoteRequest"); e != nil {
				return e
			}
			if w.Nte == nil {
				w.Nte = &corrigo.Nte{}
			}
			w.Nte.Quote = &corrigo.Quote{QuoteStatus: corrigo.QuoteRequested, Comment: req.Comment}
			ch.emit(w, corrigo.QuoteChangedPayload{Quote: *w.Nte.Quote})
		case ActQuoteApprove, ActQuoteReject:
			if w.Nte == nil || w.Nte.Quote == nil || (w.Nte.Quote.QuoteStatus != corrigo.QuoteSubmitted &&
				(name != ActQuoteReject || w.Nte.Quote.QuoteStatus != corrigo.QuoteApproved)) {
				return errCode(corrigo.CodeInvalidState, "work order %d has no submitted quote", w.WorkOrderId)
			}
			if e := notTerminal(w, "quote"); e != nil {
				return e
			}
			if name == ActQuoteApprove {
				w.Nte.Quote.QuoteStatus = corrigo.QuoteApproved
				// Approval sets the NTE to the quote; no NteChanged is sent for it.
				w.Nte.Amount = w.Nte.Quote.Amount
			} else {
				w.Nte.Quote.QuoteStatus = corrigo.QuoteRejected
			}
			if req.Comment != "" {
				w.Nte.Quote.Comment = req.Comment
			}
			ch.emit(w, corrigo.QuoteChangedPayload{Quote: *w.Nte.Quote})
		case ActInvoiceStatus:
			st := a.Status
			if !slices.Contains([]string{corrigo.InvoiceAuthorized, corrigo.InvoicePaid, corrigo.InvoiceDisputed, corrigo.InvoicePendingVerification}, st) {
				return errValidation(verr("Status", vInvalidValue, "Status must be Authorized, Paid, Disputed or PendingVerification"))
			}
			if rec.invoice.Status == corrigo.InvoiceDraft {
				return errCode(corrigo.CodeInvoiceStatus, "the invoice of work order %d has not been submitted", w.WorkOrderId)
			}
			if st == corrigo.InvoiceDisputed && req.Comment == "" {
				req.Comment = "Disputed by the customer"
			}
			rec.invoice.Status = st
			p := corrigo.InvoiceStatusChangedPayload{Status: st, Comment: req.Comment, Amount: a.Amount}
			switch st {
			case corrigo.InvoiceAuthorized:
				p.AuthNumber = a.AuthNumber
				if p.AuthNumber == "" {
					p.AuthNumber = fmt.Sprintf("AUTH-%d", w.WorkOrderId)
				}
				if p.Amount == 0 {
					p.Amount = rec.invoice.TotalAmount
				}
			case corrigo.InvoicePaid:
				p.CheckNumber = a.CheckNumber
				if p.CheckNumber == "" {
					p.CheckNumber = fmt.Sprintf("CHK-%d", w.WorkOrderId)
				}
				if p.Amount == 0 {
					p.Amount = rec.invoice.TotalAmount
				}
				p.PaidDate = a.PaidDate
				if p.PaidDate.IsZero() {
					p.PaidDate = corrigo.NewTime(s.now())
				}
			}
			ch.emit(w, p)
		case ActMessage:
			if e := checkComment("Text", a.Text, true); e != nil {
				return e
			}
			if e := notTerminal(w, "message"); e != nil {
				return e
			}
			snd := customerSender(w)
			if a.Sender != nil {
				snd = *a.Sender
			}
			rec.messages = append(rec.messages, corrigo.TextMessage{Id: s.nextSeq(), Text: a.Text, MessageVisibility: "All", Sender: &snd, Created: corrigo.NewTime(s.now())})
			ch.comment = a.Text
			ch.emit(w, corrigo.MessageSentPayload{Text: a.Text})
		case ActAttachmentAdd:
			if a.Name == "" || len(a.Content) == 0 {
				return errValidation(verr("Name", vRequired, "Name and Content are required"))
			}
			if e := notTerminal(w, "attachment"); e != nil {
				return e
			}
			mt := a.MimeType
			if mt == "" {
				mt = "application/octet-stream"
			}
			att := corrigo.Attachment{AttachmentId: uuid.NewString(), Name: a.Name, MimeType: mt, Size: int64(len(a.Content)), Subtype: "Document"}
			rec.attachments = append(rec.attachments, att)
			fileToStore = &file{meta: att, workOrderId: w.WorkOrderId, data: a.Content}
			ch.comment = a.Name
			ch.emit(w, corrigo.AttachmentAddedPayload(att))
		case ActAttachmentRemove:
			i := slices.IndexFunc(rec.attachments, func(x corrigo.Attachment) bool { return x.AttachmentId == a.AttachmentId })
			if i < 0 {
				return errCode(corrigo.CodeEntityNotFound, "attachment %q not found on work order %d", a.AttachmentId, w.WorkOrderId)
			}
			rec.attachments = slices.Delete(rec.attachments, i, i+1)
			fileToDrop = a.AttachmentId
			ch.comment = a.AttachmentId
			ch.emit(w, corrigo.AttachmentRemovedPayload{AttachmentId: a.AttachmentId})
		case ActAppointmentChange:
			if a.Appointment == nil {
				return errValidation(verr("Appointment", vRequired, "Appointment is required"))
			}
			return setAppointment(w, *a.Appointment, ch)
		}
		return nil
	}
	w, e := s.apply(id, ch, fn)
	if e != nil {
		return ActionResult{}, &ActionError{Code: e.Code, Message: e.Message}
	}
	if fileToStore != nil {
		s.storeFile(fileToStore)
	}
	if fileToDrop != "" {
		s.mu.Lock()
		delete(s.files, fileToDrop)
		s.mu.Unlock()
	}
	return ActionResult{WorkOrder: cloneWO(w), NotificationIds: ch.sent}, nil
}

func canonicalAction(name string) string {
	for _, a := range append(slices.Clone(CustomerActions), DesktopActions...) {
		if strings.EqualFold(a, name) {
			return a
		}
	}
	switch strings.ToLower(name) {
	case "hold", "onhold":
		return ActPutOnHold
	case "recalled":
		return ActRecall
	case "reopened":
		return ActReopen
	case "ntechanged":
		return ActNteChange
	case "slachanged":
		return ActSlaChange
	case "ivrcheckout", "ivr":
		return ActIVRCheckOut
	}
	return ""
}

func mergeSla(dst, src *corrigo.Sla) {
	if !src.DueDate.IsZero() {
		dst.DueDate = src.DueDate
	}
	if !src.OnSiteBy.IsZero() {
		dst.OnSiteBy = src.OnSiteBy
	}
	if !src.AcknowledgeBy.IsZero() {
		dst.AcknowledgeBy = src.AcknowledgeBy
	}
	if src.PriorityName != "" {
		dst.PriorityName = src.PriorityName
		if p, ok := priorityByName(src.PriorityName); ok {
			dst.PriorityId = p.Id
			dst.IsEmergency = p.Emergency
		}
	}
	if src.IsEmergency {
		dst.IsEmergency = true
	}
}
