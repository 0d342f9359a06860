package gateway

import (
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestMessageIDPrefixOnEveryCall drives work orders through every kind of
// CorrigoPro call the gateway makes — the egress guard's reads, the
// actions' PUTs and POSTs (accept, appointment, check in, note, message,
// pause),
// the plugin's host callback (fetch_work_order), the poller's searches and
// the reconciler's — and checks in the sandbox's usage log that each one
// carried the account's message_id_prefix. Actions used to get a bare
// UUID: the sender derives their MessageIds itself and was not told the
// prefix.
func TestMessageIDPrefixOnEveryCall(t *testing.T) {
	const prefix = "wogate-test-"
	w := newWorld(t, worldOpts{
		accountYAML: "      message_id_prefix: " + prefix + "\n" +
			"      reconcile: {interval: 100ms, window: 1m}",
		polling:      "{enabled: true, interval: 100ms, lookback: 1h}",
		pluginConfig: `{fetch_work_order: true, actions: {NewWorkOrder: "accept,appointment,check_in,note,message,pause"}}`,
	})
	ids := []int64{w.create(), w.create()}
	for _, id := range ids {
		w.waitFor("six actions sent", func() bool {
			acts, _ := w.g.Store().ActionsForWorkOrder(t.Context(), "main", id)
			sent := 0
			for _, a := range acts {
				if a.Status != store.ActionPending && a.Status != store.ActionSent {
					t.Fatalf("action %s of work order %d is %s: %s", a.Kind, id, a.Status, a.LastError)
				}
				if a.Status == store.ActionSent {
					sent++
				}
			}
			return sent == 6
		})
	}
	// Let the poller and the reconciler run at least once more.
	polled := len(w.sb.Usage(sandbox.UsageFilter{PathPrefix: "/Direct/api/workOrder/search"}))
	w.waitFor("another poll", func() bool {
		return len(w.sb.Usage(sandbox.UsageFilter{PathPrefix: "/Direct/api/workOrder/search"})) >= polled+2
	})

	paths := map[string]int{}
	for _, e := range w.sb.Usage(sandbox.UsageFilter{Direction: sandbox.DirectionInbound}) {
		if strings.HasPrefix(e.Path, "/OAuth/") {
			continue // the token request has no MessageId in CorrigoPro's API
		}
		path, _, _ := strings.Cut(e.Path, "?")
		paths[path]++
		if !strings.HasPrefix(e.MessageId, prefix) {
			t.Errorf("%s %s carried MessageId %q, want prefix %q", e.Method, e.Path, e.MessageId, prefix)
		}
	}
	// Each kind of call must have been made, or the test proves nothing
	// about it.
	for _, want := range []string{
		"/Direct/api/workOrder/accept", "/Direct/api/workOrder/checkIn", "/Direct/api/workOrder/note",
		"/Direct/api/messages", "/Direct/api/workOrder/pause", "/Direct/api/workOrder/appointmentInfo",
		"/Direct/api/workOrder/search", "/Direct/api/workOrder",
	} {
		if paths[want] == 0 {
			t.Errorf("no call to %s in the usage log; calls seen: %v", want, paths)
		}
	}
	if paths["/Direct/api/workOrder"] == 0 { // GET api/workOrder?ids=…
		t.Errorf("no work order GET (the plugin's host fetch) in the usage log; calls seen: %v", paths)
	}
}
