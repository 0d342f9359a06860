// Package overload decides when the gateway sheds load: above configured
// limits on the pending backlog, the age of its oldest event, free disk
// and store size, webhooks are refused with 503 and Retry-After instead of
// being stored. CorrigoPro keeps a refused notification in its retry queue
// and delivers it again later, so refusing is safe; accepting without
// bound is not (a backlog of hours, a full disk).
//
// A Shedder samples the load on an interval (reads only, off the store's
// writer path) and answers Shedding from the last sample, so the check on
// the webhook path costs an atomic load. It enters the shedding state when
// a value reaches its limit and leaves it only when every value is back
// under 90% of its limit (free disk: above 110%), so it does not flap.
//
// The package knows nothing of HTTP or of the store's types: the gateway
// passes the sampling function and asks Shedding.
package overload

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Limits are the thresholds; a zero limit is not checked.
type Limits struct {
	MaxPendingEvents int
	MaxOldestPending time.Duration
	MinFreeDiskBytes int64
	MaxStoreBytes    int64
	// RetryAfter is what a refused request is told to wait.
	RetryAfter time.Duration
}

// Sample is one reading of the load. A negative FreeDiskBytes or
// StoreBytes means unknown (not measured on this platform or store).
type Sample struct {
	PendingEvents int
	OldestPending time.Duration
	FreeDiskBytes int64
	StoreBytes    int64
}

// State is the Shedder's view after its last sample.
type State struct {
	Sample   Sample
	Taken    time.Time
	Shedding bool
	// Reasons say which limits are exceeded (empty when not shedding):
	// "pending_events", "oldest_pending", "free_disk", "store_size".
	Reasons []string
	// Detail is one readable line per reason, for /readyz and the log.
	Detail []string
	// Err is the last sampling error; the previous state is kept then.
	Err error
}

// Shedder samples and decides. Create it with New.
type Shedder struct {
	limits atomic.Pointer[Limits]
	state  atomic.Pointer[State]
	sample func(ctx context.Context) (Sample, error)
	every  time.Duration
	log    *slog.Logger
	now    func() time.Time
	// refused counts requests refused while shedding (Refused).
	refused atomic.Int64
}

// New returns a Shedder that calls sample every interval once Run starts.
func New(l Limits, every time.Duration, sample func(ctx context.Context) (Sample, error), log *slog.Logger) *Shedder {
	if log == nil {
		log = slog.Default()
	}
	s := &Shedder{sample: sample, every: every, log: log, now: time.Now}
	s.limits.Store(&l)
	s.state.Store(&State{})
	return s
}

// SetLimits replaces the limits; the next sample applies them.
func (s *Shedder) SetLimits(l Limits) { s.limits.Store(&l) }

// Limits returns the limits in force.
func (s *Shedder) Limits() Limits { return *s.limits.Load() }

// State returns the state after the last sample.
func (s *Shedder) State() State { return *s.state.Load() }

// Shedding says whether to refuse a request now and how long to ask the
// caller to wait. A request refused counts in Refused.
func (s *Shedder) Shedding() (retryAfter time.Duration, shedding bool) {
	if s == nil || !s.state.Load().Shedding {
		return 0, false
	}
	s.refused.Add(1)
	return s.limits.Load().RetryAfter, true
}

// Refused is how many requests Shedding refused.
func (s *Shedder) Refused() int64 { return s.refused.Load() }

// Run samples every interval until ctx ends, the first time at once.
func (s *Shedder) Run(ctx context.Context) {
	if s == nil {
		return
	}
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample takes one reading and updates the state. Run calls it; tests
// call it directly.
func (s *Shedder) Sample(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, max(s.every, time.Second))
	smp, err := s.sample(rctx)
	cancel()
	prev := s.state.Load()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("overload: could not sample the load; keeping the last decision", "err", err)
		}
		next := *prev
		next.Err = err
		s.state.Store(&next)
		return
	}
	next := Decide(s.Limits(), smp, prev.Shedding)
	next.Taken = s.now()
	s.state.Store(&next)
	switch {
	case next.Shedding && !prev.Shedding:
		s.log.Warn("overload: refusing webhooks with 503 until the load is back under the limits", "reasons", next.Reasons, "detail", next.Detail)
	case !next.Shedding && prev.Shedding:
		s.log.Info("overload: accepting webhooks again", "pending_events", smp.PendingEvents, "oldest_pending", smp.OldestPending.Round(time.Second))
	}
}

// Decide is the rule: a value at or past its limit starts shedding;
// while shedding, a value still past its low-water mark (90% of the
// limit; free disk: 110%) keeps it going.
func Decide(l Limits, smp Sample, shedding bool) State {
	st := State{Sample: smp}
	over := func(reason, detail string) {
		st.Reasons = append(st.Reasons, reason)
		st.Detail = append(st.Detail, detail)
	}
	// high reports whether v is past the limit, or past 90% of it while
	// shedding.
	high := func(v, limit float64) bool {
		if shedding {
			return v >= 0.9*limit
		}
		return v >= limit
	}
	if l.MaxPendingEvents > 0 && high(float64(smp.PendingEvents), float64(l.MaxPendingEvents)) {
		over("pending_events", fmt.Sprintf("%d events pending (limit overload.max_pending_events %d)", smp.PendingEvents, l.MaxPendingEvents))
	}
	if l.MaxOldestPending > 0 && high(float64(smp.OldestPending), float64(l.MaxOldestPending)) {
		over("oldest_pending", fmt.Sprintf("the oldest pending event waits for %s (limit overload.max_oldest_pending %s)",
			smp.OldestPending.Round(time.Second), l.MaxOldestPending))
	}
	if l.MinFreeDiskBytes > 0 && smp.FreeDiskBytes >= 0 {
		low := float64(smp.FreeDiskBytes) <= float64(l.MinFreeDiskBytes)
		if shedding {
			low = float64(smp.FreeDiskBytes) <= 1.1*float64(l.MinFreeDiskBytes)
		}
		if low {
			over("free_disk", fmt.Sprintf("%d bytes free on the data directory's disk (limit overload.min_free_disk_bytes %d)", smp.FreeDiskBytes, l.MinFreeDiskBytes))
		}
	}
	if l.MaxStoreBytes > 0 && smp.StoreBytes >= 0 && high(float64(smp.StoreBytes), float64(l.MaxStoreBytes)) {
		over("store_size", fmt.Sprintf("the store holds %d bytes (limit overload.max_store_bytes %d)", smp.StoreBytes, l.MaxStoreBytes))
	}
	st.Shedding = len(st.Reasons) > 0
	return st
}
