package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// Limits on what a plugin may store through the host; the KV store is for
// small mappings, not documents.
const (
	MaxKVKeyBytes   = 512
	MaxKVValueBytes = 1 << 20
)

var errNoHostServices = &pluginapi.Error{Message: "the gateway offers no host services here"}

// boundHost is the pluginapi.Host served to one plugin instance: the
// gateway's HostServices with the KV namespace fixed to the instance's
// name, so a plugin can only reach its own keys.
type boundHost struct {
	svc    HostServices
	plugin string
	log    *slog.Logger
}

var _ pluginapi.Host = (*boundHost)(nil)

func (h *boundHost) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	if h.svc == nil {
		return nil, errNoHostServices
	}
	if id <= 0 {
		return nil, &pluginapi.Error{Message: fmt.Sprintf("work order id %d is not valid", id)}
	}
	return h.svc.GetWorkOrder(ctx, account, id)
}

func (h *boundHost) GetCustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	if h.svc == nil {
		return nil, errNoHostServices
	}
	return h.svc.GetCustomerSettings(ctx, account, customerID)
}

func checkKey(key string) error {
	switch {
	case key == "":
		return &pluginapi.Error{Message: "kv: empty key"}
	case len(key) > MaxKVKeyBytes:
		return &pluginapi.Error{Message: fmt.Sprintf("kv: key is %d bytes; the limit is %d", len(key), MaxKVKeyBytes)}
	}
	return nil
}

func (h *boundHost) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	if h.svc == nil {
		return nil, false, errNoHostServices
	}
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	return h.svc.KVGet(ctx, h.plugin, key)
}

func (h *boundHost) KVPut(ctx context.Context, key string, value []byte) error {
	if h.svc == nil {
		return errNoHostServices
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxKVValueBytes {
		return &pluginapi.Error{Message: fmt.Sprintf("kv: value is %d bytes; the limit is %d", len(value), MaxKVValueBytes)}
	}
	return h.svc.KVPut(ctx, h.plugin, key, value)
}

func (h *boundHost) KVDelete(ctx context.Context, key string) error {
	if h.svc == nil {
		return errNoHostServices
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return h.svc.KVDelete(ctx, h.plugin, key)
}

func (h *boundHost) Log(ctx context.Context, level, msg string, kv ...any) {
	h.log.Log(ctx, pluginhost.SlogLevel(level), msg, append(kv, "via", "host")...)
}

// IsRetryable reports whether err from HandleEvent/HandleInbound means
// "deliver the event again later": the plugin was unavailable or timed
// out, or it returned a retryable *pluginapi.Error. Context cancellation
// by the caller is retryable too (the event was not handled).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pe *pluginapi.Error
	if errors.As(err, &pe) {
		return pe.Retryable && !pe.NeedsPerson
	}
	return false
}
