package assemble

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// StoreCheck is what `gateway store check` found of the configured store.
type StoreCheck struct {
	// Driver is "sqlite" or "postgres"; Target the file, or the DSN
	// without its password.
	Driver, Target string
	// Check names what ran: SQLite's "integrity_check", or "schema" for
	// PostgreSQL.
	Check string
	// Problems found; none when the store is intact.
	Problems []string
	// Notes say what was checked and what was not.
	Notes    []string
	Duration time.Duration
}

// OK reports whether the check found nothing wrong.
func (c StoreCheck) OK() bool { return len(c.Problems) == 0 }

// CheckStore checks the configured store without migrating or writing it,
// which is safe next to a running gateway: SQLite runs the full
// integrity_check (every page, and every index against its table);
// PostgreSQL has its schema version and tables checked (postgres.Check).
// err is for a check that could not run.
func CheckStore(ctx context.Context, cfg *config.Config, schema string) (StoreCheck, error) {
	switch cfg.Store.Driver {
	case "", "sqlite":
		path := cfg.Store.DSN.Value()
		if path == "" {
			path = filepath.Join(cfg.DataDir, config.DefaultSQLiteFile)
		}
		r, err := sqlite.Check(ctx, path, true)
		if err != nil {
			return StoreCheck{}, err
		}
		return StoreCheck{Driver: "sqlite", Target: path, Check: r.Check, Problems: r.Problems, Duration: r.Duration,
			Notes: []string{fmt.Sprintf("%s of %d bytes (without the WAL)", r.Check, r.Bytes)}}, nil
	case "postgres":
		r, err := postgres.Check(ctx, cfg.Store.DSN.Value(), schema)
		if err != nil {
			return StoreCheck{}, fmt.Errorf("%s: %w", redactDSN(cfg.Store.DSN.Value()), err)
		}
		return StoreCheck{Driver: "postgres", Target: redactDSN(cfg.Store.DSN.Value()), Check: "schema",
			Problems: r.Problems, Notes: r.Notes, Duration: r.Duration}, nil
	}
	return StoreCheck{}, fmt.Errorf("check store: unknown driver %q", cfg.Store.Driver)
}

// redactDSN is a PostgreSQL DSN fit to print: a URL without its password,
// or, for the key=value form, no more than that it is one.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "the configured PostgreSQL database (store.dsn)"
	}
	return u.Redacted()
}
