package ingest

import (
	"context"
	"errors"
	"sync"

	"github.com/wogate/wogate/pkg/core/store"
)

// memStore is the slice of a store the ingest tests need, in memory, with a
// switch to make it fail like an unreachable database. Tests against the
// real SQLite store live in the gateway's end-to-end tests.
type memStore struct {
	mu     sync.Mutex
	events []store.Event
	byMsg  map[string]bool
	wm     map[string]string
	fail   error
}

func newMemStore() *memStore {
	return &memStore{byMsg: map[string]bool{}, wm: map[string]string{}}
}

func (m *memStore) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	k := e.Account + "\x00" + e.MessageID
	if m.byMsg[k] {
		return false, nil
	}
	m.byMsg[k] = true
	e.ID = int64(len(m.events) + 1)
	m.events = append(m.events, *e)
	return true, nil
}

func (m *memStore) SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	out := map[int64]bool{}
	for _, id := range ids {
		for _, e := range m.events {
			if e.Account == account && e.WorkOrderID == id {
				out[id] = true
			}
		}
	}
	return out, nil
}

func (m *memStore) GetWatermark(ctx context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wm[name], nil
}

func (m *memStore) SetWatermark(ctx context.Context, name, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.wm[name] = value
	return nil
}

func (m *memStore) snapshot() []store.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Event(nil), m.events...)
}

var errDown = errors.New("database is down")
