package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// A read-only store reads what a running store writes, refuses every write,
// and neither creates nor migrates a database.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "wogate.db")
	if _, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open of a missing file: got %v, want not exist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open created %s (%v)", path, err)
	}

	rw := openAt(t, path, sqlite.Options{})
	e := &store.Event{Account: "acme", MessageID: "m1", WorkOrderID: 7, Action: "NewWorkOrder", Source: "webhook", Body: []byte(`{}`)}
	if _, err := rw.InsertEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	ro := openAt(t, path, sqlite.Options{ReadOnly: true})
	evs, err := ro.ListEvents(ctx, store.EventFilter{})
	if err != nil || len(evs) != 1 || evs[0].MessageID != "m1" {
		t.Fatalf("ListEvents on the read-only store: %+v, %v", evs, err)
	}
	// Written by the other connection after the read-only one opened.
	e2 := &store.Event{Account: "acme", MessageID: "m2", WorkOrderID: 7, Action: "CheckedIn", Source: "webhook", Body: []byte(`{}`)}
	if _, err := rw.InsertEvent(ctx, e2); err != nil {
		t.Fatal(err)
	}
	if n, err := ro.CountEvents(ctx, store.EventFilter{Account: "acme"}); err != nil || n != 2 {
		t.Fatalf("CountEvents after a concurrent insert: %d, %v", n, err)
	}
	if _, err := ro.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: "m3", Body: []byte(`{}`)}); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("InsertEvent on a read-only store: got %v, want ErrReadOnly", err)
	}
	if err := ro.IgnoreEvent(ctx, e.ID); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("IgnoreEvent on a read-only store: got %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := ro.GetEvent(ctx, e.ID); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("GetEvent after Close: %v", err)
	}

	// A file that is not a wogate store is refused, not migrated.
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(ctx, other, sqlite.Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "not a wogate store") {
		t.Fatalf("read-only open of an empty file: got %v", err)
	}
}
