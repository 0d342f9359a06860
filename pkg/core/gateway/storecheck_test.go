package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// storeConfig is a gateway configuration whose SQLite store is
// <dir>/wogate.db, written with 2000 events of 1 KB; corrupt overwrites
// four pages in the middle of the file.
func storeConfig(t *testing.T, corrupt bool) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, config.DefaultSQLiteFile)
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		e := &store.Event{Account: "main", MessageID: "m-" + strconv.Itoa(i), WorkOrderID: int64(i%50 + 1),
			Action: "NewWorkOrder", ActionDate: time.Now(), Source: "webhook", Body: bytes.Repeat([]byte("y"), 1024)}
		if _, err := st.InsertEvent(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if corrupt {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 4))
		mid := len(b) / 4096 / 2 * 4096
		for i := mid; i < mid+4*4096; i++ {
			b[i] = byte(r.UintN(256))
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	y := fmt.Sprintf(`listen: 127.0.0.1:1
data_dir: %s
corrigo:
  accounts:
    main: {base_url: "http://127.0.0.1:1/Direct/", client_id: x, client_secret: y, polling: {enabled: false}, webhook: {disabled: true}}
admin: {listen: ""}
`, dir)
	cp := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cp, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cp)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A gateway refuses to start on a store with corrupt pages, saying what
// to do; CheckStore (gateway store check) names the damage.
func TestNewRefusesCorruptStore(t *testing.T) {
	cfg := storeConfig(t, true)
	var logs bytes.Buffer
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err == nil {
		g.closeAll()
		t.Fatal("the gateway started on a corrupt store")
	}
	var ce *sqlite.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("not a *sqlite.CorruptError: %v", err)
	}
	for _, want := range []string{"open store", cfg.Store.DSN.Value(), "corrupt", "restore the last backup", "gateway store check"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	r, err := assemble.CheckStore(context.Background(), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || r.Driver != "sqlite" || r.Check != "integrity_check" || r.Target != cfg.Store.DSN.Value() {
		t.Errorf("check of the corrupt store: %+v", r)
	}
}

func TestNewChecksIntactStore(t *testing.T) {
	cfg := storeConfig(t, false)
	var logs bytes.Buffer
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	g.closeAll()
	if !strings.Contains(logs.String(), "store quick_check ok") {
		t.Errorf("no quick_check line in the log:\n%s", logs.String())
	}
	r, err := assemble.CheckStore(context.Background(), cfg, "")
	if err != nil || !r.OK() {
		t.Errorf("check of the intact store: %+v, %v", r, err)
	}
	// Out of budget: the gateway starts, and says the file went unchecked.
	cfg.Store.SQLite.QuickCheckBudget = time.Nanosecond
	logs.Reset()
	if g, err = New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	g.closeAll()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "did not finish within its budget") {
		t.Errorf("no warning for an abandoned quick_check:\n%s", logs.String())
	}
}

func TestCheckStorePostgres(t *testing.T) {
	dsn := testPostgresDSN(t)
	schema := freshSchema(t, dsn)
	cfg := &config.Config{Store: config.StoreConfig{Driver: "postgres", DSN: config.Secret(dsn)}}
	ctx := context.Background()
	// An empty schema is no wogate store.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	r, err := assemble.CheckStore(ctx, cfg, schema)
	if err != nil || r.OK() || !strings.Contains(strings.Join(r.Problems, "\n"), "schema_migrations") {
		t.Errorf("check of an empty schema: %+v, %v", r, err)
	}
	st, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	r, err = assemble.CheckStore(ctx, cfg, schema)
	if err != nil || !r.OK() || r.Check != "schema" || !strings.HasPrefix(r.Target, "postgres://") {
		t.Errorf("check of a migrated schema: %+v, %v", r, err)
	}
	notes := strings.Join(r.Notes, "\n")
	for _, want := range []string{"migrations applied", "tables readable: 7 of 7", "data checksums", "pg_amcheck"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	// A migration this binary does not know is a problem.
	if _, err := conn.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES (999, 'future')"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	r, err = assemble.CheckStore(ctx, cfg, schema)
	if err != nil || r.OK() || !strings.Contains(strings.Join(r.Problems, "\n"), "upgrade wogate") {
		t.Errorf("check with a future migration: %+v, %v", r, err)
	}
	// Without a password in the output.
	cfg.Store.DSN = config.Secret("postgres://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=1")
	_, err = assemble.CheckStore(ctx, cfg, schema)
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("unreachable database: %v", err)
	}
}
