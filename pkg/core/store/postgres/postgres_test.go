package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
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
		defer func() { _ = conn.Close(ctx) }()
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

// MaxBatch 1 changes only how InsertEvent reaches the database.
func TestConformanceNoGroupCommit(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSchema(t, dsn, freshSchema(t, dsn), postgres.Options{MaxBatch: 1, MaxConns: 4})
	}, storetest.Only("InsertAndDedup", "InsertRejectsBadInput", "OddStrings", "ConcurrentInsert", "ConcurrentWorkers", "Closed"))
}

func TestMigrationsConcurrentAndGuarded(t *testing.T) {
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	ctx := context.Background()
	// Replicas starting together: the advisory lock makes them migrate once.
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			st, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema, MaxConns: 2})
			if err == nil {
				err = st.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n, maxV int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM "+schema+".schema_migrations").Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != maxV {
		t.Fatalf("schema_migrations has %d rows up to version %d", n, maxV)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES (999, 'future')"); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, dsn, postgres.Options{Schema: schema})
	if err == nil || !strings.Contains(err.Error(), "schema version 999") {
		t.Fatalf("open with a future schema: %v", err)
	}
	if _, err := postgres.Open(ctx, dsn, postgres.Options{Schema: "Bad-Name"}); err == nil {
		t.Fatal("bad schema name accepted")
	}
}

// Two stores on one schema stand for two replicas: claims from both never
// hand out the same lane twice.
func TestReplicasShareLanes(t *testing.T) {
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	a := openSchema(t, dsn, schema, postgres.Options{MaxConns: 4})
	b := openSchema(t, dsn, schema, postgres.Options{MaxConns: 4})
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		e := &store.Event{Account: "acme", MessageID: fmt.Sprintf("m%d", i), WorkOrderID: int64(i % 10)}
		// Alternate replicas; redeliver each message to the other one.
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		if ok, err := first.InsertEvent(ctx, e); err != nil || !ok {
			t.Fatalf("insert: %v, %v", ok, err)
		}
		if ok, err := second.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: e.MessageID, WorkOrderID: e.WorkOrderID}); err != nil || ok {
			t.Fatalf("redelivery to the other replica: %v, %v", ok, err)
		}
	}
	type claim struct {
		evs []store.Event
		err error
	}
	ch := make(chan claim, 2)
	for _, st := range []*postgres.Store{a, b} {
		go func() {
			evs, err := st.ClaimEvents(ctx, fmt.Sprintf("%p", st), time.Minute, 10)
			ch <- claim{evs, err}
		}()
	}
	lanes := map[int64]bool{}
	for i := 0; i < 2; i++ {
		c := <-ch
		if c.err != nil {
			t.Fatal(c.err)
		}
		for _, e := range c.evs {
			if lanes[e.WorkOrderID] {
				t.Fatalf("lane %d claimed by both replicas", e.WorkOrderID)
			}
			lanes[e.WorkOrderID] = true
		}
	}
	if len(lanes) != 10 {
		t.Fatalf("claimed %d lanes between the replicas, want all 10", len(lanes))
	}
}
