package dispatch

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// memStore implements the dispatcher's slice of store.Store in memory with
// the contract's lane rules (head of each work order's lane by ActionDate
// then ID; a leased lane yields nothing), so the dispatcher's ordering can be
// tested in isolation. The real stores run the same contract in storetest,
// and the gateway's end-to-end tests run dispatch on SQLite.
type memStore struct {
	mu      sync.Mutex
	events  []*store.Event
	leases  map[int64]lease
	actions []store.OutboxAction
	keys    map[string]bool
	now     func() time.Time
}

type lease struct {
	owner string
	until time.Time
}

func newMemStore() *memStore {
	return &memStore{leases: map[int64]lease{}, keys: map[string]bool{}, now: time.Now}
}

func (m *memStore) add(e store.Event) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = int64(len(m.events) + 1)
	e.Status = store.EventPending
	m.events = append(m.events, &e)
	return e.ID
}

func (m *memStore) ClaimEvents(ctx context.Context, owner string, d time.Duration, limit int) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	type laneKey struct {
		acct string
		wo   int64
	}
	heads := map[laneKey]*store.Event{}
	busy := map[laneKey]bool{}
	for _, e := range m.events {
		if e.Status != store.EventPending {
			continue
		}
		k := laneKey{e.Account, e.WorkOrderID}
		if l, ok := m.leases[e.ID]; ok && l.until.After(now) {
			busy[k] = true
			continue
		}
		h := heads[k]
		if h == nil || e.ActionDate.Before(h.ActionDate) || (e.ActionDate.Equal(h.ActionDate) && e.ID < h.ID) {
			heads[k] = e
		}
	}
	var out []store.Event
	for k, e := range heads {
		if busy[k] || e.NextAt.After(now) {
			continue
		}
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		e := m.events[out[i].ID-1]
		e.Attempts++
		out[i].Attempts = e.Attempts
		m.leases[e.ID] = lease{owner, now.Add(d)}
	}
	return out, nil
}

func (m *memStore) held(id int64, owner string) bool {
	l, ok := m.leases[id]
	return ok && l.owner == owner && l.until.After(m.now())
}

func (m *memStore) CompleteEvent(ctx context.Context, id int64, owner string, out store.Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held(id, owner) {
		return store.ErrLeaseLost
	}
	delete(m.leases, id)
	e := m.events[id-1]
	e.Status, e.Decision, e.ConfigVersion, e.LastError, e.HandledAt = out.Status, out.Decision, out.ConfigVersion, out.LastError, m.now()
	for _, a := range out.Actions {
		if m.keys[a.IdempotencyKey] {
			continue
		}
		m.keys[a.IdempotencyKey] = true
		a.ID = int64(len(m.actions) + 1)
		m.actions = append(m.actions, a)
	}
	return nil
}

func (m *memStore) RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held(id, owner) {
		return store.ErrLeaseLost
	}
	delete(m.leases, id)
	e := m.events[id-1]
	e.NextAt, e.LastError = next, lastErr
	return nil
}

func (m *memStore) DeferEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held(id, owner) {
		return store.ErrLeaseLost
	}
	delete(m.leases, id)
	e := m.events[id-1]
	e.NextAt, e.LastError, e.Attempts = next, lastErr, max(e.Attempts-1, minAttempts)
	return nil
}

func (m *memStore) EventsForWorkOrder(ctx context.Context, account string, wo int64) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Event
	for _, e := range m.events {
		if e.Account == account && e.WorkOrderID == wo {
			out = append(out, *e)
		}
	}
	return out, nil
}

func (m *memStore) event(id int64) store.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return *m.events[id-1]
}

func (m *memStore) outbox() []store.OutboxAction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.OutboxAction(nil), m.actions...)
}

func (m *memStore) settled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if e.Status == store.EventPending {
			return false
		}
	}
	return true
}
