package corrigo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Action names a webhook notification (MessageHeader.Action, API.md §3.2).
type Action string

// Known notification actions. ProcedureUpdated is inferred [I]: its page's
// Action line was cut off. Any other string still decodes, as Unknown.
const (
	ActionNewWorkOrder                    Action = "NewWorkOrder"
	ActionAccepted                        Action = "Accepted"
	ActionRejected                        Action = "Rejected"
	ActionCheckedIn                       Action = "CheckedIn"
	ActionPaused                          Action = "Paused"
	ActionCheckedOut                      Action = "CheckedOut"
	ActionNeedsCompletionDetails          Action = "NeedsCompletionDetails"
	ActionPutOnHold                       Action = "PutOnHold"
	ActionReopened                        Action = "Reopened"
	ActionRecalled                        Action = "Recalled"
	ActionMessageSent                     Action = "MessageSent"
	ActionNteChanged                      Action = "NteChanged"
	ActionQuoteChanged                    Action = "QuoteChanged"
	ActionSlaChanged                      Action = "SlaChanged"
	ActionAttachmentAdded                 Action = "AttachmentAdded"
	ActionAttachmentRemoved               Action = "AttachmentRemoved"
	ActionCheckListUpdated                Action = "CheckListUpdated"
	ActionCheckListMigratedToProcedure    Action = "CheckListMigratedToProcedure"
	ActionProcedureUpdated                Action = "ProcedureUpdated"
	ActionProcedureMarked                 Action = "ProcedureMarked"
	ActionProcedureStepUpdated            Action = "ProcedureStepUpdated"
	ActionCompletionInfoChanged           Action = "CompletionInfoChanged"
	ActionInvoiceStatusChanged            Action = "InvoiceStatusChanged"
	ActionAppointmentInfoChanged          Action = "AppointmentInfoChanged"
	ActionAdditionalFieldDescriptorUpdate Action = "AdditionalFieldDescriptorUpdated"
	ActionIsmStatusChanged                Action = "IsmStatusChanged"
)

// KnownActions lists every action with a typed payload.
var KnownActions = []Action{
	ActionNewWorkOrder, ActionAccepted, ActionRejected, ActionCheckedIn, ActionPaused,
	ActionCheckedOut, ActionNeedsCompletionDetails, ActionPutOnHold, ActionReopened,
	ActionRecalled, ActionMessageSent, ActionNteChanged, ActionQuoteChanged, ActionSlaChanged,
	ActionAttachmentAdded, ActionAttachmentRemoved, ActionCheckListUpdated,
	ActionCheckListMigratedToProcedure, ActionProcedureUpdated, ActionProcedureMarked,
	ActionProcedureStepUpdated, ActionCompletionInfoChanged, ActionInvoiceStatusChanged,
	ActionAppointmentInfoChanged, ActionAdditionalFieldDescriptorUpdate, ActionIsmStatusChanged,
}

// Header is the MessageHeader present in every notification (API.md §2.1).
type Header struct {
	WorkOrderId int64
	BranchId    int64   `json:",omitempty"`
	Sender      *Sender `json:",omitempty"`
	// PerformedBy appears instead of Sender in the legacy Accepted sample
	// (ApiVersion 1.0). Decode copies it into Sender when Sender is absent.
	PerformedBy *Person `json:",omitempty"`
	Action      Action
	ActionDate  Time   `json:",omitempty"`
	ApiVersion  string `json:",omitempty"`
	MessageId   string
}

// Notification is a decoded webhook body: the header, the typed payload for
// known actions, and the raw body, kept byte for byte so that nothing the
// gateway accepted is ever lost to a model that is narrower than CorrigoPro's.
type Notification struct {
	Header  Header
	Payload Payload
	Raw     json.RawMessage
}

// Payload is the action-specific part of a notification. Every known action
// has its own type; Unknown carries any other action.
type Payload interface {
	action() Action
}

// StatusChange is the body shared by Accepted, Rejected, CheckedIn, Paused,
// NeedsCompletionDetails, PutOnHold, Reopened and Recalled.
type StatusChange struct {
	Status   Status       `json:",omitempty"`
	Comment  string       `json:",omitempty"`
	Location *GeoLocation `json:",omitempty"`
}

// Typed payloads, one per action (API.md §3.3).
type (
	NewWorkOrderPayload struct {
		Details     WorkOrder
		Attachments []Attachment `json:",omitempty"`
	}
	AcceptedPayload               struct{ StatusChange }
	RejectedPayload               struct{ StatusChange }
	CheckedInPayload              struct{ StatusChange }
	PausedPayload                 struct{ StatusChange }
	NeedsCompletionDetailsPayload struct{ StatusChange }
	PutOnHoldPayload              struct{ StatusChange }
	ReopenedPayload               struct{ StatusChange }
	RecalledPayload               struct{ StatusChange }
	CheckedOutPayload             struct {
		Comment      string          `json:",omitempty"`
		Location     *GeoLocation    `json:",omitempty"`
		Procedures   []Procedure     `json:",omitempty"`
		CheckList    []CheckListItem `json:",omitempty"`
		RepairInfo   *RepairInfo     `json:",omitempty"`
		CustomFields []CustomField   `json:",omitempty"`
	}
	MessageSentPayload struct {
		Text string
	}
	NteChangedPayload struct {
		Amount float64
	}
	QuoteChangedPayload struct {
		Quote Quote
	}
	SlaChangedPayload struct {
		Sla Sla
	}
	AttachmentAddedPayload struct {
		AttachmentId string
		Name         string `json:",omitempty"`
		MimeType     string `json:",omitempty"`
		Size         int64  `json:",omitempty"`
		Subtype      string `json:",omitempty"`
	}
	AttachmentRemovedPayload struct {
		AttachmentId string
	}
	CheckListUpdatedPayload struct {
		CheckList []CheckListItem
	}
	CheckListMigratedToProcedurePayload struct {
		ProcedureId int
		Steps       []Step `json:",omitempty"`
	}
	ProcedureUpdate struct {
		Procedure  Procedure
		UpdateType string `json:",omitempty"` // Add, ...
	}
	ProcedureUpdatedPayload struct {
		ProcedureUpdates []ProcedureUpdate
	}
	ProcedureMarkedPayload struct {
		ProcedureId int
		IsMarkedNa  bool
	}
	ProcedureStepUpdatedPayload struct {
		ProcedureId int
		Steps       []Step `json:",omitempty"`
	}
	CompletionInfoChangedPayload struct {
		Comment      string        `json:",omitempty"`
		RepairInfo   *RepairInfo   `json:",omitempty"`
		CustomFields []CustomField `json:",omitempty"`
	}
	InvoiceStatusChangedPayload struct {
		Status      string  `json:",omitempty"`
		Comment     string  `json:",omitempty"`
		AuthNumber  string  `json:",omitempty"`
		CheckNumber string  `json:",omitempty"`
		Amount      float64 `json:",omitempty"`
		PaidDate    Time    `json:",omitempty"`
	}
	AppointmentInfoChangedPayload struct {
		Appointment Appointment
	}
	// AdditionalFieldDescriptorUpdatedPayload: no documentation page was
	// retrieved; the fields are kept in Fields as decoded JSON.
	AdditionalFieldDescriptorUpdatedPayload struct {
		Fields map[string]json.RawMessage
	}
	// IsmStatusChangedPayload: no documentation page was retrieved.
	IsmStatusChangedPayload struct {
		Fields map[string]json.RawMessage
	}
	// Unknown is the payload of an action this package does not know. The
	// notification still decodes; Fields holds every body property except
	// Header.
	Unknown struct {
		Action Action
		Fields map[string]json.RawMessage
	}
)

func (NewWorkOrderPayload) action() Action                 { return ActionNewWorkOrder }
func (AcceptedPayload) action() Action                     { return ActionAccepted }
func (RejectedPayload) action() Action                     { return ActionRejected }
func (CheckedInPayload) action() Action                    { return ActionCheckedIn }
func (PausedPayload) action() Action                       { return ActionPaused }
func (NeedsCompletionDetailsPayload) action() Action       { return ActionNeedsCompletionDetails }
func (PutOnHoldPayload) action() Action                    { return ActionPutOnHold }
func (ReopenedPayload) action() Action                     { return ActionReopened }
func (RecalledPayload) action() Action                     { return ActionRecalled }
func (CheckedOutPayload) action() Action                   { return ActionCheckedOut }
func (MessageSentPayload) action() Action                  { return ActionMessageSent }
func (NteChangedPayload) action() Action                   { return ActionNteChanged }
func (QuoteChangedPayload) action() Action                 { return ActionQuoteChanged }
func (SlaChangedPayload) action() Action                   { return ActionSlaChanged }
func (AttachmentAddedPayload) action() Action              { return ActionAttachmentAdded }
func (AttachmentRemovedPayload) action() Action            { return ActionAttachmentRemoved }
func (CheckListUpdatedPayload) action() Action             { return ActionCheckListUpdated }
func (CheckListMigratedToProcedurePayload) action() Action { return ActionCheckListMigratedToProcedure }
func (ProcedureUpdatedPayload) action() Action             { return ActionProcedureUpdated }
func (ProcedureMarkedPayload) action() Action              { return ActionProcedureMarked }
func (ProcedureStepUpdatedPayload) action() Action         { return ActionProcedureStepUpdated }
func (CompletionInfoChangedPayload) action() Action        { return ActionCompletionInfoChanged }
func (InvoiceStatusChangedPayload) action() Action         { return ActionInvoiceStatusChanged }
func (AppointmentInfoChangedPayload) action() Action       { return ActionAppointmentInfoChanged }
func (AdditionalFieldDescriptorUpdatedPayload) action() Action {
	return ActionAdditionalFieldDescriptorUpdate
}
func (IsmStatusChangedPayload) action() Action { return ActionIsmStatusChanged }
func (u Unknown) action() Action               { return u.Action }

// ActionOf returns the action a payload belongs to.
func ActionOf(p Payload) Action { return p.action() }

// newPayload returns a pointer to a zero payload for a known action, or nil.
func newPayload(a Action) Payload {
	switch a {
	case ActionNewWorkOrder:
		return &NewWorkOrderPayload{}
	case ActionAccepted:
		return &AcceptedPayload{}
	case ActionRejected:
		return &RejectedPayload{}
	case ActionCheckedIn:
		return &CheckedInPayload{}
	case ActionPaused:
		return &PausedPayload{}
	case ActionNeedsCompletionDetails:
		return &NeedsCompletionDetailsPayload{}
	case ActionPutOnHold:
		return &PutOnHoldPayload{}
	case ActionReopened:
		return &ReopenedPayload{}
	case ActionRecalled:
		return &RecalledPayload{}
	case ActionCheckedOut:
		return &CheckedOutPayload{}
	case ActionMessageSent:
		return &MessageSentPayload{}
	case ActionNteChanged:
		return &NteChangedPayload{}
	case ActionQuoteChanged:
		return &QuoteChangedPayload{}
	case ActionSlaChanged:
		return &SlaChangedPayload{}
	case ActionAttachmentAdded:
		return &AttachmentAddedPayload{}
	case ActionAttachmentRemoved:
		return &AttachmentRemovedPayload{}
	case ActionCheckListUpdated:
		return &CheckListUpdatedPayload{}
	case ActionCheckListMigratedToProcedure:
		return &CheckListMigratedToProcedurePayload{}
	case ActionProcedureUpdated:
		return &ProcedureUpdatedPayload{}
	case ActionProcedureMarked:
		return &ProcedureMarkedPayload{}
	case ActionProcedureStepUpdated:
		return &ProcedureStepUpdatedPayload{}
	case ActionCompletionInfoChanged:
		return &CompletionInfoChangedPayload{}
	case ActionInvoiceStatusChanged:
		return &InvoiceStatusChangedPayload{}
	case ActionAppointmentInfoChanged:
		return &AppointmentInfoChangedPayload{}
	}
	return nil
}

// Errors returned by DecodeNotification. They are distinct so the webhook
// endpoint can name the problem in its 4xx answer.
var (
	ErrEmptyBody        = errors.New("notification body is empty")
	ErrNotJSONObject    = errors.New("notification body is not a JSON object")
	ErrMissingHeader    = errors.New("notification has no Header")
	ErrMissingAction    = errors.New("notification Header has no Action")
	ErrMissingMessage   = errors.New("notification Header has no MessageId")
	ErrMissingWorkOrder = errors.New("notification Header has no WorkOrderId")
)

// DecodeNotification decodes a webhook body. Unknown actions decode into
// Unknown, never an error; a known action whose fields do not fit its type is
// an error naming the action. The body is kept in Raw.
func DecodeNotification(body []byte) (*Notification, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, ErrEmptyBody
	}
	if body[0] != '{' {
		return nil, ErrNotJSONObject
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotJSONObject, err)
	}
	rawHeader, ok := fields["Header"]
	if !ok || bytes.Equal(bytes.TrimSpace(rawHeader), []byte("null")) {
		return nil, ErrMissingHeader
	}
	n := &Notification{Raw: append(json.RawMessage(nil), body...)}
	if err := json.Unmarshal(rawHeader, &n.Header); err != nil {
		return nil, fmt.Errorf("decode Header: %w", err)
	}
	h := &n.Header
	if h.Sender == nil && h.PerformedBy != nil {
		h.Sender = &Sender{Name: h.PerformedBy.Name, Phone: h.PerformedBy.Phone}
	}
	switch {
	case h.Action == "":
		return nil, ErrMissingAction
	case h.MessageId == "":
		return nil, ErrMissingMessage
	case h.WorkOrderId == 0:
		return nil, ErrMissingWorkOrder
	}
	if p := newPayload(h.Action); p != nil {
		if err := json.Unmarshal(body, p); err != nil {
			return nil, fmt.Errorf("decode %s payload: %w", h.Action, err)
		}
		n.Payload = derefPayload(p)
		return n, nil
	}
	delete(fields, "Header")
	switch h.Action {
	case ActionAdditionalFieldDescriptorUpdate:
		n.Payload = AdditionalFieldDescriptorUpdatedPayload{Fields: fields}
	case ActionIsmStatusChanged:
		n.Payload = IsmStatusChangedPayload{Fields: fields}
	default:
		n.Payload = Unknown{Action: h.Action, Fields: fields}
	}
	return n, nil
}

// derefPayload turns the *T built by newPayload into the T stored in
// Notification.Payload, so callers switch on value types.
func derefPayload(p Payload) Payload {
	switch v := p.(type) {
	case *NewWorkOrderPayload:
		return *v
	case *AcceptedPayload:
		return *v
	case *RejectedPayload:
		return *v
	case *CheckedInPayload:
		return *v
	case *PausedPayload:
		return *v
	case *NeedsCompletionDetailsPayload:
		return *v
	case *PutOnHoldPayload:
		return *v
	case *ReopenedPayload:
		return *v
	case *RecalledPayload:
		return *v
	case *CheckedOutPayload:
		return *v
	case *MessageSentPayload:
		return *v
	case *NteChangedPayload:
		return *v
	case *QuoteChangedPayload:
		return *v
	case *SlaChangedPayload:
		return *v
	case *AttachmentAddedPayload:
		return *v
	case *AttachmentRemovedPayload:
		return *v
	case *CheckListUpdatedPayload:
		return *v
	case *CheckListMigratedToProcedurePayload:
		return *v
	case *ProcedureUpdatedPayload:
		return *v
	case *ProcedureMarkedPayload:
		return *v
	case *ProcedureStepUpdatedPayload:
		return *v
	case *CompletionInfoChangedPayload:
		return *v
	case *InvoiceStatusChangedPayload:
		return *v
	case *AppointmentInfoChangedPayload:
		return *v
	}
	return p
}

// NewNotification builds a notification body for a payload, as the sandbox
// sends and as tests need. The header's Action is set from the payload.
func NewNotification(h Header, p Payload) ([]byte, error) {
	h.Action = p.action()
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	switch v := p.(type) {
	case Unknown:
		fields = v.Fields
	case AdditionalFieldDescriptorUpdatedPayload:
		fields = v.Fields
	case IsmStatusChangedPayload:
		fields = v.Fields
	default:
		if err := json.Unmarshal(body, &fields); err != nil {
			return nil, err
		}
	}
	out := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		out[k] = v
	}
	out["Header"] = h
	return json.Marshal(out)
}
