package erprest_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

const account = "acme"

// baseConfig maps work orders into the fake ERP's job API.
func baseConfig(erp *fakeerp.Server) map[string]any {
	return map[string]any{
		"base_url": erp.URL() + "/api/v1",
		"timeout":  "2s",
		"create_body": map[string]any{
			"title":        "${wo.WorkOrderNumber}: ${wo.AccompanyingMessage}",
			"external_ref": "${wo.WorkOrderNumber}",
			"priority":     "${(wo.Sla?.IsEmergency ?? false) ? 1 : 3}",
			"due":          "${wo.Sla.DueDate}",
			"customer":     map[string]any{"name": "${wo.Customer.Name}", "id": "${wo.Customer.ID}"},
			"nte":          "${wo.Nte.Amount}",
			"source":       "corrigo",
			"tags":         []any{"wogate", "${account}"},
		},
		"create_id_path":   "data.job.id",
		"scheduled_path":   "data.job.scheduled_for",
		"conflict_id_path": "existing_id",
		"lookup_path":      "/jobs?external_ref=${wo.WorkOrderNumber}",
		"lookup_id_path":   "data.0.id",
		"accept_comment":   "ERP job ${job_id}",
	}
}

// with returns a copy of cfg with the given keys changed (nil deletes).
func with(cfg map[string]any, kv ...any) map[string]any {
	out := maps.Clone(cfg)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func workOrder(id int64, number string) corrigo.WorkOrder {
	return corrigo.WorkOrder{
		WorkOrderId: id, WorkOrderNumber: number, Status: corrigo.StatusNew, Type: corrigo.TypeRequest,
		Customer: &corrigo.CustomerRef{ID: 7, Name: "Blue Bottle Stores"}, BranchId: 3,
		AccompanyingMessage: "Leaking tap in \"staff\" kitchen",
		Nte:                 &corrigo.Nte{Amount: 450},
		Sla:                 &corrigo.Sla{DueDate: corrigo.NewTime(time.Date(2030, 5, 1, 17, 0, 0, 0, time.UTC))},
		ServiceLocation: &corrigo.ServiceLocation{SpaceId: 77, SpaceName: "Store 12",
			Address: &corrigo.Address{Street1: "1 High St", City: "Leeds", Country: "GB"}},
	}
}

func start(t *testing.T, cfg map[string]any) *plugintest.Client {
	t.Helper()
	return plugintest.StartConfigured(t, erprest.New(), cfg, plugintest.WithInstanceName("erp"))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func handle(t *testing.T, c *plugintest.Client, wo corrigo.WorkOrder) ([]pluginapi.Action, error) {
	t.Helper()
	return c.HandleEvent(ctxT(t), plugintest.NewWorkOrderEvent(account, wo))
}

func mustHandle(t *testing.T, c *plugintest.Client, wo corrigo.WorkOrder) []pluginapi.Action {
	t.Helper()
	acts, err := handle(t, c, wo)
	if err != nil {
		t.Fatalf("HandleEvent: %v", err)
	}
	return acts
}

// wantPark checks err parks the event for a person (pluginapi.NeedsPerson,
// as the gateway sees it after the protocol) with the message part.
func wantPark(t *testing.T, err error, part string) {
	t.Helper()
	var pe *pluginapi.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *pluginapi.Error", err, err)
	}
	if v := plugintest.VerdictOf(err); v != plugintest.VerdictNeedsPerson {
		t.Errorf("verdict = %q, want %q (error: %v)", v, plugintest.VerdictNeedsPerson, err)
	}
	if !strings.Contains(pe.Message, part) {
		t.Errorf("error %q does not mention %q", pe.Message, part)
	}
}

// wantErr checks err is a *pluginapi.Error with the given retryability and
// message part.
func wantErr(t *testing.T, err error, retryable bool, part string) {
	t.Helper()
	var pe *pluginapi.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *pluginapi.Error", err, err)
	}
	if pe.Retryable != retryable {
		t.Errorf("Retryable = %v, want %v (error: %v)", pe.Retryable, retryable, err)
	}
	if pe.NeedsPerson {
		t.Errorf("the error parks the event for a person, want retryable=%v (error: %v)", retryable, err)
	}
	if !strings.Contains(pe.Message, part) {
		t.Errorf("error %q does not mention %q", pe.Message, part)
	}
}

func kinds(acts []pluginapi.Action) string {
	var out []string
	for _, a := range acts {
		out = append(out, string(a.Kind))
	}
	return strings.Join(out, ",")
}

func countRequests(erp *fakeerp.Server, method, path string) int {
	n := 0
	for _, r := range erp.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}
