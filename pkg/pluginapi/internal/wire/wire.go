// Package wire holds what the plugin side (package pluginapi) and the host
// side (package pluginapi/host) of the plugin protocol must agree on: the
// go-plugin handshake, the dispense name, the gRPC message limits, and the
// plugin set, which pluginapi implements and registers here so that the
// host package can dispense it without pluginapi exporting go-plugin
// plumbing to plugin authors.
package wire

import (
	"log/slog"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the newest plugin protocol version (proto package
// wogate.plugin.v1); pluginapi.ProtocolVersion restates it.
const ProtocolVersion = 1

// DispenseName is the name the plugin is dispensed under in go-plugin.
const DispenseName = "wogate"

// DefaultMaxMessageSize bounds every gRPC message between gateway and
// plugin, both ways; pluginapi.DefaultMaxMessageSize restates it.
const DefaultMaxMessageSize = 16 << 20

// Handshake is the go-plugin handshake shared by the gateway and every
// plugin. The cookie is not a secret: it only keeps a plugin binary from
// running as a normal program and tells the gateway that a binary it
// starts is a wogate plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "WOGATE_PLUGIN_COOKIE",
	MagicCookieValue: "4f6c2b1e-wogate-plugin-9d3a7c55",
}

// PluginSet returns the go-plugin plugin set for protocol v1: impl is the
// pluginapi.Plugin a plugin process serves, or nil on a host. Dispensing
// DispenseName from it on a host yields a value implementing host.Remote.
// Package pluginapi sets it in its init; package host imports pluginapi,
// so it is always set before use.
var PluginSet func(impl any, maxMessageSize int) plugin.PluginSet

// MaxMessageSize returns n, or DefaultMaxMessageSize when n ≤ 0.
func MaxMessageSize(n int) int {
	if n <= 0 {
		return DefaultMaxMessageSize
	}
	return n
}

// ServerOptions adds the message limits to a gRPC server's options.
func ServerOptions(maxMsg int, opts []grpc.ServerOption) []grpc.ServerOption {
	return append(opts, grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(maxMsg))
}

// SlogLevel maps a level name as used by Host.Log ("debug", "info",
// "warn", "error"; anything else is info) to a slog.Level.
func SlogLevel(level string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "err":
		return slog.LevelError
	}
	return slog.LevelInfo
}
