package dispatch

import (
	"fmt"
	"time"
)

// RetryPolicy is the part of Options a config reload may change.
type RetryPolicy struct {
	MaxAttempts             int
	BackoffBase, BackoffMax time.Duration
	// RetryAfterMax as Options.RetryAfterMax; 0 keeps the current value.
	RetryAfterMax time.Duration
}

// SetRetryPolicy changes how often and how soon failed events are retried,
// from the next outcome on (zero fields keep the current values). Events
// already waiting keep the time they were given.
func (d *Dispatcher) SetRetryPolicy(p RetryPolicy) { d.retry.Store(d.fillRetry(p)) }

// PrepareRetryPolicy checks p and returns the function that makes it the
// retry policy, as SetRetryPolicy does, for a caller that changes several
// components together: if any of them refuses its settings, none is
// applied. Negative attempts or backoffs are refused (a negative
// RetryAfterMax ignores Retry-After, as in Options). The returned
// function is quick and cannot fail.
func (d *Dispatcher) PrepareRetryPolicy(p RetryPolicy) (apply func(), err error) {
	if p.MaxAttempts < 0 || p.BackoffBase < 0 || p.BackoffMax < 0 {
		return nil, fmt.Errorf("dispatch: negative retry setting %+v", p)
	}
	return func() { d.SetRetryPolicy(p) }, nil
}

// fillRetry is p with its zero fields taken from the policy in force.
func (d *Dispatcher) fillRetry(p RetryPolicy) *RetryPolicy {
	cur := d.retryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = cur.MaxAttempts
	}
	if p.BackoffBase <= 0 {
		p.BackoffBase = cur.BackoffBase
	}
	if p.BackoffMax <= 0 {
		p.BackoffMax = cur.BackoffMax
	}
	if p.RetryAfterMax == 0 {
		p.RetryAfterMax = cur.RetryAfterMax
	}
	return &p
}

// RetryPolicy returns the retry policy in force.
func (d *Dispatcher) RetryPolicy() RetryPolicy { return d.retryPolicy() }

func (d *Dispatcher) retryPolicy() RetryPolicy {
	if p := d.retry.Load(); p != nil {
		return *p
	}
	return RetryPolicy{MaxAttempts: d.o.MaxAttempts, BackoffBase: d.o.BackoffBase, BackoffMax: d.o.BackoffMax, RetryAfterMax: d.o.RetryAfterMax}
}
