// Command future is a wogate plugin that only speaks protocol version 99,
// as a plugin built for a much newer gateway would. Tests use it to check
// that version negotiation fails with a clear error.
package main

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

type future struct{}

func (future) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{Name: "future", Version: "99.0.0"}, nil
}
func (future) ValidateConfig(context.Context, map[string]any) []pluginapi.ConfigError { return nil }
func (future) Configure(context.Context, map[string]any, pluginapi.Host) error        { return nil }
func (future) HandleEvent(context.Context, pluginapi.Event) ([]pluginapi.Action, error) {
	return nil, nil
}
func (future) Stop(context.Context) error { return nil }

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  pluginhost.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{99: pluginhost.PluginSet(future{}, 0)},
		GRPCServer:       func(o []grpc.ServerOption) *grpc.Server { return grpc.NewServer(o...) },
		Logger:           hclog.New(&hclog.LoggerOptions{JSONFormat: true, Level: hclog.Warn}),
	})
}
