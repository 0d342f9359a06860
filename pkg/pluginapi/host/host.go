// Package host is the gateway's side of the wogate plugin protocol: the
// go-plugin handshake and plugin sets a host starts plugins with, and
// Remote, a plugin as the host sees it. It is for the gateway (and for
// tests that stand in for it), not for plugin authors: a plugin needs
// package pluginapi only, and tests it with pluginapi/plugintest.
//
// It lives in the SDK's module because it must speak exactly the protocol
// the SDK's plugins speak; a host built against a given SDK version talks
// to plugins built against it and, through version negotiation, to older
// ones.
package host

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/internal/wire"
)

// Handshake is the go-plugin handshake shared by the gateway and every
// plugin. The cookie is not a secret: it only keeps a plugin binary from
// running as a normal program and tells the gateway that a binary it
// starts is a wogate plugin.
var Handshake = wire.Handshake

// DispenseName is the name the plugin is dispensed under in go-plugin.
const DispenseName = wire.DispenseName

// Remote is a plugin as a host sees it: the Plugin calls over the wire,
// with transport failures (gRPC status errors; codes.Unavailable means the
// process is gone) kept apart from errors the plugin reports
// (*pluginapi.Error) and config problems (pluginapi.ConfigErrors).
type Remote interface {
	Describe(ctx context.Context) (pluginapi.RemoteInfo, error)
	ValidateConfig(ctx context.Context, cfg map[string]any) ([]pluginapi.ConfigError, error)
	// Configure sends the config and serves host to the plugin (once per
	// process; later calls reuse the first host). instance is the name the
	// plugin has in the gateway's config.
	Configure(ctx context.Context, instance string, cfg map[string]any, host pluginapi.Host) error
	HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error)
	HandleInbound(ctx context.Context, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error)
	Stop(ctx context.Context) error
	// Ping checks the plugin's gRPC health service.
	Ping(ctx context.Context) error
	// Done is closed when the plugin process has exited.
	Done() <-chan struct{}
}

// PluginSet is the go-plugin plugin set for protocol v1. A plugin process
// serves impl; a host passes nil. Passing a real impl on the host side
// serves it in process (go-plugin's TestPluginGRPCConn), as plugintest
// does. maxMessageSize ≤ 0 means pluginapi.DefaultMaxMessageSize.
// Dispensing DispenseName from it yields a Remote.
func PluginSet(impl pluginapi.Plugin, maxMessageSize int) plugin.PluginSet {
	var p any // a nil impl is a nil any, not a typed nil
	if impl != nil {
		p = impl
	}
	return wire.PluginSet(p, maxMessageSize)
}

// VersionedPlugins returns what a host passes to go-plugin's
// ClientConfig.VersionedPlugins: every protocol version this SDK speaks.
func VersionedPlugins(maxMessageSize int) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{wire.ProtocolVersion: PluginSet(nil, maxMessageSize)}
}

// GRPCDialOptions are the dial options a host should add to go-plugin's
// ClientConfig.GRPCDialOptions so its message limits match the plugin's.
func GRPCDialOptions(maxMessageSize int) []grpc.DialOption {
	n := wire.MaxMessageSize(maxMessageSize)
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(n), grpc.MaxCallSendMsgSize(n))}
}

// Dispense gets the Remote from a started go-plugin client protocol.
func Dispense(cp plugin.ClientProtocol) (Remote, error) {
	raw, err := cp.Dispense(DispenseName)
	if err != nil {
		return nil, fmt.Errorf("dispense plugin: %w", err)
	}
	r, ok := raw.(Remote)
	if !ok {
		return nil, fmt.Errorf("dispense plugin: unexpected type %T", raw)
	}
	return r, nil
}

// SlogLevel maps a level name as used by Host.Log ("debug", "info",
// "warn", "error"; anything else is info) to a slog.Level. Hosts use it to
// re-log plugin lines.
func SlogLevel(level string) slog.Level { return wire.SlogLevel(level) }

// CheckSubmission checks a SubmitActions call the way every gateway must
// before queueing it: a key of at most pluginapi.MaxSubmitKeyBytes, at
// most pluginapi.MaxSubmitActions actions, each naming its work order and
// passing Validate. The error is a non-retryable *pluginapi.Error naming
// the first problem.
func CheckSubmission(key string, actions []pluginapi.Action) error {
	if len(key) > pluginapi.MaxSubmitKeyBytes {
		return &pluginapi.Error{Message: fmt.Sprintf("submit actions: key is %d bytes; the limit is %d", len(key), pluginapi.MaxSubmitKeyBytes)}
	}
	if len(actions) > pluginapi.MaxSubmitActions {
		return &pluginapi.Error{Message: fmt.Sprintf("submit actions: %d actions in one call; the limit is %d", len(actions), pluginapi.MaxSubmitActions)}
	}
	for i, a := range actions {
		if a.WorkOrderID <= 0 {
			return &pluginapi.Error{Message: fmt.Sprintf("submit actions: action %d (%s) names no work order (WorkOrderID %d)", i, a.Kind, a.WorkOrderID)}
		}
		if err := a.Validate(); err != nil {
			return &pluginapi.Error{Message: fmt.Sprintf("submit actions: action %d: %v", i, err)}
		}
	}
	return nil
}
