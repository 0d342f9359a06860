package leasekeep

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for the Keeper.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestKeeper(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	var calls [][]int64
	var fail bool
	k := New(15*time.Second, func(_ context.Context, ids []int64) (int, error) {
		calls = append(calls, slices.Clone(ids))
		if fail {
			return 0, errors.New("store unreachable")
		}
		return len(ids), nil
	}, slog.New(slog.DiscardHandler))
	k.now = clk.now
	if k.Interval() != 5*time.Second {
		t.Fatalf("interval %v, want a third of the lease", k.Interval())
	}
	ctx := context.Background()
	k.Renew(ctx)
	if len(calls) != 0 {
		t.Fatalf("renewed with nothing held: %v", calls)
	}

	cancelled := map[int64]bool{}
	hold := func(id int64) *Hold { return k.Hold(id, func() { cancelled[id] = true }) }
	a, b := hold(1), hold(2)
	k.Renew(ctx)
	if !slices.Equal(calls[0], []int64{1, 2}) {
		t.Fatalf("renewed %v, want [1 2]", calls[0])
	}
	b.Release()
	clk.add(5 * time.Second)
	k.Renew(ctx)
	if !slices.Equal(calls[1], []int64{1}) {
		t.Fatalf("after a release renewed %v, want [1]", calls[1])
	}

	// Failing renewals: nothing lapses before two thirds of a lease since
	// the last good one, then the work is cancelled and no longer renewed.
	fail = true
	clk.add(5 * time.Second)
	k.Renew(ctx)
	c := hold(3) // claimed now: its claim counts as its last good lease
	select {
	case <-a.Lapsed():
		t.Fatal("lapsed after one failed renewal")
	default:
	}
	clk.add(5 * time.Second) // 10 s since a's last renewal
	k.Renew(ctx)
	select {
	case <-a.Lapsed():
	default:
		t.Fatal("not lapsed after 10 s of failed renewals on a 15 s lease")
	}
	if !cancelled[1] {
		t.Error("lapsed work was not cancelled")
	}
	select {
	case <-c.Lapsed():
		t.Fatal("a hold claimed 5 s ago lapsed with the older one")
	default:
	}
	if got := k.Held(); !slices.Equal(got, []int64{3}) {
		t.Fatalf("held after the lapse: %v, want [3]", got)
	}
	// The store comes back: c is renewed and survives.
	fail = false
	k.Renew(ctx)
	clk.add(9 * time.Second)
	fail = true
	k.Renew(ctx)
	select {
	case <-c.Lapsed():
		t.Fatal("lapsed though renewed 9 s ago")
	default:
	}
	if cancelled[2] || cancelled[3] {
		t.Errorf("cancelled work that was released or still renewed: %v", cancelled)
	}
	a.Release() // releasing a lapsed hold is harmless
}

// TestKeeperRunStops: Run renews on its interval and returns with ctx.
func TestKeeperRunStops(t *testing.T) {
	renewed := make(chan []int64, 10)
	k := New(30*time.Millisecond, func(_ context.Context, ids []int64) (int, error) {
		renewed <- ids
		return len(ids), nil
	}, nil)
	k.Hold(7, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	select {
	case ids := <-renewed:
		if !slices.Equal(ids, []int64{7}) {
			t.Fatalf("renewed %v", ids)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run never renewed")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestRetryWrite: a recoverable failure is retried with the doubling wait
// until the write succeeds; a permanent one, or a lapsed lease, ends it.
func TestRetryWrite(t *testing.T) {
	k := New(time.Hour, func(context.Context, []int64) (int, error) { return 0, nil }, slog.New(slog.DiscardHandler))
	transient, permanent := errors.New("connection reset"), errors.New("lease lost")
	retryable := func(err error) bool { return err == transient }
	ctx := context.Background()

	calls := 0
	var waits []time.Duration
	h := k.Hold(1, nil)
	err := h.RetryWrite(ctx, func() error {
		calls++
		if calls < 3 {
			return transient
		}
		return nil
	}, retryable, func(_ int, wait time.Duration, _ error) { waits = append(waits, wait) })
	if err != nil || calls != 3 || !slices.Equal(waits, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Fatalf("err %v after %d calls, waits %v", err, calls, waits)
	}

	calls = 0
	if err := h.RetryWrite(ctx, func() error { calls++; return permanent }, retryable, nil); err != permanent || calls != 1 {
		t.Fatalf("permanent failure: %v after %d calls", err, calls)
	}

	cancelled := false
	lapsing := k.Hold(2, func() { cancelled = true })
	lapsing.lapse()
	calls = 0
	if err := lapsing.RetryWrite(ctx, func() error { calls++; return transient }, retryable, nil); err != transient || calls != 1 || !cancelled {
		t.Fatalf("lapsed hold: %v after %d calls", err, calls)
	}
}
