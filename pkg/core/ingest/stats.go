package ingest

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Stats counts webhook outcomes by reason ("accepted", "duplicate", and each
// rejection reason). It is safe for concurrent use; a nil *Stats counts
// nothing, so handlers need not check.
type Stats struct {
	m sync.Map // reason → *atomic.Int64
}

func (s *Stats) add(reason string) {
	if s == nil {
		return
	}
	c, ok := s.m.Load(reason)
	if !ok {
		c, _ = s.m.LoadOrStore(reason, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
}

// Get returns the count for one reason.
func (s *Stats) Get(reason string) int64 {
	if s == nil {
		return 0
	}
	if c, ok := s.m.Load(reason); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// Snapshot returns every counter, for metrics and tests.
func (s *Stats) Snapshot() map[string]int64 {
	out := map[string]int64{}
	if s == nil {
		return out
	}
	s.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// Reasons returns the counted reasons in order, for stable log output.
func (s *Stats) Reasons() []string {
	snap := s.Snapshot()
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
