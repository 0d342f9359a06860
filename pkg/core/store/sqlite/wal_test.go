package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestWALTruncatedWhenIdle: once writes stop, the checkpointer empties
// the WAL file (it used to keep its high-water size for the store's life).
func TestWALTruncatedWhenIdle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wogate.db")
	st := openAt(t, path, sqlite.Options{Synchronous: "NORMAL", CheckpointInterval: 20 * time.Millisecond})
	body := make([]byte, 2048)
	for i := range 500 {
		if _, err := st.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: fmt.Sprintf("w-%d", i), WorkOrderID: int64(i),
			Action: "NewWorkOrder", ActionDate: time.Now(), Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	wal := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	deadline := time.Now().Add(10 * time.Second)
	for wal() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes 10 s after the last write", wal())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Data is intact and the store keeps working.
	if n, err := st.CountEvents(ctx, store.EventFilter{}); err != nil || n != 500 {
		t.Fatalf("count after truncation: %d, %v", n, err)
	}
	if _, err := st.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: "after", WorkOrderID: 1, Action: "NewWorkOrder",
		ActionDate: time.Now(), Body: body}); err != nil {
		t.Fatal(err)
	}
}
