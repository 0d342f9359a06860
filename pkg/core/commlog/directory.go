package commlog

import (
	"context"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// WorkOrderInfo is what the communication log shows about a work order
// beside its id: its number and its customer's name, like CorrigoPro's
// usage log.
type WorkOrderInfo struct {
	Number   string
	Customer string
}

// LookupFunc finds a work order's number and customer when the directory
// has not seen them, typically from the NewWorkOrder event in the store.
// found is false when nothing is known.
type LookupFunc func(ctx context.Context, account string, workOrderID int64) (info WorkOrderInfo, found bool, err error)

// DirectoryOptions configure a Directory.
type DirectoryOptions struct {
	// Lookup is asked on a miss; nil: only what was remembered is known.
	Lookup LookupFunc
	// Max bounds the remembered work orders; default 50,000.
	Max int
	// MissTTL is how long a lookup that found nothing (or failed) is not
	// repeated for the same work order; default 1 minute.
	MissTTL time.Duration
	Now     func() time.Time
}

// Directory remembers the number and customer of work orders, so that log
// entries carrying only a work order id (outbound calls, status
// notifications) can be filled with them. The Writer consults it while
// writing a batch, never in the producer's path.
type Directory struct {
	o      DirectoryOptions
	mu     sync.Mutex
	known  map[dirKey]WorkOrderInfo
	missed map[dirKey]time.Time
}

type dirKey struct {
	account string
	id      int64
}

// NewDirectory returns an empty directory.
func NewDirectory(o DirectoryOptions) *Directory {
	if o.Max <= 0 {
		o.Max = 50000
	}
	if o.MissTTL <= 0 {
		o.MissTTL = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Directory{o: o, known: map[dirKey]WorkOrderInfo{}, missed: map[dirKey]time.Time{}}
}

// Remember records what is known about a work order. Empty fields do not
// overwrite known ones.
func (d *Directory) Remember(account string, id int64, info WorkOrderInfo) {
	if d == nil || id == 0 || (info.Number == "" && info.Customer == "") {
		return
	}
	k := dirKey{account, id}
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.known[k]
	if !ok && len(d.known) >= d.o.Max {
		// Arbitrary entries go (map order): forgetting costs one lookup.
		for k := range d.known {
			delete(d.known, k)
			if len(d.known) < d.o.Max*9/10 {
				break
			}
		}
	}
	if info.Number == "" {
		info.Number = old.Number
	}
	if info.Customer == "" {
		info.Customer = old.Customer
	}
	d.known[k] = info
	delete(d.missed, k)
}

func (d *Directory) cached(account string, id int64) (WorkOrderInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info, ok := d.known[dirKey{account, id}]
	return info, ok
}

// Lookup returns what is known about a work order, asking LookupFunc on a
// miss (at most once per MissTTL for a work order it found nothing for).
func (d *Directory) Lookup(ctx context.Context, account string, id int64) (WorkOrderInfo, bool) {
	if d == nil || id == 0 {
		return WorkOrderInfo{}, false
	}
	k := dirKey{account, id}
	now := d.o.Now()
	d.mu.Lock()
	info, ok := d.known[k]
	missedAt, missed := d.missed[k]
	d.mu.Unlock()
	if ok {
		return info, true
	}
	if d.o.Lookup == nil || (missed && now.Sub(missedAt) < d.o.MissTTL) {
		return WorkOrderInfo{}, false
	}
	info, found, err := d.o.Lookup(ctx, account, id)
	if err != nil || !found || (info.Number == "" && info.Customer == "") {
		d.mu.Lock()
		if len(d.missed) >= d.o.Max {
			clear(d.missed)
		}
		d.missed[k] = now
		d.mu.Unlock()
		return WorkOrderInfo{}, false
	}
	d.Remember(account, id, info)
	return info, true
}

// maxLookupsPerBatch bounds the store lookups one batch may cause, so a
// burst of unknown work orders cannot hold the writer up for long; the
// rest of the batch is written without customers.
const maxLookupsPerBatch = 64

// fill completes the work order number and customer of entries that name
// a work order, and remembers those that carry them.
func (d *Directory) fill(ctx context.Context, entries []store.LogEntry) {
	if d == nil {
		return
	}
	lookups := 0
	for i := range entries {
		e := &entries[i]
		if e.WorkOrderID == 0 {
			continue
		}
		if e.Customer != "" && e.WorkOrderNumber != "" {
			d.Remember(e.Account, e.WorkOrderID, WorkOrderInfo{Number: e.WorkOrderNumber, Customer: e.Customer})
			continue
		}
		info, ok := d.cached(e.Account, e.WorkOrderID)
		if !ok && lookups < maxLookupsPerBatch {
			lookups++
			info, ok = d.Lookup(ctx, e.Account, e.WorkOrderID)
		}
		if ok {
			if e.Customer == "" {
				e.Customer = info.Customer
			}
			if e.WorkOrderNumber == "" {
				e.WorkOrderNumber = info.Number
			}
		}
	}
}
