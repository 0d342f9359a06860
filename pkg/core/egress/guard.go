package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// GuardOptions configure the action guard. Zero values mean the defaults
// named on each field.
type GuardOptions struct {
	// CheckInFrom lists the statuses a check-in is allowed from. The checkIn
	// call is confirmed but its source statuses are not [I]; default
	// Accepted and Paused.
	CheckInFrom []corrigo.Status
	// CheckOutFrom lists the statuses a check-out is allowed from. CheckedIn
	// is confirmed; Paused is inferred [I]. Default CheckedIn and Paused.
	CheckOutFrom []corrigo.Status
	// RefuseIncompletePMRMCheckOut refuses a PMRM check-out that lacks the
	// completion info the customer requires. Off by default, because
	// CorrigoPro accepts such a check-out and moves the work order to
	// NeedsCompletionDetails [C] (the technician did leave the site; a later
	// work_done_details supplies the details). Request-type check-outs
	// missing info are always refused, as CorrigoPro rejects them; invalid
	// values are refused for both types.
	RefuseIncompletePMRMCheckOut bool
	// SettingsRefresh is how long fetched customer settings are used before
	// they are fetched again. Default 1h.
	SettingsRefresh time.Duration
	// StatusTTL is how long an observed work order status is trusted before
	// the guard fetches the work order again. Default 10m.
	StatusTTL time.Duration
	// MaxWorkOrders bounds the status cache (about 0.8 KB a work order).
	// Default 10000 (config delivery.guard_cache_work_orders).
	MaxWorkOrders int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (o GuardOptions) withDefaults() GuardOptions {
	if o.CheckInFrom == nil {
		o.CheckInFrom = []corrigo.Status{corrigo.StatusAccepted, corrigo.StatusPaused}
	}
	if o.CheckOutFrom == nil {
		o.CheckOutFrom = []corrigo.Status{corrigo.StatusCheckedIn, corrigo.StatusPaused}
	}
	if o.SettingsRefresh <= 0 {
		o.SettingsRefresh = time.Hour
	}
	if o.StatusTTL <= 0 {
		o.StatusTTL = 10 * time.Minute
	}
	if o.MaxWorkOrders <= 0 {
		o.MaxWorkOrders = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// snapshot is what the guard knows about one work order. A snapshot built
// from a status observation alone has Full false: it lacks the customer,
// the prebilled flag and the quote, which some rules need.
type snapshot struct {
	Status     corrigo.Status
	Full       bool
	CustomerID int
	Type       string
	PreBilled  bool
	Quote      *corrigo.Quote
	Schedule   *corrigo.Appointment
	// AsOf is when the information was true (CorrigoPro's ActionDate for a
	// notification, our clock for a fetch); older observations never
	// overwrite newer ones.
	AsOf time.Time
	// Seen is when the guard recorded it, for StatusTTL.
	Seen time.Time
}

func snapshotOf(wo *corrigo.WorkOrder, at time.Time) snapshot {
	s := snapshot{Status: wo.Status, Full: true, Type: wo.Type, PreBilled: wo.IsPreBilled, AsOf: at, Seen: at}
	if wo.Customer != nil {
		s.CustomerID = wo.Customer.ID
	}
	if wo.Nte != nil && wo.Nte.Quote != nil {
		q := *wo.Nte.Quote
		s.Quote = &q
	}
	if wo.Schedule != nil {
		a := *wo.Schedule
		s.Schedule = &a
	}
	return s
}

type woKey struct {
	account string
	id      int64
}

type settingsKey struct {
	account  string
	customer int
}

type settingsEntry struct {
	settings *corrigo.CustomerSettings // nil: CorrigoPro had none for us (non-transient error)
	fetched  time.Time
}

type settingsFlight struct {
	done     chan struct{}
	settings *corrigo.CustomerSettings
	err      error
}

// Guard checks actions against CorrigoPro's status rules (API.md §4.2) and
// the customer's completion settings before they are sent, so that the
// gateway refuses — with a reason a person can act on — what CorrigoPro
// would reject, instead of burning a call and a dead letter on it.
//
// It keeps a small per-work-order status cache fed by the gateway (Observe*,
// from the events it handles) and by the Sender (after each successful
// send), and fetches the work order when it knows too little. A refusal made
// on cached information is confirmed against a fresh fetch first: refusing
// is final, so it must not rest on a stale cache.
type Guard struct {
	fetch Fetcher
	opts  GuardOptions

	mu  sync.Mutex
	wos map[woKey]*snapshot

	smu      sync.Mutex
	settings map[settingsKey]settingsEntry
	flights  map[settingsKey]*settingsFlight
}

// NewGuard returns a guard reading from fetch. The Sender builds its own;
// use Sender.Guard to feed it observations.
func NewGuard(fetch Fetcher, opts GuardOptions) *Guard {
	return &Guard{
		fetch:    fetch,
		opts:     opts.withDefaults(),
		wos:      make(map[woKey]*snapshot),
		settings: make(map[settingsKey]settingsEntry),
		flights:  make(map[settingsKey]*settingsFlight),
	}
}

// Observe records that work order id of account has status now.
func (g *Guard) Observe(account string, id int64, status corrigo.Status) {
	g.observeStatus(account, id, status, g.opts.Now())
}

// ObserveAt records a status that was true at the given time (a
// notification's ActionDate). It is ignored if the guard knows something
// newer.
func (g *Guard) ObserveAt(account string, id int64, status corrigo.Status, at time.Time) {
	if at.IsZero() {
		at = g.opts.Now()
	}
	g.observeStatus(account, id, status, at)
}

// ObserveWorkOrder records a full work order (a NewWorkOrder event's
// details, a polled or fetched work order).
func (g *Guard) ObserveWorkOrder(account string, wo *corrigo.WorkOrder) {
	if wo == nil || wo.WorkOrderId == 0 {
		return
	}
	now := g.opts.Now()
	s := snapshotOf(wo, now)
	g.put(woKey{account, wo.WorkOrderId}, s)
}

// ObserveNotification records what a webhook notification says about its
// work order's state: the status of status-change notifications, the work
// order of NewWorkOrder, quote and appointment changes. Other notifications
// are ignored.
func (g *Guard) ObserveNotification(account string, n *corrigo.Notification) {
	if n == nil {
		return
	}
	if p, ok := n.Payload.(corrigo.AdditionalFieldDescriptorUpdatedPayload); ok {
		// May name no work order: a descriptor belongs to the customer.
		g.invalidateForDescriptorUpdate(account, n.Header.WorkOrderId, p)
		return
	}
	if n.Header.WorkOrderId == 0 {
		return
	}
	id := n.Header.WorkOrderId
	at := n.Header.ActionDate.Time
	if at.IsZero() {
		at = g.opts.Now()
	}
	switch p := n.Payload.(type) {
	case corrigo.NewWorkOrderPayload:
		wo := p.Details
		if wo.WorkOrderId == 0 {
			wo.WorkOrderId = id
		}
		if wo.Status == "" {
			wo.Status = corrigo.StatusNew
		}
		s := snapshotOf(&wo, at)
		s.Seen = g.opts.Now()
		g.put(woKey{account, id}, s)
	case corrigo.AcceptedPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusAccepted), at)
	case corrigo.RejectedPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusRejected), at)
	case corrigo.CheckedInPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusCheckedIn), at)
	case corrigo.PausedPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusPaused), at)
	case corrigo.NeedsCompletionDetailsPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusNeedsCompletionDetails), at)
	case corrigo.PutOnHoldPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusOnHold), at)
	case corrigo.ReopenedPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusNew), at)
	case corrigo.RecalledPayload:
		g.observeStatus(account, id, statusOr(p.Status, corrigo.StatusRecalled), at)
	case corrigo.CheckedOutPayload:
		g.observeStatus(account, id, corrigo.StatusCheckedOut, at)
	case corrigo.QuoteChangedPayload:
		q := p.Quote
		g.update(woKey{account, id}, at, func(s *snapshot) { s.Quote = &q })
	case corrigo.AppointmentInfoChangedPayload:
		a := p.Appointment
		g.update(woKey{account, id}, at, func(s *snapshot) { s.Schedule = &a })
	}
}

// Forget drops what the guard knows about a work order.
func (g *Guard) Forget(account string, id int64) {
	g.mu.Lock()
	delete(g.wos, woKey{account, id})
	g.mu.Unlock()
}

// Status returns the cached status of a work order, if known and fresh.
func (g *Guard) Status(account string, id int64) (corrigo.Status, bool) {
	s, ok := g.cached(woKey{account, id})
	if !ok {
		return "", false
	}
	return s.Status, true
}

func statusOr(s, def corrigo.Status) corrigo.Status {
	if s == "" {
		return def
	}
	return s
}

func (g *Guard) observeStatus(account string, id int64, status corrigo.Status, at time.Time) {
	if id == 0 || status == "" {
		return
	}
	g.update(woKey{account, id}, at, func(s *snapshot) { s.Status = status })
}

// update applies fn to the work order's snapshot (creating a status-only one)
// unless the snapshot is newer than at.
func (g *Guard) update(k woKey, at time.Time, fn func(*snapshot)) {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.wos[k]
	if ok && s.AsOf.After(at) {
		return
	}
	if !ok {
		g.makeRoomLocked(now)
		s = &snapshot{}
		g.wos[k] = s
	}
	fn(s)
	s.AsOf = at
	s.Seen = now
}

func (g *Guard) put(k woKey, s snapshot) {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.wos[k]; ok {
		if old.AsOf.After(s.AsOf) {
			return
		}
	} else {
		g.makeRoomLocked(now)
	}
	g.wos[k] = &s
}

// makeRoomLocked keeps the cache under MaxWorkOrders: first expired entries
// go, then arbitrary ones (map order) down to 90%. Losing an entry costs one
// GET later, nothing more.
func (g *Guard) makeRoomLocked(now time.Time) {
	if len(g.wos) < g.opts.MaxWorkOrders {
		return
	}
	for k, s := range g.wos {
		if now.Sub(s.Seen) > g.opts.StatusTTL {
			delete(g.wos, k)
		}
	}
	target := g.opts.MaxWorkOrders * 9 / 10
	for k := range g.wos {
		if len(g.wos) <= target {
			break
		}
		delete(g.wos, k)
	}
}

func (g *Guard) cached(k woKey) (snapshot, bool) {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.wos[k]
	if !ok || s.Status == "" || now.Sub(s.Seen) > g.opts.StatusTTL {
		return snapshot{}, false
	}
	return *s, true
}

// refresh fetches the work order from CorrigoPro and caches it.
func (g *Guard) refresh(ctx context.Context, account string, id int64) (snapshot, error) {
	wo, err := g.fetch.GetWorkOrder(ctx, account, id)
	if err != nil {
		return snapshot{}, fmt.Errorf("get work order %d: %w", id, err)
	}
	if wo == nil {
		return snapshot{}, fmt.Errorf("get work order %d: empty answer", id)
	}
	if wo.WorkOrderId == 0 {
		wo.WorkOrderId = id
	}
	s := snapshotOf(wo, g.opts.Now())
	g.put(woKey{account, id}, s)
	return s, nil
}

// needsFull says which kinds need more than the status: accept (prebilled),
// quote (quote status), check out and work done details (customer, type).
func needsFull(k pluginapi.ActionKind) bool {
	switch k {
	case pluginapi.KindAccept, pluginapi.KindQuote, pluginapi.KindCheckOut, pluginapi.KindWorkDoneDetails:
		return true
	}
	return false
}

// Check decides whether act may be sent for account. It returns a non-empty
// refusal ("check_out refused: customer 90256 requires RepairInfo") when
// CorrigoPro's rules say no, or an error when it could not decide (the work
// order or the settings could not be fetched; classify it with
// corrigo.ClassOf). act.WorkOrderID must be set.
func (g *Guard) Check(ctx context.Context, account string, act pluginapi.Action) (refusal string, err error) {
	k := woKey{account, act.WorkOrderID}
	snap, ok := g.cached(k)
	fresh := false
	if !ok || (needsFull(act.Kind) && !snap.Full) {
		if snap, err = g.refresh(ctx, account, act.WorkOrderID); err != nil {
			return "", err
		}
		fresh = true
	}
	var ds decideState
	reason, err := g.decide(ctx, account, act, snap, &ds)
	if err != nil || reason == "" || fresh {
		return reason, err
	}
	// Refusing on cached information: confirm with CorrigoPro first.
	if snap, err = g.refresh(ctx, account, act.WorkOrderID); err != nil {
		return "", err
	}
	return g.decide(ctx, account, act, snap, &ds)
}

// decideState is what one Check has already fetched, so that confirming
// a refusal fetches each thing at most once.
type decideState struct {
	settingsFetched bool
}

// CheckWith decides like Check against a work order the caller just fetched.
func (g *Guard) CheckWith(ctx context.Context, account string, act pluginapi.Action, wo *corrigo.WorkOrder) (string, error) {
	return g.decide(ctx, account, act, snapshotOf(wo, g.opts.Now()), &decideState{})
}

func (g *Guard) decide(ctx context.Context, account string, act pluginapi.Action, snap snapshot, ds *decideState) (string, error) {
	if why := statusRule(act, act.WorkOrderID, snap, &g.opts); why != "" {
		return string(act.Kind) + " refused: " + why, nil
	}
	if act.Kind != pluginapi.KindCheckOut && act.Kind != pluginapi.KindWorkDoneDetails {
		return "", nil
	}
	if snap.CustomerID == 0 {
		return "", nil
	}
	k := settingsKey{account, snap.CustomerID}
	cs, fresh, err := g.settingsFor(ctx, k, false)
	if err != nil {
		return "", err
	}
	ds.settingsFetched = ds.settingsFetched || fresh
	why := settingsRule(act, snap, cs, &g.opts)
	if why != "" && !ds.settingsFetched {
		// Refusing is final and the settings may be an hour old: the
		// customer may have changed them since. Ask CorrigoPro once more.
		if cs, _, err = g.settingsFor(ctx, k, true); err != nil {
			return "", err
		}
		ds.settingsFetched = true
		why = settingsRule(act, snap, cs, &g.opts)
	}
	if why != "" {
		return string(act.Kind) + " refused: " + why, nil
	}
	return "", nil
}

// InvalidateSettings forgets the cached settings of one customer of
// account, or of all its customers when customerID is 0, so the next
// check fetches them again. CorrigoPro's AdditionalFieldDescriptorUpdated
// notification (a custom field configuration changed) calls it.
func (g *Guard) InvalidateSettings(account string, customerID int) {
	g.smu.Lock()
	defer g.smu.Unlock()
	for k := range g.settings {
		if k.account == account && (customerID == 0 || k.customer == customerID) {
			delete(g.settings, k)
		}
	}
}

// invalidateForDescriptorUpdate handles AdditionalFieldDescriptorUpdated:
// its payload is not documented [I], so the customer is read from a
// CustomerId field when there is one, else from what the guard knows of
// the work order; when neither says, every customer of the account is
// fetched again.
func (g *Guard) invalidateForDescriptorUpdate(account string, id int64, p corrigo.AdditionalFieldDescriptorUpdatedPayload) {
	customer := 0
	for name, raw := range p.Fields {
		if strings.EqualFold(name, "CustomerId") {
			var n int
			if json.Unmarshal(raw, &n) == nil && n > 0 {
				customer = n
			}
		}
	}
	if customer == 0 && id != 0 {
		g.mu.Lock()
		if s, ok := g.wos[woKey{account, id}]; ok {
			customer = s.CustomerID
		}
		g.mu.Unlock()
	}
	g.InvalidateSettings(account, customer)
	g.opts.Logger.Info("a custom field configuration changed; customer settings will be fetched again",
		"account", account, "work_order", id, "customer", customer)
}

// CustomerSettings returns the customer's settings, cached per (account,
// customer) for SettingsRefresh. Concurrent misses share one fetch. A
// transient failure is returned (the caller retries later) unless an older
// copy exists, which is then used; a non-transient failure (the endpoint or
// customer is unknown to CorrigoPro) is cached as "no settings" so the guard
// does not block actions on requirements it cannot know. The plugin host can
// serve plugins' GetCustomerSettings from here.
func (g *Guard) CustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	cs, _, err := g.settingsFor(ctx, settingsKey{account, customerID}, false)
	return cs, err
}

// settingsFor is CustomerSettings; fresh says the settings come from a
// fetch this call waited for. force skips the cache, and then a failed
// fetch is an error even when an older copy exists: the caller is about
// to refuse on it.
func (g *Guard) settingsFor(ctx context.Context, k settingsKey, force bool) (cs *corrigo.CustomerSettings, fresh bool, err error) {
	account, customerID := k.account, k.customer
	now := g.opts.Now()
	g.smu.Lock()
	e, have := g.settings[k]
	if have && !force && now.Sub(e.fetched) < g.opts.SettingsRefresh {
		g.smu.Unlock()
		return e.settings, false, nil
	}
	f, running := g.flights[k]
	if !running {
		f = &settingsFlight{done: make(chan struct{})}
		g.flights[k] = f
		go g.fetchSettings(context.WithoutCancel(ctx), k, f)
	}
	g.smu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if f.err != nil {
		if have && !force {
			g.opts.Logger.Warn("customer settings refresh failed; using the older copy",
				"account", account, "customer", customerID, "err", f.err)
			return e.settings, false, nil
		}
		return nil, false, f.err
	}
	return f.settings, true, nil
}

// fetchSettings runs one fetch for all waiters. It runs detached from the
// first caller's cancellation (so one impatient caller does not fail the
// others) but bounded by a timeout.
func (g *Guard) fetchSettings(ctx context.Context, k settingsKey, f *settingsFlight) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cs, err := g.fetch.CustomerSettings(ctx, k.account, k.customer)
	if err != nil {
		switch corrigo.ClassOf(err) {
		case corrigo.ClassTransient, corrigo.ClassAuth, corrigo.ClassCanceled:
			err = fmt.Errorf("get customer %d settings: %w", k.customer, err)
		default:
			if errors.Is(err, corrigo.ErrUnexpectedShape) {
				// The inferred wrapper key is wrong: say it loudly, the
				// checks are off until the client is fixed.
				g.opts.Logger.Error("customer settings answer lacks the inferred Settings key; completion requirements are NOT checked for this customer (see the communication log entry and docs/corrigo-client.md)",
					"account", k.account, "customer", k.customer, "err", err)
			} else {
				g.opts.Logger.Warn("customer settings unavailable; completion requirements will not be checked",
					"account", k.account, "customer", k.customer, "err", err)
			}
			cs, err = nil, nil
		}
	}
	g.smu.Lock()
	if err == nil {
		g.settings[k] = settingsEntry{settings: cs, fetched: g.opts.Now()}
	}
	delete(g.flights, k)
	f.settings, f.err = cs, err
	g.smu.Unlock()
	close(f.done)
}

// afterSend records the state a successful send left the work order in.
func (g *Guard) afterSend(account string, act pluginapi.Action) {
	k := woKey{account, act.WorkOrderID}
	at := g.opts.Now()
	switch act.Kind {
	case pluginapi.KindAccept:
		g.update(k, at, func(s *snapshot) { s.Status = corrigo.StatusAccepted })
	case pluginapi.KindReject:
		g.update(k, at, func(s *snapshot) { s.Status = corrigo.StatusRejected })
	case pluginapi.KindCheckIn:
		g.update(k, at, func(s *snapshot) { s.Status = corrigo.StatusCheckedIn })
	case pluginapi.KindPause:
		g.update(k, at, func(s *snapshot) { s.Status = corrigo.StatusPaused })
	case pluginapi.KindCheckOut, pluginapi.KindWorkDoneDetails:
		// PMRM check-outs missing info land in NeedsCompletionDetails; we
		// cannot tell which, so record CheckedOut and let a refusal based on
		// it be confirmed by a fetch (Check always confirms cached refusals).
		g.update(k, at, func(s *snapshot) { s.Status = corrigo.StatusCheckedOut })
	case pluginapi.KindQuote:
		amount := quoteAmount(act)
		g.update(k, at, func(s *snapshot) {
			s.Quote = &corrigo.Quote{Amount: amount, QuoteStatus: corrigo.QuoteSubmitted, Comment: act.Comment}
		})
	case pluginapi.KindAppointment:
		if act.Appointment != nil {
			a := *act.Appointment
			g.update(k, at, func(s *snapshot) { s.Schedule = &a })
		}
	}
}

// quoteAmount is the amount a quote action submits: Amount, or the sum of
// its line items when Amount is zero.
func quoteAmount(act pluginapi.Action) float64 {
	if act.Amount > 0 || len(act.LineItems) == 0 {
		return act.Amount
	}
	var sum float64
	for _, li := range act.LineItems {
		if li.Amount != 0 {
			sum += li.Amount
		} else {
			sum += li.Quantity * li.Rate
		}
	}
	return sum
}

func statusList(ss []corrigo.Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	switch len(parts) {
	case 0:
		return "(none configured)"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// statusRule applies CorrigoPro's status rules (API.md §4.2) and returns why
// the action is not allowed, or "". snap must be Full for the kinds
// needsFull names (otherwise the prebilled flag and quote are unknown and
// treated as absent).
func statusRule(act pluginapi.Action, id int64, snap snapshot, o *GuardOptions) string {
	st := snap.Status
	is := func(want string) string {
		return fmt.Sprintf("CorrigoPro allows it only when the work order is %s; work order %d is %s", want, id, st)
	}
	// Rejected and Recalled are terminal, notes included: "you can do
	// nothing with it" (API.md §4.2 [C]), and a recalled work order's
	// operations answer 3005 (§5.1 [C]).
	if st == corrigo.StatusRejected || st == corrigo.StatusRecalled {
		return fmt.Sprintf("work order %d is %s, which is final; CorrigoPro allows nothing on it", id, st)
	}
	switch act.Kind {
	case pluginapi.KindNote:
		return ""
	case pluginapi.KindAccept:
		if st != corrigo.StatusNew {
			return is("New")
		}
		if snap.PreBilled {
			return fmt.Sprintf("work order %d is prebilled; CorrigoPro never accepts a prebilled work order (error 3002)", id)
		}
	case pluginapi.KindReject:
		if st != corrigo.StatusNew {
			return is("New")
		}
	case pluginapi.KindCheckIn:
		if !slices.Contains(o.CheckInFrom, st) {
			return is(statusList(o.CheckInFrom))
		}
	case pluginapi.KindPause:
		if st != corrigo.StatusCheckedIn {
			return is("CheckedIn")
		}
	case pluginapi.KindCheckOut:
		if !slices.Contains(o.CheckOutFrom, st) {
			return is(statusList(o.CheckOutFrom))
		}
	case pluginapi.KindWorkDoneDetails:
		if st != corrigo.StatusNeedsCompletionDetails {
			return is("NeedsCompletionDetails")
		}
	case pluginapi.KindQuote:
		if q := snap.Quote; q != nil && (q.QuoteStatus == corrigo.QuoteSubmitted || q.QuoteStatus == corrigo.QuoteApproved) {
			return fmt.Sprintf("work order %d already has a %s quote; CorrigoPro takes one quote, and the customer must reject it before another", id, q.QuoteStatus)
		}
	case pluginapi.KindInvoiceSubmit:
		if st != corrigo.StatusCheckedOut && st != corrigo.StatusVerified {
			return is("CheckedOut or Verified") + " (error 3051)"
		}
	case pluginapi.KindInvoiceUpdate, pluginapi.KindMessage, pluginapi.KindAppointment:
		// Only the Rejected/Recalled rule above applies.
	default:
		return fmt.Sprintf("unknown action kind %q", act.Kind)
	}
	return ""
}

// settingsRule checks a check-out or work-done-details action against the
// customer's completion settings (which fields are required and which values
// are allowed) and returns why it would fail, or "".
//
// The customerSettings response shape is inferred [I] (API.md §10.6), so
// the guard reads it the way the sandbox does and never more strictly: a
// custom field is required when the customer sets CustomFieldsRequired and
// the field IsRequired; Values, when listed, are the only allowed values
// (case sensitive, as CorrigoPro documents for custom fields). Checklist,
// procedure and equipment requirements are not checked: actions cannot
// carry them, and CorrigoPro's answer is the authority there. A guard laxer
// than CorrigoPro costs one rejected call; a stricter one would refuse, for
// good, an action CorrigoPro would have taken.
func settingsRule(act pluginapi.Action, snap snapshot, cs *corrigo.CustomerSettings, o *GuardOptions) string {
	if cs == nil {
		return ""
	}
	// PMRM check-outs missing info are accepted by CorrigoPro (the work
	// order goes to NeedsCompletionDetails); only wrong values fail.
	lenient := act.Kind == pluginapi.KindCheckOut && snap.Type == corrigo.TypePMRM && !o.RefuseIncompletePMRMCheckOut
	cust := cs.CustomerId
	if cust == 0 {
		cust = snap.CustomerID
	}
	var missing, bad []string
	if cs.CommentRequired && strings.TrimSpace(act.Comment) == "" {
		missing = append(missing, "a Comment")
	}
	ri := act.RepairInfo
	hasRepair := ri != nil && (ri.CodeId != 0 || ri.Code != "")
	if cs.RepairInfoRequired && !hasRepair {
		if ri != nil && (ri.CategoryId != 0 || ri.Category != "") {
			// A category alone is not repair information: the code
			// (CodeId or Code) is what the customer's list holds [I], and
			// CorrigoPro documents no category requirement (API.md §2).
			missing = append(missing, "RepairInfo with a repair code (a category alone does not identify one)")
		} else {
			missing = append(missing, "RepairInfo")
		}
	}
	if hasRepair && len(cs.RepairCodes) > 0 && !slices.ContainsFunc(cs.RepairCodes, func(rc corrigo.RepairCodeSetting) bool {
		return (ri.CodeId != 0 && rc.CodeId == ri.CodeId) || (ri.CodeId == 0 && ri.Code != "" && rc.Code == ri.Code)
	}) {
		code := ri.Code
		if ri.CodeId != 0 {
			code = fmt.Sprintf("%d", ri.CodeId)
			if ri.Code != "" {
				code += " (" + ri.Code + ")"
			}
		}
		bad = append(bad, fmt.Sprintf("repair code %s is not in its repair code list", code))
	}
	given := make(map[int]string, len(act.CustomFields))
	for _, cf := range act.CustomFields {
		given[cf.Id] = cf.Value
	}
	for _, f := range cs.CustomFields {
		name := fmt.Sprintf("custom field %d", f.Id)
		if f.Label != "" {
			name += " (" + f.Label + ")"
		}
		v, ok := given[f.Id]
		required := f.IsRequired && cs.CustomFieldsRequired
		if required && (!ok || strings.TrimSpace(v) == "") {
			missing = append(missing, name)
			continue
		}
		if ok && v != "" && len(f.Values) > 0 && !slices.Contains(f.Values, v) {
			bad = append(bad, fmt.Sprintf("%s does not allow %q (allowed: %s)", name, v, strings.Join(f.Values, ", ")))
		}
	}
	var parts []string
	if len(missing) > 0 && !lenient {
		parts = append(parts, fmt.Sprintf("customer %d requires %s", cust, strings.Join(missing, ", ")))
	}
	if len(bad) > 0 {
		parts = append(parts, fmt.Sprintf("customer %d: %s", cust, strings.Join(bad, "; ")))
	}
	return strings.Join(parts, "; ")
}
