package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

func TestMigrationsIdempotentAndGuarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second Open applies nothing
		st, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var n, maxV int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != maxV {
		t.Fatalf("schema_migrations has %d rows up to version %d: applied twice?", n, maxV)
	}
	var mode string
	if err := db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	// A newer wogate migrated this file: refuse it.
	if _, err := db.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	_, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 999") {
		t.Fatalf("open with a future schema: %v", err)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := sqlite.Open(ctx, "", sqlite.Options{}); err == nil {
		t.Fatal("empty path accepted")
	}
	_, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"})
	if err == nil || !strings.Contains(err.Error(), "synchronous") {
		t.Fatalf("synchronous OFF: %v", err)
	}
}
