package erprest

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// TestStatusErrorRetryAfter: a 429 or 503 with Retry-After becomes a
// retryable error carrying the wait (both forms); without the header, or
// on another status, the gateway's backoff decides.
func TestStatusErrorRetryAfter(t *testing.T) {
	date := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		status   int
		header   string
		min, max time.Duration
	}{
		{429, "4", 4 * time.Second, 4 * time.Second},
		{503, date, 58 * time.Second, time.Minute},
		{429, "", 0, 0},
		{500, "4", 0, 0},
		{503, "later", 0, 0},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		err := statusError("create job", &response{Status: tc.status, Header: h}, "busy")
		var pe *pluginapi.Error
		if !errors.As(err, &pe) || !pe.Retryable {
			t.Fatalf("%d %q: %v is not retryable", tc.status, tc.header, err)
		}
		if pe.RetryAfter < tc.min || pe.RetryAfter > tc.max {
			t.Errorf("%d %q: RetryAfter %v, want %v..%v", tc.status, tc.header, pe.RetryAfter, tc.min, tc.max)
		}
		// retryable() keeps the wait when it rewraps.
		if r := retryable(fmt.Errorf("ctx: %w", err)); r.(*pluginapi.Error).RetryAfter != pe.RetryAfter {
			t.Errorf("retryable dropped RetryAfter: %+v", r)
		}
	}
}
