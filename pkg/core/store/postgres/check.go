package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// CheckResult is what Check found.
type CheckResult struct {
	// Problems found; none when the schema is as this binary expects.
	Problems []string
	// Notes say what was checked and what was not.
	Notes []string
	// Duration is how long the check ran.
	Duration time.Duration
}

// OK reports whether the check found nothing wrong.
func (r CheckResult) OK() bool { return len(r.Problems) == 0 }

// checkedTables are wogate's tables; each must be readable.
var checkedTables = []string{"events", "actions", "lanes", "comm_log", "kv", "watermarks", "schema_migrations"}

// Check is `gateway store check` for PostgreSQL. Page-level integrity is
// PostgreSQL's own business (data checksums, pg_amcheck), so it checks
// what wogate owns: that schema_migrations holds every migration of this
// binary and none it does not know, and that each table can be read. It
// writes nothing (a read-only transaction) and reports whether the cluster
// has data checksums on. err is for a check that could not run (no
// connection).
func Check(ctx context.Context, dsn, schema string) (CheckResult, error) {
	start := time.Now()
	var r CheckResult
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return r, fmt.Errorf("check postgres store: parse dsn: %w", err)
	}
	if schema != "" {
		if !schemaName.MatchString(schema) {
			return r, fmt.Errorf("check postgres store: schema %q is not a plain identifier", schema)
		}
		cfg.RuntimeParams["search_path"] = schema
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return r, fmt.Errorf("check postgres store: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }() // read-only session
	ms, err := storeutil.LoadMigrations(migrationsFS, "migrations")
	if err != nil {
		return r, err
	}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	var versions []int
	if err == nil {
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		if ctx.Err() != nil {
			return r, fmt.Errorf("check postgres store: %w", ctx.Err())
		}
		r.Problems = append(r.Problems, fmt.Sprintf("read schema_migrations: %v (not a wogate store, or another schema: --schema)", err))
		r.Duration = time.Since(start)
		return r, nil
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	if pending, err := storeutil.Pending(ms, applied); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		for _, m := range pending {
			r.Problems = append(r.Problems, fmt.Sprintf("migration %d_%s is not applied: start the gateway of this version once to migrate", m.Version, m.Name))
		}
	}
	for _, t := range checkedTables {
		var one int
		err := conn.QueryRow(ctx, "SELECT 1 FROM "+pgx.Identifier{t}.Sanitize()+" LIMIT 1").Scan(&one)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			r.Problems = append(r.Problems, fmt.Sprintf("table %s: %v", t, err))
		}
	}
	r.Notes = append(r.Notes, fmt.Sprintf("schema: %d migrations applied, latest %d_%s", len(versions), ms[len(ms)-1].Version, ms[len(ms)-1].Name),
		fmt.Sprintf("tables readable: %d of %d", len(checkedTables)-countPrefix(r.Problems, "table "), len(checkedTables)))
	var sums string
	if err := conn.QueryRow(ctx, "SHOW data_checksums").Scan(&sums); err == nil {
		if sums == "on" {
			r.Notes = append(r.Notes, "data checksums: on (PostgreSQL verifies every page it reads)")
		} else {
			r.Notes = append(r.Notes, "data checksums: "+sums+" (damaged pages go unnoticed until read; consider initdb --data-checksums)")
		}
	}
	r.Notes = append(r.Notes, "page and index integrity is not checked here: run pg_amcheck (PostgreSQL 14+) on the database")
	r.Duration = time.Since(start)
	return r, nil
}

func countPrefix(ss []string, prefix string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
