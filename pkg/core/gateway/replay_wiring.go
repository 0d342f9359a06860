package gateway

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// The parts of the runtime `gateway replay` (pkg/core/replay) assembles on
// its own: the same plugin specs and plugin host as a running gateway,
// around a store opened read-only. (The rules evaluator and the plugin
// error classification are pkg/core/decide's.)

// OpenStoreReadOnly opens the configured store for reading only: SQLite
// through query-only connections, without migrating (the file must exist
// and be at this version's schema), which is safe next to a running
// gateway; PostgreSQL with read-only transactions. Every write fails with
// store.ErrReadOnly (SQLite) or a server error (PostgreSQL).
func OpenStoreReadOnly(ctx context.Context, cfg *config.Config, schema string) (store.Store, error) {
	switch cfg.Store.Driver {
	case "", "sqlite":
		path := cfg.Store.DSN.Value()
		if path == "" {
			path = filepath.Join(cfg.DataDir, config.DefaultSQLiteFile)
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, cfg.Store.DSN.Value(), postgres.Options{Schema: schema, ReadOnly: true, MaxConns: 4})
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("open store: unknown driver %q", cfg.Store.Driver)
}

// PluginSpecs are the plugins cfg configures, as the gateway starts them.
func PluginSpecs(cfg *config.Config) []plugins.Spec { return pluginSpecs(cfg) }

// NewPluginHost is the host services plugins call back into, as the
// gateway builds them, over the given work order reader, customer settings
// and key-value store.
func NewPluginHost(cfg *config.Config, reader CorrigoReader, settings SettingsReader, kv KV) plugins.HostServices {
	h := &hostServices{accounts: map[string]bool{}, reader: reader, settings: settings, kv: kv}
	for _, n := range accountNames(cfg) {
		h.accounts[n] = true
	}
	return h
}
