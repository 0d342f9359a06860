package assemble

import (
	"sort"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
)

// PluginSpecs are the plugins cfg configures, sorted by name, as the
// plugin manager starts them: environment values resolved, the config
// file's directory as working directory, the supervisor block as crash
// handling.
func PluginSpecs(cfg *config.Config) []plugins.Spec {
	var specs []plugins.Spec
	for _, name := range sortedKeys(cfg.Plugins) {
		p := cfg.Plugins[name]
		var env []string
		for _, k := range sortedKeys(p.Env) {
			env = append(env, k+"="+p.Env[k].Value())
		}
		specs = append(specs, plugins.Spec{Name: name, Command: p.Command, Args: p.Args, Env: env, Dir: cfg.Dir, Config: p.Config,
			Timeout: p.Timeout, Concurrency: p.Concurrency, SHA256: p.SHA256,
			Supervisor: plugins.Supervisor{MaxCrashes: p.Supervisor.MaxCrashes, CrashWindow: p.Supervisor.Window,
				BackoffMin: p.Supervisor.BackoffInitial, BackoffMax: p.Supervisor.BackoffMax}})
	}
	return specs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
