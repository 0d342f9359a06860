package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/storetest"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testDSN returns the server to test against. When WOGATE_TEST_POSTGRES is
// unset and the default server does not answer, the tests skip; when it is
// set (CI sets it), an unreachable server fails them.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn, set := os.LookupEnv("WOGATE_TEST_POSTGRES")
	if !set || dsn == "" {
		dsn = defaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if set {
			t.Fatalf("WOGATE_TEST_POSTGRES=%s is set but unreachable: %v", dsn, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set WOGATE_TEST_POSTGRES to require it): %v", defaultDSN, err)
	}
	_ = conn.Close(ctx)
	return dsn
}

// freshSchema names a schema no other test uses and drops it at cleanup.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "wogate_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func openSchema(t testing.TB, dsn, schema string, opts postgres.Options) *postgres.Store {
	t.Helper()
	opts.Schema = schema
	st, err := postgres.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSchema(t, dsn, freshSchema(t, dsn), postgres.Options{MaxConns: 4})
	}, storetest.WithReopen(func(t *testing.T) (store.Store, func(t *testing.T) store.Store) {
		schema := freshSchema(t, dsn)
		return openSchema(t, dsn, schema, postgres.Options{MaxConns: 4}), func(t *testing.T) store.Store {
			return openSchema(t, dsn, schema, postgres.Options{MaxConns: 4})
		}
	}))
}

func TestConformanceNoGroupCommit(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSchema(t, dsn, freshSchema(t, dsn), postgres.Options{MaxBatch: 1, MaxConns: 4})
	})
}
