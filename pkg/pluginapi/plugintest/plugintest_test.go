package plugintest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// jobPlugin is a small plugin of the kind vendors write: it maps work
// orders to ERP job ids in the host KV store and accepts new work.
type jobPlugin struct {
	host   pluginapi.Host
	prefix string
}

func (p *jobPlugin) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{Name: "jobs", Version: "0.1.0", ConfigSchema: pluginapi.Schema{Fields: []pluginapi.Field{
		{Name: "prefix", Type: pluginapi.TypeString, Required: true, Description: "Job id prefix."},
		{Name: "max_nte", Type: pluginapi.TypeFloat, Default: 1000.0},
	}}}, nil
}

func (p *jobPlugin) ValidateConfig(_ context.Context, cfg map[string]any) []pluginapi.ConfigError {
	if !strings.HasSuffix(cfg["prefix"].(string), "-") {
		return []pluginapi.ConfigError{{Key: "prefix", Message: "must end with -"}}
	}
	return nil
}

func (p *jobPlugin) Configure(_ context.Context, cfg map[string]any, host pluginapi.Host) error {
	p.host, p.prefix = host, cfg["prefix"].(string)
	if cfg["max_nte"].(float64) != 1000 {
		return errors.New("default not applied")
	}
	return nil
}

func (p *jobPlugin) HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	switch ev.Header.WorkOrderId {
	case 13:
		panic("unlucky work order")
	case 14:
		return nil, pluginapi.Permanent(errors.New("erp rejected the job"))
	case 18:
		return nil, pluginapi.NeedsPerson(errors.New("no ERP site for location 77"))
	case 19:
		return nil, pluginapi.RetryLater(errors.New("erp down"))
	case 20:
		return nil, errors.New("plain error")
	case 15:
		_, err := p.host.GetWorkOrder(ctx, ev.Account, 99999)
		return nil, err
	}
	wo, err := p.host.GetWorkOrder(ctx, ev.Account, ev.Header.WorkOrderId)
	if err != nil {
		return nil, err
	}
	job := fmt.Sprintf("%s%s", p.prefix, wo.WorkOrderNumber)
	if err := p.host.KVPut(ctx, "job/"+fmt.Sprint(wo.WorkOrderId), []byte(job)); err != nil {
		return nil, err
	}
	p.host.Log(ctx, "info", "job created", "job", job, "work_order", wo.WorkOrderId)
	return []pluginapi.Action{{Kind: pluginapi.KindAccept, Comment: "job " + job}}, nil
}

func (p *jobPlugin) HandleInbound(ctx context.Context, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	v, ok, err := p.host.KVGet(ctx, "job/"+req.Query.Get("wo"))
	if err != nil || !ok {
		return pluginapi.InboundResponse{Status: 404}, nil, err
	}
	return pluginapi.InboundResponse{Body: v}, []pluginapi.Action{{Kind: pluginapi.KindCheckIn}}, nil
}

func (p *jobPlugin) Stop(context.Context) error { return nil }

func TestRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := plugintest.Start(t, &jobPlugin{})

	info, err := c.Describe(ctx)
	if err != nil || info.Name != "jobs" || !info.HandlesInbound || info.SDKVersion == "" {
		t.Fatalf("describe: %+v %v", info, err)
	}
	ces, err := c.ValidateConfig(ctx, map[string]any{})
	if err != nil || len(ces) != 1 || ces[0].Key != "prefix" || ces[0].Message != "is required" {
		t.Fatalf("validate empty: %v %v", ces, err)
	}
	ces, _ = c.ValidateConfig(ctx, map[string]any{"prefix": "JOB"})
	if len(ces) != 1 || ces[0].Message != "must end with -" {
		t.Fatalf("validate plugin rule: %v", ces)
	}
	err = c.Configure(ctx, map[string]any{"prefix": 7})
	var cerrs pluginapi.ConfigErrors
	if !errors.As(err, &cerrs) || cerrs[0].Key != "prefix" {
		t.Fatalf("configure bad: %v", err)
	}
	if err := c.Configure(ctx, map[string]any{"prefix": "JOB-"}); err != nil {
		t.Fatal(err)
	}

	c.Host.AddWorkOrder("acme", corrigo.WorkOrder{WorkOrderId: 7, WorkOrderNumber: "WO-7"})
	actions, err := c.HandleEvent(ctx, plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: 7}))
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 || actions[0].Kind != pluginapi.KindAccept || actions[0].Comment != "job JOB-WO-7" {
		t.Fatalf("actions = %+v", actions)
	}
	if got := string(c.Host.KV()["job/7"]); got != "JOB-WO-7" {
		t.Fatalf("kv = %q", got)
	}
	logs := c.Host.Logs()
	if len(logs) != 1 || logs[0].Message != "job created" || logs[0].Attrs["job"] != "JOB-WO-7" || logs[0].Attrs["work_order"] != int64(7) {
		t.Fatalf("logs = %+v", logs)
	}

	resp, actions, err := c.HandleInbound(ctx, pluginapi.InboundRequest{Method: "GET", Query: map[string][]string{"wo": {"7"}}})
	if err != nil || resp.Status != 200 || string(resp.Body) != "JOB-WO-7" || len(actions) != 1 {
		t.Fatalf("inbound: %+v %+v %v", resp, actions, err)
	}
}

func TestErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := plugintest.StartConfigured(t, &jobPlugin{}, map[string]any{"prefix": "J-"})
	ev := func(id int64) pluginapi.Event {
		return plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: id})
	}
	tests := []struct {
		id        int64
		retryable bool
		verdict   plugintest.Verdict
		contains  string
	}{
		{13, false, plugintest.VerdictPermanent, "handle event panicked: unlucky work order"},
		{14, false, plugintest.VerdictPermanent, "erp rejected the job"},
		{15, false, plugintest.VerdictPermanent, "not found"}, // host NotFound travels back as a plugin error
		{16, false, plugintest.VerdictPermanent, "not found"}, // no canned work order 16
		{18, false, plugintest.VerdictNeedsPerson, "no ERP site for location 77"},
		{19, true, plugintest.VerdictRetry, "erp down"},
		{20, true, plugintest.VerdictRetry, "plain error"},
	}
	for _, tt := range tests {
		_, err := c.HandleEvent(ctx, ev(tt.id))
		var pe *pluginapi.Error
		if !errors.As(err, &pe) || pe.Retryable != tt.retryable || !strings.Contains(pe.Message, tt.contains) {
			t.Errorf("event %d: err = %#v", tt.id, err)
		}
		if got := plugintest.VerdictOf(err); got != tt.verdict {
			t.Errorf("event %d: verdict %q, want %q (err %#v)", tt.id, got, tt.verdict, err)
		}
	}
	if v := plugintest.VerdictOf(nil); v != plugintest.VerdictNone {
		t.Errorf("VerdictOf(nil) = %q", v)
	}
	// The plugin survived the panic.
	c.Host.AddWorkOrder("acme", corrigo.WorkOrder{WorkOrderId: 17, WorkOrderNumber: "17"})
	if _, err := c.HandleEvent(ctx, ev(17)); err != nil {
		t.Fatal(err)
	}
	// A failing host reaches the plugin as a retryable error.
	c.Host.FailWith(&pluginapi.Error{Message: "store down", Retryable: true})
	_, err := c.HandleEvent(ctx, ev(17))
	var pe *pluginapi.Error
	if !errors.As(err, &pe) || !pe.Retryable || !strings.Contains(pe.Message, "store down") {
		t.Fatalf("host failure: %#v", err)
	}
}

// minimal has no InboundHandler.
type minimal struct{}

func (minimal) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{Name: "minimal", Version: "1"}, nil
}
func (minimal) ValidateConfig(context.Context, map[string]any) []pluginapi.ConfigError { return nil }
func (minimal) Configure(context.Context, map[string]any, pluginapi.Host) error        { return nil }
func (minimal) HandleEvent(context.Context, pluginapi.Event) ([]pluginapi.Action, error) {
	return []pluginapi.Action{{Kind: "teleport"}}, nil
}
func (minimal) Stop(context.Context) error { return nil }

func TestMinimalPlugin(t *testing.T) {
	ctx := context.Background()
	c := plugintest.StartConfigured(t, minimal{}, nil)
	info, _ := c.Describe(ctx)
	if info.HandlesInbound {
		t.Fatal("minimal plugin claims inbound")
	}
	if _, _, err := c.HandleInbound(ctx, pluginapi.InboundRequest{}); err == nil {
		t.Fatal("inbound on a plugin without HandleInbound succeeded")
	}
	// An action of an unknown kind is refused on the plugin side, clearly.
	_, err := c.HandleEvent(ctx, plugintest.NewWorkOrderEvent("a", corrigo.WorkOrder{WorkOrderId: 1}))
	if err == nil || !strings.Contains(err.Error(), `unknown action kind "teleport"`) {
		t.Fatalf("err = %v", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
