package commlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// TestWriterFillsCustomer: entries that name a work order get its number
// and customer, from an earlier entry that carried them or from Lookup;
// a failed or empty lookup is not repeated within MissTTL.
func TestWriterFillsCustomer(t *testing.T) {
	now := time.Now()
	calls := map[int64]int{}
	dir := NewDirectory(DirectoryOptions{
		Now:     func() time.Time { return now },
		MissTTL: time.Minute,
		Lookup: func(_ context.Context, account string, id int64) (WorkOrderInfo, bool, error) {
			calls[id]++
			switch {
			case account == "main" && id == 2:
				return WorkOrderInfo{Number: "HRG20002", Customer: "Harbor Retail Group"}, true, nil
			case id == 3:
				return WorkOrderInfo{}, false, errors.New("store down")
			}
			return WorkOrderInfo{}, false, nil
		},
	})
	st := &memAppender{}
	w := New(st, Options{Batch: 100, Flush: time.Hour, Directory: dir, Logger: quiet()})
	w.Add(store.LogEntry{Account: "main", WorkOrderID: 1, WorkOrderNumber: "FAB1", Customer: "Fabrikam Foods", Direction: "inbound"})
	w.Add(store.LogEntry{Account: "main", WorkOrderID: 1, Direction: "outbound"}) // from the entry before
	w.Add(store.LogEntry{Account: "main", WorkOrderID: 2, Direction: "outbound"}) // from Lookup
	w.Add(store.LogEntry{Account: "main", WorkOrderID: 2, Direction: "inbound"})  // cached: no second lookup
	w.Add(store.LogEntry{Account: "other", WorkOrderID: 1, Direction: "outbound"})
	w.Add(store.LogEntry{Account: "main", WorkOrderID: 3, Direction: "outbound"})
	w.Add(store.LogEntry{Account: "main", WorkOrderID: 3, Direction: "outbound"}) // miss cached
	w.Add(store.LogEntry{Account: "main", Direction: "outbound"})                 // no work order: untouched
	w.Close()
	want := []struct{ number, customer string }{
		{"FAB1", "Fabrikam Foods"}, {"FAB1", "Fabrikam Foods"},
		{"HRG20002", "Harbor Retail Group"}, {"HRG20002", "Harbor Retail Group"},
		{"", ""}, {"", ""}, {"", ""}, {"", ""},
	}
	es := st.entries()
	if len(es) != len(want) {
		t.Fatalf("wrote %d entries, want %d", len(es), len(want))
	}
	for i, w := range want {
		if es[i].WorkOrderNumber != w.number || es[i].Customer != w.customer {
			t.Errorf("entry %d (%s wo %d): number %q customer %q, want %q %q", i, es[i].Account, es[i].WorkOrderID,
				es[i].WorkOrderNumber, es[i].Customer, w.number, w.customer)
		}
	}
	if calls[1] != 1 || calls[2] != 1 || calls[3] != 1 {
		t.Errorf("lookups %v: want one each for (other,1), (main,2), (main,3)", calls)
	}

	// After MissTTL a missed work order is looked up again.
	now = now.Add(2 * time.Minute)
	if _, ok := dir.Lookup(context.Background(), "main", 3); ok || calls[3] != 2 {
		t.Errorf("after MissTTL: lookups of 3 = %d, want 2", calls[3])
	}
	// Remembering later fills what the lookup could not.
	dir.Remember("main", 3, WorkOrderInfo{Customer: "Contoso"})
	if info, ok := dir.Lookup(context.Background(), "main", 3); !ok || info.Customer != "Contoso" {
		t.Errorf("after Remember: %+v %v", info, ok)
	}
}

// TestDirectoryBounded: the directory never holds more than Max work
// orders.
func TestDirectoryBounded(t *testing.T) {
	d := NewDirectory(DirectoryOptions{Max: 100})
	for i := range int64(1000) {
		d.Remember("main", i+1, WorkOrderInfo{Customer: "c"})
	}
	d.mu.Lock()
	n := len(d.known)
	d.mu.Unlock()
	if n > 100 {
		t.Fatalf("directory holds %d work orders, Max 100", n)
	}
	if _, ok := d.Lookup(context.Background(), "main", 1000); !ok {
		t.Fatal("the latest work order was evicted")
	}
}
