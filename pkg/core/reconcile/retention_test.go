package reconcile_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/reconcile"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestPrunerKeepsDeadLettersAndPending stores handled, dead and pending
// events and a log entry, lets the retention pass, and checks that only the
// handled history went.
func TestPrunerKeepsDeadLettersAndPending(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	insert := func(msg string, wo int64) *store.Event {
		e := &store.Event{Account: "main", MessageID: msg, WorkOrderID: wo, Action: "NewWorkOrder", Source: "webhook", Body: []byte(`{}`)}
		if _, err := st.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	done, dead := insert("done", 1), insert("dead", 2)
	claimed, err := st.ClaimEvents(ctx, "t", time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v, %d events", err, len(claimed))
	}
	if err := st.CompleteEvent(ctx, done.ID, "t", store.Outcome{Status: store.EventDone, Actions: []store.OutboxAction{
		{IdempotencyKey: "k1", WorkOrderID: 1, Rule: "r", Plugin: "p", Kind: "accept", Payload: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteEvent(ctx, dead.ID, "t", store.Outcome{Status: store.EventDead, LastError: "boom"}); err != nil {
		t.Fatal(err)
	}
	as, err := st.ClaimActions(ctx, "t", time.Minute, 10)
	if err != nil || len(as) != 1 {
		t.Fatalf("claim actions: %v, %d", err, len(as))
	}
	if err := st.FinishAction(ctx, as[0].ID, "t", store.ActionSent, ""); err != nil {
		t.Fatal(err)
	}
	pending := insert("pending", 3)
	if err := st.AppendLog(ctx, store.LogEntry{Time: time.Now().UTC(), Account: "main", Direction: "inbound", Severity: "info", URL: "/x", Status: 200}); err != nil {
		t.Fatal(err)
	}

	var now time.Time
	p, err := reconcile.NewPruner(reconcile.PrunerOptions{Store: st, Events: time.Hour, Log: time.Hour,
		Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// Within the retention nothing goes.
	now = time.Now()
	if n, err := p.PruneOnce(ctx); err != nil || n != 0 {
		t.Fatalf("PruneOnce within the retention deleted %d (%v)", n, err)
	}
	// Two hours later the handled event, its sent action and the log go.
	now = time.Now().Add(2 * time.Hour)
	n, err := p.PruneOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("deleted %d rows, want 3 (event, action, log entry)", n)
	}
	if _, err := st.GetEvent(ctx, done.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("handled event still there: %v", err)
	}
	if _, err := st.GetAction(ctx, as[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("sent action still there: %v", err)
	}
	for _, id := range []int64{dead.ID, pending.ID} {
		if _, err := st.GetEvent(ctx, id); err != nil {
			t.Errorf("event %d (dead letter or pending) was pruned: %v", id, err)
		}
	}
	if logs, err := st.QueryLog(ctx, store.LogFilter{}); err != nil || len(logs) != 0 {
		t.Errorf("log after pruning: %d entries (%v)", len(logs), err)
	}
	// An ignored dead letter is resolved: it goes at the next prune.
	if err := st.IgnoreEvent(ctx, dead.ID); err != nil {
		t.Fatal(err)
	}
	now = time.Now().Add(2 * time.Hour)
	if _, err := p.PruneOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetEvent(ctx, dead.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ignored dead letter still there after its retention: %v", err)
	}
}

// TestPrunerRunStopsWithContext runs the loop with a short interval and
// checks it prunes without being asked and stops when told.
func TestPrunerRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan store.PruneBefore, 10)
	p, err := reconcile.NewPruner(reconcile.PrunerOptions{Store: pruneFunc(func(_ context.Context, before store.PruneBefore) (int64, error) {
		select {
		case calls <- before:
		default:
		}
		return 1, nil
	}), Events: 50 * time.Millisecond, Interval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for range 2 {
		select {
		case before := <-calls:
			if age := time.Since(before.Events); age < 50*time.Millisecond || age > time.Minute {
				t.Errorf("pruned events before %v ago, want the retention", age)
			}
			if !before.Log.IsZero() {
				t.Errorf("log cutoff %v with no log retention, want zero (keep forever)", before.Log)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the pruner did not prune")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

type pruneFunc func(ctx context.Context, before store.PruneBefore) (int64, error)

func (f pruneFunc) Prune(ctx context.Context, before store.PruneBefore) (int64, error) {
	return f(ctx, before)
}

// TestPrunerSeparateRetentions: the log goes at retention.log while
// handled events stay until retention.events, and a zero retention keeps
// its kind forever.
func TestPrunerSeparateRetentions(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	e := &store.Event{Account: "main", MessageID: "m", WorkOrderID: 1, Action: "NewWorkOrder", Source: "webhook", Body: []byte(`{}`)}
	if _, err := st.InsertEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimEvents(ctx, "t", time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.CompleteEvent(ctx, e.ID, "t", store.Outcome{Status: store.EventDone}); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendLog(ctx, store.LogEntry{Time: time.Now().UTC(), Account: "main", Direction: "inbound", Severity: "info", URL: "/x", Status: 200}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	quiet := slog.New(slog.DiscardHandler)
	logs := func() int {
		l, err := st.QueryLog(ctx, store.LogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}

	// Events kept for ever, log for an hour: two hours on, only the log goes.
	p, err := reconcile.NewPruner(reconcile.PrunerOptions{Store: st, Log: time.Hour, Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	now = time.Now().Add(2 * time.Hour)
	if n, err := p.PruneOnce(ctx); err != nil || n != 1 {
		t.Fatalf("log-only prune deleted %d (%v), want 1", n, err)
	}
	if logs() != 0 {
		t.Fatal("log entry older than retention.log still there")
	}
	if _, err := st.GetEvent(ctx, e.ID); err != nil {
		t.Fatalf("handled event pruned with no events retention: %v", err)
	}

	// Events for a day, log for an hour: two hours on, the event stays;
	// two days on, it goes.
	p, err = reconcile.NewPruner(reconcile.PrunerOptions{Store: st, Events: 24 * time.Hour, Log: time.Hour, Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.PruneOnce(ctx); err != nil || n != 0 {
		t.Fatalf("prune within the events retention deleted %d (%v)", n, err)
	}
	now = time.Now().Add(48 * time.Hour)
	if n, err := p.PruneOnce(ctx); err != nil || n != 1 {
		t.Fatalf("prune after the events retention deleted %d (%v), want 1", n, err)
	}
	if _, err := st.GetEvent(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("handled event still there after retention.events: %v", err)
	}

	if _, err := reconcile.NewPruner(reconcile.PrunerOptions{Store: st}); err == nil {
		t.Fatal("a pruner with both retentions 0 was accepted")
	}
}
