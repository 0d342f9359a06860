package corrigo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenFetchedOnceUnderConcurrency(t *testing.T) {
	f := newClientFake(t)
	f.tokenDelay = 50 * time.Millisecond // every caller arrives while the fetch is in flight
	c := f.client()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Customers(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenRequests.Load(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	if n := f.apiRequests.Load(); n != 50 {
		t.Fatalf("API requests = %d, want 50", n)
	}
	form := f.tokenForms[0]
	for k, want := range map[string]string{"grant_type": "client_credentials", "client_id": fakeClientID, "client_secret": fakeClientSecret} {
		if got := form.Get(k); got != want {
			t.Errorf("token form %s = %q, want %q", k, got, want)
		}
	}
}

func TestTokenCachedAcrossCalls(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	for range 5 {
		if _, err := c.Customers(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenRequests.Load(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
}

// waitTokenRequests waits (bounded) until the fake has seen n token requests.
func waitTokenRequests(t *testing.T, f *clientFake, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.tokenRequests.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("token requests = %d, want %d", f.tokenRequests.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTokenRefreshSchedule(t *testing.T) {
	tests := []struct {
		name          string
		expiresIn     int
		refreshBefore time.Duration
		// still the first token just before refreshAt, a background
		// refresh at refreshAt
		refreshAt time.Duration
	}{
		{"default window", 1199, 0, 1199*time.Second - DefaultRefreshBefore},
		{"custom window", 1199, 5 * time.Minute, 1199*time.Second - 5*time.Minute},
		{"short-lived token refreshes at half-life", 10, time.Minute, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			f.expiresIn = tt.expiresIn
			c := f.client(func(cfg *Config) { cfg.RefreshBefore = tt.refreshBefore })
			clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			c.auth.now = clk.now
			ctx := context.Background()
			tok, err := c.Token(ctx)
			if err != nil || tok != "tok-1" {
				t.Fatalf("first token = %q, %v", tok, err)
			}
			clk.advance(tt.refreshAt - time.Millisecond)
			if tok, _ := c.Token(ctx); tok != "tok-1" || f.tokenRequests.Load() != 1 {
				t.Fatalf("before the window: token %q after %d requests", tok, f.tokenRequests.Load())
			}
			clk.advance(time.Millisecond)
			// Inside the window the still-valid token is returned at once
			// while one refresh runs in the background.
			if tok, _ := c.Token(ctx); tok != "tok-1" {
				t.Fatalf("inside the window: token %q, want the cached tok-1", tok)
			}
			waitTokenRequests(t, f, 2)
			deadline := time.Now().Add(5 * time.Second)
			for {
				tok, err := c.Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tok == "tok-2" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("refreshed token never used; still %q", tok)
				}
				time.Sleep(time.Millisecond)
			}
			if n := f.tokenRequests.Load(); n != 2 {
				t.Fatalf("token requests = %d, want 2", n)
			}
		})
	}
}

func TestTokenExpiredWaitsForNewOne(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.auth.now = clk.now
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.advance(1199 * time.Second)
	tok, err := c.Token(context.Background())
	if err != nil || tok != "tok-2" {
		t.Fatalf("after expiry: %q, %v; want tok-2", tok, err)
	}
}

func TestRetryOnceAfter401(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	ctx := context.Background()
	if _, err := c.Customers(ctx); err != nil {
		t.Fatal(err)
	}
	f.revoke() // the server forgets tok-1: the next call gets a 401
	if _, err := c.Customers(ctx); err != nil {
		t.Fatalf("call after revocation: %v", err)
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("API requests = %d, want 3 (ok, 401, retry)", len(reqs))
	}
	if a, b := reqs[1].Header.Get("Authorization"), reqs[2].Header.Get("Authorization"); a != "Bearer tok-1" || b != "Bearer tok-2" {
		t.Fatalf("authorization: %q then %q", a, b)
	}
	if a, b := reqs[1].Query.Get("messageId"), reqs[2].Query.Get("messageId"); a != b {
		t.Fatalf("the retry must keep the MessageId: %q vs %q", a, b)
	}
}

func TestPersistent401IsNotRetriedForever(t *testing.T) {
	f := newClientFake(t)
	f.unauthorizedN = 1000
	c := f.client()
	err := c.Accept(context.Background(), AcceptRequest{WorkOrderId: 7})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if ae.StatusCode != 401 || ae.Code != CodeUnauthorized || ClassOf(err) != ClassAuth {
		t.Fatalf("got %+v class %s", ae, ClassOf(err))
	}
	if !strings.Contains(ae.Hint, "token") {
		t.Errorf("hint %q does not mention the token", ae.Hint)
	}
	if n := f.apiRequests.Load(); n != 2 {
		t.Fatalf("API requests = %d, want exactly 2 (call + one retry)", n)
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestConcurrent401sRefreshOnce(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	if _, err := c.Customers(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.revoke()
	f.tokenDelay = 30 * time.Millisecond
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Customers(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// All 20 saw tok-1 rejected; invalidation is compare-and-clear, so the
	// burst causes few refreshes, not 20. (A caller whose 401 arrives after
	// tok-2 was cached does not clear tok-2.)
	if n := f.tokenRequests.Load(); n > 3 {
		t.Fatalf("token requests = %d after a 401 burst, want ≤ 3", n)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(f *clientFake, cfg *Config)
		wantIs     error
		wantStatus int
		wantClass  Class
		wantText   string
	}{
		{"invalid client", func(_ *clientFake, cfg *Config) { cfg.ClientSecret = "wrong-secret" }, ErrInvalidClient, 400, ClassNeedsPerson, "invalid_client"},
		{"unsupported grant type", func(f *clientFake, _ *Config) { f.tokenError = "unsupported_grant_type" }, ErrUnsupportedGrantType, 400, ClassNeedsPerson, "unsupported_grant_type"},
		{"server error", func(f *clientFake, _ *Config) { f.tokenError = "server_error"; f.tokenStatus = 503 }, nil, 503, ClassTransient, "server_error"},
		{"wrong token URL", func(f *clientFake, cfg *Config) { cfg.OAuthURL = f.srv.URL + "/nope" }, nil, 404, ClassNeedsPerson, "HTTP 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			var seen []Exchange
			var mu sync.Mutex
			c := f.client(func(cfg *Config) {
				tt.mutate(f, cfg)
				cfg.Observer = func(e Exchange) { mu.Lock(); seen = append(seen, e); mu.Unlock() }
			})
			_, err := c.Customers(context.Background())
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want *TokenError", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if te.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", te.StatusCode, tt.wantStatus)
			}
			if got := ClassOf(err); got != tt.wantClass {
				t.Errorf("class %s, want %s", got, tt.wantClass)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), fakeClientSecret) || strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("error leaks the secret: %q", err)
			}
			if f.apiRequests.Load() != 0 {
				t.Errorf("an API call was made without a token")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 {
				t.Fatalf("observed %d exchanges, want the token request", len(seen))
			}
			if b := string(seen[0].RequestBody); strings.Contains(b, "secret-value") || strings.Contains(b, "wrong-secret") || !strings.Contains(b, "client_secret=REDACTED") {
				t.Errorf("observed token request body %q", b)
			}
		})
	}
}

func TestTokenTransportErrorIsTransient(t *testing.T) {
	f := newClientFake(t)
	c := f.client(func(cfg *Config) { cfg.OAuthURL = "http://127.0.0.1:1/OAuth/Token" })
	_, err := c.Token(context.Background())
	var te *TokenError
	if !errors.As(err, &te) || te.Err == nil {
		t.Fatalf("err = %v, want *TokenError with a transport error", err)
	}
	if ClassOf(err) != ClassTransient {
		t.Fatalf("class %s, want transient", ClassOf(err))
	}
}

func TestTokenWaitHonoursCallerContext(t *testing.T) {
	f := newClientFake(t)
	f.tokenDelay = 300 * time.Millisecond
	c := f.client()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Token(ctx)
	if !errors.Is(err, context.Canceled) || ClassOf(err) != ClassCanceled {
		t.Fatalf("err = %v (class %s), want canceled", err, ClassOf(err))
	}
	// The fetch that caller started keeps going for the others.
	tok, err := c.Token(context.Background())
	if err != nil || tok != "tok-1" {
		t.Fatalf("second caller: %q, %v", tok, err)
	}
	if n := f.tokenRequests.Load(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
}

func TestInvalidateOnlyClearsTheRejectedToken(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	ctx := context.Background()
	if tok, _ := c.Token(ctx); tok != "tok-1" {
		t.Fatal(tok)
	}
	c.auth.invalidate("tok-1")
	if tok, _ := c.Token(ctx); tok != "tok-2" {
		t.Fatalf("after invalidating tok-1: %q, want tok-2", tok)
	}
	// A late 401 for the old token must not throw away the new one.
	c.auth.invalidate("tok-1")
	if tok, _ := c.Token(ctx); tok != "tok-2" {
		t.Fatalf("stale invalidation replaced the token: %q", tok)
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestFailedBackgroundRefreshKeepsTokenAndBacksOff(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.auth.now = clk.now
	ctx := context.Background()
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.tokenError, f.tokenStatus = "temporarily_unavailable", 503
	f.mu.Unlock()
	clk.advance(1199*time.Second - DefaultRefreshBefore) // into the refresh window
	if tok, err := c.Token(ctx); err != nil || tok != "tok-1" {
		t.Fatalf("in the window: %q, %v", tok, err)
	}
	waitTokenRequests(t, f, 2)
	// Wait for the failed fetch to settle, then call again: the old token
	// still serves and no new request is made until the retry delay passes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.auth.mu.Lock()
		idle := c.auth.inflight == nil
		c.auth.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refresh never finished")
		}
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		if tok, err := c.Token(ctx); err != nil || tok != "tok-1" {
			t.Fatalf("after failed refresh: %q, %v", tok, err)
		}
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("token requests = %d, want 2 (no retry before the delay)", n)
	}
	clk.advance(refreshRetryDelay)
	f.mu.Lock()
	f.tokenError = ""
	f.mu.Unlock()
	_, _ = c.Token(ctx) // only the request it makes matters here
	waitTokenRequests(t, f, 3)
}
