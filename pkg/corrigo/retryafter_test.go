package corrigo

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestAPIErrorRetryAfter: a 429 or 503 carries its Retry-After (both
// forms) into the APIError; other statuses' header is ignored.
func TestAPIErrorRetryAfter(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		status   int
		header   string
		min, max time.Duration
	}{
		{"429 delta-seconds", 429, "4", 4 * time.Second, 4 * time.Second},
		{"503 delta-seconds", 503, "120", 2 * time.Minute, 2 * time.Minute},
		{"503 HTTP-date", 503, date, 88 * time.Second, 90 * time.Second},
		{"429 without header", 429, "", 0, 0},
		{"429 garbage", 429, "soon", 0, 0},
		{"500 ignores it", 500, "4", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClientFake(t)
			f.handler = func(w http.ResponseWriter, _ *http.Request, _ clientRecorded) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"Code":1000,"Message":"busy"}`))
			}
			err := f.client().Accept(context.Background(), AcceptRequest{WorkOrderId: 5})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %v is not an APIError", err)
			}
			if ae.RetryAfter < tc.min || ae.RetryAfter > tc.max {
				t.Fatalf("RetryAfter %v, want %v..%v", ae.RetryAfter, tc.min, tc.max)
			}
			if ClassOf(err) != ClassTransient {
				t.Fatalf("class %s", ClassOf(err))
			}
		})
	}
}

// TestRateLimiter: the limiter paces calls; a wait longer than half the
// call's remaining time is not started and fails as ErrRateLimited
// without a request.
func TestRateLimiter(t *testing.T) {
	f := newClientFake(t)
	f.handler = func(w http.ResponseWriter, _ *http.Request, _ clientRecorded) {
		_, _ = w.Write([]byte(`{}`))
	}
	c := f.client(func(cfg *Config) { cfg.RateLimiter = rate.NewLimiter(rate.Every(300*time.Millisecond), 1) })
	start := time.Now()
	for range 3 {
		if err := c.Accept(context.Background(), AcceptRequest{WorkOrderId: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 550*time.Millisecond {
		t.Fatalf("3 calls at one per 300ms took %v", took)
	}
	before := f.apiRequests.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.Accept(ctx, AcceptRequest{WorkOrderId: 5})
	var rl *RateLimitError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &rl) || rl.Delay <= 0 {
		t.Fatalf("err %v, want a RateLimitError with a delay", err)
	}
	if f.apiRequests.Load() != before {
		t.Fatal("a rate-limited call was sent")
	}
	if ClassOf(err) != ClassTransient {
		t.Fatalf("class %s", ClassOf(err))
	}
}
