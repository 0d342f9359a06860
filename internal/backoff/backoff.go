// Package backoff is the gateway's one doubling-delay formula, shared by
// dispatch (event retries), egress (action retries), the plugin supervisor
// (restarts) and the admin login throttle (blocks), so the same
// delivery.backoff_* keys mean the same waits for events and actions.
package backoff

import "time"

// Exponential is the wait before retry n: initial·2^(n−1), capped at
// limit (n below 1 counts as 1). It never overflows: doubling stops at
// limit.
func Exponential(initial, limit time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < limit; i++ {
		if d > limit/2 {
			d = limit
			break
		}
		d *= 2
	}
	return min(d, limit)
}

// Jittered is Exponential drawn from [d/2, d) by jitter, a number in
// [0, 1) (math/rand/v2.Float64; values outside are clamped): "equal
// jitter". Retries of many items failing at once spread over half the
// delay, and no wait is longer than limit.
func Jittered(initial, limit time.Duration, n int, jitter float64) time.Duration {
	d := float64(Exponential(initial, limit, n))
	jitter = min(max0(jitter), 0.999999)
	return time.Duration(d/2 + jitter*d/2)
}

func max0(f float64) float64 {
	if f < 0 || f != f { // NaN counts as 0
		return 0
	}
	return f
}
