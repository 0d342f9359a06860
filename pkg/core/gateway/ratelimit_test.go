package gateway

import (
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wogate/wogate/pkg/core/config"
)

func TestRateLimiterFromConfig(t *testing.T) {
	if l := rateLimiter(config.RateLimit{}); l != nil {
		t.Fatalf("rate_limit off gave a limiter: %+v", l)
	}
	for _, tc := range []struct {
		in    config.RateLimit
		limit rate.Limit
		burst int
	}{
		{config.RateLimit{PerSecond: 0.5}, 0.5, 1},
		{config.RateLimit{PerSecond: 4.2}, 4.2, 5},
		{config.RateLimit{PerSecond: 5, Burst: 20}, 5, 20},
	} {
		l := rateLimiter(tc.in)
		if l == nil || l.Limit() != tc.limit || l.Burst() != tc.burst {
			t.Errorf("%+v: limiter %v/%v, want %v/%d", tc.in, l.Limit(), l.Burst(), tc.limit, tc.burst)
		}
	}
	for _, tc := range []struct{ in, want time.Duration }{{0, -1}, {time.Minute, time.Minute}} {
		if got := retryAfterMax(tc.in); got != tc.want {
			t.Errorf("retryAfterMax(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
