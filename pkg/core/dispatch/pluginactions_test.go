package dispatch

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func TestNewPluginActionsEvents(t *testing.T) {
	now := time.Date(2024, 5, 1, 8, 0, 0, 0, time.FixedZone("x", 3600))
	body := PluginActions{Key: "k", Via: "submit", Actions: []pluginapi.Action{
		{Kind: pluginapi.KindCheckIn, WorkOrderID: 2},
		{Kind: pluginapi.KindCheckIn, WorkOrderID: 1},
		{Kind: pluginapi.KindCheckOut, WorkOrderID: 2},
	}}
	evs, err := NewPluginActionsEvents("csv", "acme", "plugin:csv:k", body, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].WorkOrderID != 2 || evs[1].WorkOrderID != 1 ||
		evs[0].MessageID != "plugin:csv:k/2" || evs[1].MessageID != "plugin:csv:k/1" {
		t.Fatalf("events: %+v %+v", evs[0], evs[1])
	}
	for _, ev := range evs {
		if ev.Source != "inbound" || ev.Plugin != "csv" || ev.Account != "acme" || ev.Action != ActionPluginActions ||
			!ev.ActionDate.Equal(now) || ev.ActionDate.Location() != time.UTC {
			t.Errorf("event %+v", ev)
		}
	}
	var b PluginActions
	if err := json.Unmarshal(evs[0].Body, &b); err != nil || len(b.Actions) != 2 || b.Actions[1].Kind != pluginapi.KindCheckOut || b.Key != "k" {
		t.Fatalf("body %s: %v", evs[0].Body, err)
	}
	// One work order: the MessageID as given.
	evs, err = NewPluginActionsEvents("csv", "acme", "plugin:csv:k", PluginActions{Actions: body.Actions[:1]}, now)
	if err != nil || len(evs) != 1 || evs[0].MessageID != "plugin:csv:k" {
		t.Fatalf("%v %+v", err, evs)
	}
	for _, bad := range []struct {
		plugin, account, id string
		acts                []pluginapi.Action
		want                string
	}{
		{"", "acme", "m", nil, "need a plugin"},
		{"csv", "", "m", nil, "need a plugin"},
		{"csv", "acme", "", nil, "need a plugin"},
		{"csv", "acme", "m", []pluginapi.Action{{Kind: pluginapi.KindNote}}, "action 0 (note) names no work order"},
	} {
		if _, err := NewPluginActionsEvents(bad.plugin, bad.account, bad.id, PluginActions{Actions: bad.acts}, now); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// Plugin actions go to the outbox without rules or plugins; a stored
// action that does not validate is recorded as refused; a body that does
// not decode is a dead letter; other inbound events still go to their
// plugin.
func TestPluginActionsEventsSkipRulesAndPlugins(t *testing.T) {
	st := newMemStore()
	noRules := ruleFunc(func(in *Input) (Decision, error) {
		t.Errorf("rules evaluated for %s", in.Event.MessageID)
		return Decision{}, nil
	})
	forwarded := make(chan pluginapi.Event, 1)
	plugins := pluginFunc(func(_ context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
		if ev.Header.Action == ActionPluginActions {
			t.Errorf("plugin %s called for plugin actions", name)
		}
		forwarded <- ev
		return []pluginapi.Action{{Kind: pluginapi.KindNote, Text: "from the plugin"}}, nil
	})
	run(t, Options{Store: st, Evaluator: noRules, Plugins: plugins})

	body, _ := json.Marshal(PluginActions{Shadow: true, Actions: []pluginapi.Action{
		{Kind: pluginapi.KindCheckIn, WorkOrderID: 5},
		{Kind: pluginapi.KindReject, WorkOrderID: 5}, // no comment: refused
	}})
	good := st.add(store.Event{Account: "main", MessageID: "plugin:csv:k", WorkOrderID: 5, Action: ActionPluginActions, Source: "inbound", Plugin: "csv", Body: body})
	bad := st.add(store.Event{Account: "main", MessageID: "plugin:csv:bad", WorkOrderID: 6, Action: ActionPluginActions, Source: "inbound", Plugin: "csv", Body: []byte(`{"actions":"nope"}`)})
	other := st.add(store.Event{Account: "main", MessageID: "cb-1", WorkOrderID: 7, Source: "inbound", Plugin: "erp", Body: []byte(`{"job_id":"J"}`)})
	waitFor(t, "events settled", st.settled)

	if e := st.event(good); e.Status != store.EventDone || !strings.Contains(string(e.Decision), `"refused":[{"index":1,"kind":"reject"`) {
		t.Errorf("good event: %s %s", e.Status, e.Decision)
	}
	if e := st.event(bad); e.Status != store.EventDead || !strings.Contains(e.LastError, "stored plugin actions do not decode") {
		t.Errorf("bad event: %s %q", e.Status, e.LastError)
	}
	if e := st.event(other); e.Status != store.EventDone {
		t.Errorf("other inbound event: %s %q", e.Status, e.LastError)
	}
	if ev := <-forwarded; string(ev.Body) != `{"job_id":"J"}` || ev.Source != "inbound" {
		t.Errorf("forwarded %+v", ev)
	}
	var kinds []string
	for _, a := range st.outbox() {
		kinds = append(kinds, a.Kind+"/"+string(a.Status))
		if a.Kind == "check_in" && a.IdempotencyKey != IdempotencyKey("main", "plugin:csv:k", "inbound:csv", 0) {
			t.Errorf("check_in key %s", a.IdempotencyKey)
		}
	}
	sort.Strings(kinds) // two lanes: either may finish first
	if strings.Join(kinds, ",") != "check_in/shadow,note/pending" {
		t.Errorf("outbox: %v", kinds)
	}
}
