package host_test

import (
	"errors"
	"testing"

	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/host"
	"github.com/wogate/wogate/pkg/pluginapi/internal/wire"
)

func TestCheckSubmission(t *testing.T) {
	long := make([]byte, pluginapi.MaxSubmitKeyBytes+1)
	for i := range long {
		long[i] = 'k'
	}
	many := make([]pluginapi.Action, pluginapi.MaxSubmitActions+1)
	for i := range many {
		many[i] = pluginapi.Action{Kind: pluginapi.KindCheckIn, WorkOrderID: 1}
	}
	cases := []struct {
		name    string
		key     string
		actions []pluginapi.Action
		want    string
	}{
		{"ok", "k", []pluginapi.Action{{Kind: pluginapi.KindCheckIn, WorkOrderID: 1}}, ""},
		{"empty", "", nil, ""},
		{"no work order", "k", []pluginapi.Action{{Kind: pluginapi.KindCheckIn}}, "submit actions: action 0 (check_in) names no work order (WorkOrderID 0)"},
		{"negative work order", "k", []pluginapi.Action{{Kind: pluginapi.KindCheckIn, WorkOrderID: 1}, {Kind: pluginapi.KindPause, WorkOrderID: -3}}, "submit actions: action 1 (pause) names no work order (WorkOrderID -3)"},
		{"invalid", "k", []pluginapi.Action{{Kind: pluginapi.KindReject, WorkOrderID: 1}}, "submit actions: action 0: reject needs a Comment: CorrigoPro requires a reason"},
		{"unknown kind", "k", []pluginapi.Action{{Kind: "teleport", WorkOrderID: 1}}, `submit actions: action 0: unknown action kind "teleport"`},
		{"long key", string(long), nil, "submit actions: key is 201 bytes; the limit is 200"},
		{"too many", "k", many, "submit actions: 101 actions in one call; the limit is 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := host.CheckSubmission(tc.key, tc.actions)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *pluginapi.Error
			if !errors.As(err, &pe) || pe.Retryable || err.Error() != tc.want {
				t.Fatalf("got %v (%T), want non-retryable %q", err, err, tc.want)
			}
		})
	}
}

// The SDK's exported constants restate the ones both sides use.
func TestConstantsAgree(t *testing.T) {
	if pluginapi.ProtocolVersion != wire.ProtocolVersion || pluginapi.DefaultMaxMessageSize != wire.DefaultMaxMessageSize {
		t.Fatalf("pluginapi %d/%d, wire %d/%d", pluginapi.ProtocolVersion, pluginapi.DefaultMaxMessageSize, wire.ProtocolVersion, wire.DefaultMaxMessageSize)
	}
	if _, ok := host.VersionedPlugins(0)[pluginapi.ProtocolVersion][host.DispenseName]; !ok {
		t.Fatal("VersionedPlugins lacks the SDK's protocol version")
	}
}
