package assemble

import (
	"context"
	"errors"
	"fmt"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// CorrigoReader reads work orders. The gateway passes its egress.Sender,
// which reads through an account's circuit breaker: plugins and rules
// share the breaker that protects CorrigoPro from the gateway's actions.
type CorrigoReader interface {
	GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error)
}

// SettingsReader serves customer settings (the gateway: from the egress
// guard's cache).
type SettingsReader interface {
	CustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error)
}

// KV is the plugin key-value part of store.Store.
type KV interface {
	KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error)
	KVPut(ctx context.Context, plugin, key string, value []byte) error
	KVDelete(ctx context.Context, plugin, key string) error
}

var _ KV = store.Store(nil)

// HostOptions are what a Host serves plugins from.
type HostOptions struct {
	Reader   CorrigoReader
	Settings SettingsReader
	KV       KV
	// Actions stores the actions plugins submit on their own; nil
	// refuses them with errors.ErrUnsupported (replay).
	Actions plugins.ActionQueue
}

// Host is what plugins call back into (plugins.HostServices and
// plugins.ActionQueue): work orders and customer settings of the
// configured accounts, and a bounded key-value space per plugin.
type Host struct {
	accounts map[string]bool
	o        HostOptions
}

// NewHost returns the host services for the accounts cfg configures.
func NewHost(cfg *config.Config, o HostOptions) *Host {
	h := &Host{accounts: map[string]bool{}, o: o}
	for name := range cfg.Corrigo.Accounts {
		h.accounts[name] = true
	}
	return h
}

var (
	_ plugins.HostServices = (*Host)(nil)
	_ plugins.ActionQueue  = (*Host)(nil)
)

// MaxKVKey and MaxKVValue bound what a plugin may store per key; the
// store is shared with the event inbox and must not be filled by one
// plugin.
const (
	MaxKVKey   = 512
	MaxKVValue = 1 << 20
)

func (h *Host) account(name string) error {
	if !h.accounts[name] {
		return fmt.Errorf("unknown account %q", name)
	}
	return nil
}

// GetWorkOrder implements plugins.HostServices.
func (h *Host) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	if err := h.account(account); err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, fmt.Errorf("work order id %d is not valid", id)
	}
	return h.o.Reader.GetWorkOrder(ctx, account, id)
}

// GetCustomerSettings implements plugins.HostServices.
func (h *Host) GetCustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	if err := h.account(account); err != nil {
		return nil, err
	}
	return h.o.Settings.CustomerSettings(ctx, account, customerID)
}

func checkKey(plugin, key string) error {
	if plugin == "" {
		return fmt.Errorf("key-value call without a plugin name")
	}
	if key == "" || len(key) > MaxKVKey {
		return fmt.Errorf("key-value key must be 1 to %d bytes, got %d", MaxKVKey, len(key))
	}
	return nil
}

// KVGet implements plugins.HostServices.
func (h *Host) KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error) {
	if err := checkKey(plugin, key); err != nil {
		return nil, false, err
	}
	return h.o.KV.KVGet(ctx, plugin, key)
}

// KVPut implements plugins.HostServices.
func (h *Host) KVPut(ctx context.Context, plugin, key string, v []byte) error {
	if err := checkKey(plugin, key); err != nil {
		return err
	}
	if len(v) > MaxKVValue {
		return fmt.Errorf("key-value value is %d bytes; the limit is %d", len(v), MaxKVValue)
	}
	return h.o.KV.KVPut(ctx, plugin, key, v)
}

// KVDelete implements plugins.HostServices.
func (h *Host) KVDelete(ctx context.Context, plugin, key string) error {
	if err := checkKey(plugin, key); err != nil {
		return err
	}
	return h.o.KV.KVDelete(ctx, plugin, key)
}

// SubmitActions implements plugins.ActionQueue with HostOptions.Actions.
func (h *Host) SubmitActions(ctx context.Context, plugin, account, key string, actions []pluginapi.Action) error {
	if h.o.Actions == nil {
		return fmt.Errorf("submit actions: %w", errors.ErrUnsupported)
	}
	return h.o.Actions.SubmitActions(ctx, plugin, account, key, actions)
}
