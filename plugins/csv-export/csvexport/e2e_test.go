package csvexport_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
	"github.com/wogate/wogate/plugins/csv-export/csvexport"
)

// TestThroughProtocol drives the plugin through the real gRPC glue (as
// the gateway does), with plugintest's fake host on the other side.
func TestThroughProtocol(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	c := plugintest.Start(t, csvexport.New())

	info, err := c.Describe(ctx)
	if err != nil || info.Name != "csv-export" || !info.HandlesInbound {
		t.Fatalf("describe: %+v %v", info, err)
	}
	errs, err := c.ValidateConfig(ctx, map[string]any{"dir": dir, "columns": []any{"workOrder.Nope"}})
	if err != nil || len(errs) != 1 || errs[0].Key != "columns" || !strings.Contains(errs[0].Message, "Nope") {
		t.Fatalf("validate: %v %v", errs, err)
	}

	cfg := map[string]any{
		"dir": dir, "file": "{customer}/{date}.csv", "accept": true,
		"columns": []any{
			map[string]any{"name": "wo", "value": "workOrder.WorkOrderNumber"},
			map[string]any{"name": "action", "value": "event.Action"},
			map[string]any{"name": "note", "value": "workOrder.AccompanyingMessage"},
		},
	}
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	wo := corrigo.WorkOrder{
		WorkOrderId: 31, WorkOrderNumber: "WO-31", Status: corrigo.StatusNew,
		Customer: &corrigo.CustomerRef{ID: 1, Name: "Globex"}, AccompanyingMessage: "line one\nline \"two\", with comma",
	}
	ev := plugintest.NewWorkOrderEvent("acme", wo)
	ev.ID = "e-31"
	day := ev.Header.ActionDate.UTC().Format("2006-01-02")
	for range 2 { // redelivered: one row
		acts, err := c.HandleEvent(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 1 || acts[0].Kind != pluginapi.KindAccept || acts[0].WorkOrderID != 31 {
			t.Fatalf("actions = %+v", acts)
		}
	}
	f, err := os.Open(filepath.Join(dir, "Globex", day+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || strings.Join(recs[0], ",") != "wo,action,note,event_id" ||
		recs[1][0] != "WO-31" || recs[1][2] != wo.AccompanyingMessage || recs[1][3] != "e-31" {
		t.Fatalf("file = %q", recs)
	}
	if _, ok := c.Host.KV()["row:e-31"]; !ok {
		t.Fatal("no row mark in the host KV")
	}

	resp, acts, err := c.HandleInbound(ctx, pluginapi.InboundRequest{
		Method: "POST", Path: "/inbox",
		Body: []byte("work_order_id,action,comment,repair_code\n31,check_in,,\n31,check_out,fixed,P1\n31,bogus,,\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || len(acts) != 2 || acts[1].Kind != pluginapi.KindCheckOut || acts[1].RepairInfo.Code != "P1" {
		t.Fatalf("inbound: %d %s %+v", resp.Status, resp.Body, acts)
	}
	if !strings.Contains(string(resp.Body), `"rejected":1`) {
		t.Fatalf("inbound summary = %s", resp.Body)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
