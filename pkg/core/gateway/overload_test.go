package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestOverloadShedsAndLosesNothing runs the gateway (real SQLite store,
// the accept plugin slowed to 300 ms a call) with a tiny backlog limit
// against the sandbox, whose retry queue redelivers what is refused, as
// CorrigoPro's does: webhooks are shed with 503 while the backlog is over
// the limit, readiness says why, and in the end every work order is
// accepted exactly once.
func TestOverloadShedsAndLosesNothing(t *testing.T) {
	w := newWorld(t, worldOpts{
		pluginConfig: "{delay: 300ms}",
		extraYAML:    "overload: {max_pending_events: 4, sample_interval: 20ms, retry_after: 1s}\n",
	})
	// A first batch fills the backlog; the second arrives while the
	// gateway sheds (the first may be stored whole before the first
	// sample).
	const first, n = 20, 30
	ids := make([]int64, n)
	for i := range first {
		ids[i] = w.create()
	}
	w.waitFor("shedding", func() bool { return w.g.shed.State().Shedding })
	for i := first; i < n; i++ {
		ids[i] = w.create()
	}
	w.waitFor("webhooks shed", func() bool { return w.g.WebhookStats()["overloaded"] > 0 })
	w.waitFor("readiness naming the backlog", func() bool {
		for _, p := range w.g.problems(context.Background()) {
			if strings.HasPrefix(p, "overloaded: ") && strings.Contains(p, "overload.max_pending_events") {
				return true
			}
		}
		return w.g.WebhookStats()["accepted"] >= n // shedding may be over already
	})
	w.waitFor("every work order accepted", func() bool {
		for _, id := range ids {
			if w.status(id) != corrigo.StatusAccepted {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		_, hist, _ := w.sb.WorkOrder(id)
		accepts := 0
		for _, h := range hist {
			if h.Actor == sandbox.ActorProvider && h.To == corrigo.StatusAccepted {
				accepts++
			}
		}
		if accepts != 1 {
			t.Errorf("work order %d accepted %d times", id, accepts)
		}
	}
	st := w.g.shed.State()
	t.Logf("refused %d webhooks with 503; last sample %+v", w.g.WebhookStats()["overloaded"], st.Sample)
	if st.Sample.StoreBytes <= 0 || st.Sample.FreeDiskBytes <= 0 {
		t.Errorf("store size and free disk were not sampled: %+v", st.Sample)
	}
}
