package decide

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func TestClassifyPluginError(t *testing.T) {
	tests := []struct {
		err  error
		want dispatch.Verdict
	}{
		{fmt.Errorf("call: %w", plugins.ErrUnavailable), dispatch.Retry},
		{fmt.Errorf("call: %w", plugins.ErrTimeout), dispatch.Retry},
		{fmt.Errorf("call: %w", plugins.ErrUnknownPlugin), dispatch.Park},
		{fmt.Errorf("plugin: %w", pluginapi.RetryLater(errors.New("erp down"))), dispatch.Retry},
		{fmt.Errorf("plugin: %w", pluginapi.Permanent(errors.New("bad site"))), dispatch.Dead},
		{fmt.Errorf("plugin: %w", pluginapi.NeedsPerson(errors.New("no site for 77"))), dispatch.Park},
		// NeedsPerson wins over Retryable: a person must act first.
		{fmt.Errorf("plugin: %w", &pluginapi.Error{Message: "x", Retryable: true, NeedsPerson: true}), dispatch.Park},
		{errors.New("something else"), dispatch.Retry},
	}
	for _, tc := range tests {
		if got := ClassifyPluginError(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
