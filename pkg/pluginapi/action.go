package pluginapi

import (
	"encoding/json"
	"fmt"

	"github.com/wogate/wogate/pkg/corrigo"
)

// ActionKind names what a plugin asks the gateway to do in CorrigoPro.
type ActionKind string

// The actions a plugin may return. Each maps to one CorrigoPro Direct call;
// the gateway checks it against the work order's status and the customer's
// settings before sending it, and sends it at most once.
const (
	KindAccept          ActionKind = "accept"            // PUT api/workOrder/accept
	KindReject          ActionKind = "reject"            // PUT api/workOrder/reject (Comment required)
	KindCheckIn         ActionKind = "check_in"          // PUT api/workOrder/checkIn
	KindPause           ActionKind = "pause"             // PUT api/workOrder/pause
	KindCheckOut        ActionKind = "check_out"         // PUT api/workOrder/checkOut (complete)
	KindWorkDoneDetails ActionKind = "work_done_details" // PUT api/workOrder/workDoneDetails
	KindQuote           ActionKind = "quote"             // PUT api/workOrder/quoteSubmit
	KindInvoiceUpdate   ActionKind = "invoice_update"    // PUT api/invoice
	KindInvoiceSubmit   ActionKind = "invoice_submit"    // PUT api/invoice/submit
	KindNote            ActionKind = "note"              // PUT api/workOrder/note
	KindMessage         ActionKind = "message"           // POST api/messages
	KindAppointment     ActionKind = "appointment"       // PUT api/workOrder/appointmentInfo
)

// AllKinds lists every action kind.
var AllKinds = []ActionKind{
	KindAccept, KindReject, KindCheckIn, KindPause, KindCheckOut, KindWorkDoneDetails,
	KindQuote, KindInvoiceUpdate, KindInvoiceSubmit, KindNote, KindMessage, KindAppointment,
}

// Action is one thing a plugin asks the gateway to do. Kind selects which
// fields matter; Validate says which are missing. WorkOrderID defaults to the
// event's work order when zero.
type Action struct {
	Kind        ActionKind
	WorkOrderID int64 `json:",omitempty"`

	// Comment: reject (required), accept, check in/out, pause, quote.
	Comment string `json:",omitempty"`
	// Location: check in, pause, check out.
	Location *corrigo.GeoLocation `json:",omitempty"`
	// ActualActionDate backdates check in/pause/check out when the customer
	// allows it.
	ActualActionDate *corrigo.Time `json:",omitempty"`
	// PerformedBy names the technician or office user.
	PerformedBy *corrigo.Person `json:",omitempty"`

	// Check out and work done details.
	RepairInfo   *corrigo.RepairInfo   `json:",omitempty"`
	CustomFields []corrigo.CustomField `json:",omitempty"`

	// Quote.
	Amount    float64            `json:",omitempty"`
	LineItems []corrigo.LineItem `json:",omitempty"`

	// Invoice update (the full invoice; lines without an Id are new, lines
	// missing from the list are deleted by CorrigoPro).
	Invoice *corrigo.Invoice `json:",omitempty"`
	// Invoice submit: SubmitAnyway overrides a tax mismatch (error 3056).
	SubmitAnyway bool `json:",omitempty"`

	// Note and message text.
	Text string `json:",omitempty"`
	// Message visibility: All, CruOnly, CruLeads, CruSubs, None.
	Visibility string `json:",omitempty"`

	// Appointment.
	Appointment *corrigo.Appointment `json:",omitempty"`
}

// Validate checks that the fields the kind needs are present. It does not
// know the work order's status; the gateway checks that before sending.
func (a Action) Validate() error {
	switch a.Kind {
	case KindAccept, KindCheckIn, KindPause, KindCheckOut, KindWorkDoneDetails, KindInvoiceSubmit:
	case KindReject:
		if a.Comment == "" {
			return fmt.Errorf("reject needs a Comment: CorrigoPro requires a reason")
		}
	case KindQuote:
		if a.Amount <= 0 && len(a.LineItems) == 0 {
			return fmt.Errorf("quote needs an Amount or LineItems")
		}
	case KindInvoiceUpdate:
		if a.Invoice == nil {
			return fmt.Errorf("invoice_update needs an Invoice")
		}
	case KindNote, KindMessage:
		if a.Text == "" {
			return fmt.Errorf("%s needs Text", a.Kind)
		}
	case KindAppointment:
		if a.Appointment == nil || a.Appointment.ScheduledStart.IsZero() {
			return fmt.Errorf("appointment needs Appointment.ScheduledStart")
		}
	case "":
		return fmt.Errorf("action has no Kind")
	default:
		return fmt.Errorf("unknown action kind %q", a.Kind)
	}
	if len(a.Comment) > 3000 {
		return fmt.Errorf("%s Comment is %d characters; CorrigoPro allows 3000", a.Kind, len(a.Comment))
	}
	return nil
}

// Event is what a plugin receives: one CorrigoPro notification (or a polled
// work order, or an inbound call forwarded from the plugin's own system).
type Event struct {
	// ID is the gateway's id for the event; stable across redeliveries.
	ID string
	// Account is the configured CorrigoPro account the event came from.
	Account string
	// Source is "webhook", "poll", "reconcile" or "inbound".
	Source string
	// Rule is the name of the rule that sent the event to this plugin.
	Rule string
	// Header is the notification header.
	Header corrigo.Header
	// WorkOrder is the work order when the gateway knows it (always for
	// NewWorkOrder; fetched on demand for others when the rule asks).
	WorkOrder *corrigo.WorkOrder
	// Body is the full notification JSON as CorrigoPro sent it.
	Body json.RawMessage
	// Replay is true when the gateway replays a stored event to compare
	// decisions (gateway replay --with-plugins): the actions returned are
	// compared with what was done, never sent. Answer as you would, but
	// without side effects in your own system (creating jobs, writing
	// files); the host's key-value writes are not kept either way.
	Replay bool
}

// Notification decodes Body into the typed notification.
func (e Event) Notification() (*corrigo.Notification, error) {
	return corrigo.DecodeNotification(e.Body)
}
