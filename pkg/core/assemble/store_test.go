package assemble

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
)

// OpenStore opens the configured SQLite file (default data_dir/wogate.db)
// read-write, creating it, and read-only next to it, where every write
// fails with store.ErrReadOnly; a read-only open never creates the file.
func TestOpenStoreSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir, Store: config.StoreConfig{Driver: "sqlite"}}
	missing := &config.Config{DataDir: filepath.Join(dir, "none"), Store: config.StoreConfig{Driver: "sqlite"}}
	if _, err := OpenStore(ctx, missing, StoreOptions{ReadOnly: true}); err == nil || !strings.HasPrefix(err.Error(), "open store: ") {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
	rw, err := OpenStore(ctx, cfg, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rw.Close() }()
	if err := rw.KVPut(ctx, "p", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, config.DefaultSQLiteFile)); err != nil {
		t.Fatalf("store file: %v", err)
	}
	ro, err := OpenStore(ctx, cfg, StoreOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ro.Close() }()
	if v, ok, err := ro.KVGet(ctx, "p", "k"); err != nil || !ok || string(v) != "v" {
		t.Fatalf("read-only KVGet = %q %v %v", v, ok, err)
	}
	if err := ro.KVPut(ctx, "p", "k", []byte("w")); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("read-only write: %v, want store.ErrReadOnly", err)
	}
}

func TestOpenStoreUnknownDriver(t *testing.T) {
	_, err := OpenStore(context.Background(), &config.Config{Store: config.StoreConfig{Driver: "mysql"}}, StoreOptions{})
	if err == nil || err.Error() != `open store: unknown driver "mysql"` {
		t.Fatalf("err = %v", err)
	}
}
