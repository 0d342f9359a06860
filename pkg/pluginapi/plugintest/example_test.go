package plugintest_test

import (
	"context"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// noter notes every work order it is sent.
type noter struct{}

func (noter) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{Name: "noter", Version: "1", ConfigSchema: pluginapi.Schema{Fields: []pluginapi.Field{
		{Name: "text", Type: pluginapi.TypeString, Required: true},
	}}}, nil
}
func (noter) ValidateConfig(context.Context, map[string]any) []pluginapi.ConfigError { return nil }
func (noter) Configure(context.Context, map[string]any, pluginapi.Host) error        { return nil }
func (noter) HandleEvent(_ context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	return []pluginapi.Action{{Kind: pluginapi.KindNote, WorkOrderID: ev.Header.WorkOrderId, Text: "seen"}}, nil
}
func (noter) Stop(context.Context) error { return nil }

// A plugin's test: the plugin runs in process behind the real protocol
// code, with a fake host. This is the body of a TestXxx(t *testing.T).
func ExampleStartConfigured() {
	testNotes := func(t *testing.T) {
		ctx := t.Context()
		c := plugintest.StartConfigured(t, noter{}, map[string]any{"text": "seen"})
		actions, err := c.HandleEvent(ctx, plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: 7}))
		if err != nil || len(actions) != 1 || actions[0].Kind != pluginapi.KindNote {
			t.Fatalf("actions %v, err %v", actions, err)
		}
		// The schema's problems come back as a list; err is about the call.
		problems, err := c.ValidateConfig(ctx, map[string]any{})
		if err != nil || len(problems) != 1 || problems[0].Key != "text" {
			t.Fatalf("problems %v, err %v", problems, err)
		}
	}
	_ = testNotes
}

// The example's test body, run for real.
func TestExampleStartConfigured(t *testing.T) {
	c := plugintest.StartConfigured(t, noter{}, map[string]any{"text": "seen"})
	actions, err := c.HandleEvent(t.Context(), plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: 7}))
	if err != nil || len(actions) != 1 || actions[0].Kind != pluginapi.KindNote {
		t.Fatalf("actions %v, err %v", actions, err)
	}
	problems, err := c.ValidateConfig(t.Context(), map[string]any{})
	if err != nil || len(problems) != 1 || problems[0].Key != "text" {
		t.Fatalf("problems %v, err %v", problems, err)
	}
}
