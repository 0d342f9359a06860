package egress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func TestStatusRule(t *testing.T) {
	type tc struct {
		kind   pluginapi.ActionKind
		status corrigo.Status
		snap   func(*snapshot)
		opts   func(*GuardOptions)
		want   string // substring of the refusal; "" = allowed
	}
	all := corrigo.AllStatuses
	// allowed lists, per kind, the statuses the rules allow by default.
	allowed := map[pluginapi.ActionKind][]corrigo.Status{
		pluginapi.KindAccept:          {corrigo.StatusNew},
		pluginapi.KindReject:          {corrigo.StatusNew},
		pluginapi.KindCheckIn:         {corrigo.StatusAccepted, corrigo.StatusPaused},
		pluginapi.KindPause:           {corrigo.StatusCheckedIn},
		pluginapi.KindCheckOut:        {corrigo.StatusCheckedIn, corrigo.StatusPaused},
		pluginapi.KindWorkDoneDetails: {corrigo.StatusNeedsCompletionDetails},
		pluginapi.KindInvoiceSubmit:   {corrigo.StatusCheckedOut, corrigo.StatusVerified},
	}
	var cases []tc
	// Every kind × every status, from the allowed lists; kinds without a list
	// are allowed everywhere but Rejected/Recalled; notes everywhere.
	for _, k := range pluginapi.AllKinds {
		for _, st := range all {
			want := ""
			terminal := st == corrigo.StatusRejected || st == corrigo.StatusRecalled
			if list, ok := allowed[k]; ok {
				ok := false
				for _, s := range list {
					ok = ok || s == st
				}
				if !ok {
					want = "work order 42 is " + string(st)
				}
			}
			if terminal {
				want = "work order 42 is " + string(st) + ", which is final; CorrigoPro allows nothing on it"
			}
			cases = append(cases, tc{kind: k, status: st, want: want})
		}
	}
	cases = append(cases,
		tc{kind: pluginapi.KindAccept, status: corrigo.StatusNew, snap: func(s *snapshot) { s.PreBilled = true }, want: "prebilled"},
		tc{kind: pluginapi.KindAccept, status: corrigo.StatusPaused, want: "only when the work order is New; work order 42 is Paused"},
		tc{kind: pluginapi.KindQuote, status: corrigo.StatusAccepted, snap: func(s *snapshot) { s.Quote = &corrigo.Quote{QuoteStatus: corrigo.QuoteSubmitted} }, want: "already has a Submitted quote"},
		tc{kind: pluginapi.KindQuote, status: corrigo.StatusAccepted, snap: func(s *snapshot) { s.Quote = &corrigo.Quote{QuoteStatus: corrigo.QuoteApproved} }, want: "already has a Approved quote"},
		tc{kind: pluginapi.KindQuote, status: corrigo.StatusAccepted, snap: func(s *snapshot) { s.Quote = &corrigo.Quote{QuoteStatus: corrigo.QuoteRequested} }},
		tc{kind: pluginapi.KindQuote, status: corrigo.StatusAccepted, snap: func(s *snapshot) { s.Quote = &corrigo.Quote{QuoteStatus: corrigo.QuoteRejected} }},
		tc{kind: pluginapi.KindQuote, status: corrigo.StatusRecalled, want: "is Recalled"},
		// Configurable inferred rules.
		tc{kind: pluginapi.KindCheckIn, status: corrigo.StatusPaused, opts: func(o *GuardOptions) { o.CheckInFrom = []corrigo.Status{corrigo.StatusAccepted} }, want: "only when the work order is Accepted; work order 42 is Paused"},
		tc{kind: pluginapi.KindCheckOut, status: corrigo.StatusPaused, opts: func(o *GuardOptions) { o.CheckOutFrom = []corrigo.Status{corrigo.StatusCheckedIn} }, want: "work order 42 is Paused"},
		tc{kind: pluginapi.KindCheckIn, status: corrigo.StatusOnHold, opts: func(o *GuardOptions) {
			o.CheckInFrom = []corrigo.Status{corrigo.StatusAccepted, corrigo.StatusPaused, corrigo.StatusOnHold}
		}},
		tc{kind: pluginapi.KindInvoiceSubmit, status: corrigo.StatusCheckedIn, want: "(error 3051)"},
		tc{kind: "bogus", status: corrigo.StatusNew, want: `unknown action kind "bogus"`},
		tc{kind: pluginapi.KindAccept, status: "SomethingNew", want: "work order 42 is SomethingNew"},
	)
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s", c.kind, c.status)
		t.Run(name, func(t *testing.T) {
			o := GuardOptions{}
			if c.opts != nil {
				c.opts(&o)
			}
			o = o.withDefaults()
			s := snapshot{Status: c.status, Full: true}
			if c.snap != nil {
				c.snap(&s)
			}
			got := statusRule(pluginapi.Action{Kind: c.kind, WorkOrderID: 42}, 42, s, &o)
			if c.want == "" {
				if got != "" {
					t.Fatalf("refused: %s", got)
				}
				return
			}
			if !strings.Contains(got, c.want) {
				t.Fatalf("refusal %q, want it to contain %q", got, c.want)
			}
		})
	}
}

func TestSettingsRule(t *testing.T) {
	full := &corrigo.CustomerSettings{
		CustomerId:           90256,
		RepairInfoRequired:   true,
		CommentRequired:      true,
		CustomFieldsRequired: true,
		RepairCodes:          []corrigo.RepairCodeSetting{{CodeId: 11, Code: "FIXED"}, {CodeId: 12, Code: "REPLACED"}},
		CustomFields: []corrigo.CustomFieldSetting{
			{Id: 7, Label: "Cause", IsRequired: true, Values: []string{"Wear", "Vandalism"}},
			{Id: 8, Label: "Ref"},
		},
	}
	good := pluginapi.Action{Kind: pluginapi.KindCheckOut, Comment: "done",
		RepairInfo:   &corrigo.RepairInfo{CodeId: 11},
		CustomFields: []corrigo.CustomField{{Id: 7, Value: "Wear"}}}
	with := func(f func(*pluginapi.Action)) pluginapi.Action {
		a := good
		a.CustomFields = append([]corrigo.CustomField(nil), good.CustomFields...)
		f(&a)
		return a
	}
	cases := []struct {
		name string
		act  pluginapi.Action
		cs   *corrigo.CustomerSettings
		snap snapshot
		opts GuardOptions
		want string
	}{
		{name: "all present", act: good, cs: full},
		{name: "no settings", act: pluginapi.Action{Kind: pluginapi.KindCheckOut}, cs: nil},
		{name: "empty settings", act: pluginapi.Action{Kind: pluginapi.KindCheckOut}, cs: &corrigo.CustomerSettings{}},
		{name: "missing repair info", act: with(func(a *pluginapi.Action) { a.RepairInfo = nil }), cs: full, want: "customer 90256 requires RepairInfo"},
		{name: "empty repair info", act: with(func(a *pluginapi.Action) { a.RepairInfo = &corrigo.RepairInfo{} }), cs: full, want: "customer 90256 requires RepairInfo"},
		{name: "repair code by name", act: with(func(a *pluginapi.Action) { a.RepairInfo = &corrigo.RepairInfo{Code: "REPLACED"} }), cs: full},
		{name: "unknown repair code", act: with(func(a *pluginapi.Action) { a.RepairInfo = &corrigo.RepairInfo{CodeId: 99, Code: "X"} }), cs: full, want: "repair code 99 (X) is not in its repair code list"},
		{name: "missing comment", act: with(func(a *pluginapi.Action) { a.Comment = " " }), cs: full, want: "customer 90256 requires a Comment"},
		{name: "missing required field", act: with(func(a *pluginapi.Action) { a.CustomFields = nil }), cs: full, want: "requires custom field 7 (Cause)"},
		{name: "blank required field", act: with(func(a *pluginapi.Action) { a.CustomFields = []corrigo.CustomField{{Id: 7}} }), cs: full, want: "requires custom field 7 (Cause)"},
		{name: "value not allowed (case-sensitive)", act: with(func(a *pluginapi.Action) { a.CustomFields[0].Value = "wear" }), cs: full, want: `custom field 7 (Cause) does not allow "wear" (allowed: Wear, Vandalism)`},
		{name: "optional field free text", act: with(func(a *pluginapi.Action) {
			a.CustomFields = append(a.CustomFields, corrigo.CustomField{Id: 8, Value: "anything"})
		}), cs: full},
		{name: "unknown field passes", act: with(func(a *pluginapi.Action) {
			a.CustomFields = append(a.CustomFields, corrigo.CustomField{Id: 99, Value: "x"})
		}), cs: full},
		{name: "several missing", act: pluginapi.Action{Kind: pluginapi.KindCheckOut}, cs: full, want: "customer 90256 requires a Comment, RepairInfo, custom field 7 (Cause)"},
		{name: "IsRequired without CustomFieldsRequired: not required (as the sandbox reads it)",
			act: pluginapi.Action{Kind: pluginapi.KindCheckOut},
			cs:  &corrigo.CustomerSettings{CustomerId: 5, CustomFields: []corrigo.CustomFieldSetting{{Id: 2, Label: "B", IsRequired: true}}}},
		{name: "CustomFieldsRequired with none marked: none required",
			act: pluginapi.Action{Kind: pluginapi.KindCheckOut},
			cs:  &corrigo.CustomerSettings{CustomerId: 5, CustomFieldsRequired: true, CustomFields: []corrigo.CustomFieldSetting{{Id: 1}, {Id: 2, Label: "B"}}}},
		{name: "value checked even when not required",
			act:  pluginapi.Action{Kind: pluginapi.KindCheckOut, CustomFields: []corrigo.CustomField{{Id: 2, Value: "c"}}},
			cs:   &corrigo.CustomerSettings{CustomerId: 5, CustomFields: []corrigo.CustomFieldSetting{{Id: 2, Label: "B", Values: []string{"a", "b"}}}},
			want: `customer 5: custom field 2 (B) does not allow "c"`},
		{name: "customer id from work order", act: pluginapi.Action{Kind: pluginapi.KindCheckOut},
			cs: &corrigo.CustomerSettings{RepairInfoRequired: true}, snap: snapshot{CustomerID: 77}, want: "customer 77 requires RepairInfo"},
		{name: "work done details checked too", act: pluginapi.Action{Kind: pluginapi.KindWorkDoneDetails}, cs: full, want: "requires a Comment"},
		{name: "PMRM check-out missing info passes (CorrigoPro asks for details)", act: pluginapi.Action{Kind: pluginapi.KindCheckOut}, cs: full,
			snap: snapshot{Type: corrigo.TypePMRM}},
		{name: "PMRM check-out with a wrong value is refused", act: with(func(a *pluginapi.Action) { a.CustomFields[0].Value = "wear" }), cs: full,
			snap: snapshot{Type: corrigo.TypePMRM}, want: `does not allow "wear"`},
		{name: "PMRM incomplete refused when configured", act: pluginapi.Action{Kind: pluginapi.KindCheckOut}, cs: full,
			snap: snapshot{Type: corrigo.TypePMRM}, opts: GuardOptions{RefuseIncompletePMRMCheckOut: true}, want: "requires a Comment, RepairInfo"},
		{name: "PMRM work done details never lenient", act: pluginapi.Action{Kind: pluginapi.KindWorkDoneDetails}, cs: full,
			snap: snapshot{Type: corrigo.TypePMRM}, want: "requires a Comment"},
		{name: "Request type never lenient", act: pluginapi.Action{Kind: pluginapi.KindCheckOut}, cs: full,
			snap: snapshot{Type: corrigo.TypeRequest}, want: "requires"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts.withDefaults()
			got := settingsRule(c.act, c.snap, c.cs, &o)
			if c.want == "" {
				if got != "" {
					t.Fatalf("refused: %s", got)
				}
				return
			}
			if !strings.Contains(got, c.want) {
				t.Fatalf("refusal %q, want it to contain %q", got, c.want)
			}
		})
	}
}

// fakeFetcher serves work orders and settings from maps and counts calls.
type fakeFetcher struct {
	mu        sync.Mutex
	wos       map[int64]corrigo.WorkOrder
	settings  map[int]corrigo.CustomerSettings
	woErr     error
	csErr     error
	woCalls   atomic.Int32
	csCalls   atomic.Int32
	csRelease chan struct{} // if set, CustomerSettings waits for it
}

func (f *fakeFetcher) GetWorkOrder(_ context.Context, _ string, id int64) (*corrigo.WorkOrder, error) {
	f.woCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.woErr != nil {
		return nil, f.woErr
	}
	wo, ok := f.wos[id]
	if !ok {
		return nil, &corrigo.APIError{Method: "GET", Path: "api/workOrder", StatusCode: 400, Code: corrigo.CodeNotFoundOrRecalled, Message: "not found"}
	}
	return &wo, nil
}

func (f *fakeFetcher) CustomerSettings(ctx context.Context, _ string, id int) (*corrigo.CustomerSettings, error) {
	f.csCalls.Add(1)
	if f.csRelease != nil {
		select {
		case <-f.csRelease:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.csErr != nil {
		return nil, f.csErr
	}
	cs, ok := f.settings[id]
	if !ok {
		return nil, &corrigo.APIError{Method: "GET", Path: "api/customerSettings", StatusCode: 400, Code: corrigo.CodeEntityNotFound}
	}
	return &cs, nil
}

func (f *fakeFetcher) setStatus(id int64, st corrigo.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wo := f.wos[id]
	wo.Status = st
	f.wos[id] = wo
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newFake() *fakeFetcher {
	return &fakeFetcher{
		wos: map[int64]corrigo.WorkOrder{
			42: {WorkOrderId: 42, Status: corrigo.StatusNew, Type: corrigo.TypeRequest, Customer: &corrigo.CustomerRef{ID: 90256}},
		},
		settings: map[int]corrigo.CustomerSettings{90256: {CustomerId: 90256, RepairInfoRequired: true}},
	}
}

var transientErr = &corrigo.APIError{Method: "GET", Path: "api/workOrder", StatusCode: 503, Message: "unavailable"}

func TestGuardFetchesUnknownAndUsesCache(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := NewGuard(f, GuardOptions{Now: clk.Now, StatusTTL: time.Minute})

	// Unknown work order: fetched once, then served from the cache.
	for range 3 {
		if r, err := g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 42}); r != "" || err != nil {
			t.Fatalf("accept: %q %v", r, err)
		}
	}
	if n := f.woCalls.Load(); n != 1 {
		t.Fatalf("GetWorkOrder called %d times, want 1", n)
	}
	// A status-only observation is enough for kinds that need only status.
	g.Observe("main", 43, corrigo.StatusCheckedIn)
	if r, err := g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindPause, WorkOrderID: 43}); r != "" || err != nil {
		t.Fatalf("pause: %q %v", r, err)
	}
	if n := f.woCalls.Load(); n != 1 {
		t.Fatalf("GetWorkOrder called %d times, want 1", n)
	}
	// Notes need only the status (Rejected and Recalled are final).
	if r, err := g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 43, Text: "x"}); r != "" || err != nil {
		t.Fatalf("note: %q %v", r, err)
	}
	if n := f.woCalls.Load(); n != 1 {
		t.Fatalf("GetWorkOrder called %d times for a note on a work order of known status, want 1", n)
	}
	// After the TTL the work order is fetched again.
	clk.Add(2 * time.Minute)
	if _, err := g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindReject, WorkOrderID: 42, Comment: "no"}); err != nil {
		t.Fatal(err)
	}
	if n := f.woCalls.Load(); n != 2 {
		t.Fatalf("GetWorkOrder called %d times after TTL, want 2", n)
	}
}

func TestGuardConfirmsCachedRefusal(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	g := NewGuard(f, GuardOptions{})
	// The cache says New, CorrigoPro says Accepted (a person accepted in
	// Desktop and the webhook is not processed yet): check-in is allowed.
	g.ObserveWorkOrder("main", &corrigo.WorkOrder{WorkOrderId: 42, Status: corrigo.StatusNew, Customer: &corrigo.CustomerRef{ID: 90256}})
	f.setStatus(42, corrigo.StatusAccepted)
	r, err := g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindCheckIn, WorkOrderID: 42})
	if r != "" || err != nil {
		t.Fatalf("check in: %q %v", r, err)
	}
	if n := f.woCalls.Load(); n != 1 {
		t.Fatalf("GetWorkOrder called %d times, want 1 (the confirmation)", n)
	}
	// A real refusal is confirmed, then returned.
	r, err = g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindPause, WorkOrderID: 42})
	if err != nil || !strings.HasPrefix(r, "pause refused: ") || !strings.Contains(r, "work order 42 is Accepted") {
		t.Fatalf("pause: %q %v", r, err)
	}
	// A fetch failure while confirming is an error (retry), not a refusal.
	f.woErr = transientErr
	_, err = g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindPause, WorkOrderID: 42})
	if corrigo.ClassOf(err) != corrigo.ClassTransient {
		t.Fatalf("err %v, want transient", err)
	}
}

func TestGuardCheckOutSettings(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.setStatus(42, corrigo.StatusCheckedIn)
	g := NewGuard(f, GuardOptions{})
	r, err := g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindCheckOut, WorkOrderID: 42})
	if err != nil {
		t.Fatal(err)
	}
	if want := "check_out refused: customer 90256 requires RepairInfo"; r != want {
		t.Fatalf("refusal %q, want %q", r, want)
	}
	r, err = g.Check(ctx, "main", pluginapi.Action{Kind: pluginapi.KindCheckOut, WorkOrderID: 42, RepairInfo: &corrigo.RepairInfo{Code: "FIXED"}})
	if r != "" || err != nil {
		t.Fatalf("with repair info: %q %v", r, err)
	}
	if n := f.csCalls.Load(); n != 1 {
		t.Fatalf("CustomerSettings called %d times, want 1 (cached)", n)
	}
}

func TestGuardSettingsSingleflightAndRefresh(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.csRelease = make(chan struct{})
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := NewGuard(f, GuardOptions{Now: clk.Now, SettingsRefresh: time.Hour, Logger: quiet})

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			cs, err := g.CustomerSettings(ctx, "main", 90256)
			if err == nil && (cs == nil || !cs.RepairInfoRequired) {
				err = fmt.Errorf("wrong settings %+v", cs)
			}
			errs <- err
		})
	}
	// Wait until the one fetch is in flight, then let it finish.
	for f.csCalls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.csRelease)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := f.csCalls.Load(); c != 1 {
		t.Fatalf("CustomerSettings fetched %d times for %d concurrent callers, want 1", c, n)
	}

	// Within the refresh interval: cached. After it: fetched again.
	clk.Add(59 * time.Minute)
	if _, err := g.CustomerSettings(ctx, "main", 90256); err != nil {
		t.Fatal(err)
	}
	if c := f.csCalls.Load(); c != 1 {
		t.Fatalf("fetched %d times within the interval, want 1", c)
	}
	clk.Add(2 * time.Minute)
	f.mu.Lock()
	f.settings[90256] = corrigo.CustomerSettings{CustomerId: 90256, CommentRequired: true}
	f.mu.Unlock()
	cs, err := g.CustomerSettings(ctx, "main", 90256)
	if err != nil || !cs.CommentRequired {
		t.Fatalf("after refresh: %+v %v", cs, err)
	}

	// Refresh failing transiently: the older copy is used.
	clk.Add(2 * time.Hour)
	f.csErr = transientErr
	cs, err = g.CustomerSettings(ctx, "main", 90256)
	if err != nil || !cs.CommentRequired {
		t.Fatalf("stale on failure: %+v %v", cs, err)
	}
	// No copy at all: the transient error is returned.
	if _, err := g.CustomerSettings(ctx, "main", 1); corrigo.ClassOf(err) != corrigo.ClassTransient {
		t.Fatalf("err %v, want transient", err)
	}
	// A permanent error means "no settings known": not an error.
	f.csErr = nil
	cs, err = g.CustomerSettings(ctx, "main", 2)
	if err != nil || cs != nil {
		t.Fatalf("unknown customer: %+v %v", cs, err)
	}
}

func TestGuardSettingsWaitHonoursContext(t *testing.T) {
	f := newFake()
	f.csRelease = make(chan struct{})
	defer close(f.csRelease)
	g := NewGuard(f, GuardOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.CustomerSettings(ctx, "main", 90256); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestGuardObserveNotification(t *testing.T) {
	f := newFake()
	g := NewGuard(f, GuardOptions{})
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	h := func(a corrigo.Action, at time.Time) corrigo.Header {
		return corrigo.Header{WorkOrderId: 50, Action: a, ActionDate: corrigo.NewTime(at), MessageId: "m"}
	}
	g.ObserveNotification("main", &corrigo.Notification{Header: h(corrigo.ActionNewWorkOrder, t0),
		Payload: corrigo.NewWorkOrderPayload{Details: corrigo.WorkOrder{WorkOrderId: 50, IsPreBilled: true, Customer: &corrigo.CustomerRef{ID: 3}}}})
	if st, ok := g.Status("main", 50); !ok || st != corrigo.StatusNew {
		t.Fatalf("after NewWorkOrder: %q %v", st, ok)
	}
	r, err := g.Check(context.Background(), "main", pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: 50})
	// The refusal is confirmed by a fetch; the fake does not know 50, so the
	// confirmation fails permanently — which is what CorrigoPro would say.
	if r != "" || corrigo.ClassOf(err) != corrigo.ClassPermanent {
		t.Fatalf("accept prebilled: %q %v", r, err)
	}
	g.ObserveNotification("main", &corrigo.Notification{Header: h(corrigo.ActionCheckedIn, t0.Add(2*time.Minute)),
		Payload: corrigo.CheckedInPayload{StatusChange: corrigo.StatusChange{Status: corrigo.StatusCheckedIn}}})
	// An older notification arriving late does not roll the status back.
	g.ObserveNotification("main", &corrigo.Notification{Header: h(corrigo.ActionAccepted, t0.Add(time.Minute)),
		Payload: corrigo.AcceptedPayload{}})
	if st, _ := g.Status("main", 50); st != corrigo.StatusCheckedIn {
		t.Fatalf("status %q, want CheckedIn", st)
	}
	g.ObserveNotification("main", &corrigo.Notification{Header: h(corrigo.ActionCheckedOut, t0.Add(3*time.Minute)),
		Payload: corrigo.CheckedOutPayload{}})
	if st, _ := g.Status("main", 50); st != corrigo.StatusCheckedOut {
		t.Fatalf("status %q, want CheckedOut", st)
	}
	g.ObserveNotification("main", &corrigo.Notification{Header: h(corrigo.ActionQuoteChanged, t0.Add(4*time.Minute)),
		Payload: corrigo.QuoteChangedPayload{Quote: corrigo.Quote{Amount: 10, QuoteStatus: corrigo.QuoteApproved}}})
	g.mu.Lock()
	q := g.wos[woKey{"main", 50}].Quote
	g.mu.Unlock()
	if q == nil || q.QuoteStatus != corrigo.QuoteApproved {
		t.Fatalf("quote %+v", q)
	}
	g.ObserveNotification("main", nil) // ignored, no panic
	g.Forget("main", 50)
	if _, ok := g.Status("main", 50); ok {
		t.Fatal("Forget kept the entry")
	}
}

func TestGuardCacheBounded(t *testing.T) {
	g := NewGuard(newFake(), GuardOptions{MaxWorkOrders: 100})
	for i := range int64(1000) {
		g.Observe("main", i+1, corrigo.StatusNew)
	}
	g.mu.Lock()
	n := len(g.wos)
	g.mu.Unlock()
	if n > 100 {
		t.Fatalf("cache holds %d entries, bound is 100", n)
	}
	if _, ok := g.Status("main", 1000); !ok {
		t.Fatal("the newest entry was evicted")
	}
}
