package egress

import (
	"fmt"
	"sort"
	"time"

	"github.com/sony/gobreaker/v2"
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
func (s *Sender) SetRetryPolicy(p RetryPolicy) { s.retry.Store(normalizeRetry(p)) }

func normalizeRetry(p RetryPolicy) *RetryPolicy {
	o := Options{InitialBackoff: p.InitialBackoff, MaxBackoff: p.MaxBackoff, MaxAttempts: p.MaxAttempts, RetryAfterMax: p.RetryAfterMax}.withDefaults()
	return &RetryPolicy{InitialBackoff: o.InitialBackoff, MaxBackoff: o.MaxBackoff, MaxAttempts: o.MaxAttempts, RetryAfterMax: o.RetryAfterMax}
}

// RetryPolicy returns the retry policy in force.
func (s *Sender) RetryPolicy() RetryPolicy { return s.retryPolicy() }

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
	return s.prepareBreakers(def, per)()
}

// Reload is a prepared change of the sender's retry policy and breaker
// settings (PrepareReload). Nothing changes until Apply.
type Reload struct {
	retry    *RetryPolicy
	breakers func() []string
}

// PrepareReload checks a new retry policy and breaker settings (as
// SetRetryPolicy and SetBreakers take them) and builds the breakers they
// replace, without touching the running ones: a caller that changes
// several components together applies them all, or, if any refuses its
// settings, none. Negative attempts, backoffs or breaker timeouts are
// refused.
func (s *Sender) PrepareReload(p RetryPolicy, def BreakerOptions, per map[string]BreakerOptions) (*Reload, error) {
	if p.MaxAttempts < 0 || p.InitialBackoff < 0 || p.MaxBackoff < 0 {
		return nil, fmt.Errorf("egress: negative retry setting %+v", p)
	}
	if def.OpenTimeout < 0 {
		return nil, fmt.Errorf("egress: negative breaker open timeout %s", def.OpenTimeout)
	}
	for name, b := range per {
		if b.OpenTimeout < 0 {
			return nil, fmt.Errorf("egress: account %s: negative breaker open timeout %s", name, b.OpenTimeout)
		}
	}
	return &Reload{retry: normalizeRetry(p), breakers: s.prepareBreakers(def, per)}, nil
}

// Apply installs the prepared retry policy and breakers, as SetRetryPolicy
// and SetBreakers would, and returns the accounts whose breaker was
// replaced, sorted. It is quick and cannot fail; call it once.
func (s *Sender) Apply(r *Reload) []string {
	s.retry.Store(r.retry)
	return r.breakers()
}

// prepareBreakers builds the breakers of the accounts whose settings
// differ from def and per; the returned function installs them.
func (s *Sender) prepareBreakers(def BreakerOptions, per map[string]BreakerOptions) func() []string {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	o := Options{Breaker: def, AccountBreakers: per}.withDefaults()
	next := &Sender{opts: o}
	type change struct {
		a  *account
		bo BreakerOptions
		cb *gobreaker.CircuitBreaker[any]
	}
	var changes []change
	for name, a := range s.accounts {
		bo := next.breakerOptions(name)
		if bo == a.bo {
			continue
		}
		changes = append(changes, change{a, bo, s.newBreaker(a, bo)})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].a.name < changes[j].a.name })
	return func() []string {
		s.bmu.Lock()
		defer s.bmu.Unlock()
		replaced := make([]string, 0, len(changes))
		for _, c := range changes {
			c.a.bo = c.bo
			s.installBreaker(c.a, c.cb)
			replaced = append(replaced, c.a.name)
			s.opts.Logger.Info("corrigo circuit breaker settings changed; the breaker starts closed", "account", c.a.name,
				"consecutive_failures", c.bo.ConsecutiveFailures, "open_timeout", c.bo.OpenTimeout, "half_open_requests", c.bo.HalfOpenRequests)
		}
		if len(replaced) == 0 {
			return nil
		}
		return replaced
	}
}

// installBreaker makes cb a's breaker; a new breaker starts closed.
func (s *Sender) installBreaker(a *account, cb *gobreaker.CircuitBreaker[any]) {
	a.openUntil.Store(0)
	a.outageSince.Store(0)
	a.cb.Store(cb)
}
