// Package egress carries outbox actions to CorrigoPro.
//
// An action a plugin returned sits in the store's outbox (written in the same
// transaction as its event's outcome). The Worker claims due actions, and the
// Sender delivers each one:
//
//  1. decode and validate the pluginapi.Action;
//  2. if an earlier attempt may already have reached CorrigoPro (Attempts >
//     0), look at the work order and mark the action sent without resending
//     when CorrigoPro shows it done;
//  3. check the action against CorrigoPro's status rules and the customer's
//     completion settings (the Guard) and refuse what CorrigoPro would
//     reject, saying why;
//  4. call CorrigoPro through one circuit breaker per account, with a
//     MessageId derived from the action's idempotency key;
//  5. classify the outcome: sent, refused, dead (permanent), parked (needs a
//     person) or retry later with jittered, capped exponential backoff
//     (longer for a Retry-After, and while the breaker is open until it
//     lets a probe through). Only real tries made while CorrigoPro was
//     thought up count against MaxAttempts (Result.NotCounted), so an
//     outage of hours dead-letters nothing.
//
// Actions stored with status shadow are never claimed by the store, so
// shadow mode needs nothing here. The package keeps Prometheus out: metrics
// flow through the Observer interface, which the gateway wires.
package egress

import (
	"context"

	"github.com/wogate/wogate/pkg/corrigo"
)

// API is the part of *corrigo.Client that egress calls. It is defined here,
// where it is used, so tests can point egress at any implementation and the
// client package needs no knowledge of egress.
type API interface {
	Accept(ctx context.Context, req corrigo.AcceptRequest) error
	Reject(ctx context.Context, req corrigo.RejectRequest) error
	CheckIn(ctx context.Context, req corrigo.CheckInRequest) error
	Pause(ctx context.Context, req corrigo.PauseRequest) error
	CheckOut(ctx context.Context, req corrigo.CheckOutRequest) error
	WorkDoneDetails(ctx context.Context, req corrigo.WorkDoneDetailsRequest) error
	SubmitQuote(ctx context.Context, req corrigo.QuoteSubmitRequest) error
	UpdateInvoice(ctx context.Context, inv corrigo.Invoice) (*corrigo.Invoice, error)
	SubmitInvoice(ctx context.Context, req corrigo.InvoiceSubmitRequest) error
	AddNote(ctx context.Context, req corrigo.NoteRequest) error
	PostMessage(ctx context.Context, req corrigo.PostMessageRequest) error
	SetAppointmentInfo(ctx context.Context, req corrigo.AppointmentInfoRequest) error
	GetWorkOrder(ctx context.Context, id int64) (*corrigo.WorkOrder, error)
	GetWorkOrders(ctx context.Context, ids []int64) ([]corrigo.WorkOrder, error)
	CustomerSettings(ctx context.Context, customerID int) (*corrigo.CustomerSettings, error)
}

// invoiceGetter is optional: when the account's API can read invoices, the
// crash-resend check of invoice_submit asks whether the invoice already left
// Draft instead of resubmitting blindly.
type invoiceGetter interface {
	GetInvoice(ctx context.Context, workOrderID int64) (*corrigo.Invoice, error)
}

// noteHistoryReader and messageReader are optional too: with them, the
// crash-resend check of notes and messages looks for the text in the work
// order's note history or messages before sending it again.
type noteHistoryReader interface {
	NoteHistory(ctx context.Context, workOrderID int64) ([]corrigo.NoteHistoryEntry, error)
}

type messageReader interface {
	Messages(ctx context.Context, workOrderID int64) ([]corrigo.TextMessage, error)
}

// Fetcher is what the Guard reads from CorrigoPro. The Sender implements it
// through the account's circuit breaker; tests may implement it directly.
type Fetcher interface {
	GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error)
	CustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error)
}

// The real client is what the gateway passes; keep it satisfying API and
// the optional invoice lookup.
var (
	_ API               = (*corrigo.Client)(nil)
	_ invoiceGetter     = (*corrigo.Client)(nil)
	_ noteHistoryReader = (*corrigo.Client)(nil)
	_ messageReader     = (*corrigo.Client)(nil)
)
