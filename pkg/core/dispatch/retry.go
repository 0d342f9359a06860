package dispatch

import "time"

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
func (d *Dispatcher) SetRetryPolicy(p RetryPolicy) {
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
	d.retry.Store(&p)
}

func (d *Dispatcher) retryPolicy() RetryPolicy {
	if p := d.retry.Load(); p != nil {
		return *p
	}
	return RetryPolicy{MaxAttempts: d.o.MaxAttempts, BackoffBase: d.o.BackoffBase, BackoffMax: d.o.BackoffMax, RetryAfterMax: d.o.RetryAfterMax}
}
