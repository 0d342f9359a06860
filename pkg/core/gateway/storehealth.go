package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// healthStore watches the store's writes for readiness. A store whose
// disk is full still answers Ping, so Ping alone kept /readyz "ready"
// while every webhook got 503. The gateway is unready while its last
// write failed. So that an unready gateway with no traffic (a load
// balancer took it out) can become ready again, readiness probes a write
// itself while the last one failed.
type healthStore struct {
	store.Store
	now func() time.Time

	mu          sync.Mutex
	lastOK      time.Time
	lastFail    time.Time
	lastErr     string
	lastProbe   time.Time
	probeResult error
}

// probeEvery bounds the write probes /readyz makes while unready.
const probeEvery = 2 * time.Second

// probeKey is the watermark the probe writes.
const probeKey = "health:write_probe"

func newHealthStore(st store.Store) *healthStore { return &healthStore{Store: st, now: time.Now} }

// counts reports whether err says anything about the store's health:
// answers about the data (not found, wrong state, a lost lease, a bad
// argument) and cancelled callers do not.
func counts(err error) bool {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrWrongState), errors.Is(err, store.ErrLeaseLost),
		errors.Is(err, store.ErrInvalid), errors.Is(err, context.Canceled):
		return false
	}
	return true
}

func (s *healthStore) record(err error) {
	if err != nil && !counts(err) {
		return
	}
	now := s.now()
	s.mu.Lock()
	if err == nil {
		s.lastOK = now
	} else {
		s.lastFail, s.lastErr = now, err.Error()
	}
	s.mu.Unlock()
}

// writeProblem returns why the store is not ready for writes, or "".
func (s *healthStore) writeProblem(ctx context.Context) string {
	s.mu.Lock()
	failing := s.lastFail.After(s.lastOK)
	probeDue := failing && s.now().Sub(s.lastProbe) >= probeEvery
	if probeDue {
		s.lastProbe = s.now()
	}
	s.mu.Unlock()
	if !failing {
		return ""
	}
	if probeDue {
		s.record(s.Store.SetWatermark(ctx, probeKey, s.now().UTC().Format(time.RFC3339Nano)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastFail.After(s.lastOK) {
		return ""
	}
	return "store: the last write failed (" + s.lastFail.UTC().Format(time.RFC3339) + "): " + s.lastErr
}

func (s *healthStore) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	ok, err := s.Store.InsertEvent(ctx, e)
	s.record(err)
	return ok, err
}

func (s *healthStore) CompleteEvent(ctx context.Context, id int64, owner string, out store.Outcome) error {
	err := s.Store.CompleteEvent(ctx, id, owner, out)
	s.record(err)
	return err
}

func (s *healthStore) RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	err := s.Store.RetryEvent(ctx, id, owner, next, lastErr)
	s.record(err)
	return err
}

func (s *healthStore) FinishAction(ctx context.Context, id int64, owner string, status store.ActionStatus, lastErr string) error {
	err := s.Store.FinishAction(ctx, id, owner, status, lastErr)
	s.record(err)
	return err
}

func (s *healthStore) RetryAction(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	err := s.Store.RetryAction(ctx, id, owner, next, lastErr)
	s.record(err)
	return err
}

func (s *healthStore) AppendLog(ctx context.Context, entries ...store.LogEntry) error {
	err := s.Store.AppendLog(ctx, entries...)
	s.record(err)
	return err
}

func (s *healthStore) KVPut(ctx context.Context, plugin, key string, value []byte) error {
	err := s.Store.KVPut(ctx, plugin, key, value)
	s.record(err)
	return err
}

func (s *healthStore) SetWatermark(ctx context.Context, name, value string) error {
	err := s.Store.SetWatermark(ctx, name, value)
	s.record(err)
	return err
}
