// Package store is the gateway's durable state: the inbox of events, the
// outbox of actions, rule decisions, dead letters, the communication log,
// plugin key-value data and polling watermarks.
//
// The store is the only hand-over between the receiving half of the gateway
// (webhooks, polling) and the sending half (dispatch, egress). Everything a
// stage needs to resume after a crash is here. Two implementations share one
// conformance suite (storetest): sqlite (embedded default) and postgres.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors every implementation returns. Callers test them with errors.Is:
// implementations wrap them with context.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrLeaseLost: the row was claimed by another worker or its lease ran
	// out and it was reclaimed; the caller must drop its result.
	ErrLeaseLost = errors.New("store: lease lost")
	ErrClosed    = errors.New("store: closed")
	// ErrWrongState: the row exists but its status does not allow the
	// operation (e.g. requeueing an event that is not a dead letter). An
	// admin API maps it to 409 Conflict.
	ErrWrongState = errors.New("store: wrong state")
	// ErrInvalid: an argument is malformed (empty MessageID, unknown
	// status, action without idempotency key). An admin API maps it to 400.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrReadOnly: a write to a store opened read-only (gateway replay).
	ErrReadOnly = errors.New("store: opened read-only")
)

// WriteMayRecover says whether a failed write may succeed if tried again
// (a dropped connection, a busy database): not when the lease is gone, the
// write is invalid, the store is closed or the caller's context ended.
func WriteMayRecover(err error) bool {
	return !errors.Is(err, ErrLeaseLost) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrClosed) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// EventStatus is where an event is in its life.
type EventStatus string

const (
	EventPending EventStatus = "pending" // waiting to be dispatched
	EventDone    EventStatus = "done"    // rules ran, plugins answered, actions are in the outbox
	EventDead    EventStatus = "dead"    // failed permanently; a dead letter
	EventParked  EventStatus = "parked"  // needs a person (reason in LastError); a dead letter too
	EventIgnored EventStatus = "ignored" // a dead letter an operator chose to ignore
)

// Source is how an event arrived.
type Source string

const (
	SourceWebhook   Source = "webhook"   // a CorrigoPro notification
	SourcePoll      Source = "poll"      // a new work order the poller found
	SourceReconcile Source = "reconcile" // a gap the reconciler filled
	SourceInbound   Source = "inbound"   // addressed to a plugin (its own system's call, or actions it submitted)
)

// Event is one inbound event: a webhook notification, a polled or
// reconciled work order, or an inbound call forwarded to a plugin.
//
// Times are stored with microsecond precision and returned in UTC; a zero
// time means "unset" (a zero ActionDate sorts before every real one).
type Event struct {
	ID          int64
	Account     string
	MessageID   string // CorrigoPro's MessageId; unique per account
	WorkOrderID int64
	Action      string
	ActionDate  time.Time // CorrigoPro's ActionDate; zero if unknown
	ReceivedAt  time.Time
	Source      Source
	Plugin      string // for inbound events: the plugin they are addressed to
	Body        json.RawMessage
	// TraceParent is the W3C trace context (a traceparent header value) of
	// the span that received the event, so dispatch continues its trace.
	// Empty when tracing is off or nothing traced the event's arrival
	// (polling); it is stored as NULL then.
	TraceParent string

	Status    EventStatus
	Attempts  int
	NextAt    time.Time // not dispatched before this time
	LastError string
	// Decision is the recorded rule decision (JSON), set when done.
	Decision json.RawMessage
	// ConfigVersion is the config version the decision was made under.
	ConfigVersion string
	HandledAt     time.Time
}

// ActionStatus is where an outbox action is in its life.
type ActionStatus string

const (
	ActionPending ActionStatus = "pending" // to send
	ActionSent    ActionStatus = "sent"    // CorrigoPro accepted it
	ActionRefused ActionStatus = "refused" // the guard refused it (status rules, settings)
	ActionDead    ActionStatus = "dead"    // failed permanently
	ActionParked  ActionStatus = "parked"  // needs a person
	ActionIgnored ActionStatus = "ignored" // an operator chose to ignore it
	ActionShadow  ActionStatus = "shadow"  // recorded, not sent (shadow mode)
)

// OutboxAction is an action waiting for, or done with, delivery to CorrigoPro.
type OutboxAction struct {
	ID             int64
	EventID        int64
	IdempotencyKey string // unique; derived from event, rule and action index
	Account        string
	WorkOrderID    int64
	Rule           string
	Plugin         string
	Kind           string
	Payload        json.RawMessage // pluginapi.Action as JSON
	CreatedAt      time.Time
	// TraceParent is the W3C trace context of the dispatch span that wrote
	// the action, so egress continues the event's trace; empty (NULL) when
	// tracing is off.
	TraceParent string

	Status    ActionStatus
	Attempts  int
	NextAt    time.Time
	LastError string
	SentAt    time.Time
}

// Outcome is what dispatching an event produced, written in one transaction.
type Outcome struct {
	Status        EventStatus // done, dead or parked
	Decision      json.RawMessage
	ConfigVersion string
	LastError     string
	Actions       []OutboxAction // inserted with status pending (or shadow); duplicate keys are skipped
}

// LogEntry is one line of the communication log (like CorrigoPro's usage log).
type LogEntry struct {
	ID              int64
	Time            time.Time
	Duration        time.Duration
	Account         string
	Direction       string // inbound, outbound
	Severity        string // info, warn, error
	Method          string
	URL             string
	Status          int
	WorkOrderID     int64
	WorkOrderNumber string
	Customer        string
	MessageID       string
	Request         string // truncated, secrets removed
	Response        string
	Error           string
}

// LogFilter selects log entries; zero fields match everything.
type LogFilter struct {
	Since, Until time.Time
	Account      string
	Direction    string
	Severity     string
	WorkOrderID  int64
	Customer     string
	Limit        int // default 100
	BeforeID     int64
}

// DeadLetterFilter selects dead letters (dead, parked events and actions).
// Results are newest first (events by ReceivedAt, actions by CreatedAt).
type DeadLetterFilter struct {
	Account     string
	WorkOrderID int64
	Action      string // event action or action kind
	Since       time.Time
	Limit       int // default 100
	// Kind is "event", "action" or "" for both.
	Kind string
	// Status narrows to one status ("dead", "parked", "ignored", or for
	// actions "refused"); "" means dead and parked, the unresolved ones.
	Status string
}

// EventFilter selects stored events in arrival order (by ID), for replay;
// zero fields match everything.
type EventFilter struct {
	Account     string
	WorkOrderID int64
	Action      string // CorrigoPro action (e.g. CheckedIn)
	// Since (inclusive) and Until (exclusive) bound ReceivedAt.
	Since, Until time.Time
	// AfterID pages: only events with ID > AfterID.
	AfterID int64
	Limit   int // default 100, at most 10000
}

// WorkOrderFilter selects work orders for RecentWorkOrders; zero fields
// match everything.
type WorkOrderFilter struct {
	Account string
	// Since: only work orders with an event received at or after it.
	Since time.Time
	// DeadLetters: only work orders with an unresolved dead letter (a
	// dead or parked event or action), however old.
	DeadLetters bool
	// BeforeEventID pages: only work orders whose newest event has an ID
	// below it (the LastEvent.ID of the previous page's last summary).
	BeforeEventID int64
	// SentKinds narrows WorkOrderSummary.LastSent to actions of these
	// kinds (e.g. the ones that change a work order's status); empty:
	// any kind.
	SentKinds []string
	Limit     int // default 100, at most 10000
}

// RecentEventsPerWorkOrder is how many of its newest events a
// WorkOrderSummary carries.
const RecentEventsPerWorkOrder = 5

// WorkOrderSummary is one work order as the gateway has seen it.
type WorkOrderSummary struct {
	Account     string
	WorkOrderID int64
	// Events counts its stored events; FirstSeen is when the first
	// arrived.
	Events    int
	FirstSeen time.Time
	// Recent are its newest events, newest first (at most
	// RecentEventsPerWorkOrder, bodies included): Recent[0] is the last
	// event. Never empty.
	Recent []Event
	// LastAction is its newest outbox action; nil when it has none.
	LastAction *OutboxAction
	// LastSent is its newest action CorrigoPro accepted (status sent) of
	// one of the filter's SentKinds; nil when none was.
	LastSent *OutboxAction
	Actions  int
	// DeadLetters counts its unresolved dead letters: dead or parked
	// events and actions.
	DeadLetters int
	// Number and Customer are the newest non-empty work order number and
	// customer name in the communication log ("" when none was logged).
	Number, Customer string
}

// DeadLetter is a dead or parked event or action.
type DeadLetter struct {
	Kind   string // "event" or "action"
	Event  *Event
	Action *OutboxAction
}

// Store is implemented by sqlite.Store and postgres.Store.
type Store interface {
	// InsertEvent stores an event durably before the webhook answers 2xx:
	// when it returns nil the row is committed (fsynced as configured).
	// It returns false, nil when (Account, MessageID) is already stored.
	// Implementations batch concurrent calls into one commit (group commit).
	// On insert it sets e.ID, and defaults ReceivedAt (now) and Status
	// (pending). Account and MessageID must not be empty (ErrInvalid).
	InsertEvent(ctx context.Context, e *Event) (inserted bool, err error)

	// ClaimEvents leases up to limit pending events whose NextAt has passed,
	// at most one per (Account, WorkOrderID) lane and only the head of each
	// lane: the earliest pending event by (ActionDate, ID). A lane with a
	// leased event yields nothing until the lease is completed or expires,
	// and a lane whose head is not due yet (NextAt) waits for it: later
	// events never overtake. Claiming increments Attempts, so the returned
	// Attempts counts this attempt. Dead letters do not block a lane.
	ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]Event, error)
	// CompleteEvent records the outcome (Status done, dead or parked) and
	// inserts its actions atomically, releasing the lease. Actions get
	// EventID = id, Account defaults to the event's, Status defaults to
	// pending (shadow is kept), CreatedAt defaults to now; an action whose
	// IdempotencyKey is already stored is skipped. ErrLeaseLost if owner no
	// longer holds the lease (another worker reclaimed it after it expired;
	// an expired lease nobody reclaimed still counts as held).
	CompleteEvent(ctx context.Context, id int64, owner string, out Outcome) error
	// RenewEventLeases extends to now+lease the leases owner still holds
	// among the events ids: the heartbeat of a live owner, so leases can
	// be short and a dead owner's work is taken over within one lease
	// without cutting short a slow plugin call. Events another owner has
	// claimed, or that are no longer pending, are left alone; it returns
	// how many were renewed.
	RenewEventLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error)
	// RetryEvent releases the lease and schedules another attempt.
	RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	// DeferEvent is RetryEvent for an attempt that must not count (it
	// failed because CorrigoPro is down): Attempts = max(Attempts-1,
	// minAttempts), as DeferAction.
	DeferEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error

	// ClaimActions leases pending actions due now, only the head of each
	// (Account, WorkOrderID) lane by ID, so one work order's actions go out
	// in the order they were created; a lane with a leased action, or whose
	// head is not due, yields nothing. Claiming increments Attempts.
	ClaimActions(ctx context.Context, owner string, lease time.Duration, limit int) ([]OutboxAction, error)
	// FinishAction sets a final status (sent, refused, dead, parked);
	// sent sets SentAt. ErrLeaseLost as for CompleteEvent.
	FinishAction(ctx context.Context, id int64, owner string, status ActionStatus, lastErr string) error
	// RenewActionLeases is RenewEventLeases for outbox actions.
	RenewActionLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error)
	// RetryAction releases the lease and schedules another attempt.
	RetryAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	// DeferAction is RetryAction for a claim that was not a real try (the
	// account's circuit breaker refused the call, or CorrigoPro was known
	// to be down): it also takes back the claim's increment of Attempts,
	// never below minAttempts (Attempts = max(Attempts-1, minAttempts)).
	// A caller whose claim may have reached CorrigoPro passes 1, so the
	// next claim still sees that an earlier attempt happened.
	DeferAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error

	GetEvent(ctx context.Context, id int64) (*Event, error)
	GetAction(ctx context.Context, id int64) (*OutboxAction, error)
	// EventsForWorkOrder and ActionsForWorkOrder build a work order timeline.
	EventsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]Event, error)
	ActionsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]OutboxAction, error)
	// ListEvents returns the events f selects, in ID order (the order they
	// were stored); page with AfterID = the last ID of the previous page.
	// CountEvents counts what ListEvents would return without AfterID and
	// Limit.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)
	CountEvents(ctx context.Context, f EventFilter) (int64, error)
	// SeenMessage reports whether an event with this MessageId is stored.
	SeenMessage(ctx context.Context, account, messageID string) (bool, error)
	// SeenWorkOrders returns which of ids have at least one stored event.
	SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error)

	// RecentWorkOrders summarizes the work orders with the newest events
	// (newest first), for the admin's work order list. It only reads, and
	// every lookup goes through an index: the newest events by ID until
	// Limit work orders are found (at most 20000 events are looked at,
	// from the newest, also for a later page),
	// then per work order its events, actions and log by (account,
	// work order). Work order 0 (events without one) is left out.
	RecentWorkOrders(ctx context.Context, f WorkOrderFilter) ([]WorkOrderSummary, error)

	// Dead letters.
	ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error)
	// RequeueEvent puts a dead, parked or ignored event back to pending,
	// due now, with Attempts reset to 0 (LastError is kept for history).
	// ErrNotFound for an unknown id, ErrWrongState for any other status.
	RequeueEvent(ctx context.Context, id int64) error
	// RequeueAction puts a dead, parked, refused or ignored action back to
	// pending, due now, Attempts 0. Errors as for RequeueEvent.
	RequeueAction(ctx context.Context, id int64) error
	// IgnoreEvent and IgnoreAction resolve a dead letter (dead or parked,
	// for actions also refused) without handling it; ignoring an ignored
	// row is a no-op. ErrNotFound, ErrWrongState as for requeue.
	IgnoreEvent(ctx context.Context, id int64) error
	IgnoreAction(ctx context.Context, id int64) error

	// Counts for metrics and readiness: pending events and the age of the
	// oldest, per account.
	Backlog(ctx context.Context) (map[string]Backlog, error)

	// Communication log. QueryLog returns newest first (by ID); page with
	// BeforeID = the last ID of the previous page. Since is inclusive,
	// Until exclusive.
	AppendLog(ctx context.Context, entries ...LogEntry) error
	QueryLog(ctx context.Context, f LogFilter) ([]LogEntry, error)

	// Per-plugin key-value data (e.g. work order id ↔ ERP job id).
	KVGet(ctx context.Context, plugin, key string) (value []byte, found bool, err error)
	KVPut(ctx context.Context, plugin, key string, value []byte) error
	KVDelete(ctx context.Context, plugin, key string) error

	// Watermarks (e.g. the poller's last search time), surviving restarts.
	GetWatermark(ctx context.Context, name string) (string, error) // "" if unset
	SetWatermark(ctx context.Context, name, value string) error

	// Prune deletes handled events and finished actions older than
	// before.Events, and log entries older than before.Log; a zero cutoff
	// prunes nothing of its kind. Dead letters are kept until resolved.
	// Precisely: actions sent, refused, shadow or ignored, last changed
	// before before.Events; events done or ignored, last changed before
	// before.Events, with no action left that is not prunable; log
	// entries whose Time is before before.Log. Pending rows and dead
	// letters stay. Pruned events no longer deduplicate their MessageId:
	// keep their retention longer than CorrigoPro's redelivery window.
	Prune(ctx context.Context, before PruneBefore) (deleted int64, err error)

	Ping(ctx context.Context) error
	// Close waits for writes already queued, then releases the database.
	// Every later call returns ErrClosed. Close is idempotent.
	Close() error
}

// PruneBefore holds the cutoffs of Store.Prune, one per kind of history
// (retention.events and retention.log). A zero time prunes nothing of its
// kind.
type PruneBefore struct {
	// Events applies to handled events and their finished actions.
	Events time.Time
	// Log applies to communication log entries (by their Time).
	Log time.Time
}

// Backlog is the pending work of one account.
type Backlog struct {
	PendingEvents  int
	OldestEvent    time.Time
	PendingActions int
	OldestAction   time.Time
}
