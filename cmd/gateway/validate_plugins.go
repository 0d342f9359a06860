package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
)

// pluginValidateTimeout bounds one plugin's launch + Describe +
// ValidateConfig in `gateway validate`: a plugin that hangs is reported,
// not waited on forever.
const pluginValidateTimeout = 30 * time.Second

func init() { validatePlugins = validatePluginConfigs }

// validatePluginConfigs has every configured plugin check its own config
// section, the same check `gateway run` does at start (launch, Describe,
// ValidateConfig, stop), so a bad template or a missing binary is found in
// CI instead of at deploy. Plugins are checked in parallel; each problem
// comes back positioned at plugins.<name>.config.<key> (or at
// plugins.<name>.command when the binary cannot be run).
func validatePluginConfigs(ctx context.Context, cfg *config.Config) []config.ErrorEntry {
	m := plugins.NewManager(nil, slog.New(slog.DiscardHandler))
	defer func() { _ = m.Close(context.Background()) }()
	names := make([]string, 0, len(cfg.Plugins))
	for n := range cfg.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	results := make([][]config.ErrorEntry, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { results[i] = validateOnePlugin(ctx, m, cfg, name) })
	}
	wg.Wait()
	var out []config.ErrorEntry
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

func validateOnePlugin(ctx context.Context, m *plugins.Manager, cfg *config.Config, name string) []config.ErrorEntry {
	p := cfg.Plugins[name]
	cmdKey := "plugins." + name + ".command"
	if _, err := exec.LookPath(p.Command); err != nil {
		msg := fmt.Sprintf("plugin %q: cannot run command %q: %v", name, p.Command, unwrapExec(err))
		if cfg.Dir != "" && strings.HasPrefix(p.Command, cfg.Dir+string(filepath.Separator)) {
			// The loader anchored a relative command at the config's
			// directory; say so, in case it was meant for the cwd.
			msg += " (a relative command is relative to the config file's directory)"
		}
		return []config.ErrorEntry{cfg.Entry(cmdKey, msg)}
	}
	ctx, cancel := context.WithTimeout(ctx, pluginValidateTimeout)
	defer cancel()
	ces, err := m.Validate(ctx, plugins.Spec{Name: name, Command: p.Command, Args: p.Args, Dir: cfg.Dir, Config: p.Config,
		Timeout: p.Timeout, Concurrency: p.Concurrency, SHA256: p.SHA256})
	if err != nil {
		// The manager's errors already name the plugin; add the command
		// when they do not.
		msg := err.Error()
		if !strings.Contains(msg, p.Command) {
			msg = fmt.Sprintf("%s (command %q)", msg, p.Command)
		}
		if !strings.Contains(msg, fmt.Sprintf("%q", name)) {
			msg = fmt.Sprintf("plugin %q: %s", name, msg)
		}
		return []config.ErrorEntry{cfg.Entry(cmdKey, msg)}
	}
	out := make([]config.ErrorEntry, 0, len(ces))
	for _, ce := range ces {
		key := "plugins." + name + ".config"
		if ce.Key != "" {
			key += "." + ce.Key
		}
		out = append(out, cfg.Entry(key, ce.Message))
	}
	return out
}

// unwrapExec drops exec's own "exec: \"x\": " prefix, which repeats the
// command the message already names.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}
