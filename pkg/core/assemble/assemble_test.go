package assemble

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Each plugin's supervisor block reaches its Spec.
func TestPluginSpecsCarrySupervisor(t *testing.T) {
	cfg := &config.Config{Plugins: map[string]config.Plugin{
		"a": {Command: "a", Supervisor: config.PluginSupervisor{MaxCrashes: 2, Window: time.Minute,
			BackoffInitial: time.Second, BackoffMax: 3 * time.Second}},
	}}
	got := PluginSpecs(cfg)[0].Supervisor
	want := plugins.Supervisor{MaxCrashes: 2, CrashWindow: time.Minute, BackoffMin: time.Second, BackoffMax: 3 * time.Second}
	if got != want {
		t.Errorf("spec supervisor = %+v, want %+v", got, want)
	}
}

type memKV map[string][]byte

func (m memKV) KVGet(ctx context.Context, p, k string) ([]byte, bool, error) {
	v, ok := m[p+"/"+k]
	return v, ok, nil
}
func (m memKV) KVPut(ctx context.Context, p, k string, v []byte) error { m[p+"/"+k] = v; return nil }
func (m memKV) KVDelete(ctx context.Context, p, k string) error        { delete(m, p+"/"+k); return nil }

type fixedReader struct{}

func (fixedReader) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	return &corrigo.WorkOrder{WorkOrderId: id}, nil
}
func (fixedReader) CustomerSettings(ctx context.Context, account string, id int) (*corrigo.CustomerSettings, error) {
	return &corrigo.CustomerSettings{CustomerId: id}, nil
}

func TestHostServicesChecksArguments(t *testing.T) {
	h := NewHost(&config.Config{Corrigo: config.CorrigoConfig{Accounts: map[string]config.Account{"main": {}}}},
		HostOptions{Reader: fixedReader{}, Settings: fixedReader{}, KV: memKV{}})
	ctx := context.Background()
	if wo, err := h.GetWorkOrder(ctx, "main", 7); err != nil || wo.WorkOrderId != 7 {
		t.Fatalf("GetWorkOrder = %v, %v", wo, err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown account", func() error { _, err := h.GetWorkOrder(ctx, "other", 7); return err }(), `unknown account "other"`},
		{"bad id", func() error { _, err := h.GetWorkOrder(ctx, "main", 0); return err }(), "not valid"},
		{"settings unknown account", func() error { _, err := h.GetCustomerSettings(ctx, "x", 1); return err }(), "unknown account"},
		{"empty key", h.KVPut(ctx, "erp", "", []byte("v")), "key must be"},
		{"long key", h.KVPut(ctx, "erp", strings.Repeat("k", MaxKVKey+1), []byte("v")), "key must be"},
		{"big value", h.KVPut(ctx, "erp", "k", make([]byte, MaxKVValue+1)), "limit"},
		{"no plugin", h.KVDelete(ctx, "", "k"), "without a plugin"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if err := h.KVPut(ctx, "erp", "wo/1", []byte("job-9")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := h.KVGet(ctx, "erp", "wo/1"); err != nil || !ok || string(v) != "job-9" {
		t.Fatalf("KVGet = %q %v %v", v, ok, err)
	}
}

// Without HostOptions.Actions a plugin's submission is not available
// here (errors.ErrUnsupported), which the plugin retries later.
func TestHostWithoutActions(t *testing.T) {
	h := NewHost(&config.Config{}, HostOptions{})
	err := h.SubmitActions(context.Background(), "csv", "acme", "k", []pluginapi.Action{{Kind: pluginapi.KindCheckIn, WorkOrderID: 1}})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}
