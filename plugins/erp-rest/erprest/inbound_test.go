package erprest_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

const secret = "callback-secret"

// statusMap maps the fake ERP's statuses to CorrigoPro actions.
func statusMap() map[string]any {
	return map[string]any{
		"en_route": map[string]any{"action": "ignore"},
		"on_site": map[string]any{"action": "check_in", "performed_by": "${body.technician?.name}",
			"actual_date": "${body.changed_at}", "latitude": "${body.geo?.lat}", "longitude": "${body.geo?.lon}"},
		"on_hold": map[string]any{"action": "pause", "comment": "Waiting: ${body.reason}"},
		"quoted": map[string]any{"action": "quote", "comment": "${body.quote.note}",
			"line_items": "${map(body.quote.lines, ({Type: 'Material', Description: .desc, Quantity: .qty, Rate: .unit}))}"},
		"done": []any{
			map[string]any{"action": "check_out", "comment": "${body.summary}", "repair_code": "${body.repair.code}",
				"repair_category": "${body.repair.category}", "actual_date": "${body.changed_at}", "performed_by": "${body.technician?.name}"},
			map[string]any{"action": "invoice", "invoice_number": "${body.invoice.number}", "tax_amount": "${body.invoice.tax}",
				"line_items": "${map(body.invoice.lines, ({Type: .kind, Description: .desc, Quantity: .qty, Rate: .rate}))}"},
		},
		"cancelled": map[string]any{"action": "note", "text": "ERP job cancelled: ${body.reason ?? 'no reason'}"},
	}
}

func inboundConfig(erp *fakeerp.Server, kv ...any) map[string]any {
	return with(with(baseConfig(erp), "status_map", statusMap(), "inbound_secret", secret), kv...)
}

// created starts the plugin and creates job J-1001 for work order 501.
func created(t *testing.T, cfg map[string]any) *plugintest.Client {
	t.Helper()
	c := start(t, cfg)
	if acts := mustHandle(t, c, workOrder(501, "WO-501")); kinds(acts) != "accept" {
		t.Fatalf("create: %+v", acts)
	}
	return c
}

func callback(body map[string]any, sign bool) pluginapi.InboundRequest {
	b, _ := json.Marshal(body)
	h := http.Header{"Content-Type": {"application/json"}}
	if sign {
		h.Set("X-Signature", "sha256="+hex.EncodeToString(erprest.Sign(secret, b)))
	}
	return pluginapi.InboundRequest{Method: http.MethodPost, Path: "/", Header: h, Body: b}
}

func inbound(t *testing.T, c *plugintest.Client, req pluginapi.InboundRequest) (int, map[string]any, []pluginapi.Action) {
	t.Helper()
	resp, acts, err := c.HandleInbound(ctxT(t), req)
	if err != nil {
		t.Fatalf("HandleInbound: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatalf("answer is not JSON: %q", resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp.Status, out, acts
}

func TestInboundLifecycle(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := created(t, inboundConfig(erp))

	st, res, acts := inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "on_site", "changed_at": "2030-05-01T08:30:00Z",
		"technician": map[string]any{"name": "Sam Fixer"}, "geo": map[string]any{"lat": 53.8, "lon": -1.55}}, true))
	if st != 200 || res["result"] != "accepted" || res["work_order_id"] != float64(501) || res["account"] != account {
		t.Fatalf("answer %d %v", st, res)
	}
	if kinds(acts) != "check_in" || acts[0].WorkOrderID != 501 || acts[0].PerformedBy.Name != "Sam Fixer" ||
		!acts[0].ActualActionDate.Equal(time.Date(2030, 5, 1, 8, 30, 0, 0, time.UTC)) ||
		acts[0].Location == nil || acts[0].Location.Latitude != 53.8 {
		t.Fatalf("check in = %+v", acts)
	}

	_, _, acts = inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "on_hold", "reason": "parts"}, true))
	if kinds(acts) != "pause" || acts[0].Comment != "Waiting: parts" {
		t.Fatalf("pause = %+v", acts)
	}

	_, _, acts = inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "quoted", "quote": map[string]any{
		"note": "new mixer", "lines": []any{map[string]any{"desc": "Mixer tap", "qty": 1, "unit": 89.5}, map[string]any{"desc": "Washers", "qty": 4, "unit": 0.6}}}}, true))
	if kinds(acts) != "quote" || acts[0].Amount != 91.9 || len(acts[0].LineItems) != 2 || acts[0].LineItems[0].Description != "Mixer tap" {
		t.Fatalf("quote = %+v", acts)
	}

	_, res, acts = inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "done", "changed_at": "2030-05-01T10:00:00Z",
		"summary": "Replaced tap", "repair": map[string]any{"code": "PLB-01", "category": "Plumbing"},
		"invoice": map[string]any{"number": "INV-77", "tax": 18.0, "lines": []any{
			map[string]any{"kind": "Labor", "desc": "Labour", "qty": 1.5, "rate": 40},
			map[string]any{"kind": "Material", "desc": "Mixer tap", "qty": 1, "rate": 89.5}}}}, true))
	if kinds(acts) != "check_out,invoice_update,invoice_submit" {
		t.Fatalf("done = %s (%v)", kinds(acts), res)
	}
	co, inv := acts[0], acts[1].Invoice
	if co.Comment != "Replaced tap" || co.RepairInfo == nil || co.RepairInfo.Code != "PLB-01" || co.RepairInfo.Category != "Plumbing" {
		t.Errorf("check out = %+v", co)
	}
	if inv == nil || inv.WorkOrderId != 501 || inv.InvoiceNumber != "INV-77" || inv.TaxAmount != 18 || inv.TotalAmount != 167.5 ||
		len(inv.LineItems) != 2 || inv.LineItems[0].Type != corrigo.LineItemLabor {
		t.Errorf("invoice = %+v", inv)
	}
	if got := res["actions"]; len(got.([]any)) != 3 {
		t.Errorf("answer actions = %v", got)
	}

	_, _, acts = inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "cancelled"}, true))
	if kinds(acts) != "note" || acts[0].Text != "ERP job cancelled: no reason" {
		t.Fatalf("note = %+v", acts)
	}
	st, res, acts = inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "en_route"}, true))
	if st != 200 || res["result"] != "ignored" || len(acts) != 0 {
		t.Fatalf("ignore: %d %v %v", st, res, acts)
	}
}

func TestInboundRefusals(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := created(t, inboundConfig(erp))
	ok := map[string]any{"job_id": "J-1001", "status": "on_site"}

	bad := callback(ok, true)
	bad.Body = []byte(strings.Replace(string(bad.Body), "on_site", "on_hold", 1)) // tampered after signing
	tooBig := callback(ok, true)
	tooBig.Body = append(tooBig.Body, make([]byte, 2<<20)...)
	get := callback(ok, true)
	get.Method = http.MethodGet
	unsigned := callback(ok, false)
	notHex := callback(ok, false)
	notHex.Header.Set("X-Signature", "sha256=zz")

	cases := []struct {
		name   string
		req    pluginapi.InboundRequest
		status int
		msg    string
	}{
		{"unsigned", unsigned, 401, "missing X-Signature"},
		{"tampered", bad, 401, "does not match the body"},
		{"not hex", notHex, 401, "hex HMAC-SHA256"},
		{"GET", get, 405, "use POST or PUT"},
		{"too big", tooBig, 413, "larger than"},
		{"unknown job", callback(map[string]any{"job_id": "J-9", "status": "on_site"}, true), 404, `unknown job "J-9"`},
		{"no status", callback(map[string]any{"job_id": "J-1001"}, true), 400, `no status at "status"`},
		{"not JSON", signedRaw("{nope"), 400, "not JSON"},
		{"array", signedRaw("[1]"), 400, "must be a JSON object"},
		{"object id", callback(map[string]any{"job_id": map[string]any{}, "status": "x"}, true), 400, "non-empty string or number"},
		{"bad mapping value", callback(map[string]any{"job_id": "J-1001", "status": "on_site", "changed_at": "yesterday"}, true), 422, "actual_date"},
		{"quote without lines", callback(map[string]any{"job_id": "J-1001", "status": "quoted", "quote": map[string]any{}}, true), 422, "quote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, res, acts := inbound(t, c, tc.req)
			if st != tc.status || !strings.Contains(res["error"].(string), tc.msg) || len(acts) != 0 {
				t.Errorf("got %d %v %v, want %d …%s…", st, res, acts, tc.status, tc.msg)
			}
		})
	}

	t.Run("unmapped status", func(t *testing.T) {
		st, res, _ := inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "invented"}, true))
		if st != 200 || res["result"] != "ignored" {
			t.Errorf("%d %v", st, res)
		}
		c2 := start(t, inboundConfig(erp, "unmapped_status", "reject"))
		if err := c2.Host.KVPut(ctxT(t), erprest.WorkOrderKey("J-1001"), []byte(`{"account":"acme","work_order_id":501}`)); err != nil {
			t.Fatal(err)
		}
		st, res, _ = inbound(t, c2, callback(map[string]any{"job_id": "J-1001", "status": "invented"}, true))
		if st != 422 || !strings.Contains(res["error"].(string), `status "invented" is not in status_map`) {
			t.Errorf("%d %v", st, res)
		}
	})
	t.Run("store down", func(t *testing.T) {
		c.Host.FailWith(pluginapi.RetryLater(errString("store down")))
		defer c.Host.FailWith(nil)
		resp, acts, err := c.HandleInbound(ctxT(t), callback(ok, true))
		if err != nil || resp.Status != 503 || resp.Header.Get("Retry-After") == "" || len(acts) != 0 {
			t.Errorf("%v %+v %v", err, resp, acts)
		}
	})
}

func signedRaw(body string) pluginapi.InboundRequest {
	return pluginapi.InboundRequest{Method: http.MethodPost, Header: http.Header{
		"X-Signature": {hex.EncodeToString(erprest.Sign(secret, []byte(body)))}}, Body: []byte(body)}
}

func TestInboundTokenAndNoSecret(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := created(t, inboundConfig(erp, "inbound_signature", "token", "inbound_signature_header", "X-Webhook-Token"))
	req := callback(map[string]any{"job_id": "J-1001", "status": "on_site"}, false)
	req.Header.Set("X-Webhook-Token", secret)
	if st, _, acts := inbound(t, c, req); st != 200 || kinds(acts) != "check_in" {
		t.Fatalf("token: %d %v", st, acts)
	}
	req.Header.Set("X-Webhook-Token", secret+"x")
	if st, _, _ := inbound(t, c, req); st != 401 {
		t.Fatalf("wrong token: %d", st)
	}

	c2 := created(t, inboundConfig(erp, "inbound_secret", nil, "inbound_job_id_path", "data.job.id", "inbound_status_path", "data.job.state"))
	req = callback(map[string]any{"data": map[string]any{"job": map[string]any{"id": 1001, "state": "on_site"}}}, false)
	// Job ids may arrive as numbers; J-1001 is not 1001, so map one by hand.
	if err := c2.Host.KVPut(ctxT(t), erprest.WorkOrderKey("1001"), []byte(`{"account":"acme","work_order_id":501}`)); err != nil {
		t.Fatal(err)
	}
	if st, _, acts := inbound(t, c2, req); st != 200 || kinds(acts) != "check_in" {
		t.Fatalf("nested paths: %d %v", st, acts)
	}
	found := false
	for _, l := range c2.Host.Logs() {
		found = found || strings.Contains(l.Message, "inbound_secret is empty")
	}
	if !found {
		t.Error("no warning about unauthenticated callbacks")
	}
}

// TestInboundAsEvent covers callbacks the gateway stores and dispatches
// as events of source "inbound".
func TestInboundAsEvent(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := created(t, inboundConfig(erp))
	body, _ := json.Marshal(map[string]any{"job_id": "J-1001", "status": "on_hold", "reason": "access"})
	ev := pluginapi.Event{ID: "9", Account: account, Source: "inbound", Rule: "inbound", Body: body}
	acts, err := c.HandleEvent(ctxT(t), ev)
	if err != nil || kinds(acts) != "pause" || acts[0].WorkOrderID != 501 {
		t.Fatalf("%v %+v", err, acts)
	}
	ev.Body = []byte(`{"job_id":"J-404","status":"on_hold"}`)
	_, err = c.HandleEvent(ctxT(t), ev)
	wantErr(t, err, false, `unknown job "J-404"`)
}
