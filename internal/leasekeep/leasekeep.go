// Package leasekeep keeps the store leases of work in flight alive.
//
// A worker that claims an event or an action holds its lease for a short
// time (delivery.event_lease, 10 s by default); a Keeper renews the leases
// of everything it holds every third of that, so a slow plugin call or
// send may take as long as its own timeout while a process that dies — a
// kill -9, a lost machine — gives its work up within one lease. When
// renewals fail (the store is unreachable) for two thirds of a lease, the
// Keeper cancels the work it can no longer vouch for before anyone else
// may claim it: once a lease can lapse, another worker may take the row,
// and work that goes on past that point could be done twice.
//
// The package never touches the store itself: the owner passes the
// renewal function (store.Store's RenewEventLeases or RenewActionLeases
// bound to its owner id).
package leasekeep

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wogate/wogate/internal/backoff"
)

// RenewFunc extends the leases of ids by the Keeper's lease and returns
// how many it renewed.
type RenewFunc func(ctx context.Context, ids []int64) (int, error)

// Keeper renews the leases of the ids it holds. The zero value is not
// usable; call New.
type Keeper struct {
	renew RenewFunc
	lease time.Duration
	log   *slog.Logger
	now   func() time.Time

	mu   sync.Mutex
	held map[int64]*Hold
}

// Hold is one id a Keeper renews until Release.
type Hold struct {
	k      *Keeper
	id     int64
	cancel context.CancelFunc
	// renewed is when the lease was last known good (claim or renewal);
	// guarded by k.mu.
	renewed time.Time
	lapsed  chan struct{}
	once    sync.Once
}

// New returns a Keeper for leases of the given length. what names the
// leases in log lines ("event", "action").
func New(lease time.Duration, renew RenewFunc, log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.Default()
	}
	return &Keeper{renew: renew, lease: lease, log: log, now: time.Now, held: map[int64]*Hold{}}
}

// Interval is how often Run renews: a third of the lease, so two renewals
// in a row may fail before a lease is at risk.
func (k *Keeper) Interval() time.Duration { return max(k.lease/3, time.Millisecond) }

// Hold starts renewing id, just claimed. cancel, if not nil, is called if
// the lease can no longer be vouched for (see Lapsed). A nil Keeper (a
// store that cannot renew) returns a nil Hold, whose methods do nothing.
func (k *Keeper) Hold(id int64, cancel context.CancelFunc) *Hold {
	if k == nil {
		return nil
	}
	h := &Hold{k: k, id: id, cancel: cancel, lapsed: make(chan struct{})}
	k.mu.Lock()
	h.renewed = k.now()
	k.held[id] = h
	k.mu.Unlock()
	return h
}

// Release stops renewing: the work is recorded or abandoned.
func (h *Hold) Release() {
	if h == nil {
		return
	}
	h.k.mu.Lock()
	if h.k.held[h.id] == h {
		delete(h.k.held, h.id)
	}
	h.k.mu.Unlock()
}

// Lapsed is closed when renewals have failed for two thirds of a lease:
// the work must stop, and its outcome may no longer be written as ours.
func (h *Hold) Lapsed() <-chan struct{} {
	if h == nil {
		return nil // never lapses
	}
	return h.lapsed
}

func (h *Hold) lapse() {
	h.once.Do(func() {
		close(h.lapsed)
		if h.cancel != nil {
			h.cancel()
		}
	})
}

// RetryWrite calls write until it succeeds or fails for good (retryable
// says no), ctx ends or the lease lapses, waiting 100 ms, 200 ms, … up to
// 2 s between tries (onRetry is told each wait). It is how a worker keeps
// the outcome of work already done when a store write fails for a moment
// (a dropped PostgreSQL connection, a busy SQLite file): the pool
// reconnects meanwhile, and the lease, still renewed, keeps the row ours.
// It returns the last error. A nil Hold retries until ctx ends.
func (h *Hold) RetryWrite(ctx context.Context, write func() error, retryable func(error) bool, onRetry func(try int, wait time.Duration, err error)) error {
	err := write()
	for try := 1; err != nil && retryable(err) && ctx.Err() == nil; try++ {
		wait := backoff.Exponential(100*time.Millisecond, 2*time.Second, try)
		if onRetry != nil {
			onRetry(try, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-h.Lapsed():
			t.Stop()
			return err
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = write()
	}
	return err
}

// Held returns the ids being renewed, in order (tests, metrics).
func (k *Keeper) Held() []int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	ids := make([]int64, 0, len(k.held))
	for id := range k.held {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Run renews until ctx ends; on a nil Keeper it returns at once.
func (k *Keeper) Run(ctx context.Context) {
	if k == nil {
		return
	}
	t := time.NewTicker(k.Interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.Renew(ctx)
		}
	}
}

// Renew renews every held lease once, then lapses those not renewed for
// two thirds of a lease. Run calls it; tests call it directly.
func (k *Keeper) Renew(ctx context.Context) {
	ids := k.Held()
	if len(ids) == 0 {
		return
	}
	// A renewal must not outlive the interval: a stuck store call would
	// otherwise hold up the lapse check below.
	rctx, cancel := context.WithTimeout(ctx, k.Interval())
	started := k.now()
	_, err := k.renew(rctx, ids)
	cancel()
	now := k.now()
	var lapsed []*Hold
	k.mu.Lock()
	for _, id := range ids {
		h, ok := k.held[id]
		if !ok {
			continue
		}
		if err == nil {
			// Renewed from when the renewal started, the instant its
			// lease_until was computed from at the latest.
			h.renewed = started
		} else if now.Sub(h.renewed) >= k.lease*2/3 {
			lapsed = append(lapsed, h)
			delete(k.held, id)
		}
	}
	k.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		k.log.Warn("lease renewal failed", "held", len(ids), "lapsing", len(lapsed), "err", err)
	}
	for _, h := range lapsed {
		k.log.Error("lease can no longer be renewed; stopping the work before another worker may take it", "id", h.id)
		h.lapse()
	}
}
