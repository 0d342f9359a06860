package gateway

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// The store `gateway replay` (pkg/core/replay) reads, opened read-only.
// (The plugin specs and host are pkg/core/assemble's, the rules evaluator
// and the plugin error classification pkg/core/decide's.)

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
