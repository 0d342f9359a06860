package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestExclusiveTakesOverDeadLeases: a second gateway on one SQLite file is
// refused, and the next gateway to open it takes back the leases its
// predecessor left, so their work starts at once instead of after the lease.
func TestExclusiveTakesOverDeadLeases(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wogate.db")
	first, err := sqlite.Open(ctx, path, sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if ev, ac := first.TookOverLeases(); ev != 0 || ac != 0 {
		t.Fatalf("a new store took over %d/%d leases", ev, ac)
	}
	if _, err := sqlite.Open(ctx, path, sqlite.Options{Exclusive: true}); !errors.Is(err, sqlite.ErrLocked) {
		t.Fatalf("second exclusive open: %v, want ErrLocked", err)
	}
	// Tools (no Exclusive) still open it beside the gateway.
	tool, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("non-exclusive open beside the gateway: %v", err)
	}
	_ = tool.Close()

	for i, msg := range []string{"x1", "x2"} {
		if _, err := first.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: msg, WorkOrderID: int64(i + 1), Action: "NewWorkOrder",
			ActionDate: time.Now(), Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := first.ClaimEvents(ctx, "dead-gateway", time.Hour, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("claim: %d, %v", len(evs), err)
	}
	// One event becomes an action; the other stays leased.
	if err := first.CompleteEvent(ctx, evs[0].ID, "dead-gateway", store.Outcome{Status: store.EventDone,
		Actions: []store.OutboxAction{{IdempotencyKey: "k1", WorkOrderID: 1, Kind: "Accept", Payload: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if acts, err := first.ClaimActions(ctx, "dead-egress", time.Hour, 10); err != nil || len(acts) != 1 {
		t.Fatalf("claim actions: %d, %v", len(acts), err)
	}
	if err := first.Close(); err != nil { // as if killed: the leases stay
		t.Fatal(err)
	}

	next, err := sqlite.Open(ctx, path, sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if ev, ac := next.TookOverLeases(); ev != 1 || ac != 1 {
		t.Fatalf("took over %d event and %d action leases, want 1 and 1", ev, ac)
	}
	got, err := next.ClaimEvents(ctx, "new-gateway", time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != evs[1].ID {
		t.Fatalf("claim after take-over: %+v, %v", got, err)
	}
	if got[0].Attempts != 2 {
		t.Errorf("attempts = %d, want 2 (the dead gateway's try counts)", got[0].Attempts)
	}
	acts, err := next.ClaimActions(ctx, "new-egress", time.Minute, 10)
	if err != nil || len(acts) != 1 {
		t.Fatalf("claim actions after take-over: %d, %v", len(acts), err)
	}
	if err := next.CompleteEvent(ctx, evs[1].ID, "dead-gateway", store.Outcome{Status: store.EventDone}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the dead owner's outcome: %v, want ErrLeaseLost", err)
	}
}
