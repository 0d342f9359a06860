package corrigo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token-source limits.
const (
	// DefaultRefreshBefore is how long before expiry a token is refreshed.
	DefaultRefreshBefore = 60 * time.Second
	// tokenFetchTimeout bounds one token request. The request runs detached
	// from the caller that started it, because every caller waiting for the
	// same refresh would otherwise fail when that one caller gives up.
	tokenFetchTimeout = 30 * time.Second
	// unknownTokenLifetime is assumed when the server sends no expires_in.
	// It is short on purpose: a 401 refreshes early anyway.
	unknownTokenLifetime = 5 * time.Minute
	// refreshRetryDelay spaces background refresh attempts after a failure.
	refreshRetryDelay = 5 * time.Second
	maxTokenResponse  = 1 << 20
	redacted          = "REDACTED"
)

// tokenSource fetches OAuth2 client-credentials tokens and caches them.
//
// Concurrency: at most one token request is in flight. Callers that need a
// token while none is valid wait for that request (or their own context).
// While the cached token is inside its refresh window but not yet expired,
// callers keep using it and one background refresh replaces it, so a busy
// client never stalls on token expiry and never sends a burst of token
// requests.
type tokenSource struct {
	oauthURL      string
	clientID      string
	clientSecret  string
	refreshBefore time.Duration
	httpClient    *http.Client
	userAgent     string
	observe       func(Exchange)
	now           func() time.Time

	mu       sync.Mutex
	token    string
	expiry   time.Time // when the server says the token dies
	refresh  time.Time // when to start replacing it
	inflight *tokenFetch
}

type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// get returns a valid token, fetching one if needed.
func (s *tokenSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	now := s.now()
	if s.token != "" && now.Before(s.expiry) {
		tok := s.token
		if !now.Before(s.refresh) && s.inflight == nil {
			s.startLocked(ctx) // proactive: nobody waits for it
		}
		s.mu.Unlock()
		return tok, nil
	}
	f := s.inflight
	if f == nil {
		f = s.startLocked(ctx)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("corrigo: waiting for access token: %w", ctx.Err())
	}
}

// invalidate drops tok from the cache if it is still the cached token, so
// that the next get fetches a new one. Comparing first means a burst of 401s
// caused by one expired token clears it once, not once per call.
func (s *tokenSource) invalidate(tok string) {
	s.mu.Lock()
	if s.token == tok {
		s.token = ""
		s.expiry = time.Time{}
		s.refresh = time.Time{}
	}
	s.mu.Unlock()
}

// startLocked begins a token request. s.mu must be held.
func (s *tokenSource) startLocked(ctx context.Context) *tokenFetch {
	f := &tokenFetch{done: make(chan struct{})}
	s.inflight = f
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
	go func() {
		defer cancel()
		tok, lifetime, err := s.fetch(fctx)
		s.mu.Lock()
		if err == nil {
			now := s.now()
			s.token = tok
			s.expiry = now.Add(lifetime)
			before := s.refreshBefore
			if before >= lifetime {
				// A lifetime shorter than the refresh window would mean a
				// refresh on every call: refresh at half-life instead.
				before = lifetime / 2
			}
			s.refresh = s.expiry.Add(-before)
		} else if now := s.now(); s.token != "" && now.Before(s.expiry) {
			// A background refresh failed while the old token still
			// works: keep using it and try again shortly, not on every call.
			s.refresh = now.Add(refreshRetryDelay)
		}
		s.inflight = nil
		f.token, f.err = tok, err
		s.mu.Unlock()
		close(f.done)
	}()
	return f
}

// fetch performs one token request.
func (s *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.clientID},
		"client_secret": {s.clientSecret},
	}
	ex := Exchange{Start: s.now(), Method: http.MethodPost, URL: s.oauthURL}
	if s.observe != nil {
		shown := url.Values{"grant_type": form["grant_type"], "client_id": form["client_id"], "client_secret": {redacted}}
		ex.RequestBody = []byte(shown.Encode())
		defer func() { ex.Duration = s.now().Sub(ex.Start); s.observe(ex) }()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.oauthURL, strings.NewReader(form.Encode()))
	if err != nil {
		ex.Err = err
		return "", 0, &TokenError{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	if s.userAgent != "" {
		req.Header.Set("User-Agent", s.userAgent)
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		ex.Err = err
		return "", 0, &TokenError{Err: err}
	}
	defer func() { _ = resp.Body.Close() }() // read-only body
	ex.Status = resp.StatusCode
	body, err := readBounded(resp.Body, maxTokenResponse)
	if err != nil {
		ex.Err = err
		return "", 0, &TokenError{StatusCode: resp.StatusCode, Err: fmt.Errorf("read token response: %w", err)}
	}
	var tr TokenResponse
	jerr := json.Unmarshal(body, &tr)
	if s.observe != nil {
		ex.ResponseBody = redactTokenBody(body)
	}
	switch {
	case resp.StatusCode/100 != 2 || tr.Error != "":
		te := &TokenError{StatusCode: resp.StatusCode, OAuthError: tr.Error, Description: tr.ErrorDesc}
		if tr.Error == "" && jerr != nil {
			te.Description = snippet(body)
		}
		ex.Err = te
		return "", 0, te
	case jerr != nil:
		te := &TokenError{StatusCode: resp.StatusCode, Err: fmt.Errorf("decode token response: %w", jerr)}
		ex.Err = te
		return "", 0, te
	case tr.AccessToken == "":
		te := &TokenError{StatusCode: resp.StatusCode, Description: "response carries no access_token"}
		ex.Err = te
		return "", 0, te
	}
	if tt := strings.ToLower(tr.TokenType); tt != "" && tt != "bearer" {
		te := &TokenError{StatusCode: resp.StatusCode, Description: "unsupported token_type " + fmt.Sprintf("%q", tr.TokenType)}
		ex.Err = te
		return "", 0, te
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = unknownTokenLifetime
	}
	return tr.AccessToken, lifetime, nil
}

// redactTokenBody replaces the value of every access_token (and the
// deprecated refresh_token) member, in any letter case as encoding/json
// matches them, with REDACTED. A body that is not a JSON object carries no
// token the client would use and is returned as is.
func redactTokenBody(body []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	changed := false
	for k := range m {
		if strings.EqualFold(k, "access_token") || strings.EqualFold(k, "refresh_token") {
			m[k] = json.RawMessage(`"` + redacted + `"`)
			changed = true
		}
	}
	if !changed {
		return body
	}
	out, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"access_token":"` + redacted + `"}`)
	}
	return out
}

// errBodyTooLarge is returned when a response exceeds its read bound.
var errBodyTooLarge = errors.New("response body too large")

// readBounded reads all of r, failing once more than limit bytes arrive.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (over %d bytes)", errBodyTooLarge, limit)
	}
	return b, nil
}
