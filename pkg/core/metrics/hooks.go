package metrics

import (
	"bytes"
	"context"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// WrapStore returns st with event counting: InsertEvent counts stored and
// duplicate events, CompleteEvent and RetryEvent count dispatch outcomes
// and the rules each stored decision matched. Every call goes to st
// unchanged. Use it as gateway.Options.WrapStore.
func (m *Metrics) WrapStore(st store.Store) store.Store { return &countingStore{Store: st, m: m} }

type countingStore struct {
	store.Store
	m *Metrics
}

func (s *countingStore) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	inserted, err := s.Store.InsertEvent(ctx, e)
	if err == nil {
		outcome := "stored"
		if !inserted {
			outcome = "duplicate"
		}
		s.m.events.WithLabelValues(e.Account, s.m.actionLabels.value(e.Action), outcome).Inc()
	}
	return inserted, err
}

func (s *countingStore) ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.Event, error) {
	evs, err := s.Store.ClaimEvents(ctx, owner, lease, limit)
	for i := range evs {
		s.m.claimed.Store(evs[i].ID, eventLabels{account: evs[i].Account, action: s.m.actionLabels.value(evs[i].Action)})
	}
	return evs, err
}

func (s *countingStore) CompleteEvent(ctx context.Context, id int64, owner string, out store.Outcome) error {
	err := s.Store.CompleteEvent(ctx, id, owner, out)
	l, ok := s.m.claimed.LoadAndDelete(id)
	if err == nil {
		if ok {
			el := l.(eventLabels)
			s.m.events.WithLabelValues(el.account, el.action, string(out.Status)).Inc()
		}
		s.m.countDecision(out.Decision)
	}
	return err
}

func (s *countingStore) RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	err := s.Store.RetryEvent(ctx, id, owner, next, lastErr)
	if l, ok := s.m.claimed.LoadAndDelete(id); ok && err == nil {
		el := l.(eventLabels)
		s.m.events.WithLabelValues(el.account, el.action, "retry").Inc()
	}
	return err
}

func (s *countingStore) DeferEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error {
	err := s.Store.DeferEvent(ctx, id, owner, next, lastErr, minAttempts)
	if l, ok := s.m.claimed.LoadAndDelete(id); ok && err == nil {
		el := l.(eventLabels)
		s.m.events.WithLabelValues(el.account, el.action, "waiting").Inc()
	}
	return err
}

// PluginCaller is what dispatch calls plugins through (dispatch.Plugins,
// implemented by *plugins.Manager).
type PluginCaller interface {
	HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error)
}

// InstrumentPlugins times every HandleEvent call through p. Use it where
// the dispatcher gets its plugins: dispatch.Options{Plugins:
// m.InstrumentPlugins(g.plugins)}.
func (m *Metrics) InstrumentPlugins(p PluginCaller) PluginCaller { return &timedPlugins{p: p, m: m} }

type timedPlugins struct {
	p PluginCaller
	m *Metrics
}

// HandleEvent implements PluginCaller.
func (t *timedPlugins) HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	start := time.Now()
	acts, err := t.p.HandleEvent(ctx, plugin, ev)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	t.m.pluginLatency.WithLabelValues(plugin, outcome).Observe(time.Since(start).Seconds())
	return acts, err
}

// ObserveExchanges wraps a corrigo.Config.Observer (next may be nil): it
// counts the account's token requests and API calls, then calls next.
//
//	Observer: m.ObserveExchanges(name, exchangeObserver(g.clog, name))
func (m *Metrics) ObserveExchanges(account string, next func(corrigo.Exchange)) func(corrigo.Exchange) {
	return func(x corrigo.Exchange) {
		if isTokenRequest(x) {
			outcome := "ok"
			if x.Err != nil || x.Status/100 != 2 {
				outcome = "error"
			}
			m.tokenRefreshes.WithLabelValues(account, outcome).Inc()
		} else {
			m.corrigoCalls.WithLabelValues(account, statusClass(x)).Inc()
			m.corrigoLatency.WithLabelValues(account).Observe(x.Duration.Seconds())
		}
		if next != nil {
			next(x)
		}
	}
}

// isTokenRequest recognises the client's OAuth exchange: a form POST with
// the client-credentials grant (the body the client reports has the
// secret redacted, the grant type kept).
func isTokenRequest(x corrigo.Exchange) bool {
	return x.Method == "POST" && bytes.Contains(x.RequestBody, []byte("grant_type=client_credentials"))
}

func statusClass(x corrigo.Exchange) string {
	switch {
	case x.Status == 0:
		return "error"
	case x.Status < 300:
		return "2xx"
	case x.Status < 400:
		return "3xx"
	case x.Status < 500:
		return "4xx"
	}
	return "5xx"
}
