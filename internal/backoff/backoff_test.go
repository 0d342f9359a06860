package backoff

import (
	"math"
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	cases := []struct {
		n    int
		want time.Duration
	}{{-3, time.Second}, {0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {7, time.Minute}, {1000, time.Minute}}
	for _, c := range cases {
		if got := Exponential(time.Second, time.Minute, c.n); got != c.want {
			t.Errorf("Exponential(1s, 1m, %d) = %v, want %v", c.n, got, c.want)
		}
	}
	// A cap near the largest Duration must not overflow into a negative wait.
	huge := time.Duration(math.MaxInt64)
	if got := Exponential(time.Hour, huge, 200); got != huge {
		t.Errorf("Exponential with a huge cap = %v, want %v", got, huge)
	}
}

// TestJitteredBounds: equal jitter keeps every delay in [d/2, d], for
// jitter values in and out of [0, 1).
func TestJitteredBounds(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		d := min(time.Second<<min(attempt-1, 30), time.Minute)
		for _, j := range []float64{0, 0.5, 0.999, 1.5, -1, math.NaN()} {
			got := Jittered(time.Second, time.Minute, attempt, j)
			if got < d/2 || got > d {
				t.Fatalf("attempt %d jitter %v: %v outside [%v, %v]", attempt, j, got, d/2, d)
			}
		}
	}
	if got := Jittered(time.Second, time.Minute, 3, 0.5); got != 3*time.Second {
		t.Errorf("Jittered(1s, 1m, 3, 0.5) = %v, want 3s", got)
	}
}
