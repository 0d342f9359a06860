package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/reconcile"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// world is a sandbox whose webhooks go nowhere (every notification is
// lost), a CorrigoPro client for it and a real SQLite store.
type world struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	api *corrigo.Client
	st  *sqlite.Store
	log *logBuffer
	now atomic.Int64 // offset added to the real clock
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	api, err := corrigo.NewClient(corrigo.Config{BaseURL: sb.BaseURL(), OAuthURL: sb.OAuthURL(),
		ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &world{t: t, sb: sb, api: api, st: st, log: &logBuffer{}}
}

func (w *world) clock() time.Time { return time.Now().Add(time.Duration(w.now.Load())) }

func (w *world) reconciler(mod func(*reconcile.Options)) *reconcile.Reconciler {
	w.t.Helper()
	o := reconcile.Options{
		Account: "main", API: w.api, Store: w.st, Interval: time.Hour, Window: time.Hour,
		Settle: time.Nanosecond, Now: w.clock,
		Logger: slog.New(slog.NewJSONHandler(w.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&o)
	}
	r, err := reconcile.New(o)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) create() corrigo.WorkOrder {
	w.t.Helper()
	wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest})
	if err != nil {
		w.t.Fatal(err)
	}
	return wo
}

func (w *world) runOnce(r *reconcile.Reconciler) reconcile.Result {
	w.t.Helper()
	res, err := r.RunOnce(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

func (w *world) events(id int64) []store.Event {
	w.t.Helper()
	evs, err := w.st.EventsForWorkOrder(context.Background(), "main", id)
	if err != nil {
		w.t.Fatal(err)
	}
	return evs
}

// handleAll completes every pending event as the dispatcher would, with
// the given actions (by work order) recorded as sent.
func (w *world) handleAll(actions map[int64][]pluginapi.ActionKind) {
	w.t.Helper()
	ctx := context.Background()
	for {
		evs, err := w.st.ClaimEvents(ctx, "test", time.Minute, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(evs) == 0 {
			return
		}
		for _, e := range evs {
			var out store.Outcome
			out.Status = store.EventDone
			for i, k := range actions[e.WorkOrderID] {
				p, _ := json.Marshal(pluginapi.Action{Kind: k, WorkOrderID: e.WorkOrderID})
				out.Actions = append(out.Actions, store.OutboxAction{
					IdempotencyKey: e.MessageID + "/" + string(k) + "/" + string(rune('0'+i)),
					WorkOrderID:    e.WorkOrderID, Rule: "r", Plugin: "p", Kind: string(k), Payload: p,
				})
			}
			delete(actions, e.WorkOrderID)
			if err := w.st.CompleteEvent(ctx, e.ID, "test", out); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// sendAll marks every pending action sent.
func (w *world) sendAll() {
	w.t.Helper()
	ctx := context.Background()
	for {
		as, err := w.st.ClaimActions(ctx, "test", time.Minute, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(as) == 0 {
			return
		}
		for _, a := range as {
			if err := w.st.FinishAction(ctx, a.ID, "test", store.ActionSent, ""); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

func TestLostNewWorkOrderIsFilledOnce(t *testing.T) {
	w := newWorld(t)
	a, b := w.create(), w.create()
	// The sandbox has no webhook URL: both NewWorkOrder notifications are
	// lost, as when CorrigoPro cannot reach the gateway.
	r := w.reconciler(nil)
	res := w.runOnce(r)
	if res.Unseen != 2 || res.Stored != 2 || res.StatusGaps != 0 {
		t.Fatalf("first round: %+v, want 2 unseen work orders stored", res)
	}
	for _, wo := range []corrigo.WorkOrder{a, b} {
		evs := w.events(wo.WorkOrderId)
		if len(evs) != 1 {
			t.Fatalf("work order %d: %d events", wo.WorkOrderId, len(evs))
		}
		e := evs[0]
		if e.Source != reconcile.Source || e.Action != string(corrigo.ActionNewWorkOrder) || e.Status != store.EventPending {
			t.Errorf("event %+v", e)
		}
		if !e.ActionDate.Equal(wo.Created.Time.UTC().Truncate(time.Microsecond)) {
			t.Errorf("ActionDate %v, want the work order's creation %v", e.ActionDate, wo.Created.Time)
		}
		n, err := corrigo.DecodeNotification(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := n.Payload.(corrigo.NewWorkOrderPayload)
		if !ok || p.Details.WorkOrderId != wo.WorkOrderId || p.Details.WorkOrderNumber != wo.WorkOrderNumber {
			t.Errorf("body is not a NewWorkOrder with the work order's details: %s", e.Body)
		}
		if n.Header.MessageId != e.MessageID || !strings.HasPrefix(e.MessageID, "reconcile-main-") {
			t.Errorf("MessageId %q / header %q", e.MessageID, n.Header.MessageId)
		}
	}
	// The next round finds the same gaps already filled: nothing new.
	if res := w.runOnce(r); res.Stored != 0 {
		t.Fatalf("second round stored %d events again: %+v", res.Stored, res)
	}
	// So does another reconciler (a replica, or after a restart).
	if res := w.runOnce(w.reconciler(nil)); res.Stored != 0 {
		t.Fatalf("a second reconciler stored %d events again", res.Stored)
	}
}

func TestStatusMovedWithoutNotificationIsFilledOnce(t *testing.T) {
	w := newWorld(t)
	wo := w.create()
	r := w.reconciler(nil)
	w.runOnce(r)
	// The gateway handles it and accepts it (the action is sent).
	w.handleAll(map[int64][]pluginapi.ActionKind{wo.WorkOrderId: {pluginapi.KindAccept}})
	w.sendAll()
	if _, err := w.sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActAccept}); err != nil {
		t.Fatal(err) // the sandbox's side of the accept the gateway "sent"
	}
	if res := w.runOnce(r); res.StatusGaps != 0 || res.Stored != 0 {
		t.Fatalf("after our own accept: %+v, want no gap (CorrigoPro sends no webhook for API calls)", res)
	}
	// A technician checks in from the mobile app; the CheckedIn webhook
	// is lost.
	if _, err := w.sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActCheckIn}); err != nil {
		t.Fatal(err)
	}
	res := w.runOnce(r)
	if res.StatusGaps != 1 || res.Stored != 1 {
		t.Fatalf("after a lost CheckedIn: %+v, want one status gap stored", res)
	}
	evs := w.events(wo.WorkOrderId)
	last := evs[len(evs)-1]
	n, err := corrigo.DecodeNotification(last.Body)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := n.Payload.(corrigo.CheckedInPayload)
	if last.Action != string(corrigo.ActionCheckedIn) || !ok || p.Status != corrigo.StatusCheckedIn || last.Source != reconcile.Source {
		t.Fatalf("stored %s %+v from %s", last.Action, n.Payload, last.Source)
	}
	// Until the gateway handled it, the work order is busy: no
	// comparison, no second event.
	if res := w.runOnce(r); res.Stored != 0 || res.Skipped != 1 {
		t.Fatalf("while the filled gap is pending: %+v", res)
	}
	w.handleAll(nil)
	if res := w.runOnce(r); res.Stored != 0 || res.StatusGaps != 0 {
		t.Fatalf("after the filled gap was handled: %+v", res)
	}
}

func TestRecentChangesSettleFirst(t *testing.T) {
	w := newWorld(t)
	w.create()
	r := w.reconciler(func(o *reconcile.Options) { o.Settle = time.Minute })
	if res := w.runOnce(r); res.Stored != 0 || res.Skipped != 1 || res.Checked != 1 {
		t.Fatalf("a change younger than Settle: %+v, want it left for the webhook", res)
	}
	w.now.Store(int64(2 * time.Minute))
	if res := w.runOnce(r); res.Stored != 1 {
		t.Fatalf("after it settled: %+v", res)
	}
}

func TestPendingActionMakesWorkOrderBusy(t *testing.T) {
	w := newWorld(t)
	wo := w.create()
	r := w.reconciler(nil)
	w.runOnce(r)
	w.handleAll(map[int64][]pluginapi.ActionKind{wo.WorkOrderId: {pluginapi.KindAccept}})
	// The accept reached CorrigoPro but the gateway has not recorded it
	// yet (crash between the call and the row update): not a gap.
	if _, err := w.sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActAccept}); err != nil {
		t.Fatal(err)
	}
	if res := w.runOnce(r); res.Stored != 0 || res.Skipped != 1 {
		t.Fatalf("with the accept still pending: %+v", res)
	}
}

func TestSilenceIsReportedAndEnds(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	var reports []reconcile.Silence
	r := w.reconciler(func(o *reconcile.Options) {
		o.SilenceAlert = time.Minute
		o.WebhookPath = "/webhooks/corrigo/main"
		o.OnSilence = func(s reconcile.Silence) {
			mu.Lock()
			reports = append(reports, s)
			mu.Unlock()
		}
	})
	last := func() (reconcile.Silence, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(reports) == 0 {
			return reconcile.Silence{}, 0
		}
		return reports[len(reports)-1], len(reports)
	}
	// Quiet, but nothing changed: not silence.
	w.now.Store(int64(5 * time.Minute))
	if res := w.runOnce(r); res.Silent {
		t.Fatalf("no gaps, yet silent: %+v", res)
	}
	if _, n := last(); n != 0 {
		t.Fatalf("reported silence without gaps")
	}
	// Changes the webhooks did not bring, and no webhook for 5 minutes.
	w.create()
	res := w.runOnce(r)
	if !res.Silent || res.Unseen != 1 {
		t.Fatalf("gaps after 5 quiet minutes: %+v, want silent", res)
	}
	s, n := last()
	if n != 1 || !s.Silent || s.Account != "main" || s.Gaps != 1 || s.For < 5*time.Minute || !s.LastWebhook.IsZero() {
		t.Fatalf("report %+v (%d reports)", s, n)
	}
	if !strings.Contains(w.log.String(), "webhook silence") {
		t.Errorf("no warning in the log:\n%s", w.log.String())
	}
	// Still quiet, nothing new: still reported silent.
	if res := w.runOnce(r); !res.Silent {
		t.Fatalf("silence forgotten without a webhook: %+v", res)
	}
	// A webhook arrives (the communication log has it): silence ends.
	if err := w.st.AppendLog(context.Background(), store.LogEntry{Time: w.clock().UTC(), Account: "main", Direction: "inbound",
		Severity: "info", Method: "POST", URL: "/webhooks/corrigo/main", Status: 200}); err != nil {
		t.Fatal(err)
	}
	if res := w.runOnce(r); res.Silent {
		t.Fatalf("silent after a webhook arrived: %+v", res)
	}
	s, _ = last()
	if s.Silent || s.LastWebhook.IsZero() {
		t.Fatalf("last report %+v, want the end of the silence", s)
	}
	if !strings.Contains(w.log.String(), "webhook silence ended") {
		t.Errorf("the end of the silence is not logged")
	}
}

func TestSearchFailureIsAnError(t *testing.T) {
	w := newWorld(t)
	if err := w.sb.SetFaults(sandbox.Faults{OutageFor: sandbox.Duration(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	_, err := w.reconciler(nil).RunOnce(context.Background())
	var ae *corrigo.APIError
	if err == nil || !errors.As(err, &ae) || !strings.Contains(err.Error(), "search work orders") {
		t.Fatalf("err = %v, want the search's API error", err)
	}
}

func TestKnownStatus(t *testing.T) {
	body := func(t *testing.T, p corrigo.Payload) json.RawMessage {
		b, err := corrigo.NewNotification(corrigo.Header{WorkOrderId: 1, MessageId: "m"}, p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nwo := body(t, corrigo.NewWorkOrderPayload{Details: corrigo.WorkOrder{WorkOrderId: 1, Status: corrigo.StatusNew}})
	paused := body(t, corrigo.PausedPayload{})
	cases := []struct {
		name string
		evs  []store.Event
		acts []store.OutboxAction
		want corrigo.Status
		busy bool
	}{
		{"nothing", nil, nil, "", false},
		{"new", []store.Event{{Status: store.EventDone, ActionDate: t0, Body: nwo}}, nil, corrigo.StatusNew, false},
		{"accepted by us", []store.Event{{Status: store.EventDone, ActionDate: t0, Body: nwo}},
			[]store.OutboxAction{{Kind: "accept", Status: store.ActionSent, SentAt: t0.Add(time.Second)}}, corrigo.StatusAccepted, false},
		{"refused action changes nothing", []store.Event{{Status: store.EventDone, ActionDate: t0, Body: nwo}},
			[]store.OutboxAction{{Kind: "accept", Status: store.ActionRefused, SentAt: t0.Add(time.Second)}}, corrigo.StatusNew, false},
		{"later notification wins", []store.Event{{Status: store.EventDone, ActionDate: t0, Body: nwo}, {Status: store.EventDone, ActionDate: t0.Add(time.Hour), Body: paused}},
			[]store.OutboxAction{{Kind: "check_in", Status: store.ActionSent, SentAt: t0.Add(time.Minute)}}, corrigo.StatusPaused, false},
		{"pending event", []store.Event{{Status: store.EventPending, Body: nwo}}, nil, "", true},
		{"pending action", []store.Event{{Status: store.EventDone, ActionDate: t0, Body: nwo}}, []store.OutboxAction{{Kind: "accept", Status: store.ActionPending}}, "", true},
		{"undecodable body ignored", []store.Event{{Status: store.EventDone, ActionDate: t0, Body: json.RawMessage(`{`)}}, nil, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, busy := reconcile.KnownStatus(c.evs, c.acts)
			if got != c.want || busy != c.busy {
				t.Errorf("KnownStatus = %q, %v; want %q, %v", got, busy, c.want, c.busy)
			}
		})
	}
}

func TestMessageIDIsDeterministic(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.FixedZone("x", 3600))
	a := reconcile.MessageID("main", 42, corrigo.StatusCheckedIn, at)
	if a != reconcile.MessageID("main", 42, corrigo.StatusCheckedIn, at.UTC()) {
		t.Error("MessageID depends on the time zone")
	}
	for _, b := range []string{
		reconcile.MessageID("other", 42, corrigo.StatusCheckedIn, at),
		reconcile.MessageID("main", 43, corrigo.StatusCheckedIn, at),
		reconcile.MessageID("main", 42, corrigo.StatusPaused, at),
		reconcile.MessageID("main", 42, corrigo.StatusCheckedIn, at.Add(time.Microsecond)),
	} {
		if a == b {
			t.Errorf("%q collides", b)
		}
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	if _, err := reconcile.New(reconcile.Options{Account: "main"}); err == nil {
		t.Error("New without API and store succeeded")
	}
	if _, err := reconcile.NewPruner(reconcile.PrunerOptions{}); err == nil {
		t.Error("NewPruner without store succeeded")
	}
}

// TestOldUnseenWorkOrderIsNotAGap: a work order created before the window
// may have been handled and pruned since; a recent change to it must not
// bring it back as new.
func TestOldUnseenWorkOrderIsNotAGap(t *testing.T) {
	w := newWorld(t)
	wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest, Created: corrigo.NewTime(time.Now().Add(-3 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActNteChange, Amount: 700}); err != nil {
		t.Fatal(err)
	}
	res := w.runOnce(w.reconciler(nil))
	if res.Checked != 1 || res.Stored != 0 || res.Unseen != 0 || res.Skipped != 1 {
		t.Fatalf("old unseen work order: %+v, want it checked and skipped", res)
	}
}
