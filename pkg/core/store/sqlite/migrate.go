package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// migrate applies the embedded migrations the database has not seen, each
// in its own transaction together with its schema_migrations row, so a crash
// mid-migration leaves the previous version intact. Running it again is a
// no-op.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := storeutil.LoadMigrations(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	todo, err := storeutil.Pending(ms, applied)
	if err != nil {
		return err
	}
	for _, m := range todo {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
		// A concurrent Open (another process) may have applied it while
		// this one waited for the write lock.
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
		if n > 0 {
			_ = tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d_%s: record: %w", m.Version, m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d_%s: commit: %w", m.Version, m.Name, err)
		}
	}
	return nil
}
