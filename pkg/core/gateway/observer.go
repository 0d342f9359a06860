package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// egressObserver logs circuit breaker changes and counts send outcomes.
// Prometheus metrics are issue 6's; the counters here feed the shutdown
// summary and tests.
type egressObserver struct {
	log *slog.Logger
	mu  sync.Mutex
	out map[egress.Outcome]int64
}

func newEgressObserver(log *slog.Logger) *egressObserver {
	return &egressObserver{log: log, out: map[egress.Outcome]int64{}}
}

func (o *egressObserver) ActionDone(account string, kind pluginapi.ActionKind, outcome egress.Outcome, latency time.Duration) {
	o.mu.Lock()
	o.out[outcome]++
	o.mu.Unlock()
}

// BreakerChanged runs under the breaker's lock: it only logs.
func (o *egressObserver) BreakerChanged(account string, from, to egress.BreakerState) {
	level := slog.LevelInfo
	if to == egress.BreakerOpen {
		level = slog.LevelWarn
	}
	o.log.Log(context.Background(), level, "circuit breaker "+string(to), "account", account, "from", string(from), "to", string(to))
}

// total counts every send, whatever its outcome: progress.
func (o *egressObserver) total() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var n int64
	for _, v := range o.out {
		n += v
	}
	return n
}

func (o *egressObserver) counts() map[egress.Outcome]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[egress.Outcome]int64, len(o.out))
	for k, v := range o.out {
		out[k] = v
	}
	return out
}
