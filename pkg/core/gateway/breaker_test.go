package gateway

import (
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/egress"
)

// TestBreakerSettingsFromConfig: delivery.breaker and the accounts'
// breakers reach egress, and the run flags (Options.Breaker) override
// only the fields they set, for every account.
func TestBreakerSettingsFromConfig(t *testing.T) {
	cfg, err := config.Parse("b.yaml", []byte(`
corrigo:
  accounts:
    main: { sandbox: true, breaker: { consecutive_failures: 2 } }
    other: { sandbox: true, webhook: { disabled: true } }
delivery:
  breaker: { consecutive_failures: 8, open_timeout: 45s, half_open_requests: 3 }
`), config.Options{Environ: func() []string { return nil }, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	got := accountBreakers(cfg, egress.BreakerOptions{})
	want := map[string]egress.BreakerOptions{
		"main":  {ConsecutiveFailures: 2, OpenTimeout: 45 * time.Second, HalfOpenRequests: 3},
		"other": {ConsecutiveFailures: 8, OpenTimeout: 45 * time.Second, HalfOpenRequests: 3},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	if d := breakerOptions(cfg.Delivery.Breaker, egress.BreakerOptions{}); d != want["other"] {
		t.Errorf("default breaker %+v", d)
	}

	// --breaker-open-timeout 1s: every account, the other fields kept.
	got = accountBreakers(cfg, egress.BreakerOptions{OpenTimeout: time.Second})
	if got["main"] != (egress.BreakerOptions{ConsecutiveFailures: 2, OpenTimeout: time.Second, HalfOpenRequests: 3}) ||
		got["other"] != (egress.BreakerOptions{ConsecutiveFailures: 8, OpenTimeout: time.Second, HalfOpenRequests: 3}) {
		t.Errorf("with flag override: %+v", got)
	}
}
