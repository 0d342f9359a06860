package gateway

import (
	"math"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/egress"
)

// breakerOptions turns a configured breaker into egress settings, with the
// non-zero fields of override (gateway run's flags) taking precedence.
func breakerOptions(b config.Breaker, override egress.BreakerOptions) egress.BreakerOptions {
	out := egress.BreakerOptions{
		ConsecutiveFailures: uint32(min(max(b.ConsecutiveFailures, 0), math.MaxUint32)),
		OpenTimeout:         b.OpenTimeout,
		HalfOpenRequests:    uint32(min(max(b.HalfOpenRequests, 0), math.MaxUint32)),
	}
	if override.ConsecutiveFailures > 0 {
		out.ConsecutiveFailures = override.ConsecutiveFailures
	}
	if override.OpenTimeout > 0 {
		out.OpenTimeout = override.OpenTimeout
	}
	if override.HalfOpenRequests > 0 {
		out.HalfOpenRequests = override.HalfOpenRequests
	}
	return out
}

// accountBreakers is each account's breaker (corrigo.accounts.<name>.breaker,
// which inherits delivery.breaker), with override applied.
func accountBreakers(cfg *config.Config, override egress.BreakerOptions) map[string]egress.BreakerOptions {
	out := make(map[string]egress.BreakerOptions, len(cfg.Corrigo.Accounts))
	for name, a := range cfg.Corrigo.Accounts {
		out[name] = breakerOptions(a.Breaker, override)
	}
	return out
}
