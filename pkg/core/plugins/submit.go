package plugins

import (
	"context"
	"errors"
	"fmt"

	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// ActionQueue is an optional part of HostServices: a HostServices that
// also implements it lets plugins queue actions on their own
// (pluginapi.ActionSubmitter). The call carries the plugin instance's name
// so keys of different plugins never collide.
//
// Contract (the plugin SDK relies on it): when SubmitActions returns nil
// the actions are stored durably for delivery; a repeated (plugin, key) is
// a no-op that returns nil; a *pluginapi.Error with Retryable false means
// refused for good (unknown account, say); any other error means "try
// again later". The actions have passed pluginhost.CheckSubmission.
type ActionQueue interface {
	SubmitActions(ctx context.Context, plugin, account, key string, actions []pluginapi.Action) error
}

var _ pluginapi.ActionSubmitter = (*boundHost)(nil)

// SubmitActions checks the actions and hands them to the gateway's
// ActionQueue. Without one the call fails with errors.ErrUnsupported,
// which the plugin sees as "not available here, try later" rather than as
// a refusal of its actions.
func (h *boundHost) SubmitActions(ctx context.Context, account, key string, actions []pluginapi.Action) error {
	q, ok := h.svc.(ActionQueue)
	if !ok {
		return fmt.Errorf("plugin %q: submit actions: %w", h.plugin, errors.ErrUnsupported)
	}
	if len(actions) == 0 {
		return nil
	}
	if err := pluginhost.CheckSubmission(key, actions); err != nil {
		h.log.Warn("refused actions submitted by the plugin", "account", account, "key", key, "err", err)
		return err
	}
	return q.SubmitActions(ctx, h.plugin, account, key, actions)
}
