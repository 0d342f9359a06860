package egress

import (
	"sort"
	"time"
)

// RetryPolicy is the part of Options a config reload may change.
type RetryPolicy struct {
	InitialBackoff, MaxBackoff time.Duration
	MaxAttempts                int
	// RetryAfterMax as Options.RetryAfterMax (0: the default, negative:
	// ignore Retry-After).
	RetryAfterMax time.Duration
}

// SetRetryPolicy changes the retry settings for the next sends (zero
// fields take the defaults of Options). Sends in flight finish under the
// old ones.
func (s *Sender) SetRetryPolicy(p RetryPolicy) {
	o := Options{InitialBackoff: p.InitialBackoff, MaxBackoff: p.MaxBackoff, MaxAttempts: p.MaxAttempts, RetryAfterMax: p.RetryAfterMax}.withDefaults()
	s.retry.Store(&RetryPolicy{InitialBackoff: o.InitialBackoff, MaxBackoff: o.MaxBackoff, MaxAttempts: o.MaxAttempts, RetryAfterMax: o.RetryAfterMax})
}

func (s *Sender) retryPolicy() RetryPolicy {
	if p := s.retry.Load(); p != nil {
		return *p
	}
	return RetryPolicy{InitialBackoff: s.opts.InitialBackoff, MaxBackoff: s.opts.MaxBackoff, MaxAttempts: s.opts.MaxAttempts, RetryAfterMax: s.opts.RetryAfterMax}
}

// SetBreakers changes the circuit breaker settings (def for every account,
// per overriding it field by field, as Options.Breaker and
// Options.AccountBreakers). An account whose settings change gets a new
// breaker, which starts closed: gobreaker cannot carry state over, and a
// breaker that trips again after the new number of failures costs only
// those calls. Accounts whose settings are unchanged keep their breaker
// and its state. It returns the accounts whose breaker was replaced,
// sorted.
func (s *Sender) SetBreakers(def BreakerOptions, per map[string]BreakerOptions) []string {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	o := Options{Breaker: def, AccountBreakers: per}.withDefaults()
	next := &Sender{opts: o}
	var replaced []string
	for name, a := range s.accounts {
		bo := next.breakerOptions(name)
		if bo == a.bo {
			continue
		}
		a.bo = bo
		a.cb.Store(s.newBreaker(a, bo))
		replaced = append(replaced, name)
		s.opts.Logger.Info("corrigo circuit breaker settings changed; the breaker starts closed", "account", name,
			"consecutive_failures", bo.ConsecutiveFailures, "open_timeout", bo.OpenTimeout, "half_open_requests", bo.HalfOpenRequests)
	}
	sort.Strings(replaced)
	return replaced
}
