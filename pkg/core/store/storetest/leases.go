package storetest

import (
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// testRenewEventLeases: a renewal extends only the leases its owner still
// holds, so a renewed lane stays blocked past the original lease, and an
// owner that stopped renewing loses the event to the next claimer.
func testRenewEventLeases(t *testing.T, st store.Store) {
	c := ctx(t)
	a := mustInsert(t, st, newEvent("rn", "r1", 1, base))
	b := mustInsert(t, st, newEvent("rn", "r2", 2, base))
	sameIDs(t, "claim", eventIDs(claimEvents(t, st, "w", 300*time.Millisecond, 10)), []int64{a, b})

	if n, err := st.RenewEventLeases(c, "w", time.Minute, nil); err != nil || n != 0 {
		t.Fatalf("renew nothing: %d, %v", n, err)
	}
	_, err := st.RenewEventLeases(c, "", time.Minute, []int64{a})
	wantErr(t, "renew without an owner", err, store.ErrInvalid)
	_, err = st.RenewEventLeases(c, "w", 0, []int64{a})
	wantErr(t, "renew for no time", err, store.ErrInvalid)
	if n, err := st.RenewEventLeases(c, "other", time.Minute, []int64{a, b}); err != nil || n != 0 {
		t.Fatalf("renewal by a non-owner: %d renewed, %v", n, err)
	}
	if n, err := st.RenewEventLeases(c, "w", time.Minute, []int64{a, b, 999999}); err != nil || n != 2 {
		t.Fatalf("renew: %d renewed, %v; want 2", n, err)
	}
	time.Sleep(400 * time.Millisecond) // past the claim's lease, not the renewal's
	if got := claimEvents(t, st, "w2", time.Minute, 10); len(got) != 0 {
		t.Fatalf("renewed lanes were claimed: %v", eventIDs(got))
	}
	if err := st.CompleteEvent(c, a, "w", store.Outcome{Status: store.EventDone}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.RenewEventLeases(c, "w", time.Minute, []int64{a}); err != nil || n != 0 {
		t.Fatalf("renewal of a completed event: %d renewed, %v", n, err)
	}
	// w stops renewing b (a short last renewal): the next claimer gets it,
	// w's renewals no longer apply and its outcome is refused.
	if n, err := st.RenewEventLeases(c, "w", 100*time.Millisecond, []int64{b}); err != nil || n != 1 {
		t.Fatalf("short renewal: %d, %v", n, err)
	}
	time.Sleep(150 * time.Millisecond)
	sameIDs(t, "reclaim", eventIDs(claimEvents(t, st, "w2", time.Minute, 10)), []int64{b})
	if n, err := st.RenewEventLeases(c, "w", time.Minute, []int64{b}); err != nil || n != 0 {
		t.Fatalf("renewal after a reclaim: %d renewed, %v", n, err)
	}
	wantErr(t, "complete after reclaim", st.CompleteEvent(c, b, "w", store.Outcome{Status: store.EventDone}), store.ErrLeaseLost)
	if err := st.CompleteEvent(c, b, "w2", store.Outcome{Status: store.EventDone}); err != nil {
		t.Fatal(err)
	}
}

// testRenewActionLeases is testRenewEventLeases for the outbox.
func testRenewActionLeases(t *testing.T, st store.Store) {
	c := ctx(t)
	ids := outbox(t, st, "ra", action("ra1", 1, "Accept"), action("ra2", 2, "Accept"))
	sameIDs(t, "claim", actionIDs(claimActions(t, st, "eg", 300*time.Millisecond, 10)), ids)
	if n, err := st.RenewActionLeases(c, "other", time.Minute, ids); err != nil || n != 0 {
		t.Fatalf("renewal by a non-owner: %d renewed, %v", n, err)
	}
	if n, err := st.RenewActionLeases(c, "eg", time.Minute, ids); err != nil || n != 2 {
		t.Fatalf("renew: %d renewed, %v; want 2", n, err)
	}
	time.Sleep(400 * time.Millisecond)
	if got := claimActions(t, st, "eg2", time.Minute, 10); len(got) != 0 {
		t.Fatalf("renewed lanes were claimed: %v", actionIDs(got))
	}
	if err := st.FinishAction(c, ids[0], "eg", store.ActionSent, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := st.RenewActionLeases(c, "eg", time.Minute, ids[:1]); err != nil || n != 0 {
		t.Fatalf("renewal of a sent action: %d renewed, %v", n, err)
	}
	if n, err := st.RenewActionLeases(c, "eg", 100*time.Millisecond, ids[1:]); err != nil || n != 1 {
		t.Fatalf("short renewal: %d, %v", n, err)
	}
	time.Sleep(150 * time.Millisecond)
	sameIDs(t, "reclaim", actionIDs(claimActions(t, st, "eg2", time.Minute, 10)), ids[1:])
	if n, err := st.RenewActionLeases(c, "eg", time.Minute, ids[1:]); err != nil || n != 0 {
		t.Fatalf("renewal after a reclaim: %d renewed, %v", n, err)
	}
	wantErr(t, "finish after reclaim", st.FinishAction(c, ids[1], "eg", store.ActionSent, ""), store.ErrLeaseLost)
}
