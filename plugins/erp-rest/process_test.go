package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

// memHost is the gateway's host services with an in-memory key-value
// store whose next writes can be made to fail.
type memHost struct {
	mu       sync.Mutex
	kv       map[string][]byte
	failPuts int
}

func (h *memHost) GetWorkOrder(context.Context, string, int64) (*corrigo.WorkOrder, error) {
	return nil, pluginapi.ErrNotFound
}
func (h *memHost) GetCustomerSettings(context.Context, string, int) (*corrigo.CustomerSettings, error) {
	return nil, pluginapi.ErrNotFound
}
func (h *memHost) KVGet(_ context.Context, plugin, key string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.kv[plugin+"\x00"+key]
	return v, ok, nil
}
func (h *memHost) KVPut(_ context.Context, plugin, key string, v []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failPuts > 0 {
		h.failPuts--
		return &pluginapi.Error{Message: "store unavailable", Retryable: true}
	}
	h.kv[plugin+"\x00"+key] = append([]byte(nil), v...)
	return nil
}
func (h *memHost) KVDelete(_ context.Context, plugin, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.kv, plugin+"\x00"+key)
	return nil
}

// TestPluginProcessThroughManager runs the erp-rest binary under the
// gateway's plugin manager (a real child process, real gRPC, real host
// callbacks): a lost key-value write after the ERP created the job does
// not create a second job, and a signed callback maps to a check-in.
func TestPluginProcessThroughManager(t *testing.T) {
	build(t)
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	host := &memHost{kv: map[string][]byte{}}
	m := plugins.NewManager(host, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := m.Start(ctx, []plugins.Spec{{Name: "erp", Command: pluginBin, Timeout: 10 * time.Second, Config: map[string]any{
		"base_url":         erp.URL() + "/api/v1",
		"create_body":      map[string]any{"title": "${wo.WorkOrderNumber}", "external_ref": "${wo.WorkOrderNumber}"},
		"create_id_path":   "data.job.id",
		"conflict_id_path": "existing_id",
		"inbound_secret":   callbackSecret,
		"status_map":       map[string]any{"on_site": map[string]any{"action": "check_in", "comment": "on site: ${body.tech}"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close(context.Background()) }()

	wo := corrigo.WorkOrder{WorkOrderId: 42, WorkOrderNumber: "WO-42"}
	body, err := corrigo.NewNotification(corrigo.Header{WorkOrderId: 42, MessageId: "m-42"}, corrigo.NewWorkOrderPayload{Details: wo})
	if err != nil {
		t.Fatal(err)
	}
	ev := pluginapi.Event{ID: "1", Account: "main", Source: "webhook", Rule: "r",
		Header: corrigo.Header{WorkOrderId: 42, Action: corrigo.ActionNewWorkOrder, MessageId: "m-42"}, WorkOrder: &wo, Body: body}

	host.mu.Lock()
	host.failPuts = 1
	host.mu.Unlock()
	_, err = m.HandleEvent(ctx, "erp", ev)
	var pe *pluginapi.Error
	if !errors.As(err, &pe) || !pe.Retryable {
		t.Fatalf("first delivery: %v, want a retryable error", err)
	}
	// The ERP throttles: its Retry-After reaches the gateway through the
	// plugin process and the protocol.
	erp.SetRetryAfter("4")
	erp.FailNext(http.StatusTooManyRequests)
	_, err = m.HandleEvent(ctx, "erp", ev)
	if !errors.As(err, &pe) || !pe.Retryable || pe.RetryAfter != 4*time.Second {
		t.Fatalf("throttled delivery: %v (%+v), want a retryable error asking for 4s", err, pe)
	}
	acts, err := m.HandleEvent(ctx, "erp", ev)
	if err != nil || len(acts) != 1 || acts[0].Kind != pluginapi.KindAccept {
		t.Fatalf("redelivery: %+v %v", acts, err)
	}
	if n := len(erp.Jobs()); n != 1 {
		t.Fatalf("ERP has %d jobs after a lost write and a redelivery, want 1", n)
	}

	cb, _ := json.Marshal(map[string]any{"job_id": erp.Jobs()[0].ID, "status": "on_site", "tech": "Sam"})
	resp, acts, err := m.HandleInbound(ctx, "erp", pluginapi.InboundRequest{Method: http.MethodPost, Path: "/", Body: cb,
		Header: http.Header{"X-Signature": {"sha256=" + hex.EncodeToString(erprest.Sign(callbackSecret, cb))}}})
	if err != nil || resp.Status != 200 || len(acts) != 1 || acts[0].Kind != pluginapi.KindCheckIn || acts[0].WorkOrderID != 42 || acts[0].Comment != "on site: Sam" {
		t.Fatalf("inbound: %d %s %+v %v", resp.Status, resp.Body, acts, err)
	}
}
