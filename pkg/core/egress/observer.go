package egress

import (
	"time"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// Outcome is what one Send did with an action, for metrics.
type Outcome string

// Outcomes of a Send.
const (
	OutcomeSent    Outcome = "sent"
	OutcomeRefused Outcome = "refused"
	OutcomeDead    Outcome = "dead"
	OutcomeParked  Outcome = "parked"
	OutcomeRetry   Outcome = "retry"
	// OutcomeWaiting: nothing was sent because the account's breaker is
	// open, CorrigoPro asked to wait (Retry-After) or the rate limit held
	// the call back; the attempt is not counted.
	OutcomeWaiting Outcome = "waiting"
	// OutcomeCanceled: the send was cut short by shutdown; the action's
	// lease expires and it is claimed again.
	OutcomeCanceled Outcome = "canceled"
)

// BreakerState is an account's circuit breaker state.
type BreakerState string

// Breaker states.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerHalfOpen BreakerState = "half-open"
	BreakerOpen     BreakerState = "open"
)

// Observer receives egress metrics. The gateway implements it with
// Prometheus collectors; this package stays free of Prometheus. Methods are
// called on the sending goroutines and must be fast and must not block.
type Observer interface {
	// ActionDone is called once per Send.
	ActionDone(account string, kind pluginapi.ActionKind, outcome Outcome, latency time.Duration)
	// BreakerChanged is called when an account's breaker changes state. It
	// runs while the breaker holds its lock: it must not call
	// Sender.BreakerState (that would deadlock) or anything that sends.
	BreakerChanged(account string, from, to BreakerState)
}

// NopObserver ignores everything. Embed it to implement only part of
// Observer.
type NopObserver struct{}

// ActionDone implements Observer.
func (NopObserver) ActionDone(string, pluginapi.ActionKind, Outcome, time.Duration) {}

// BreakerChanged implements Observer.
func (NopObserver) BreakerChanged(string, BreakerState, BreakerState) {}
