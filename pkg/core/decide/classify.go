package decide

import (
	"errors"

	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// ClassifyPluginError maps plugin host errors to dispatch verdicts. A
// plugin that is restarting, quarantined or slow is retried (bounded by
// delivery.max_attempts); a plugin that says the event can never succeed
// (pluginapi.Permanent) sends it to the dead letters at once; a plugin
// that says a person must act first (pluginapi.NeedsPerson) parks it with
// its reason; a rule naming a plugin that is not running needs a person to
// fix the config, so the event is parked too.
func ClassifyPluginError(err error) dispatch.Verdict {
	var pe *pluginapi.Error
	switch {
	case errors.Is(err, plugins.ErrUnknownPlugin), errors.Is(err, plugins.ErrNoInbound):
		return dispatch.Park
	case errors.Is(err, plugins.ErrUnavailable), errors.Is(err, plugins.ErrTimeout):
		return dispatch.Retry
	case errors.As(err, &pe):
		if pe.NeedsPerson {
			return dispatch.Park
		}
		if pe.Retryable {
			return dispatch.Retry
		}
		return dispatch.Dead
	}
	return dispatch.Retry
}
