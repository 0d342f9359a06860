package egress

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/internal/leasekeep"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
)

// WorkerOptions configure a Worker. Zero values mean the defaults named on
// each field.
type WorkerOptions struct {
	// Owner identifies this worker in the store's leases. Default
	// "egress-<hostname>-<pid>-<random>", unique per process.
	Owner string
	// Concurrency bounds the sends in flight. Default 32. Actions of one
	// work order never run concurrently (the store hands out one per lane).
	Concurrency int
	// Lease is how long a claimed action stays ours without a renewal. A
	// send in flight has its lease renewed every third of Lease (when the
	// store can: store.Store.RenewActionLeases), so it may take its whole
	// SendTimeout, and if the process dies the action is claimed again
	// within one Lease. A send whose lease can no longer be renewed is
	// cancelled before the lease can lapse (internal/leasekeep), so no
	// send outlives its lease. Default 10s.
	Lease time.Duration
	// SendTimeout bounds one Send (guard lookups and the call). Default 60s.
	SendTimeout time.Duration
	// PollInterval is how often the outbox is polled when idle; Kick wakes
	// the worker earlier. Default 1s.
	PollInterval time.Duration
	// StopTimeout is how long Run waits for sends in flight after its
	// context ends before cancelling them. Default 15s.
	StopTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Tracer starts an "egress send <kind>" span per send, a child of the
	// span that wrote the action (its plugin call) through the trace
	// context stored with it; CorrigoPro calls made during the send are
	// its children. Default tracectx.Noop().
	Tracer trace.Tracer
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Owner = fmt.Sprintf("egress-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 60 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 10 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Tracer == nil {
		o.Tracer = tracectx.Noop()
	}
	return o
}

// Worker moves actions from the store's outbox to CorrigoPro: it claims due
// actions (leased to Owner), sends them through the Sender with bounded
// concurrency, and records each result (FinishAction or RetryAction).
// Several workers — in one process or in replicas sharing a PostgreSQL
// store — can run at once; leases keep them apart.
type Worker struct {
	st    store.Store
	s     *Sender
	opts  WorkerOptions
	kick  chan struct{}
	freed chan struct{}
	due   dueTimes // when the retries this worker scheduled come due
	keep  *leasekeep.Keeper
}

// NewWorker returns a worker; call Run to start it.
func NewWorker(st store.Store, s *Sender, opts WorkerOptions) *Worker {
	opts = opts.withDefaults()
	return &Worker{
		st:    st,
		s:     s,
		opts:  opts,
		kick:  make(chan struct{}, 1),
		freed: make(chan struct{}, 1),
		keep: leasekeep.New(opts.Lease, func(ctx context.Context, ids []int64) (int, error) {
			return st.RenewActionLeases(ctx, opts.Owner, opts.Lease, ids)
		}, opts.Logger.With("component", "egress")),
	}
}

// Owner returns the lease owner id the worker claims with.
func (w *Worker) Owner() string { return w.opts.Owner }

// Kick wakes the worker to claim now instead of at the next poll. The
// dispatcher calls it after writing new actions. It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run claims and sends until ctx ends, then stops claiming, waits up to
// StopTimeout for the sends in flight (their results are recorded), and
// cancels the rest: their leases expire and they are claimed again, by
// this process after a restart or by another replica, where the resend
// check finds out whether they reached CorrigoPro. Run returns nil after a
// clean stop, or the store's error if it is closed underneath it.
func (w *Worker) Run(ctx context.Context) error {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	// Leases of sends in flight are renewed until the last one is done.
	go w.keep.Run(sendCtx)
	var wg sync.WaitGroup
	var inflight int
	var mu sync.Mutex
	timer := time.NewTimer(0)
	defer timer.Stop()
	var runErr error

loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-w.kick:
		case <-w.freed:
		case <-timer.C:
		}
		mu.Lock()
		free := w.opts.Concurrency - inflight
		mu.Unlock()
		if free <= 0 {
			continue // a finishing send signals freed
		}
		acts, err := w.st.ClaimActions(ctx, w.opts.Owner, w.opts.Lease, free)
		if err != nil {
			if ctx.Err() != nil {
				break loop
			}
			if errors.Is(err, store.ErrClosed) {
				runErr = fmt.Errorf("egress: claim actions: %w", err)
				break loop
			}
			w.opts.Logger.Error("egress: claim actions failed", "err", err)
			timer.Reset(w.opts.PollInterval)
			continue
		}
		mu.Lock()
		inflight += len(acts)
		mu.Unlock()
		// Wake at the next poll, or earlier when a retry this worker
		// scheduled comes due: a 1 s backoff then waits 1 s, not up to
		// a poll interval more.
		wait := w.opts.PollInterval
		if next, ok := w.due.next(time.Now()); ok {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		for _, a := range acts {
			wg.Go(func() {
				w.handle(sendCtx, a)
				mu.Lock()
				inflight--
				mu.Unlock()
				signal(w.freed)
			})
		}
		timer.Reset(wait)
	}

	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(w.opts.StopTimeout):
		mu.Lock()
		n := inflight
		mu.Unlock()
		w.opts.Logger.Warn("egress: stop timeout; cancelling sends in flight (their leases will expire and they will be resent after a check)", "in_flight", n)
		cancelSends()
		<-stopped
	}
	return runErr
}

// handle sends one action and records the result.
func (w *Worker) handle(sendCtx context.Context, a store.OutboxAction) {
	ctx, span := w.opts.Tracer.Start(tracectx.Continue(sendCtx, a.TraceParent), "egress send "+a.Kind,
		trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(tracectx.OutboxID.Int64(a.ID), tracectx.ActionKind.String(a.Kind), tracectx.Account.String(a.Account),
			tracectx.WorkOrderID.Int64(a.WorkOrderID), tracectx.EventID.Int64(a.EventID), tracectx.Rule.String(a.Rule),
			tracectx.Plugin.String(a.Plugin), tracectx.Attempt.Int(a.Attempts))
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.SendTimeout)
	defer cancel()
	hold := w.keep.Hold(a.ID, cancel)
	defer hold.Release()
	r := w.s.Send(ctx, a)
	cancel()
	if span.IsRecording() {
		span.SetAttributes(tracectx.Outcome.String(string(r.Outcome())))
		if r.Reason != "" {
			span.SetAttributes(tracectx.Reason.String(r.Reason))
		}
		switch r.Outcome() {
		case OutcomeSent, OutcomeRefused:
		default:
			msg := r.Reason
			if r.Err != nil {
				span.RecordError(r.Err)
				if msg == "" {
					msg = r.Err.Error()
				}
			}
			span.SetStatus(codes.Error, msg)
		}
	}
	if r.Retry && r.Class == corrigo.ClassCanceled && sendCtx.Err() != nil {
		// Shut down mid-send: leave the lease to expire.
		return
	}
	select {
	case <-hold.Lapsed():
		// Cancelled because the lease could no longer be renewed: the
		// action may be another worker's by now, so nothing is recorded;
		// whoever claims it next runs the resend check.
		w.opts.Logger.Warn("egress: send stopped, its lease could no longer be renewed", "action", a.ID, "result", r.Reason)
		return
	default:
	}
	// Record the result even while stopping: a send that happened must not
	// be repeated for want of a row update.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(sendCtx), 10*time.Second)
	defer scancel()
	if r.Retry {
		// The loop re-arms its timer for it: a finished send signals freed.
		w.due.add(time.Now().Add(r.RetryAfter))
	}
	record := func() error {
		switch {
		case r.Retry && r.NotCounted:
			// Not a real try: give the claim's attempt back, but keep a
			// count of at least 1 when the action's call went out, so the
			// next claim still runs the resend check.
			floor := 0
			if r.Reached {
				floor = 1
			}
			return w.st.DeferAction(sctx, a.ID, w.opts.Owner, time.Now().Add(r.RetryAfter), r.Reason, floor)
		case r.Retry:
			return w.st.RetryAction(sctx, a.ID, w.opts.Owner, time.Now().Add(r.RetryAfter), r.Reason)
		default:
			return w.st.FinishAction(sctx, a.ID, w.opts.Owner, r.Status, r.Reason)
		}
	}
	// A failed write is retried while the lease is renewed (the store
	// reconnects meanwhile): a send that happened and is not recorded is
	// sent again by the next claimer, after a check.
	err := hold.RetryWrite(sctx, record, store.WriteMayRecover, func(_ int, wait time.Duration, err error) {
		w.opts.Logger.Warn("egress: record action result failed; retrying while the lease holds", "action", a.ID, "next", wait, "err", err)
	})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLeaseLost):
		w.opts.Logger.Warn("egress: lease lost before the result was recorded; another worker owns the action now",
			"action", a.ID, "status", r.Status, "retry", r.Retry)
	default:
		w.opts.Logger.Error("egress: record action result", "action", a.ID, "status", r.Status, "retry", r.Retry, "err", err)
	}
}

// dueTimes keeps the earliest times at which retries scheduled by this
// worker come due, so the loop can wake for them between polls. It keeps
// at most maxDue of them (the earliest); a forgotten one is found by the
// next poll.
type dueTimes struct {
	mu sync.Mutex
	h  dueHeap
}

const maxDue = 4096

func (d *dueTimes) add(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	heap.Push(&d.h, t.UnixNano())
	if len(d.h) > maxDue {
		// Drop the latest: O(n), but only when over the bound.
		last := 0
		for i := range d.h {
			if d.h[i] > d.h[last] {
				last = i
			}
		}
		heap.Remove(&d.h, last)
	}
}

// next drops the times that have passed and returns the earliest one left.
func (d *dueTimes) next(now time.Time) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.h) > 0 && d.h[0] <= now.UnixNano() {
		heap.Pop(&d.h)
	}
	if len(d.h) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, d.h[0]), true
}

type dueHeap []int64

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
