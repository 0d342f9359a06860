package rules

import (
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Env is what a rule condition sees. Field names in conditions are the
// expr tags: event, header, workOrder, hasWorkOrder, account, branch,
// customer, now.
//
// Rule authors never have to guard against missing data: Evaluate works on
// a copy in which an absent work order, and every absent part of one (Sla,
// Nte, Customer, ...), is a zero value, so `workOrder.Sla.IsEmergency` is
// simply false when the work order or its SLA is unknown. hasWorkOrder
// tells the two apart when it matters.
type Env struct {
	// Event is the notification, flattened: header fields and the typed
	// payload fields of its action.
	Event EventEnv `expr:"event"`
	// Header is the notification's MessageHeader as CorrigoPro sent it.
	Header corrigo.Header `expr:"header"`
	// WorkOrder is the work order when known: the NewWorkOrder details, or
	// fetched for rules that need it. Nil means unknown.
	WorkOrder *corrigo.WorkOrder `expr:"workOrder"`
	// HasWorkOrder is set by Evaluate: true when WorkOrder is known.
	HasWorkOrder bool `expr:"hasWorkOrder"`
	// Account is the configured account name the event came from.
	Account string `expr:"account"`
	// Branch is the provider branch (Header.BranchId, else the work
	// order's BranchId; filled by Evaluate when zero).
	Branch int64 `expr:"branch"`
	// Customer is the work order's customer (filled by Evaluate from the
	// work order when zero).
	Customer CustomerEnv `expr:"customer"`
	// Now is the evaluation time; time helpers (since, hoursUntil, ...)
	// measure from it. Evaluate uses time.Now() when zero.
	Now time.Time `expr:"now"`
}

// CustomerEnv identifies the customer of the work order.
type CustomerEnv struct {
	Id   int
	Name string
}

// EventEnv is a notification as rules see it: the header's fields at the
// top, plus the fields of the action's payload that rules commonly test.
// Fields that do not apply to the action are zero.
type EventEnv struct {
	// Action is the notification action, e.g. "NewWorkOrder" (see
	// corrigo.KnownActions). Conditions that pin it (event.Action ==
	// "X") are indexed.
	Action      string
	MessageId   string
	WorkOrderId int64
	BranchId    int64
	ActionDate  time.Time
	ApiVersion  string
	// Source is how the event reached the gateway: "webhook", "poll",
	// "reconcile" or "inbound".
	Source string
	// Sender is who caused the notification; Sender.Type is "CorrigoPro"
	// or "Customer".
	Sender corrigo.Sender

	// Status and Comment of status changes (Accepted, Rejected,
	// CheckedIn, Paused, NeedsCompletionDetails, PutOnHold, Reopened,
	// Recalled); Comment also for CheckedOut and CompletionInfoChanged;
	// Status is the invoice status for InvoiceStatusChanged.
	Status  string
	Comment string
	// Location of check-ins, pauses and check-outs.
	Location corrigo.GeoLocation
	// Text of MessageSent.
	Text string
	// Amount of NteChanged and InvoiceStatusChanged.
	Amount float64
	// Quote of QuoteChanged.
	Quote corrigo.Quote
	// Sla of SlaChanged.
	Sla corrigo.Sla
	// Appointment of AppointmentInfoChanged.
	Appointment corrigo.Appointment
	// Attachment fields of AttachmentAdded and AttachmentRemoved.
	AttachmentId   string
	AttachmentName string
	MimeType       string
	// ProcedureId of ProcedureMarked, ProcedureStepUpdated and
	// CheckListMigratedToProcedure; IsMarkedNa of ProcedureMarked.
	ProcedureId int
	IsMarkedNa  bool
	// RepairInfo and CustomFields of CheckedOut and CompletionInfoChanged.
	RepairInfo   corrigo.RepairInfo
	CustomFields []corrigo.CustomField
	// Invoice fields of InvoiceStatusChanged.
	AuthNumber  string
	CheckNumber string
	PaidDate    time.Time
}

// NewEnv builds the environment for a notification received for account
// through source ("webhook", "poll", ...). wo is the work order when the
// caller knows it; for NewWorkOrder the notification's details are used
// when wo is nil. now is the evaluation time (zero: time.Now at Evaluate).
func NewEnv(account, source string, n *corrigo.Notification, wo *corrigo.WorkOrder, now time.Time) *Env {
	env := &Env{Account: account, WorkOrder: wo, Now: now}
	if n == nil {
		return env
	}
	h := n.Header
	env.Header = h
	e := &env.Event
	e.Action = string(h.Action)
	e.MessageId = h.MessageId
	e.WorkOrderId = h.WorkOrderId
	e.BranchId = h.BranchId
	e.ActionDate = h.ActionDate.Time
	e.ApiVersion = h.ApiVersion
	e.Source = source
	if h.Sender != nil {
		e.Sender = *h.Sender
	}
	setPayload(env, n.Payload)
	return env
}

func setStatusChange(e *EventEnv, s corrigo.StatusChange) {
	e.Status = string(s.Status)
	e.Comment = s.Comment
	if s.Location != nil {
		e.Location = *s.Location
	}
}

func setPayload(env *Env, p corrigo.Payload) {
	e := &env.Event
	switch v := p.(type) {
	case corrigo.NewWorkOrderPayload:
		if env.WorkOrder == nil {
			wo := v.Details
			env.WorkOrder = &wo
		}
	case corrigo.AcceptedPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.RejectedPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.CheckedInPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.PausedPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.NeedsCompletionDetailsPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.PutOnHoldPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.ReopenedPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.RecalledPayload:
		setStatusChange(e, v.StatusChange)
	case corrigo.CheckedOutPayload:
		e.Comment = v.Comment
		if v.Location != nil {
			e.Location = *v.Location
		}
		if v.RepairInfo != nil {
			e.RepairInfo = *v.RepairInfo
		}
		e.CustomFields = v.CustomFields
	case corrigo.CompletionInfoChangedPayload:
		e.Comment = v.Comment
		if v.RepairInfo != nil {
			e.RepairInfo = *v.RepairInfo
		}
		e.CustomFields = v.CustomFields
	case corrigo.MessageSentPayload:
		e.Text = v.Text
	case corrigo.NteChangedPayload:
		e.Amount = v.Amount
	case corrigo.QuoteChangedPayload:
		e.Quote = v.Quote
	case corrigo.SlaChangedPayload:
		e.Sla = v.Sla
	case corrigo.AppointmentInfoChangedPayload:
		e.Appointment = v.Appointment
	case corrigo.AttachmentAddedPayload:
		e.AttachmentId, e.AttachmentName, e.MimeType = v.AttachmentId, v.Name, v.MimeType
	case corrigo.AttachmentRemovedPayload:
		e.AttachmentId = v.AttachmentId
	case corrigo.ProcedureMarkedPayload:
		e.ProcedureId, e.IsMarkedNa = v.ProcedureId, v.IsMarkedNa
	case corrigo.ProcedureStepUpdatedPayload:
		e.ProcedureId = v.ProcedureId
	case corrigo.CheckListMigratedToProcedurePayload:
		e.ProcedureId = v.ProcedureId
	case corrigo.InvoiceStatusChangedPayload:
		e.Status, e.Comment, e.Amount = v.Status, v.Comment, v.Amount
		e.AuthNumber, e.CheckNumber, e.PaidDate = v.AuthNumber, v.CheckNumber, v.PaidDate.Time
	}
}

// Shared zero values stand in for absent pointers. Conditions only read
// them; nothing may write through them.
var (
	zeroSla             corrigo.Sla
	zeroQuote           corrigo.Quote
	zeroNte             = corrigo.Nte{Quote: &zeroQuote}
	zeroCustomer        corrigo.CustomerRef
	zeroAppointment     corrigo.Appointment
	zeroWorkType        corrigo.WorkType
	zeroWorkDetails     corrigo.WorkDetails
	zeroContact         corrigo.Contact
	zeroAddress         corrigo.Address
	zeroServiceLocation = corrigo.ServiceLocation{Address: &zeroAddress}
	zeroSender          corrigo.Sender
	zeroPerson          corrigo.Person
)

// vmEnv is what compiled conditions run against: Env's fields behind
// pointers, so preparing an evaluation copies a few words instead of the
// whole event, and nothing at all when the data has no nil pointers to
// patch. Its expr tags must match Env's.
type vmEnv struct {
	Event        *EventEnv          `expr:"event"`
	Header       *corrigo.Header    `expr:"header"`
	WorkOrder    *corrigo.WorkOrder `expr:"workOrder"`
	HasWorkOrder bool               `expr:"hasWorkOrder"`
	Account      string             `expr:"account"`
	Branch       int64              `expr:"branch"`
	Customer     CustomerEnv        `expr:"customer"`
	Now          time.Time          `expr:"now"`
}

// zeroWorkOrder stands in for an unknown work order: every pointer set.
var zeroWorkOrder = corrigo.WorkOrder{
	Sla: &zeroSla, Nte: &zeroNte, Customer: &zeroCustomer, Schedule: &zeroAppointment,
	WorkType: &zeroWorkType, WorkDetails: &zeroWorkDetails, Contact: &zeroContact,
	ServiceLocation: &zeroServiceLocation,
}

// state is one goroutine's scratch space for evaluation: the environment
// and copies of the parts that had nil pointers to patch.
type state struct {
	env vmEnv
	hdr corrigo.Header
	wo  corrigo.WorkOrder
	nte corrigo.Nte
	loc corrigo.ServiceLocation
	// copied records which scratch copies hold caller data.
	copiedHdr, copiedWO bool
}

// complete reports whether wo has every pointer a condition can reach.
func complete(wo *corrigo.WorkOrder) bool {
	return wo.Sla != nil && wo.Nte != nil && wo.Nte.Quote != nil && wo.Customer != nil &&
		wo.Schedule != nil && wo.WorkType != nil && wo.WorkDetails != nil && wo.Contact != nil &&
		wo.ServiceLocation != nil && wo.ServiceLocation.Address != nil
}

// prepare points st's environment at env, substituting zero values for
// every nil pointer a condition could dereference. env is not modified.
func (st *state) prepare(env *Env) *vmEnv {
	e := &st.env
	e.Event = &env.Event
	e.Account = env.Account
	e.Now = env.Now
	if e.Now.IsZero() {
		e.Now = time.Now()
	}

	if env.Header.Sender != nil && env.Header.PerformedBy != nil {
		e.Header = &env.Header
	} else {
		st.hdr = env.Header
		st.copiedHdr = true
		if st.hdr.Sender == nil {
			st.hdr.Sender = &zeroSender
		}
		if st.hdr.PerformedBy == nil {
			st.hdr.PerformedBy = &zeroPerson
		}
		e.Header = &st.hdr
	}

	e.HasWorkOrder = env.WorkOrder != nil
	switch {
	case env.WorkOrder == nil:
		e.WorkOrder = &zeroWorkOrder
	case complete(env.WorkOrder):
		e.WorkOrder = env.WorkOrder
	default:
		st.wo = *env.WorkOrder
		st.copiedWO = true
		wo := &st.wo
		if wo.Sla == nil {
			wo.Sla = &zeroSla
		}
		switch {
		case wo.Nte == nil:
			wo.Nte = &zeroNte
		case wo.Nte.Quote == nil:
			st.nte = *wo.Nte
			st.nte.Quote = &zeroQuote
			wo.Nte = &st.nte
		}
		if wo.Customer == nil {
			wo.Customer = &zeroCustomer
		}
		if wo.Schedule == nil {
			wo.Schedule = &zeroAppointment
		}
		if wo.WorkType == nil {
			wo.WorkType = &zeroWorkType
		}
		if wo.WorkDetails == nil {
			wo.WorkDetails = &zeroWorkDetails
		}
		if wo.Contact == nil {
			wo.Contact = &zeroContact
		}
		switch {
		case wo.ServiceLocation == nil:
			wo.ServiceLocation = &zeroServiceLocation
		case wo.ServiceLocation.Address == nil:
			st.loc = *wo.ServiceLocation
			st.loc.Address = &zeroAddress
			wo.ServiceLocation = &st.loc
		}
		e.WorkOrder = wo
	}

	e.Branch = env.Branch
	if e.Branch == 0 {
		e.Branch = env.Header.BranchId
		if e.Branch == 0 {
			e.Branch = e.WorkOrder.BranchId
		}
	}
	e.Customer = env.Customer
	if e.Customer == (CustomerEnv{}) && env.WorkOrder != nil && env.WorkOrder.Customer != nil {
		e.Customer = CustomerEnv{Id: env.WorkOrder.Customer.ID, Name: env.WorkOrder.Customer.Name}
	}
	return e
}

// release drops references to the caller's data so the pool does not keep
// it alive.
func (st *state) release() {
	st.env = vmEnv{}
	if st.copiedHdr {
		st.hdr = corrigo.Header{}
		st.copiedHdr = false
	}
	if st.copiedWO {
		st.wo = corrigo.WorkOrder{}
		st.nte = corrigo.Nte{}
		st.loc = corrigo.ServiceLocation{}
		st.copiedWO = false
	}
}
