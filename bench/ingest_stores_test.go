package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/ingest"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// nopInserter accepts every event without storing it: the same webhook
// handler with the storage taken out, the baseline of the ratios in
// docs/reliability.md.
type nopInserter struct{ n atomic.Int64 }

func (s *nopInserter) InsertEvent(_ context.Context, e *store.Event) (bool, error) {
	e.ID = s.n.Add(1)
	return true, nil
}

// webhookHandler is the gateway's webhook endpoint (cached token check,
// bounded read, decode, insert, 2xx) over st.
func webhookHandler(tb testing.TB, check func(string) (string, error), st ingest.Inserter) http.Handler {
	h, err := ingest.NewWebhook(ingest.WebhookOptions{Account: "main", Verify: check, Store: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stats: &ingest.Stats{}})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// postgresDSN is WOGATE_TEST_POSTGRES; the PostgreSQL cases are skipped
// without it.
func postgresDSN(b *testing.B) string {
	dsn := os.Getenv("WOGATE_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("WOGATE_TEST_POSTGRES is not set")
	}
	return dsn
}

// openPostgresBench opens a store in a fresh schema, dropped afterwards.
func openPostgresBench(b *testing.B, opts postgres.Options) store.Store {
	dsn := postgresDSN(b)
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	opts.Schema = "wogate_bench_" + hex.EncodeToString(buf)
	st, err := postgres.Open(context.Background(), dsn, opts)
	if err != nil {
		b.Fatalf("open postgres: %v", err)
	}
	b.Cleanup(func() {
		_ = st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Errorf("drop schema: %v", err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+opts.Schema+" CASCADE"); err != nil {
			b.Errorf("drop schema: %v", err)
		}
	})
	return st
}

// BenchmarkIngestStores measures the gateway's webhook endpoint over real
// loopback HTTP with 32 concurrent senders, first without storage, then
// with the durable store (group commit, and one commit per event for
// comparison) on SQLite (synchronous FULL, the default) and PostgreSQL.
// The 2xx is sent only after the event is committed.
//
//	WOGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./bench -run '^$' -bench IngestStores -benchtime 10000x -count 3
func BenchmarkIngestStores(b *testing.B) {
	const clients = 32
	sg := newSigner(b)
	cached := func() func(string) (string, error) {
		return (&tokenCache{v: sg.verifier, ok: map[string]time.Time{}}).Check
	}
	sqliteStore := func(b *testing.B, opts sqlite.Options) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		return st
	}
	cases := []struct {
		name  string
		store func(b *testing.B) ingest.Inserter
	}{
		{"nostore", func(b *testing.B) ingest.Inserter { return &nopInserter{} }},
		{"sqlite/group", func(b *testing.B) ingest.Inserter { return sqliteStore(b, sqlite.Options{}) }},
		{"sqlite/percommit", func(b *testing.B) ingest.Inserter { return sqliteStore(b, sqlite.Options{MaxBatch: 1}) }},
		{"postgres/group", func(b *testing.B) ingest.Inserter { return openPostgresBench(b, postgres.Options{}) }},
		{"postgres/percommit", func(b *testing.B) ingest.Inserter {
			return openPostgresBench(b, postgres.Options{MaxBatch: 1, MaxConns: clients})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(webhookHandler(b, cached(), c.store(b)))
			defer srv.Close()
			postAll(b, srv.URL+"/webhooks/corrigo/main", sg.token, clients)
		})
	}
}
