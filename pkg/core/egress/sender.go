package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/internal/backoff"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/retryafter"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Options configure a Sender. Zero values mean the defaults named on each
// field.
type Options struct {
	// Guard configures the action guard (status rules, customer settings).
	Guard GuardOptions
	// InitialBackoff is the delay before the first retry of a transient
	// failure. Default 2s.
	InitialBackoff time.Duration
	// MaxBackoff caps the delay between retries. Default 10m.
	MaxBackoff time.Duration
	// MaxAttempts is how many real tries an action gets before a
	// transient failure makes it dead. Default 30: with the default
	// backoff, 29 waits of 1.8 to 3.6 hours in all (TestDefaultRetrySpan).
	// Only tries made while CorrigoPro was thought up count: a claim the
	// breaker, a Retry-After wait or the rate limit held back is not a try,
	// and a failed half-open probe is CorrigoPro's outage, not the action's
	// failure (see Result.NotCounted).
	MaxAttempts int
	// RetryAfterMax caps how long a Retry-After of a 429 or 503 makes an
	// account wait (it replaces the backoff when longer). Default 10m;
	// negative ignores Retry-After.
	RetryAfterMax time.Duration
	// Breaker configures the per-account circuit breakers.
	Breaker BreakerOptions
	// AccountBreakers overrides Breaker for single accounts; zero fields
	// take Breaker's values.
	AccountBreakers map[string]BreakerOptions
	// MessageIDPrefix is put before the MessageId derived from each action's
	// idempotency key. Default none (the MessageId is then a plain GUID, as
	// CorrigoPro's docs show).
	MessageIDPrefix string
	// AccountPrefixes overrides MessageIDPrefix for single
	// accounts (each account's message_id_prefix): the API client puts its
	// own prefix only on the MessageIds it generates, and an action's
	// MessageId is derived here, so without this its PUT would carry a
	// bare GUID while the same account's GETs carry the prefix.
	AccountPrefixes map[string]string
	// Observer receives metrics; default NopObserver.
	Observer Observer
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Jitter returns a number in [0, 1); default math/rand/v2.Float64.
	Jitter func() float64
	// ResendClockSkew widens the resend check of notes and messages: an
	// entry with the action's text counts as this action's if CorrigoPro
	// recorded it no earlier than the action's CreatedAt minus this
	// (the two clocks differ). Default 1m.
	ResendClockSkew time.Duration
}

// BreakerOptions configure the circuit breaker of each account.
type BreakerOptions struct {
	// ConsecutiveFailures opens the breaker after this many transient
	// failures in a row. Default 5.
	ConsecutiveFailures uint32
	// OpenTimeout is how long the breaker stays open before letting a probe
	// through (half-open). Default 30s.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes may run while half-open; that many
	// successes close the breaker. Default 1.
	HalfOpenRequests uint32
}

func (o Options) withDefaults() Options {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 2 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = o.InitialBackoff
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 30
	}
	if o.RetryAfterMax == 0 {
		o.RetryAfterMax = DefaultRetryAfterMax
	}
	if o.Breaker.ConsecutiveFailures == 0 {
		o.Breaker.ConsecutiveFailures = 5
	}
	if o.Breaker.OpenTimeout <= 0 {
		o.Breaker.OpenTimeout = 30 * time.Second
	}
	if o.Breaker.HalfOpenRequests == 0 {
		o.Breaker.HalfOpenRequests = 1
	}
	if o.Observer == nil {
		o.Observer = NopObserver{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.ResendClockSkew <= 0 {
		o.ResendClockSkew = time.Minute
	}
	if o.Guard.Logger == nil {
		o.Guard.Logger = o.Logger
	}
	return o
}

// DefaultRetryAfterMax is Options.RetryAfterMax's default.
const DefaultRetryAfterMax = 10 * time.Minute

// Result is what became of one Send. When Retry is false, Status is the
// action's final status (sent, refused, dead or parked) and Reason says why
// (for sent: set when the action was found already done and not resent).
// When Retry is true the action should be tried again after RetryAfter.
type Result struct {
	Status     store.ActionStatus
	Retry      bool
	RetryAfter time.Duration
	Err        error
	Reason     string
	// Class is the classification of the error, if any.
	Class corrigo.Class
	// Resent reports that the action was sent again after an earlier
	// attempt that may have reached CorrigoPro (note, message, ...).
	Resent bool
	// NotCounted (with Retry) says this attempt must not count against
	// MaxAttempts: the worker gives the claim's attempt back
	// (store.DeferAction). It is set when nothing was tried (the breaker
	// was open or busy with a probe, the account waits out a Retry-After,
	// the rate limit held the call back) and when the failing call was a
	// half-open probe: CorrigoPro was already known to be down.
	NotCounted bool
	// Reached (with NotCounted) says the action's own call went out in
	// this attempt, so it may have reached CorrigoPro: its attempt is
	// given back only down to 1, and the next claim runs the resend check.
	Reached bool
}

// Outcome names the result for metrics.
func (r Result) Outcome() Outcome {
	if r.Retry {
		if r.Class == corrigo.ClassCanceled {
			return OutcomeCanceled
		}
		if r.NotCounted && !r.Reached && notSent(r.Err) {
			return OutcomeWaiting
		}
		return OutcomeRetry
	}
	switch r.Status {
	case store.ActionSent:
		return OutcomeSent
	case store.ActionRefused:
		return OutcomeRefused
	case store.ActionParked:
		return OutcomeParked
	}
	return OutcomeDead
}

type account struct {
	name string
	api  API
	// cb is swapped by SetBreakers when the account's settings change.
	cb atomic.Pointer[gobreaker.CircuitBreaker[any]]
	bo BreakerOptions // cb's settings; guarded by Sender.bmu
	// prefix goes before the MessageIds of this account's actions.
	prefix string
	// openUntil is when the open breaker lets its next probe through, and
	// outageSince when it opened after being closed (UnixNano; 0 when
	// closed). Both are set by the breaker's state changes: gobreaker
	// does not expose its expiry.
	openUntil, outageSince atomic.Int64
	// holdUntil (UnixNano) is the end of the wait a Retry-After asked
	// for: calls before it are not made.
	holdUntil atomic.Int64
}

// Sender delivers outbox actions to CorrigoPro: guard, breaker, MessageId,
// classification. It is safe for concurrent use.
type Sender struct {
	opts     Options
	accounts map[string]*account
	guard    *Guard
	// retry, once set by SetRetryPolicy, overrides the retry fields of
	// opts (reload.go).
	retry atomic.Pointer[RetryPolicy]
	bmu   sync.Mutex // serializes SetBreakers
}

// NewSender returns a Sender for the given accounts (account name → client).
func NewSender(accounts map[string]API, opts Options) *Sender {
	opts = opts.withDefaults()
	s := &Sender{opts: opts, accounts: make(map[string]*account, len(accounts))}
	for name, api := range accounts {
		a := &account{name: name, api: api, bo: s.breakerOptions(name), prefix: opts.MessageIDPrefix}
		if p, ok := opts.AccountPrefixes[name]; ok {
			a.prefix = p
		}
		a.cb.Store(s.newBreaker(a, a.bo))
		s.accounts[name] = a
	}
	s.guard = NewGuard(s, opts.Guard)
	return s
}

// Guard returns the sender's action guard, for the gateway to feed with
// observations (ObserveNotification, ObserveWorkOrder, Observe) and to serve
// cached customer settings.
func (s *Sender) Guard() *Guard { return s.guard }

func toBreakerState(st gobreaker.State) BreakerState {
	switch st {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// breakerOptions returns the breaker settings of one account: its
// override where set, Options.Breaker (with defaults) otherwise.
func (s *Sender) breakerOptions(name string) BreakerOptions {
	bo := s.opts.Breaker
	if ab, ok := s.opts.AccountBreakers[name]; ok {
		if ab.ConsecutiveFailures > 0 {
			bo.ConsecutiveFailures = ab.ConsecutiveFailures
		}
		if ab.OpenTimeout > 0 {
			bo.OpenTimeout = ab.OpenTimeout
		}
		if ab.HalfOpenRequests > 0 {
			bo.HalfOpenRequests = ab.HalfOpenRequests
		}
	}
	return bo
}

// newBreaker builds a's breaker with the settings bo; it touches nothing
// until the caller stores it in a.cb (a new breaker starts closed, so the
// caller also clears a's open and outage times then: installBreaker).
func (s *Sender) newBreaker(a *account, bo BreakerOptions) *gobreaker.CircuitBreaker[any] {
	name := a.name
	return gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        "corrigo:" + name,
		MaxRequests: bo.HalfOpenRequests,
		Timeout:     bo.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= bo.ConsecutiveFailures },
		// Runs under the breaker's lock: no State()/Counts() here.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			now := time.Now()
			switch to {
			case gobreaker.StateOpen:
				a.openUntil.Store(now.Add(bo.OpenTimeout).UnixNano())
				if from == gobreaker.StateClosed {
					a.outageSince.Store(now.UnixNano())
				}
			case gobreaker.StateClosed:
				a.openUntil.Store(0)
				a.outageSince.Store(0)
			}
			s.opts.Logger.Warn("corrigo circuit breaker changed state", "account", name, "from", from.String(), "to", to.String())
			s.opts.Observer.BreakerChanged(name, toBreakerState(from), toBreakerState(to))
		},
		IsSuccessful: func(err error) bool { return !breakerFailure(err) },
		IsExcluded: func(err error) bool {
			// The client's own rate limit sent nothing: no news of CorrigoPro.
			return errors.Is(err, context.Canceled) || errors.Is(err, corrigo.ErrRateLimited)
		},
	})
}

// breakerFailure says which errors count against CorrigoPro's health: only
// transient ones (5xx, 429, timeouts, connection errors) and authentication
// failures (the token server or credentials are failing every call).
// Validation and business-rule errors are answers from a healthy CorrigoPro.
func breakerFailure(err error) bool {
	if err == nil {
		return false
	}
	var te *corrigo.TokenError
	if errors.As(err, &te) {
		return true
	}
	switch corrigo.ClassOf(err) {
	case corrigo.ClassTransient, corrigo.ClassAuth:
		return true
	}
	return false
}

// OutageWait reports whether account is cut off from CorrigoPro — its
// breaker is not closed, or it waits out a Retry-After — and how long a
// caller should wait before trying again (as an action would). Never call
// it from Observer.BreakerChanged.
func (s *Sender) OutageWait(name string) (time.Duration, bool) {
	a, ok := s.accounts[name]
	if !ok {
		return 0, false
	}
	if until := a.holdUntil.Load(); until > 0 {
		if d := time.Until(time.Unix(0, until)); d > 0 {
			return d + time.Duration(s.opts.Jitter()*float64(d/4+time.Second)), true
		}
	}
	if a.cb.Load().State() == gobreaker.StateClosed {
		return 0, false
	}
	return s.breakerWait(a), true
}

// BreakerState returns the current state of an account's breaker. Never
// call it from Observer.BreakerChanged.
func (s *Sender) BreakerState(name string) BreakerState {
	a, ok := s.accounts[name]
	if !ok {
		return ""
	}
	return toBreakerState(a.cb.Load().State())
}

// Accounts lists the configured account names, sorted.
func (s *Sender) Accounts() []string {
	names := make([]string, 0, len(s.accounts))
	for n := range s.accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// heldError is a call not made because the account waits out a
// Retry-After CorrigoPro sent.
type heldError struct {
	account string
	until   time.Time
}

func (e *heldError) Error() string {
	return fmt.Sprintf("account %q waits until %s as CorrigoPro asked (Retry-After)", e.account, e.until.UTC().Format(time.RFC3339Nano))
}

// notSent reports whether err means the call was never made: the breaker
// refused it (open, or half-open with its probes taken), the account waits
// out a Retry-After, or the client's rate limit held it back.
func notSent(err error) bool {
	var he *heldError
	return errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) ||
		errors.Is(err, corrigo.ErrRateLimited) || errors.As(err, &he)
}

// tryState follows one Send's calls through the context: whether the
// action's own call went out, and whether a failing call was a half-open
// probe.
type tryState struct {
	reached, probeFailed atomic.Bool
}

type tryKey struct{}

func tryFrom(ctx context.Context) *tryState {
	ts, _ := ctx.Value(tryKey{}).(*tryState)
	return ts
}

// through makes one CorrigoPro call for account a: not at all while a
// Retry-After wait lasts, otherwise through the account's breaker. A 429
// or 503 with Retry-After starts such a wait for the whole account: it
// speaks of the server, not of one request.
func through[T any](ctx context.Context, s *Sender, a *account, fn func() (T, error)) (T, error) {
	var zero T
	if until := a.holdUntil.Load(); until > 0 && time.Now().UnixNano() < until {
		return zero, &heldError{account: a.name, until: time.Unix(0, until)}
	}
	cb := a.cb.Load()
	probe := cb.State() == gobreaker.StateHalfOpen
	v, err := cb.Execute(func() (any, error) { return fn() })
	if err != nil {
		if probe && !notSent(err) && breakerFailure(err) {
			if ts := tryFrom(ctx); ts != nil {
				ts.probeFailed.Store(true)
			}
		}
		s.hold(a, err)
		return zero, err
	}
	t, _ := v.(T)
	return t, nil
}

// hold starts (or extends) the account's Retry-After wait for a 429 or
// 503 that asked for one, capped by RetryAfterMax.
func (s *Sender) hold(a *account, err error) {
	d := s.retryAfter(err)
	if d <= 0 {
		return
	}
	until := time.Now().Add(d).UnixNano()
	for {
		cur := a.holdUntil.Load()
		if cur >= until || a.holdUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// retryAfter is the capped Retry-After err carries, or 0.
func (s *Sender) retryAfter(err error) time.Duration {
	var ae *corrigo.APIError
	if !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		return 0
	}
	return retryafter.Cap(ae.RetryAfter, s.retryPolicy().RetryAfterMax)
}

// breakerWait is how long an action should wait while its account's
// breaker is open: until the breaker lets a probe through, plus a random
// share of a spread that grows with the outage (from OpenTimeout up to
// MaxBackoff), so waiting actions neither stampede the probe nor poll the
// store every OpenTimeout during an outage of hours.
func (s *Sender) breakerWait(a *account) time.Duration {
	now := time.Now()
	var until time.Duration
	if u := a.openUntil.Load(); u > 0 {
		until = max(time.Unix(0, u).Sub(now), 0)
	}
	s.bmu.Lock()
	openTimeout := a.bo.OpenTimeout
	s.bmu.Unlock()
	spread := openTimeout
	if since := a.outageSince.Load(); since > 0 {
		spread = max(spread, now.Sub(time.Unix(0, since)))
	}
	spread = max(min(spread, s.retryPolicy().MaxBackoff), openTimeout)
	return until + time.Duration(s.opts.Jitter()*float64(spread))
}

// GetWorkOrder implements Fetcher through the account's breaker.
func (s *Sender) GetWorkOrder(ctx context.Context, accountName string, id int64) (*corrigo.WorkOrder, error) {
	a, ok := s.accounts[accountName]
	if !ok {
		return nil, fmt.Errorf("unknown account %q", accountName)
	}
	return through(ctx, s, a, func() (*corrigo.WorkOrder, error) { return a.api.GetWorkOrder(ctx, id) })
}

// CustomerSettings implements Fetcher through the account's breaker.
func (s *Sender) CustomerSettings(ctx context.Context, accountName string, customerID int) (*corrigo.CustomerSettings, error) {
	a, ok := s.accounts[accountName]
	if !ok {
		return nil, fmt.Errorf("unknown account %q", accountName)
	}
	return through(ctx, s, a, func() (*corrigo.CustomerSettings, error) { return a.api.CustomerSettings(ctx, customerID) })
}

// messageIDSpace namespaces the name-based UUIDs derived from idempotency
// keys, so they cannot collide with other SHA-1 UUIDs.
var messageIDSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/wogate/wogate/egress/message-id"))

// MessageID derives the MessageId sent with an action from its idempotency
// key: prefix + a name-based (SHA-1, version 5) UUID of the key. It is
// deterministic, so every attempt of one action carries the same MessageId
// and a resend after a crash is recognisable in CorrigoPro's usage log.
func MessageID(prefix, idempotencyKey string) string {
	return prefix + uuid.NewSHA1(messageIDSpace, []byte(idempotencyKey)).String()
}

// Backoff is the delay before retry number attempt (1 for the first retry):
// InitialBackoff doubled per earlier attempt, capped at MaxBackoff, with
// "equal jitter" — uniformly in [d/2, d] — so retries of many actions after
// one outage spread out while the delay still grows.
func (s *Sender) Backoff(attempt int) time.Duration {
	rp := s.retryPolicy()
	return backoff.Jittered(rp.InitialBackoff, rp.MaxBackoff, attempt, s.opts.Jitter())
}

// attempt is the number of this attempt. The store's ClaimActions
// increments Attempts, so a claimed action counts this attempt; an action
// built by hand with Attempts 0 is a first attempt too.
func attempt(a store.OutboxAction) int { return max(a.Attempts, 1) }

// Send delivers one outbox action. It never panics on bad payloads; every
// failure becomes a Result. a.Attempts is as ClaimActions returns it (this
// attempt included); when it is above one, an earlier attempt may have
// reached CorrigoPro before a crash or a lost answer, and Send first checks
// the work order instead of resending blindly.
func (s *Sender) Send(ctx context.Context, a store.OutboxAction) Result {
	start := time.Now()
	act, r, ok := s.prepare(a)
	if ok {
		ts := &tryState{}
		r = s.send(context.WithValue(ctx, tryKey{}, ts), a, act)
		if r.Retry && r.Class != corrigo.ClassCanceled {
			// A try made while CorrigoPro was known to be down does not
			// count against MaxAttempts: the outage is not the action's.
			if notSent(r.Err) || ts.probeFailed.Load() {
				r.NotCounted = true
			}
			// A call never made reached nothing, even when it was the
			// action's own (the rate limit holds it inside the client).
			r.Reached = ts.reached.Load() && !notSent(r.Err)
		}
	}
	internal := ""
	if r.Retry && !r.NotCounted && attempt(a) >= internalNoteAfter {
		if internal = internalErrorNote(r.Err, a.Account); internal != "" {
			r.Reason += " — " + internal
		}
	}
	if r.Retry && !r.NotCounted && r.Class != corrigo.ClassCanceled && attempt(a) >= s.retryPolicy().MaxAttempts {
		r = Result{Status: store.ActionDead, Err: r.Err, Class: r.Class,
			Reason: fmt.Sprintf("gave up after %d attempts: %s", attempt(a), r.Reason)}
	}
	kind := act.Kind
	if kind == "" {
		kind = pluginapi.ActionKind(a.Kind)
	}
	s.opts.Observer.ActionDone(a.Account, kind, r.Outcome(), time.Since(start))
	lg := s.opts.Logger
	attrs := func(kv ...any) []any {
		base := []any{"account", a.Account, "action", a.ID, "kind", kind, "work_order", act.WorkOrderID, "attempt", attempt(a)}
		if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
			base = append(base, "trace_id", sc.TraceID().String()) // find the send's trace from its log line
		}
		return append(base, kv...)
	}
	switch {
	case r.Retry && r.Class == corrigo.ClassAuth:
		lg.Error("CorrigoPro refused the credentials even after a token refresh; will retry — check the account's client id and secret",
			attrs("err", r.Err, "retry_after", r.RetryAfter)...)
	case r.Retry && r.NotCounted:
		lg.Info("action waits for CorrigoPro; the attempt is not counted", attrs("reason", r.Reason, "retry_after", r.RetryAfter)...)
	case r.Retry && internal != "":
		lg.Warn("CorrigoPro answered code 1000 (internal error) again; still retrying, but this is usually a configuration problem",
			attrs("err", r.Err, "hint", internal, "retry_after", r.RetryAfter)...)
	case r.Retry:
		lg.Info("action will be retried", attrs("reason", r.Reason, "retry_after", r.RetryAfter)...)
	case r.Status == store.ActionSent:
		if lg.Enabled(ctx, slog.LevelDebug) {
			lg.Debug("action sent", attrs("note", r.Reason)...)
		}
	default:
		lg.Warn("action not sent", attrs("status", r.Status, "reason", r.Reason)...)
	}
	return r
}

// internalNoteAfter is the attempt from which a code 1000 / HTTP 500 is
// reported as a likely configuration problem: the first failures may be a
// CorrigoPro hiccup.
const internalNoteAfter = 2

// internalErrorNote says what CorrigoPro's getting-started guide says of
// code 1000 (HTTP 500) when err is one, else "". It is retried like any
// transient error, because CorrigoPro does have bad minutes, but the guide
// says it usually means the request went to the wrong region or lacked
// its Content-Type.
func internalErrorNote(err error, account string) string {
	var ae *corrigo.APIError
	if !errors.As(err, &ae) || (ae.Code != corrigo.CodeInternal && ae.StatusCode != http.StatusInternalServerError) {
		return ""
	}
	return "CorrigoPro's guide says code 1000 (HTTP 500) usually means the request went to the wrong region's URL or a body-bearing call lacked \"Content-Type: application/json\"; " +
		"it is retried, but check corrigo.accounts." + account + ".region / base_url and any proxy that rewrites headers"
}

// prepare decodes and validates the payload against the outbox row.
func (s *Sender) prepare(a store.OutboxAction) (pluginapi.Action, Result, bool) {
	var act pluginapi.Action
	dead := func(format string, args ...any) (pluginapi.Action, Result, bool) {
		reason := fmt.Sprintf(format, args...)
		return act, Result{Status: store.ActionDead, Class: corrigo.ClassValidation, Reason: reason, Err: errors.New(reason)}, false
	}
	if err := json.Unmarshal(a.Payload, &act); err != nil {
		return dead("decode action payload: %v", err)
	}
	if act.WorkOrderID == 0 {
		act.WorkOrderID = a.WorkOrderID
	}
	switch {
	case a.WorkOrderID != 0 && act.WorkOrderID != a.WorkOrderID:
		return dead("payload names work order %d but the outbox row is for %d", act.WorkOrderID, a.WorkOrderID)
	case a.Kind != "" && string(act.Kind) != a.Kind:
		return dead("payload kind %q differs from the outbox row's %q", act.Kind, a.Kind)
	case act.WorkOrderID <= 0:
		return dead("%s has no work order id", act.Kind)
	}
	if err := act.Validate(); err != nil {
		return dead("invalid action: %v", err)
	}
	if act.Kind == pluginapi.KindInvoiceUpdate && act.Invoice.WorkOrderId != 0 && act.Invoice.WorkOrderId != act.WorkOrderID {
		return dead("invoice names work order %d but the action is for %d", act.Invoice.WorkOrderId, act.WorkOrderID)
	}
	if _, ok := s.accounts[a.Account]; !ok {
		return dead("unknown account %q", a.Account)
	}
	return act, Result{}, true
}

func (s *Sender) send(ctx context.Context, a store.OutboxAction, act pluginapi.Action) Result {
	acc := s.accounts[a.Account]
	var refusal string
	// An earlier attempt may have reached CorrigoPro before a crash or a
	// lost answer.
	resent := attempt(a) > 1
	if resent && stateTells(act.Kind) {
		// The work order can tell whether it did: look before sending again.
		wo, err := s.GetWorkOrder(ctx, a.Account, act.WorkOrderID)
		if err != nil {
			return s.failure(a, fmt.Errorf("check work order %d before resending: %w", act.WorkOrderID, err))
		}
		s.guard.ObserveWorkOrder(a.Account, wo)
		if done, why := alreadyDone(act, wo); done {
			return Result{Status: store.ActionSent, Reason: why}
		}
		if act.Kind == pluginapi.KindInvoiceSubmit {
			if ig, ok := acc.api.(invoiceGetter); ok {
				inv, err := through(ctx, s, acc, func() (*corrigo.Invoice, error) { return ig.GetInvoice(ctx, act.WorkOrderID) })
				if err != nil {
					return s.failure(a, fmt.Errorf("check invoice of work order %d before resending: %w", act.WorkOrderID, err))
				}
				if inv != nil && inv.Status != "" && inv.Status != corrigo.InvoiceDraft {
					return Result{Status: store.ActionSent, Reason: fmt.Sprintf("invoice of work order %d is already %s; not resubmitted", act.WorkOrderID, inv.Status)}
				}
			}
		}
		if refusal, err = s.guard.CheckWith(ctx, a.Account, act, wo); err != nil {
			return s.failure(a, err)
		}
	} else {
		if resent {
			// Notes, messages and invoice updates leave no status behind;
			// look for the entry itself where the API shows it.
			done, why, err := s.recorded(ctx, acc, a, act)
			if err != nil {
				return s.failure(a, err)
			}
			if done {
				return Result{Status: store.ActionSent, Reason: why}
			}
		}
		var err error
		if refusal, err = s.guard.Check(ctx, a.Account, act); err != nil {
			return s.failure(a, err)
		}
	}
	if refusal != "" {
		return Result{Status: store.ActionRefused, Reason: refusal}
	}

	mid := MessageID(acc.prefix, a.IdempotencyKey)
	cctx := corrigo.WithMessageID(ctx, mid)
	_, err := through(ctx, s, acc, func() (struct{}, error) {
		if ts := tryFrom(ctx); ts != nil {
			ts.reached.Store(true)
		}
		return struct{}{}, call(cctx, acc.api, act)
	})
	if err != nil {
		r := s.failure(a, err)
		r.Resent = resent
		return r
	}
	s.guard.afterSend(a.Account, act)
	return Result{Status: store.ActionSent, Resent: resent}
}

// failure turns an error into a Result by its class.
//
// A retry waits for the computed backoff, or longer: for a Retry-After
// CorrigoPro sent (capped by RetryAfterMax), and while the account's
// breaker is open, until it lets a probe through (breakerWait).
func (s *Sender) failure(a store.OutboxAction, err error) Result {
	acc := s.accounts[a.Account]
	var he *heldError
	var rl *corrigo.RateLimitError
	switch {
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return Result{Retry: true, RetryAfter: s.breakerWait(acc), Err: err, Class: corrigo.ClassTransient,
			Reason: fmt.Sprintf("circuit breaker for account %q is open: %v", a.Account, err)}
	case errors.As(err, &he):
		// Spread the waiting actions over a little after the wait ends.
		d := max(time.Until(he.until), 0)
		return Result{Retry: true, RetryAfter: d + time.Duration(s.opts.Jitter()*float64(d/4+time.Second)), Err: err,
			Class: corrigo.ClassTransient, Reason: err.Error()}
	case errors.As(err, &rl):
		return Result{Retry: true, RetryAfter: rl.Delay + time.Duration(s.opts.Jitter()*float64(min(rl.Delay, time.Second))), Err: err,
			Class: corrigo.ClassTransient, Reason: err.Error()}
	}
	class := corrigo.ClassOf(err)
	r := Result{Err: err, Class: class, Reason: err.Error()}
	switch class {
	case corrigo.ClassTransient, corrigo.ClassAuth:
		// Auth: the client already retried once with a fresh token; a second
		// failure may be the token server having a bad minute. Retry later
		// (Send logs it loudly).
		r.Retry, r.RetryAfter = true, s.Backoff(attempt(a))
		r.RetryAfter = max(r.RetryAfter, s.retryAfter(err))
		if acc.cb.Load().State() == gobreaker.StateOpen {
			r.RetryAfter = max(r.RetryAfter, s.breakerWait(acc))
		}
	case corrigo.ClassCanceled:
		r.Retry = true
	case corrigo.ClassNeedsPerson:
		r.Status = store.ActionParked
	default: // validation, permanent, not found
		r.Status = store.ActionDead
	}
	return r
}

// call maps the action to its CorrigoPro request and sends it.
func call(ctx context.Context, api API, act pluginapi.Action) error {
	base := corrigo.ActionRequest{
		WorkOrderId:      act.WorkOrderID,
		Comment:          act.Comment,
		Location:         act.Location,
		ActualActionDate: act.ActualActionDate,
		PerformedBy:      act.PerformedBy,
	}
	switch act.Kind {
	case pluginapi.KindAccept:
		return api.Accept(ctx, base)
	case pluginapi.KindReject:
		return api.Reject(ctx, base)
	case pluginapi.KindCheckIn:
		return api.CheckIn(ctx, base)
	case pluginapi.KindPause:
		return api.Pause(ctx, base)
	case pluginapi.KindCheckOut:
		return api.CheckOut(ctx, corrigo.CheckOutRequest{ActionRequest: base, RepairInfo: act.RepairInfo, CustomFields: act.CustomFields})
	case pluginapi.KindWorkDoneDetails:
		return api.WorkDoneDetails(ctx, corrigo.WorkDoneDetailsRequest{ActionRequest: base, RepairInfo: act.RepairInfo, CustomFields: act.CustomFields})
	case pluginapi.KindQuote:
		return api.SubmitQuote(ctx, corrigo.QuoteSubmitRequest{WorkOrderId: act.WorkOrderID, Amount: quoteAmount(act), Comment: act.Comment, LineItems: act.LineItems})
	case pluginapi.KindInvoiceUpdate:
		inv := *act.Invoice
		inv.WorkOrderId = act.WorkOrderID
		_, err := api.UpdateInvoice(ctx, inv)
		return err
	case pluginapi.KindInvoiceSubmit:
		return api.SubmitInvoice(ctx, corrigo.InvoiceSubmitRequest{WorkOrderId: act.WorkOrderID, SubmitAnyway: act.SubmitAnyway})
	case pluginapi.KindNote:
		return api.AddNote(ctx, corrigo.NoteRequest{WorkOrderId: act.WorkOrderID, InternalNote: act.Text, PerformedBy: act.PerformedBy})
	case pluginapi.KindMessage:
		return api.PostMessage(ctx, corrigo.PostMessageRequest{WorkOrderId: act.WorkOrderID, Text: act.Text, MessageVisibility: act.Visibility})
	case pluginapi.KindAppointment:
		return api.SetAppointmentInfo(ctx, corrigo.AppointmentInfoRequest{WorkOrderId: act.WorkOrderID, Appointment: *act.Appointment})
	}
	return &corrigo.APIError{Method: "-", Path: string(act.Kind), StatusCode: 400, Code: corrigo.CodeValidation, Message: "unknown action kind"}
}

// recorded is the resend check of notes, messages and invoice updates: it
// reads what CorrigoPro recorded (the note history, the work order's
// messages, the invoice) and reports whether an earlier attempt of act
// took effect.
//
//   - note: the note history has an entry with the same text, created no
//     earlier than the action's CreatedAt minus ResendClockSkew;
//   - message: likewise in the messages (GET api/messages returns only
//     messages visible to all, so only those can be checked);
//   - invoice_update: the invoice has the update's number, date, comment,
//     discount and line items (amounts within half a cent).
//
// A transient failure of the lookup is returned (retry). When the lookup
// is not possible (the API cannot read it, an action without CreatedAt, a
// message not visible to all, an answer other than transient) the action
// is resent as before: at least once.
func (s *Sender) recorded(ctx context.Context, acc *account, a store.OutboxAction, act pluginapi.Action) (bool, string, error) {
	since := a.CreatedAt.Add(-s.opts.ResendClockSkew)
	lookupFailed := func(what string, err error) (bool, string, error) {
		switch corrigo.ClassOf(err) {
		case corrigo.ClassTransient, corrigo.ClassAuth, corrigo.ClassCanceled:
			return false, "", fmt.Errorf("check %s of work order %d before resending: %w", what, act.WorkOrderID, err)
		}
		if notSent(err) {
			return false, "", err
		}
		s.opts.Logger.Warn("cannot check whether an earlier attempt reached CorrigoPro; resending",
			"account", a.Account, "action", a.ID, "kind", act.Kind, "work_order", act.WorkOrderID, "err", err)
		return false, "", nil
	}
	switch act.Kind {
	case pluginapi.KindNote:
		nr, ok := acc.api.(noteHistoryReader)
		if !ok || a.CreatedAt.IsZero() {
			return false, "", nil
		}
		notes, err := through(ctx, s, acc, func() ([]corrigo.NoteHistoryEntry, error) { return nr.NoteHistory(ctx, act.WorkOrderID) })
		if err != nil {
			return lookupFailed("note history", err)
		}
		for _, n := range notes {
			if n.InternalNote == act.Text && !n.Created.IsZero() && !n.Created.Before(since) {
				return true, fmt.Sprintf("work order %d's note history has this note (%s); note not resent", act.WorkOrderID, n.Created.UTC().Format(time.RFC3339)), nil
			}
		}
	case pluginapi.KindMessage:
		mr, ok := acc.api.(messageReader)
		if !ok || a.CreatedAt.IsZero() || (act.Visibility != "" && act.Visibility != "All") {
			return false, "", nil
		}
		msgs, err := through(ctx, s, acc, func() ([]corrigo.TextMessage, error) { return mr.Messages(ctx, act.WorkOrderID) })
		if err != nil {
			return lookupFailed("messages", err)
		}
		for _, m := range msgs {
			if m.Text == act.Text && !m.Created.IsZero() && !m.Created.Before(since) {
				return true, fmt.Sprintf("work order %d already has this message (%s); message not resent", act.WorkOrderID, m.Created.UTC().Format(time.RFC3339)), nil
			}
		}
	case pluginapi.KindInvoiceUpdate:
		ig, ok := acc.api.(invoiceGetter)
		if !ok || act.Invoice == nil {
			return false, "", nil
		}
		inv, err := through(ctx, s, acc, func() (*corrigo.Invoice, error) { return ig.GetInvoice(ctx, act.WorkOrderID) })
		if err != nil {
			return lookupFailed("invoice", err)
		}
		if inv != nil && invoiceHasUpdate(inv, act.Invoice) {
			return true, fmt.Sprintf("invoice of work order %d already has this update (%s, total %.2f); not resent", act.WorkOrderID, inv.Status, inv.TotalAmount), nil
		}
	}
	return false, "", nil
}

// invoiceHasUpdate reports whether inv shows what update sets: CorrigoPro
// replaces the number, date, comment, discount and line items (lines not
// referenced by Id are dropped) and computes amounts and totals. Fields
// CorrigoPro may fill in itself (a line's category, description and
// amount) are compared only where the update sets them. A wrong "no" only
// costs a resend, which leaves the same invoice.
func invoiceHasUpdate(inv, update *corrigo.Invoice) bool {
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.005 }
	setTo := func(got, want string) bool { return want == "" || got == want }
	dt := inv.InvoiceDate.Sub(update.InvoiceDate.Time)
	if inv.InvoiceNumber != update.InvoiceNumber || inv.Comment != update.Comment || !near(inv.DiscountAmount, update.DiscountAmount) ||
		inv.InvoiceDate.IsZero() != update.InvoiceDate.IsZero() || dt <= -time.Second || dt >= time.Second ||
		len(inv.LineItems) != len(update.LineItems) {
		return false
	}
	for i, want := range update.LineItems {
		got := inv.LineItems[i]
		if (want.Id != 0 && got.Id != want.Id) || !setTo(got.Type, want.Type) || !setTo(got.Category, want.Category) ||
			!setTo(got.Description, want.Description) || (want.PriceListId != 0 && got.PriceListId != want.PriceListId) ||
			!near(got.Quantity, want.Quantity) || !near(got.Rate, want.Rate) ||
			(want.Amount != 0 && !near(got.Amount, want.Amount)) {
			return false
		}
	}
	return true
}

// stateTells reports whether the work order (or its invoice) shows that an
// action of this kind took effect; see alreadyDone.
func stateTells(k pluginapi.ActionKind) bool {
	switch k {
	case pluginapi.KindNote, pluginapi.KindMessage, pluginapi.KindInvoiceUpdate:
		return false
	}
	return true
}

// alreadyDone says whether the work order shows that act already took
// effect, for kinds where its state can tell. Notes, messages and invoice
// updates leave no state in the work order: recorded checks those.
func alreadyDone(act pluginapi.Action, wo *corrigo.WorkOrder) (bool, string) {
	st := wo.Status
	in := func(ss ...corrigo.Status) bool { return slices.Contains(ss, st) }
	done := func() (bool, string) {
		return true, fmt.Sprintf("work order %d is already %s; %s not resent", act.WorkOrderID, st, act.Kind)
	}
	switch act.Kind {
	case pluginapi.KindAccept:
		if in(corrigo.StatusAccepted, corrigo.StatusCheckedIn, corrigo.StatusPaused, corrigo.StatusCheckedOut,
			corrigo.StatusNeedsCompletionDetails, corrigo.StatusVerified) {
			return done()
		}
	case pluginapi.KindReject:
		if in(corrigo.StatusRejected) {
			return done()
		}
	case pluginapi.KindCheckIn:
		if in(corrigo.StatusCheckedIn) {
			return done()
		}
	case pluginapi.KindPause:
		if in(corrigo.StatusPaused) {
			return done()
		}
	case pluginapi.KindCheckOut:
		if in(corrigo.StatusCheckedOut, corrigo.StatusNeedsCompletionDetails, corrigo.StatusVerified) {
			return done()
		}
	case pluginapi.KindWorkDoneDetails:
		if in(corrigo.StatusCheckedOut, corrigo.StatusVerified) {
			return done()
		}
	case pluginapi.KindQuote:
		if wo.Nte != nil && wo.Nte.Quote != nil {
			q := wo.Nte.Quote
			if (q.QuoteStatus == corrigo.QuoteSubmitted || q.QuoteStatus == corrigo.QuoteApproved) && math.Abs(q.Amount-quoteAmount(act)) < 0.005 {
				return true, fmt.Sprintf("work order %d already has a %s quote of %.2f; quote not resent", act.WorkOrderID, q.QuoteStatus, q.Amount)
			}
		}
	case pluginapi.KindAppointment:
		if s := wo.Schedule; s != nil && act.Appointment != nil && s.ScheduledStart.Equal(act.Appointment.ScheduledStart.Time) &&
			(act.Appointment.Pte == "" || act.Appointment.Pte == s.Pte) {
			return true, fmt.Sprintf("work order %d already has this appointment; not resent", act.WorkOrderID)
		}
	}
	return false, ""
}
