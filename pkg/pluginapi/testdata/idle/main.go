// Command idle is the plugin of the SDK's process tests (hostwatch_test.go):
// it describes itself and answers every event with no actions, and writes
// its pid to $WOGATE_TEST_PIDFILE when that is set.
package main

import (
	"context"
	"os"
	"strconv"

	"github.com/wogate/wogate/pkg/pluginapi"
)

type idle struct{}

func (idle) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{Name: "idle", Version: "1"}, nil
}

func (idle) ValidateConfig(context.Context, map[string]any) []pluginapi.ConfigError { return nil }

func (idle) Configure(context.Context, map[string]any, pluginapi.Host) error { return nil }

func (idle) HandleEvent(context.Context, pluginapi.Event) ([]pluginapi.Action, error) {
	return nil, nil
}

func (idle) Stop(context.Context) error { return nil }

func main() {
	if f := os.Getenv("WOGATE_TEST_PIDFILE"); f != "" {
		if err := os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			panic(err)
		}
	}
	pluginapi.Serve(idle{})
}
