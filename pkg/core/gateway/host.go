package gateway

import (
	"context"
	"fmt"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// CorrigoReader reads through an account's circuit breaker
// (egress.Sender): plugins and rules share the breaker that protects
// CorrigoPro from the gateway's actions.
type CorrigoReader interface {
	GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error)
}

// SettingsReader serves customer settings from the egress guard's cache.
type SettingsReader interface {
	CustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error)
}

// KV is the plugin key-value part of store.Store.
type KV interface {
	KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error)
	KVPut(ctx context.Context, plugin, key string, value []byte) error
	KVDelete(ctx context.Context, plugin, key string) error
}

// hostServices is what plugins call back into (plugins.HostServices): work
// orders and customer settings through the gateway's clients, and a durable
// key-value space per plugin in the store.
type hostServices struct {
	accounts map[string]bool
	reader   CorrigoReader
	settings SettingsReader
	kv       KV
	intake   *actionIntake // actions plugins queue on their own (inbound.go)
}

// maxKVKey and maxKVValue bound what a plugin may store per key; the store
// is shared with the event inbox and must not be filled by one plugin.
const (
	maxKVKey   = 512
	maxKVValue = 1 << 20
)

func (h *hostServices) account(name string) error {
	if !h.accounts[name] {
		return fmt.Errorf("unknown account %q", name)
	}
	return nil
}

func (h *hostServices) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	if err := h.account(account); err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, fmt.Errorf("work order id %d is not valid", id)
	}
	return h.reader.GetWorkOrder(ctx, account, id)
}

func (h *hostServices) GetCustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	if err := h.account(account); err != nil {
		return nil, err
	}
	return h.settings.CustomerSettings(ctx, account, customerID)
}

func checkKey(plugin, key string) error {
	if plugin == "" {
		return fmt.Errorf("key-value call without a plugin name")
	}
	if key == "" || len(key) > maxKVKey {
		return fmt.Errorf("key-value key must be 1 to %d bytes, got %d", maxKVKey, len(key))
	}
	return nil
}

func (h *hostServices) KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error) {
	if err := checkKey(plugin, key); err != nil {
		return nil, false, err
	}
	return h.kv.KVGet(ctx, plugin, key)
}

func (h *hostServices) KVPut(ctx context.Context, plugin, key string, v []byte) error {
	if err := checkKey(plugin, key); err != nil {
		return err
	}
	if len(v) > maxKVValue {
		return fmt.Errorf("key-value value is %d bytes; the limit is %d", len(v), maxKVValue)
	}
	return h.kv.KVPut(ctx, plugin, key, v)
}

func (h *hostServices) KVDelete(ctx context.Context, plugin, key string) error {
	if err := checkKey(plugin, key); err != nil {
		return err
	}
	return h.kv.KVDelete(ctx, plugin, key)
}

var _ KV = store.Store(nil)
