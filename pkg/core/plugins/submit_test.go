package plugins

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// services is a HostServices; queueServices also queues actions.
type services struct{}

func (services) GetWorkOrder(context.Context, string, int64) (*corrigo.WorkOrder, error) {
	return nil, pluginapi.ErrNotFound
}
func (services) GetCustomerSettings(context.Context, string, int) (*corrigo.CustomerSettings, error) {
	return nil, pluginapi.ErrNotFound
}
func (services) KVGet(context.Context, string, string) ([]byte, bool, error) { return nil, false, nil }
func (services) KVPut(context.Context, string, string, []byte) error         { return nil }
func (services) KVDelete(context.Context, string, string) error              { return nil }

type queueServices struct {
	services
	plugin, account, key string
	n                    int
}

func (q *queueServices) SubmitActions(_ context.Context, plugin, account, key string, actions []pluginapi.Action) error {
	q.plugin, q.account, q.key, q.n = plugin, account, key, len(actions)
	return nil
}

func TestBoundHostSubmitActions(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ok := []pluginapi.Action{{Kind: pluginapi.KindCheckIn, WorkOrderID: 5}}

	// Without an ActionQueue: unsupported, so the plugin keeps its actions.
	h := &boundHost{svc: services{}, plugin: "csv", log: log}
	if err := h.SubmitActions(ctx, "acme", "k", ok); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("without a queue: %v", err)
	}
	if err := (&boundHost{plugin: "csv", log: log}).SubmitActions(ctx, "acme", "k", ok); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("without services: %v", err)
	}

	// With one: checked, then handed on with the instance's name.
	q := &queueServices{}
	h = &boundHost{svc: q, plugin: "csv", log: log}
	if err := h.SubmitActions(ctx, "acme", "k1", ok); err != nil {
		t.Fatal(err)
	}
	if q.plugin != "csv" || q.account != "acme" || q.key != "k1" || q.n != 1 {
		t.Fatalf("queue got %+v", q)
	}
	q.n = 0
	err := h.SubmitActions(ctx, "acme", "k2", []pluginapi.Action{{Kind: pluginapi.KindCheckIn}})
	var pe *pluginapi.Error
	if !errors.As(err, &pe) || pe.Retryable || q.n != 0 {
		t.Fatalf("action without work order: %v, queued %d", err, q.n)
	}
	if err := h.SubmitActions(ctx, "acme", "k3", nil); err != nil || q.key != "k1" {
		t.Fatalf("no actions: %v (queue called with %q)", err, q.key)
	}
}
