package erprest_test

import (
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
)

func minimal() map[string]any {
	return map[string]any{
		"base_url":    "https://erp.example.com/api",
		"create_body": map[string]any{"title": "${wo.WorkOrderNumber}"},
	}
}

// TestConfigErrors checks that every mistake is reported with its key,
// through the same protocol call `gateway validate` makes.
func TestConfigErrors(t *testing.T) {
	c := plugintest.Start(t, erprest.New())
	cases := []struct {
		name    string
		cfg     map[string]any
		key     string
		message string
	}{
		{"missing base_url", with(minimal(), "base_url", nil), "base_url", "is required"},
		{"relative base_url", with(minimal(), "base_url", "erp.example.com"), "base_url", "absolute http or https URL"},
		{"missing body", with(minimal(), "create_body", nil), "create_body", "is required"},
		{"body syntax", with(minimal(), "create_body", map[string]any{"customer": map[string]any{"name": "${wo.Customer.Name +}"}}),
			"create_body", "customer.name: ${wo.Customer.Name +}: unexpected token"},
		{"body unknown field", with(minimal(), "create_body", map[string]any{"t": "${wo.Titel}"}), "create_body", "t: ${wo.Titel}: type corrigo.WorkOrder has no field Titel"},
		{"body unterminated", with(minimal(), "create_body", map[string]any{"lines": []any{"ok", "${wo.WorkOrderId"}}), "create_body", "lines.1: unterminated ${"},
		{"body bad JSON string", with(minimal(), "create_body", `{"title": }`), "create_body", "not valid JSON"},
		{"path syntax", with(minimal(), "create_path", "/jobs/${wo.}"), "create_path", "${wo.}"},
		{"unknown key", with(minimal(), "base_ur", "x"), "base_ur", `did you mean "base_url"?`},
		{"bad auth type", with(minimal(), "auth_type", "digest"), "auth_type", "must be one of"},
		{"bearer without token", with(minimal(), "auth_type", "bearer"), "auth_token", "is required for auth_type bearer"},
		{"basic without user", with(minimal(), "auth_type", "basic"), "auth_username", "is required"},
		{"api key bad header", with(minimal(), "auth_type", "api_key", "auth_key", "k", "auth_header", "X Key"), "auth_header", "not a valid header name"},
		{"oauth2 without token_url", with(minimal(), "auth_type", "oauth2_client_credentials", "client_id", "a", "client_secret", "b"), "token_url", "absolute http or https URL"},
		{"oauth2 without secret", with(minimal(), "auth_type", "oauth2_client_credentials", "client_id", "a", "token_url", "https://x/t"), "client_secret", "is required"},
		{"zero timeout", with(minimal(), "timeout", "0s"), "timeout", "must be positive"},
		{"bad timeout", with(minimal(), "timeout", "soon"), "timeout", "must be a duration"},
		{"unstable idempotency key", with(minimal(), "idempotency_key", "wo-${wo.WorkOrderId}-${event.ID}"), "idempotency_key", "must not depend on now or the event"},
		{"idempotency key uses now", with(minimal(), "idempotency_key", "${now.Unix()}"), "idempotency_key", "must not depend"},
		{"bad id path", with(minimal(), "create_id_path", "data..id"), "create_id_path", "empty part"},
		{"header as schedule", with(minimal(), "scheduled_path", "header:Date"), "scheduled_path", "not a header"},
		{"bad id header", with(minimal(), "create_id_path", "header:X Y"), "create_id_path", "not a valid header name"},
		{"schedule required without path", with(minimal(), "accept_requires_schedule", true), "accept_requires_schedule", "needs scheduled_path"},
		{"default site missing", with(minimal(), "site_key", "${wo.ServiceLocation.SpaceId}", "unknown_location", "default"), "default_site_id", "is required"},
		{"site create path missing", with(minimal(), "site_key", "${wo.ServiceLocation.SpaceId}", "unknown_location", "create"), "site_create_path", "is required"},
		{"site settings without key", with(minimal(), "site_lookup_path", "/sites"), "site_lookup_path", "no effect without site_key"},
		{"bad header", with(minimal(), "headers", map[string]any{"bad header": "x"}), "headers", "not a valid header name"},
		{"status_map not a map", with(minimal(), "status_map", []any{"x"}), "status_map", "must be a map"},
		{"status_map bad action", with(minimal(), "status_map", map[string]any{"done": map[string]any{"action": "complete"}}), "status_map.done.action", "must be one of"},
		{"status_map unknown field", with(minimal(), "status_map", map[string]any{"done": map[string]any{"action": "check_out", "repair": "x"}}), "status_map.done.repair", "is not a field of check_out"},
		{"status_map field syntax", with(minimal(), "status_map", map[string]any{"done": []any{
			map[string]any{"action": "check_out"}, map[string]any{"action": "quote", "amount": "${body.total *}"}}}), "status_map.done[1].amount", "unexpected token"},
		{"reject without comment", with(minimal(), "status_map", map[string]any{"cancelled": map[string]any{"action": "reject"}}), "status_map.cancelled.comment", "is required for reject"},
		{"invoice without lines", with(minimal(), "status_map", map[string]any{"billed": map[string]any{"action": "invoice"}}), "status_map.billed", "needs line_items or total_amount"},
		{"empty list", with(minimal(), "status_map", map[string]any{"x": []any{}}), "status_map.x", "lists no action"},
		{"submit not bool", with(minimal(), "status_map", map[string]any{"billed": map[string]any{"action": "invoice", "total_amount": "1", "submit": "yes"}}), "status_map.billed.submit", "true or false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := c.ValidateConfig(ctxT(t), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				if e.Key == tc.key && strings.Contains(e.Message, tc.message) {
					return
				}
			}
			t.Errorf("errors %v do not include %s: …%s…", errs, tc.key, tc.message)
		})
	}
}

func TestGoodConfigs(t *testing.T) {
	c := plugintest.Start(t, erprest.New())
	good := []map[string]any{
		minimal(),
		with(minimal(), "create_body", `{"title": "${wo.WorkOrderNumber}", "n": 1, "x": null, "ok": true}`),
		with(minimal(), "site_key", "${wo.ServiceLocation.Address.Zip}-${wo.ServiceLocation.Address.Street1}",
			"unknown_location", "create", "site_create_path", "/sites", "site_create_body", map[string]any{"ref": "${site_key}"}),
		with(minimal(), "status_map", map[string]any{
			"on_site": "check_in",
			"done": []any{
				map[string]any{"action": "check_out", "comment": "${body.note}", "repair_code": "PLB", "repair_code_id": 12},
				map[string]any{"action": "invoice", "line_items": "${body.lines}", "submit": false},
			},
			"noise": map[string]any{"action": "ignore"},
		}),
		with(minimal(), "idempotency_header", "", "idempotency_key", ""),
	}
	for i, cfg := range good {
		errs, err := c.ValidateConfig(ctxT(t), cfg)
		if err != nil || len(errs) > 0 {
			t.Errorf("config %d: %v %v", i, errs, err)
		}
	}
}

func TestConfigureRefusesBadConfig(t *testing.T) {
	c := plugintest.Start(t, erprest.New())
	err := c.Configure(ctxT(t), with(minimal(), "create_body", map[string]any{"a": "${nope}"}))
	if err == nil || !strings.Contains(err.Error(), "create_body") {
		t.Fatalf("Configure = %v", err)
	}
	// Not configured: events are retried, not lost.
	_, err = c.HandleEvent(ctxT(t), plugintestEvent(account, workOrder(1, "WO-1")))
	wantErr(t, err, true, "not configured")
}

func TestSchemaIsValid(t *testing.T) {
	if err := erprest.Schema().Check(); err != nil {
		t.Fatal(err)
	}
	secret := map[string]bool{}
	for _, f := range erprest.Schema().Fields {
		secret[f.Name] = f.Secret
	}
	for _, k := range []string{"auth_token", "auth_password", "auth_key", "client_secret", "inbound_secret"} {
		if !secret[k] {
			t.Errorf("%s is not marked secret", k)
		}
	}
	var _ pluginapi.Plugin = erprest.New()
}
