package gateway

import (
	"sort"

	"github.com/wogate/wogate/pkg/core/plugins"
)

// pluginProblems lists plugins that are not running, for /readyz.
func pluginProblems(m *plugins.Manager) []string {
	var out []string
	for name, h := range m.Health() {
		if h.State != plugins.StateRunning {
			msg := "plugin " + name + ": " + string(h.State)
			if h.LastError != "" {
				msg += ": " + h.LastError
			}
			out = append(out, msg)
		}
	}
	sort.Strings(out)
	return out
}
