package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// testRecentWorkOrders: the admin's work order list, newest event first,
// with counts, the newest events, the last action, dead letters and the
// number and customer from the log; filters and paging.
func testRecentWorkOrders(t *testing.T, st store.Store) {
	c := ctx(t)
	list := func(f store.WorkOrderFilter) []store.WorkOrderSummary {
		t.Helper()
		got, err := st.RecentWorkOrders(c, f)
		if err != nil {
			t.Fatalf("RecentWorkOrders(%+v): %v", f, err)
		}
		return got
	}
	lanes := func(ws []store.WorkOrderSummary) string {
		s := ""
		for _, w := range ws {
			s += fmt.Sprintf("%s/%d ", w.Account, w.WorkOrderID)
		}
		return s
	}
	if got := list(store.WorkOrderFilter{}); len(got) != 0 {
		t.Fatalf("empty store: %v", lanes(got))
	}

	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	ins := func(acc, msg string, wo int64, m int) *store.Event {
		e := newEvent(acc, msg, wo, at(m))
		e.ReceivedAt = at(m)
		mustInsert(t, st, e)
		return e
	}
	a1 := ins("acme", "a1-1", 1, 0)
	ins("acme", "a2-1", 2, 1)
	ins("beta", "b1-1", 1, 2)
	ins("acme", "none", 0, 3) // no work order: left out
	ins("acme", "a1-2", 1, 4)
	a13 := ins("acme", "a1-3", 1, 5)

	got := list(store.WorkOrderFilter{})
	if lanes(got) != "acme/1 beta/1 acme/2 " {
		t.Fatalf("order: %s", lanes(got))
	}
	w := got[0]
	if w.Events != 3 || len(w.Recent) != 3 || w.Recent[0].ID != a13.ID || w.Recent[2].ID != a1.ID ||
		!w.FirstSeen.Equal(at(0)) || w.LastAction != nil || w.Actions != 0 || w.DeadLetters != 0 {
		t.Fatalf("acme/1: %+v", w)
	}
	if string(w.Recent[0].Body) != string(a13.Body) || w.Recent[0].MessageID != "a1-3" {
		t.Fatalf("acme/1 newest event: %+v", w.Recent[0])
	}

	// Paging, account and time filters.
	p1 := list(store.WorkOrderFilter{Limit: 2})
	if lanes(p1) != "acme/1 beta/1 " {
		t.Fatalf("page 1: %s", lanes(p1))
	}
	if p2 := list(store.WorkOrderFilter{Limit: 2, BeforeEventID: p1[1].Recent[0].ID}); lanes(p2) != "acme/2 " {
		t.Fatalf("page 2: %s", lanes(p2))
	}
	if got := list(store.WorkOrderFilter{Account: "beta"}); lanes(got) != "beta/1 " {
		t.Fatalf("account beta: %s", lanes(got))
	}
	if got := list(store.WorkOrderFilter{Since: at(2)}); lanes(got) != "acme/1 beta/1 " {
		t.Fatalf("since: %s", lanes(got))
	}
	if got := list(store.WorkOrderFilter{Account: "nobody"}); len(got) != 0 {
		t.Fatalf("unknown account: %s", lanes(got))
	}

	// Recent is capped; Events is not.
	for i := 0; i < 5; i++ {
		ins("acme", fmt.Sprintf("a2-%d", i+2), 2, 10+i)
	}
	got = list(store.WorkOrderFilter{Limit: 1})
	if lanes(got) != "acme/2 " || got[0].Events != 6 || len(got[0].Recent) != store.RecentEventsPerWorkOrder {
		t.Fatalf("capped: %s %+v", lanes(got), got)
	}

	// An action, a dead event: LastAction, Actions, DeadLetters and the
	// dead letter filter.
	claimed := claimEvents(t, st, "w", time.Minute, 100)
	for _, e := range claimed {
		switch {
		case e.Account == "acme" && e.WorkOrderID == 1:
			complete(t, st, e.ID, "w", done(`{"rules":[]}`, action("k-a1", 1, "accept"), action("k-a1b", 1, "note")))
		case e.Account == "beta":
			if err := st.CompleteEvent(c, e.ID, "w", store.Outcome{Status: store.EventParked, LastError: "plugin erp: customer unknown"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got = list(store.WorkOrderFilter{Account: "acme"})
	var acme1 *store.WorkOrderSummary
	for i := range got {
		if got[i].WorkOrderID == 1 {
			acme1 = &got[i]
		}
	}
	if acme1 == nil || acme1.Actions != 2 || acme1.LastAction == nil || acme1.LastAction.Kind != "note" || acme1.DeadLetters != 0 || acme1.LastSent != nil {
		t.Fatalf("acme/1 with actions: %+v", acme1)
	}
	dl := list(store.WorkOrderFilter{DeadLetters: true})
	if lanes(dl) != "beta/1 " || dl[0].DeadLetters != 1 || dl[0].Recent[0].Status != store.EventParked ||
		dl[0].Recent[0].LastError != "plugin erp: customer unknown" {
		t.Fatalf("dead letters: %s %+v", lanes(dl), dl)
	}
	if got := list(store.WorkOrderFilter{DeadLetters: true, Account: "acme"}); len(got) != 0 {
		t.Fatalf("acme dead letters: %s", lanes(got))
	}
	// A dead action counts too; LastSent is the newest sent one, even
	// when a later one failed.
	for round := 0; round < 2; round++ {
		for _, a := range claimActions(t, st, "eg", time.Minute, 10) {
			status, msg := store.ActionSent, ""
			if a.Kind == "note" {
				status, msg = store.ActionDead, "422: note too long"
			}
			if err := st.FinishAction(c, a.ID, "eg", status, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	dl = list(store.WorkOrderFilter{DeadLetters: true})
	if lanes(dl) != "acme/1 beta/1 " || dl[0].DeadLetters != 1 || dl[0].LastAction.Kind != "note" ||
		dl[0].LastAction.LastError != "422: note too long" || dl[0].LastSent == nil || dl[0].LastSent.Kind != "accept" || dl[0].LastSent.SentAt.IsZero() {
		t.Fatalf("dead letters with a dead action: %s %+v", lanes(dl), dl)
	}
	// The dead letter list pages like the other.
	if p1 := list(store.WorkOrderFilter{DeadLetters: true, Limit: 1}); lanes(p1) != "acme/1 " {
		t.Fatalf("dead letters page 1: %s", lanes(p1))
	} else if p2 := list(store.WorkOrderFilter{DeadLetters: true, Limit: 1, BeforeEventID: p1[0].Recent[0].ID}); lanes(p2) != "beta/1 " {
		t.Fatalf("dead letters page 2: %s", lanes(p2))
	}
	// SentKinds narrows LastSent: a later sent appointment does not hide
	// the accept from a caller that asks for status changes only.
	ins("acme", "a1-4", 1, 30)
	for _, e := range claimEvents(t, st, "w", time.Minute, 100) {
		complete(t, st, e.ID, "w", done(`{"rules":[]}`, action("k-a1c", 1, "appointment")))
	}
	for _, a := range claimActions(t, st, "eg", time.Minute, 10) {
		if err := st.FinishAction(c, a.ID, "eg", store.ActionSent, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		kinds []string
		want  string
	}{{nil, "appointment"}, {[]string{"accept", "reject"}, "accept"}, {[]string{"check_out"}, ""}} {
		got := list(store.WorkOrderFilter{Account: "acme", Limit: 1, SentKinds: tc.kinds})
		last := ""
		if len(got) == 1 && got[0].LastSent != nil {
			last = got[0].LastSent.Kind
		}
		if len(got) != 1 || got[0].WorkOrderID != 1 || last != tc.want || got[0].LastAction.Kind != "appointment" {
			t.Errorf("SentKinds %v: %s, last sent %q, want %q", tc.kinds, lanes(got), last, tc.want)
		}
	}
	if err := st.IgnoreEvent(c, dl[1].Recent[0].ID); err != nil {
		t.Fatal(err)
	}
	if dl = list(store.WorkOrderFilter{DeadLetters: true}); lanes(dl) != "acme/1 " {
		t.Fatalf("after ignoring beta's: %s", lanes(dl))
	}

	// Number and customer: the newest non-empty of each, from this
	// account's log only.
	if err := st.AppendLog(c,
		store.LogEntry{Time: at(20), Account: "acme", Direction: "inbound", Severity: "info", WorkOrderID: 1, WorkOrderNumber: "AC-1", Customer: "Old name"},
		store.LogEntry{Time: at(21), Account: "acme", Direction: "outbound", Severity: "info", WorkOrderID: 1, Customer: "Acme Foods"},
		store.LogEntry{Time: at(22), Account: "acme", Direction: "outbound", Severity: "info", WorkOrderID: 1},
		store.LogEntry{Time: at(23), Account: "beta", Direction: "inbound", Severity: "info", WorkOrderID: 1, WorkOrderNumber: "BE-1", Customer: "Beta Co"},
	); err != nil {
		t.Fatal(err)
	}
	for _, w := range list(store.WorkOrderFilter{}) {
		want := map[string][2]string{"acme/1": {"AC-1", "Acme Foods"}, "beta/1": {"BE-1", "Beta Co"}, "acme/2": {"", ""}}[fmt.Sprintf("%s/%d", w.Account, w.WorkOrderID)]
		if w.Number != want[0] || w.Customer != want[1] {
			t.Errorf("%s/%d: number %q customer %q, want %q", w.Account, w.WorkOrderID, w.Number, w.Customer, want)
		}
	}
}
