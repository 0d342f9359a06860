package egress

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// TestRetryAfterHonoured: CorrigoPro answers the first accept with a 429
// (Retry-After: 4) or a 503 (Retry-After as an HTTP-date). The retry of
// that action, and the other work order's accept behind it, reach the
// server no sooner than CorrigoPro asked, though the computed backoff is
// 10 ms. Timestamps are the server's. The held action's claim is not a
// try: it ends sent with Attempts 1.
func TestRetryAfterHonoured(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		// header returns the Retry-After value and the time before which
		// no retry may arrive (zero: 4 s after the refusal).
		header func() (string, time.Time)
	}{
		{"429 delta-seconds", http.StatusTooManyRequests, func() (string, time.Time) { return "4", time.Time{} }},
		{"503 HTTP-date", http.StatusServiceUnavailable, func() (string, time.Time) {
			// An HTTP-date has whole seconds: ask for the second that
			// starts 3 to 4 s from now, and expect no call before it.
			at := time.Now().Add(4 * time.Second).Truncate(time.Second)
			return at.UTC().Format(http.TimeFormat), at
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			f := newFakeCorrigo(t)
			f.addWO(wo(1, corrigo.StatusNew))
			f.addWO(wo(2, corrigo.StatusNew))
			hdr, limit := tc.header()
			f.fail("api/workOrder/accept", 1, fault{tc.status, 1000, "slow down", hdr})
			s := newTestSender(t, f, Options{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
			// One send at a time: the second work order's accept is
			// claimed after the first one's answer.
			w := NewWorker(st, s, WorkerOptions{Concurrency: 1, PollInterval: 20 * time.Millisecond, Logger: quiet})
			enqueue(t, st, 1, false, pluginapi.Action{Kind: pluginapi.KindAccept})
			enqueue(t, st, 2, false, pluginapi.Action{Kind: pluginapi.KindAccept})
			start := time.Now()
			runWorker(t, w)
			got := waitSettled(t, st, 1, 2)

			calls := f.callsTo("api/workOrder/accept")
			if len(calls) != 3 {
				t.Fatalf("%d accept calls, want 3 (one refused, two sent): %+v", len(calls), calls)
			}
			first := calls[0].At
			if limit.IsZero() {
				limit = first.Add(4 * time.Second)
			}
			for _, c := range calls[1:] {
				if c.At.Before(limit) {
					t.Errorf("accept %s reached CorrigoPro %v after the %d, before the %v it asked for",
						c.MessageID, c.At.Sub(first), tc.status, limit.Sub(first))
				}
			}
			attempts := map[int]int{}
			for id, as := range got {
				if len(as) != 1 || as[0].Status != store.ActionSent {
					t.Fatalf("work order %d: %+v", id, as)
				}
				attempts[as[0].Attempts]++
			}
			// One action was refused and retried (2 tries), the other waited
			// without a try and went out on its first.
			if attempts[1] != 1 || attempts[2] != 1 {
				t.Errorf("attempts %v, want one action with 1 and one with 2", attempts)
			}
			t.Logf("%s: retries reached CorrigoPro %v and %v after the refusal (asked: %v); total %v",
				tc.name, calls[1].At.Sub(first).Round(time.Millisecond), calls[2].At.Sub(first).Round(time.Millisecond),
				limit.Sub(first).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestRetryAfterCapped: a Retry-After beyond RetryAfterMax waits
// RetryAfterMax; a negative RetryAfterMax ignores the header.
func TestRetryAfterCapped(t *testing.T) {
	f := newFakeCorrigo(t)
	f.addWO(wo(1, corrigo.StatusAccepted))
	accept := outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 1)
	for _, tc := range []struct {
		max      time.Duration
		min, top time.Duration
	}{
		{time.Second, time.Second, 2 * time.Second},             // capped, then a little jitter
		{-1, 0, 20 * time.Millisecond},                          // ignored: the backoff
		{time.Hour, time.Hour, time.Hour + 20*time.Millisecond}, // the header's hour
	} {
		f.fail("api/workOrder/note", 1, fault{429, 0, "slow down", "3600"})
		s := newTestSender(t, f, Options{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, RetryAfterMax: tc.max})
		r := s.Send(context.Background(), accept)
		if !r.Retry || r.NotCounted || r.RetryAfter < tc.min || r.RetryAfter > tc.top {
			t.Errorf("RetryAfterMax %v: %+v, want a counted retry after %v..%v", tc.max, r, tc.min, tc.top)
		}
		// The account waits too: the next call is not made.
		before := f.callCount()
		r = s.Send(context.Background(), accept)
		if tc.max > 0 {
			if !r.Retry || !r.NotCounted || r.Outcome() != OutcomeWaiting || f.callCount() != before {
				t.Errorf("RetryAfterMax %v: send during the wait: %+v (calls %d → %d)", tc.max, r, before, f.callCount())
			}
		} else if r.Retry || f.callCount() == before {
			t.Errorf("Retry-After ignored, but the next send did not go out: %+v", r)
		}
	}
}

// TestRateLimitedSendWaits: a send the account's rate limit would hold
// past its deadline is not made; the action waits for the next slot
// without spending an attempt, and nothing counts against the breaker.
func TestRateLimitedSendWaits(t *testing.T) {
	f := newFakeCorrigo(t)
	f.addWO(wo(1, corrigo.StatusAccepted))
	c, err := corrigo.NewClient(corrigo.Config{
		BaseURL: f.srv.URL + "/Direct/", OAuthURL: f.srv.URL + "/OAuth/Token", ClientID: "id", ClientSecret: "secret",
		// Two slots: the first note's guard reads the work order's status,
		// then the note goes out; the second note finds the status cached
		// and only its PUT waits for a slot.
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, RateLimiter: rate.NewLimiter(rate.Every(time.Hour), 2),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(map[string]API{"main": c}, Options{Logger: quiet, Breaker: BreakerOptions{ConsecutiveFailures: 1}})
	note := outbox(t, 1, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: 1, Text: "x"}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r := s.Send(ctx, note); r.Status != store.ActionSent {
		t.Fatalf("first send: %+v", r)
	}
	before := f.callCount()
	r := s.Send(ctx, note)
	if !r.Retry || !r.NotCounted || r.Outcome() != OutcomeWaiting || r.RetryAfter < 50*time.Minute || r.RetryAfter > 61*time.Minute {
		t.Fatalf("rate-limited send: %+v, want an uncounted wait of about an hour", r)
	}
	if f.callCount() != before {
		t.Fatal("a rate-limited call reached CorrigoPro")
	}
	if st := s.BreakerState("main"); st != BreakerClosed {
		t.Fatalf("breaker %s after a rate-limited call, want closed", st)
	}
}
