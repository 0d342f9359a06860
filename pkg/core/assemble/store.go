package assemble

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// StoreOptions tune OpenStore beyond the configuration.
type StoreOptions struct {
	// ReadOnly opens the store for reading only: SQLite through
	// query-only connections, without migrating (the file must exist and
	// be at this version's schema), which is safe next to a running
	// gateway; PostgreSQL with read-only transactions. Every write fails
	// with store.ErrReadOnly (SQLite) or a server error (PostgreSQL).
	ReadOnly bool
	// SQLiteSynchronous overrides the SQLite store's synchronous setting
	// (FULL by default).
	SQLiteSynchronous string
	// PostgresSchema puts the PostgreSQL store's tables in this schema;
	// default the search_path.
	PostgresSchema string
	// Exclusive opens a read-write SQLite store for one gateway alone: a
	// second process on the same file is refused, and the leases a killed
	// predecessor left are taken back at once (sqlite.Options.Exclusive).
	Exclusive bool
	// Logger, if set, is told what a read-write SQLite store's
	// open-time quick_check did (store.sqlite.quick_check).
	Logger *slog.Logger
}

// OpenStore opens the store cfg configures (store.driver): the SQLite
// file (store.dsn, default data_dir/wogate.db) or the PostgreSQL database
// several gateway replicas share (leases keep them apart). Read-write, it
// runs the migrations and commits concurrent writes in groups
// (store.group_commit).
func OpenStore(ctx context.Context, cfg *config.Config, o StoreOptions) (store.Store, error) {
	var (
		st  store.Store
		err error
	)
	switch cfg.Store.Driver {
	case "", "sqlite":
		path := cfg.Store.DSN.Value()
		if path == "" {
			path = filepath.Join(cfg.DataDir, config.DefaultSQLiteFile)
		}
		so := sqlite.Options{MaxBatch: cfg.Store.GroupCommit.MaxBatch, MaxWait: cfg.Store.GroupCommit.MaxWait, Synchronous: o.SQLiteSynchronous,
			Exclusive: o.Exclusive, QuickCheck: cfg.Store.SQLite.QuickCheck, QuickCheckBudget: cfg.Store.SQLite.QuickCheckBudget}
		if o.ReadOnly {
			so = sqlite.Options{ReadOnly: true}
		}
		sq, serr := sqlite.Open(ctx, path, so)
		if serr != nil {
			return nil, fmt.Errorf("open store: %w", serr)
		}
		if !o.ReadOnly {
			logOpenCheck(o.Logger, sq.Path(), sq.OpenCheck())
		}
		return sq, nil
	case "postgres":
		po := postgres.Options{Schema: o.PostgresSchema, MaxBatch: cfg.Store.GroupCommit.MaxBatch, MaxWait: cfg.Store.GroupCommit.MaxWait}
		if o.ReadOnly {
			po = postgres.Options{Schema: o.PostgresSchema, ReadOnly: true, MaxConns: 4}
		}
		st, err = postgres.Open(ctx, cfg.Store.DSN.Value(), po)
	default:
		return nil, fmt.Errorf("open store: unknown driver %q", cfg.Store.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// logOpenCheck says what the SQLite store's open-time quick_check did: a
// check abandoned for its budget is a warning (the file was not checked in
// full), one that ran is an info line with its duration.
func logOpenCheck(log *slog.Logger, path string, oc sqlite.OpenCheck) {
	if log == nil {
		return
	}
	switch {
	case oc.Mode == sqlite.QuickCheckOff:
		log.Info("store quick_check is off (store.sqlite.quick_check)", "path", path)
	case !oc.Complete:
		log.Warn("store quick_check did not finish within its budget and was abandoned; the file is served unchecked. "+
			"Run `gateway store check` during a quiet hour, or set store.sqlite.quick_check: always (or a larger quick_check_budget)",
			"path", path, "bytes", oc.Bytes, "budget", oc.Budget)
	default:
		log.Info("store quick_check ok", "path", path, "bytes", oc.Bytes, "duration", oc.Duration.Round(time.Millisecond))
	}
}
