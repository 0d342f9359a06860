package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// ledgerReport is what a crash run did, for the test log.
type ledgerReport struct {
	WorkOrders, Notifications, Copies int
	Deliveries2xx, Attempts           int
	Events, Actions                   int
	Kills, Starts                     int
	PluginCrashes                     int
	LeaseLost                         int
	// Work the crashes caused: events claimed more than once, actions
	// attempted more than once, webhook attempts that failed.
	EventsReclaimed, ActionsRetried, FailedAttempts int
}

func (r ledgerReport) String() string {
	return fmt.Sprintf("%d work orders, %d notifications (+%d duplicate/out-of-order copies), %d delivery attempts, %d answered 2xx; "+
		"%d events (%d claimed more than once), %d actions (%d attempted more than once); %d failed delivery attempts; %d SIGKILLs, %d starts; %d plugin crashes; %d leases lost",
		r.WorkOrders, r.Notifications, r.Copies, r.Attempts, r.Deliveries2xx, r.Events, r.EventsReclaimed, r.Actions, r.ActionsRetried,
		r.FailedAttempts, r.Kills, r.Starts, r.PluginCrashes, r.LeaseLost)
}

// expectedKind is the action the plugin answers notification step i with.
func expectedKind(step int) pluginapi.ActionKind {
	switch {
	case step == 0:
		return pluginapi.KindAccept
	case step%2 == 1:
		return pluginapi.KindCheckIn
	default:
		return pluginapi.KindPause
	}
}

// sandboxOp is the sandbox history name of an action kind.
var sandboxOp = map[pluginapi.ActionKind]string{
	pluginapi.KindAccept: "accept", pluginapi.KindCheckIn: "checkIn", pluginapi.KindPause: "pause",
}

// checkLedger compares what CorrigoPro (the sandbox) sent and recorded with
// what the gateway's store holds, after the gateway stopped. It returns
// every violation found (empty: the promise held) and a summary.
func (w *crashWorld) checkLedger(ctx context.Context) ([]string, ledgerReport) {
	var bad []string
	fail := func(format string, args ...any) {
		if len(bad) < 40 {
			bad = append(bad, fmt.Sprintf(format, args...))
		} else if len(bad) == 40 {
			bad = append(bad, "… (more)")
		}
	}
	rep := ledgerReport{WorkOrders: len(w.wos), Kills: int(w.kills.Load()), Starts: w.starts()}
	log := w.logText()
	rep.PluginCrashes = countLines(log, `"msg":"plugin crashed"`)
	if n := countLines(log, `"msg":"plugin quarantined`); n > 0 && !w.p.ExpectQuarantine {
		bad = append(bad, "the plugin was quarantined (too many crashes for the supervisor): the run is sized wrong")
	}
	rep.LeaseLost = countLines(log, "lease lost")

	var st store.Store
	var err error
	if w.p.Postgres != "" {
		st, err = postgres.Open(ctx, w.p.Postgres, postgres.Options{Schema: w.schema})
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(w.dir, "data", config.DefaultSQLiteFile), sqlite.Options{})
	}
	if err != nil {
		return []string{fmt.Sprintf("open the gateway's store: %v", err)}, rep
	}
	defer func() { _ = st.Close() }()

	// What CorrigoPro sent: originals and injected copies, all of which
	// must have been answered 2xx in the end.
	byWO := map[int64][]sandbox.Notification{}
	for _, n := range w.sb.Notifications(sandbox.NotificationFilter{}) {
		if n.State != sandbox.StateDelivered {
			fail("notification %d (%s, work order %d, copy of %d) ended %s after %d attempts: %s", n.Id, n.Action, n.WorkOrderId, n.CopyOf, n.State, n.Attempts, n.LastError)
		}
		if n.Injected != "" {
			rep.Copies++
			continue
		}
		rep.Notifications++
		byWO[n.WorkOrderId] = append(byWO[n.WorkOrderId], n)
	}
	// Every MessageId the gateway answered 2xx (CorrigoPro's usage log).
	accepted := map[string]bool{}
	for _, u := range w.sb.Usage(sandbox.UsageFilter{Direction: sandbox.DirectionOutbound}) {
		rep.Attempts++
		if u.Status >= 200 && u.Status < 300 {
			rep.Deliveries2xx++
			accepted[u.MessageId] = true
		} else {
			rep.FailedAttempts++
		}
	}

	for _, id := range w.wos {
		ns := byWO[id]
		sort.Slice(ns, func(i, j int) bool { return ns[i].Id < ns[j].Id })
		if len(ns) != w.p.Steps {
			fail("work order %d: CorrigoPro sent %d notifications, the traffic made %d", id, len(ns), w.p.Steps)
			continue
		}
		evs, err := st.EventsForWorkOrder(ctx, "main", id)
		if err != nil {
			return append(bad, err.Error()), rep
		}
		acts, err := st.ActionsForWorkOrder(ctx, "main", id)
		if err != nil {
			return append(bad, err.Error()), rep
		}
		rep.Events += len(evs)
		rep.Actions += len(acts)

		// 1. Accepted means kept, once: the store holds exactly the
		//    MessageIds CorrigoPro sent, one event each, all handled.
		evByMsg := map[string]store.Event{}
		for _, e := range evs {
			if _, dup := evByMsg[e.MessageID]; dup {
				fail("work order %d: MessageId %s stored twice", id, e.MessageID)
			}
			evByMsg[e.MessageID] = e
			if e.Attempts > 1 {
				rep.EventsReclaimed++
			}
			if e.Status != store.EventDone {
				fail("work order %d: event %d (%s) is %s after %d attempts: %s", id, e.ID, e.Action, e.Status, e.Attempts, e.LastError)
			}
		}
		if len(evs) != len(ns) {
			fail("work order %d: %d events stored for %d notifications", id, len(evs), len(ns))
		}
		ordered := make([]store.Event, 0, len(ns))
		for step, n := range ns {
			if !accepted[n.MessageId] {
				fail("work order %d: notification %s was never answered 2xx", id, n.MessageId)
			}
			e, ok := evByMsg[n.MessageId]
			if !ok {
				fail("work order %d: accepted MessageId %s (%s, step %d) is not in the store", id, n.MessageId, n.Action, step)
				continue
			}
			if e.Action != string(n.Action) {
				fail("work order %d: event %d is %s, CorrigoPro sent %s", id, e.ID, e.Action, n.Action)
			}
			ordered = append(ordered, e)
		}
		if len(ordered) != len(ns) {
			continue
		}

		// 2. In order per work order: CorrigoPro's order (ActionDate) is
		//    the order the events were handled in, which is the order of
		//    the actions they wrote.
		for i := 1; i < len(ordered); i++ {
			a, b := ordered[i-1], ordered[i]
			if !a.ActionDate.Before(b.ActionDate) {
				fail("work order %d: ActionDate of step %d (%s) not before step %d (%s)", id, i-1, a.ActionDate, i, b.ActionDate)
			}
			if b.HandledAt.Before(a.HandledAt) {
				fail("work order %d: step %d handled at %s, before step %d at %s", id, i, b.HandledAt.Format(time.RFC3339Nano), i-1, a.HandledAt.Format(time.RFC3339Nano))
			}
		}

		// 3. Each action once: one per event, of the expected kind, sent;
		//    the sandbox recorded exactly these MessageIds, once each, in
		//    this order.
		actsByEvent := map[int64][]store.OutboxAction{}
		for _, a := range acts {
			actsByEvent[a.EventID] = append(actsByEvent[a.EventID], a)
		}
		var wantIDs []string
		var wantOps []string
		lastActionID := int64(0)
		for step, e := range ordered {
			as := actsByEvent[e.ID]
			if len(as) != 1 {
				fail("work order %d: event %d (step %d, %s) has %d actions, want 1", id, e.ID, step, e.Action, len(as))
				continue
			}
			a := as[0]
			if a.Attempts > 1 {
				rep.ActionsRetried++
			}
			if a.Kind != string(expectedKind(step)) {
				fail("work order %d: step %d action is %s, want %s", id, step, a.Kind, expectedKind(step))
			}
			if a.Status != store.ActionSent {
				fail("work order %d: action %d (%s) is %s after %d attempts: %s", id, a.ID, a.Kind, a.Status, a.Attempts, a.LastError)
			}
			if a.ID <= lastActionID {
				fail("work order %d: action of step %d (id %d) was written before the one of the step before (id %d)", id, step, a.ID, lastActionID)
			}
			lastActionID = a.ID
			wantIDs = append(wantIDs, egress.MessageID("", a.IdempotencyKey))
			wantOps = append(wantOps, sandboxOp[pluginapi.ActionKind(a.Kind)])
		}
		_, hist, ok := w.sb.WorkOrder(id)
		if !ok {
			fail("work order %d vanished from the sandbox", id)
			continue
		}
		var gotIDs, gotOps []string
		for _, h := range hist {
			if h.Actor == sandbox.ActorProvider {
				gotIDs = append(gotIDs, h.MessageId)
				gotOps = append(gotOps, h.Action)
			}
		}
		if strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") || strings.Join(gotOps, ",") != strings.Join(wantOps, ",") {
			fail("work order %d: CorrigoPro recorded %v %v, want %v %v", id, gotOps, gotIDs, wantOps, wantIDs)
		}
		if wo, _, _ := w.sb.WorkOrder(id); wo.Status != finalStatus(w.p.Steps) {
			fail("work order %d ended %s, want %s", id, wo.Status, finalStatus(w.p.Steps))
		}
	}

	// 4. Nothing left: no pending event or action, no dead letter.
	bl, err := st.Backlog(ctx)
	if err != nil {
		return append(bad, err.Error()), rep
	}
	for acc, b := range bl {
		if b.PendingEvents != 0 || b.PendingActions != 0 {
			fail("account %s still has %d pending events and %d pending actions", acc, b.PendingEvents, b.PendingActions)
		}
	}
	dls, err := st.ListDeadLetters(ctx, store.DeadLetterFilter{Limit: 20})
	if err != nil {
		return append(bad, err.Error()), rep
	}
	for _, d := range dls {
		switch {
		case d.Event != nil:
			fail("dead letter: event %d (%s, work order %d): %s", d.Event.ID, d.Event.Action, d.Event.WorkOrderID, d.Event.LastError)
		case d.Action != nil:
			fail("dead letter: action %d (%s, work order %d): %s", d.Action.ID, d.Action.Kind, d.Action.WorkOrderID, d.Action.LastError)
		}
	}
	if rep.Notifications != len(w.wos)*w.p.Steps {
		fail("CorrigoPro sent %d notifications, want %d", rep.Notifications, len(w.wos)*w.p.Steps)
	}
	return bad, rep
}
