package pluginapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Plugin is what a plugin implements. Calls may arrive concurrently (up to
// the concurrency configured for the plugin in the gateway), except that
// Configure happens before the first HandleEvent and Stop after the last.
type Plugin interface {
	// Describe reports the plugin's name, version and config schema. It must
	// not depend on configuration: the gateway calls it before Configure
	// (for example in `gateway validate`).
	Describe(ctx context.Context) (Info, error)
	// ValidateConfig checks a configuration beyond what the schema says
	// (cross-field rules, reachable URLs are better left to Configure). The
	// SDK has already checked types, required keys, enums and unknown keys
	// against the schema and filled in defaults before calling it.
	ValidateConfig(ctx context.Context, cfg map[string]any) []ConfigError
	// Configure applies a validated configuration (defaults filled in) and
	// hands the plugin its Host. An error fails the plugin's start.
	Configure(ctx context.Context, cfg map[string]any, host Host) error
	// HandleEvent turns one event into actions. Return an *Error to say
	// what the gateway should do with the event: try it again later
	// (RetryLater), dead-letter it (Permanent) or park it for a person
	// (NeedsPerson); any other error counts as retryable.
	HandleEvent(ctx context.Context, ev Event) ([]Action, error)
	// Stop releases resources before the process is ended.
	Stop(ctx context.Context) error
}

// InboundHandler is implemented by plugins that receive HTTP calls from the
// provider's own system (for example an ERP calling back when a job is
// done). The gateway forwards requests for the plugin's inbound path; the
// returned actions are executed like those from HandleEvent.
type InboundHandler interface {
	HandleInbound(ctx context.Context, req InboundRequest) (InboundResponse, []Action, error)
}

// Info describes a plugin.
type Info struct {
	// Name is the plugin's own name (for example "erp-rest"); the gateway
	// config may give an instance another name.
	Name        string
	Version     string
	Description string
	// ConfigSchema lists the plugin's config keys; the SDK validates
	// against it and the gateway generates docs from it.
	ConfigSchema Schema
}

// Host is the gateway as a plugin sees it. All calls go over the plugin
// connection; they fail with an *Error (Retryable when the gateway or
// CorrigoPro is temporarily unavailable).
type Host interface {
	// GetWorkOrder fetches a work order through the gateway's CorrigoPro
	// client for account. A missing work order is reported with an error
	// matching ErrNotFound.
	GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error)
	// GetCustomerSettings fetches a customer's completion requirements
	// (cached by the gateway).
	GetCustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error)
	// KVGet, KVPut and KVDelete are a small durable store private to this
	// plugin instance, meant for mappings such as work order id ↔ ERP job
	// id. Values should stay small (kilobytes).
	KVGet(ctx context.Context, key string) ([]byte, bool, error)
	KVPut(ctx context.Context, key string, value []byte) error
	KVDelete(ctx context.Context, key string) error
	// Log writes to the gateway's log under the plugin's name. level is
	// "debug", "info", "warn" or "error"; kv are alternating keys and
	// values.
	Log(ctx context.Context, level, msg string, kv ...any)
}

// ActionSubmitter is an optional capability of a Host: queueing actions a
// plugin decided on its own, with no event to answer (a file dropped in a
// folder, a timer). Find it with a type assertion on the Host given to
// Configure:
//
//	if s, ok := host.(pluginapi.ActionSubmitter); ok { ... }
//
// The SDK's host (in a real plugin process) always offers it; a gateway
// too old to take the actions answers every call with a retryable *Error
// matching errors.ErrUnsupported. Test hosts may leave it out.
//
// Contract: SubmitActions stores actions for account durably in the
// gateway's outbox (as if an event had produced them) before it returns
// nil. key is an idempotency key chosen by the plugin: a second call with
// the same key is a no-op that returns nil, so a call a crash interrupted
// can be repeated without anything being sent twice. Every action must
// name its WorkOrderID and pass Validate. An *Error with Retryable false
// means the actions can never be queued (unknown account, invalid action);
// any other error means "try again later".
type ActionSubmitter interface {
	SubmitActions(ctx context.Context, account, key string, actions []Action) error
}

// MaxSubmitKeyBytes bounds the idempotency key of SubmitActions.
const MaxSubmitKeyBytes = 200

// MaxSubmitActions bounds the actions of one SubmitActions call.
const MaxSubmitActions = 100

// InboundRequest is an HTTP request forwarded by the gateway. Path is
// relative to the plugin's inbound prefix.
type InboundRequest struct {
	Method string
	Path   string
	Header http.Header
	Query  url.Values
	Body   []byte
}

// InboundResponse is the HTTP answer to an InboundRequest. A zero Status
// means 200.
type InboundResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// ConfigError is one problem with a plugin's configuration.
type ConfigError struct {
	// Key is the config key at fault; empty for the config as a whole.
	Key     string
	Message string
}

func (e ConfigError) Error() string {
	if e.Key == "" {
		return e.Message
	}
	return e.Key + ": " + e.Message
}

// Error is an error a plugin reports to the gateway, saying whether trying
// again later can help. Host calls fail with it too.
type Error struct {
	Message string
	// Retryable asks the gateway to redeliver the event later (the plugin's
	// own system is down, say). False sends the event to the dead letters
	// at once.
	Retryable bool
	// NeedsPerson says the event cannot succeed until a person acts (a
	// record missing in the plugin's system, data only a person can fix):
	// the gateway parks it, a dead letter with Message as the reason, to
	// be reprocessed once the cause is fixed. It takes precedence over
	// Retryable. A gateway that predates the field treats the error as
	// permanent (Retryable false), so NeedsPerson sets Retryable false.
	NeedsPerson bool
	// RetryAfter, with Retryable, is how long the plugin's system asked to
	// be left alone (an HTTP Retry-After, say): the gateway redelivers the
	// event no sooner than that (up to its delivery.retry_after_max) when it
	// is longer than its own backoff. Millisecond precision on the wire; a
	// gateway that predates the field uses its backoff.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// RetryAfter wraps err as a retryable *Error that asks the gateway to wait
// at least d before redelivering the event.
func RetryAfter(err error, d time.Duration) *Error {
	return &Error{Message: errString(err), Retryable: true, RetryAfter: max(d, 0)}
}

// RetryLater wraps err as a retryable *Error.
func RetryLater(err error) *Error { return &Error{Message: errString(err), Retryable: true} }

// Permanent wraps err as a non-retryable *Error: retrying the same event
// cannot succeed.
func Permanent(err error) *Error { return &Error{Message: errString(err), Retryable: false} }

// NeedsPerson wraps err as an *Error that parks the event for a person:
// retrying cannot help until someone acts, and then the event should be
// reprocessed rather than dropped. err's message is the reason operators
// see in the dead letters, so say what is missing and what to do.
func NeedsPerson(err error) *Error {
	return &Error{Message: errString(err), Retryable: false, NeedsPerson: true}
}

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// ErrNotFound is matched (errors.Is) by Host errors for a work order or
// customer CorrigoPro does not know.
var ErrNotFound = errors.New("not found")

// AsError returns err as an *Error: itself when it is one (or wraps one),
// otherwise a retryable Error with err's message.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Message: err.Error(), Retryable: true}
}
