package dispatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// ActionPluginActions is the Action of an inbound event that carries
// actions a plugin has already decided: those it queued through
// Host.SubmitActions, or returned from an inbound HTTP request. The event
// is the durable record the gateway answers the plugin (or its caller)
// after; dispatching it writes the actions to the outbox as they are,
// without rules and without calling the plugin again.
const ActionPluginActions = "PluginActions"

// PluginActions is the Body of an ActionPluginActions event.
type PluginActions struct {
	// Key is the idempotency key the actions were submitted with (for the
	// record; the event's MessageID is what deduplicates).
	Key string `json:"key,omitempty"`
	// Via says how the actions arrived: "submit" (Host.SubmitActions) or
	// "http" (an inbound request).
	Via string `json:"via,omitempty"`
	// Shadow records the actions without sending them (the account is in
	// shadow mode).
	Shadow  bool               `json:"shadow,omitempty"`
	Actions []pluginapi.Action `json:"actions"`
}

// NewPluginActionsEvents builds the events that record actions from
// plugin for account. Actions are grouped by work order, one event each
// and in their order, so each waits in its work order's lane behind the
// events received before it (ActionDate is now): a check-in from a file
// is not written before the accept of the webhook still being handled.
// messageID identifies the submission; with more than one work order each
// event's MessageID gets "/<work order id>" appended. Every action must
// name its work order.
func NewPluginActionsEvents(plugin, account, messageID string, body PluginActions, now time.Time) ([]*store.Event, error) {
	if plugin == "" || account == "" || messageID == "" {
		return nil, errors.New("plugin actions need a plugin, an account and a message id")
	}
	var order []int64
	groups := map[int64][]pluginapi.Action{}
	for i, a := range body.Actions {
		if a.WorkOrderID <= 0 {
			return nil, fmt.Errorf("action %d (%s) names no work order", i, a.Kind)
		}
		if _, ok := groups[a.WorkOrderID]; !ok {
			order = append(order, a.WorkOrderID)
		}
		groups[a.WorkOrderID] = append(groups[a.WorkOrderID], a)
	}
	now = now.UTC()
	out := make([]*store.Event, 0, len(order))
	for _, wo := range order {
		b := body
		b.Actions = groups[wo]
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode actions: %w", err)
		}
		id := messageID
		if len(order) > 1 {
			id = fmt.Sprintf("%s/%d", messageID, wo)
		}
		out = append(out, &store.Event{
			Account: account, MessageID: id, WorkOrderID: wo, Action: ActionPluginActions,
			ActionDate: now, ReceivedAt: now, Source: store.SourceInbound, Plugin: plugin, Body: raw,
		})
	}
	return out, nil
}

// processPluginActions writes the actions an ActionPluginActions event
// carries to the outbox. Their keys derive from the event's MessageID and
// each action's index, so handling the event twice writes nothing twice.
// An action that no longer validates is recorded as refused, not sent.
func (d *Dispatcher) processPluginActions(ev *store.Event) (store.Outcome, Verdict, error) {
	var body PluginActions
	if err := json.Unmarshal(ev.Body, &body); err != nil {
		return store.Outcome{}, Dead, fmt.Errorf("stored plugin actions do not decode: %w", err)
	}
	rr := store.RuleDecision{Rule: "inbound", Plugin: ev.Plugin, Shadow: body.Shadow}
	src := actionSource{Rule: "inbound", KeyRule: "inbound:" + ev.Plugin, Plugin: ev.Plugin, Shadow: body.Shadow}
	var actions []store.OutboxAction
	for i, a := range body.Actions {
		oa, err := d.outboxAction(ev, src, i, a)
		if err != nil {
			rr.Refused = append(rr.Refused, store.RefusedAction{Index: i, Kind: string(a.Kind), Reason: err.Error()})
			d.log.Warn("stored plugin action is invalid; not sending it", "event", ev.ID, "plugin", ev.Plugin, "index", i, "err", err.Error())
			continue
		}
		actions = append(actions, oa)
		rr.Actions++
	}
	b, err := store.Decision{Rules: []store.RuleDecision{rr}}.Encode()
	if err != nil {
		return store.Outcome{}, Dead, fmt.Errorf("encode decision: %w", err)
	}
	return store.Outcome{Status: store.EventDone, Decision: b, Actions: actions}, Retry, nil
}
