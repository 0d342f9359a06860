package pluginapi_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// acceptPlugin accepts new work orders with a configured comment.
type acceptPlugin struct{ comment string }

func (p *acceptPlugin) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{
		Name: "accept", Version: "1.0.0", Description: "Accepts every new work order.",
		ConfigSchema: pluginapi.Schema{Fields: []pluginapi.Field{
			{Name: "comment", Type: pluginapi.TypeString, Default: "On our way", Description: "Comment sent with the accept."},
		}},
	}, nil
}

func (p *acceptPlugin) ValidateConfig(context.Context, map[string]any) []pluginapi.ConfigError {
	return nil // the SDK checked the schema already
}

func (p *acceptPlugin) Configure(_ context.Context, cfg map[string]any, _ pluginapi.Host) error {
	c := pluginapi.ParseConfig(cfg)
	p.comment = c.String("comment")
	return c.Err()
}

func (p *acceptPlugin) HandleEvent(_ context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	if ev.Header.Action != corrigo.ActionNewWorkOrder {
		return nil, nil
	}
	return []pluginapi.Action{{Kind: pluginapi.KindAccept, WorkOrderID: ev.Header.WorkOrderId, Comment: p.comment}}, nil
}

func (p *acceptPlugin) Stop(context.Context) error { return nil }

// A plugin's main is one call: Serve runs the plugin until the gateway
// ends it. Run by hand, the binary says it is a plugin and exits.
func ExampleServe() {
	pluginapi.Serve(&acceptPlugin{}, pluginapi.WithLogLevel("warn"))
}

// A plugin that accepts the new work orders it is sent. The gateway calls
// Configure with the validated config (defaults filled in), then
// HandleEvent for each event its rules route to the plugin.
func Example_accept() {
	ctx := context.Background()
	p := &acceptPlugin{}
	info, _ := p.Describe(ctx)
	cfg, _ := info.ConfigSchema.Apply(map[string]any{}) // as the SDK does before Configure
	if err := p.Configure(ctx, cfg, nil); err != nil {
		fmt.Println(err)
		return
	}
	actions, err := p.HandleEvent(ctx, plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: 7}))
	fmt.Println(actions[0].Kind, actions[0].WorkOrderID, actions[0].Comment, err)
	// Output: accept 7 On our way <nil>
}

// parkPlugin creates jobs in an ERP that does not know every site yet.
type parkPlugin struct{ acceptPlugin }

func (p *parkPlugin) HandleEvent(_ context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	var site string
	if ev.WorkOrder != nil && ev.WorkOrder.ServiceLocation != nil {
		site = ev.WorkOrder.ServiceLocation.SpaceName
	}
	if site != "Main St" { // in a real plugin: the ERP answered "unknown site"
		// Retrying cannot help until someone adds the site: the gateway
		// parks the event as a dead letter with this reason, to be
		// reprocessed once it is fixed.
		return nil, pluginapi.NeedsPerson(fmt.Errorf("site %q is not in the ERP: add it there, then reprocess the event", site))
	}
	return []pluginapi.Action{{Kind: pluginapi.KindAccept, WorkOrderID: ev.Header.WorkOrderId}}, nil
}

// A plugin that parks an event for a person: NeedsPerson tells the gateway
// that retrying cannot succeed until someone acts.
func Example_needsPerson() {
	p := &parkPlugin{}
	wo := corrigo.WorkOrder{WorkOrderId: 8, ServiceLocation: &corrigo.ServiceLocation{SpaceName: "Elm Rd"}}
	_, err := p.HandleEvent(context.Background(), plugintest.NewWorkOrderEvent("acme", wo))
	var pe *pluginapi.Error
	fmt.Println(errors.As(err, &pe), pe.NeedsPerson, pe.Retryable)
	fmt.Println(plugintest.VerdictOf(err))
	fmt.Println(err)
	// Output:
	// true true false
	// needs_person
	// site "Elm Rd" is not in the ERP: add it there, then reprocess the event
}

// Typed access to a validated config, with problems naming the key path.
func ExampleParseConfig() {
	c := pluginapi.ParseConfig(map[string]any{
		"timeout": 30 * time.Second,
		"targets": []any{
			map[string]any{"url": "https://a.example", "weight": float64(2)},
			map[string]any{"url": 5},
		},
	})
	fmt.Println(c.Duration("timeout"))
	for _, t := range c.ObjectList("targets") {
		fmt.Println(t.String("url"), t.Int("weight"))
	}
	fmt.Println(c.Err())
	// Output:
	// 30s
	// https://a.example 2
	//  0
	// invalid config: targets[1].url: must be a string, got a number
}
