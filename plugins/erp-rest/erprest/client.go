package erprest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// client talks to the ERP: it joins paths to the base URL, adds the
// configured headers and authentication, bounds every request by the
// configured timeout and reads at most max_response_bytes of an answer.
type client struct {
	cfg    *Config
	hc     *http.Client
	tokens *tokenSource // oauth2 only
	ua     string
}

// response is an ERP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// requestError is a request that got no (complete) answer: a refused
// connection, a timeout, a reset. Always worth trying again later.
type requestError struct {
	Op  string
	Err error
}

func (e *requestError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *requestError) Unwrap() error { return e.Err }

func newClient(cfg *Config) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = cfg.MaxIdleConns
	tr.MaxIdleConnsPerHost = cfg.MaxIdleConns
	tr.IdleConnTimeout = 90 * time.Second
	tr.ResponseHeaderTimeout = cfg.Timeout
	c := &client{cfg: cfg, hc: &http.Client{Transport: tr, CheckRedirect: sameHostRedirect}, ua: "wogate-erp-rest/" + Version}
	if cfg.Auth.Type == AuthOAuth2ClientCreds {
		c.tokens = &tokenSource{cfg: cfg, hc: c.hc, ua: c.ua}
	}
	return c
}

// sameHostRedirect follows at most 5 redirects and never to another host:
// credentials must not leak to wherever an ERP points.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("refusing redirect to another host (%s)", req.URL.Host)
	}
	return nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// resolve joins a rendered path (which may carry a query) to the base URL.
// Absolute URLs are refused so a template cannot send credentials to
// another host.
func (c *client) resolve(path string) (string, error) {
	if strings.Contains(path, "://") || strings.HasPrefix(path, "//") {
		return "", fmt.Errorf("path %q must be relative to base_url", path)
	}
	base := strings.TrimRight(c.cfg.BaseURL.String(), "/")
	u := base
	if path != "" {
		u += "/" + strings.TrimLeft(path, "/")
	}
	if _, err := url.Parse(u); err != nil {
		return "", fmt.Errorf("bad URL %q: %w", u, err)
	}
	return u, nil
}

// do sends one request. A nil body sends none. A 401 with OAuth2 drops
// the cached token and tries once more with a fresh one.
func (c *client) do(ctx context.Context, op, method, path string, body any, extra http.Header) (*response, error) {
	u, err := c.resolve(path)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s: encode body: %w", op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, op, method, u, payload, extra)
		if err != nil {
			return nil, err
		}
		if resp.Status == http.StatusUnauthorized && c.tokens != nil && attempt == 0 {
			c.tokens.invalidate()
			continue
		}
		return resp, nil
	}
}

func (c *client) once(ctx context.Context, op, method, u string, payload []byte, extra http.Header) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	if err := c.authorize(ctx, req); err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, &requestError{Op: op + ": " + method + " " + redactURL(u), Err: unwrapURLError(err)}
	}
	defer func() { _ = res.Body.Close() }() // read-only body
	b, err := io.ReadAll(io.LimitReader(res.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, &requestError{Op: op + ": read answer", Err: err}
	}
	if int64(len(b)) > c.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("%s: answer is larger than max_response_bytes (%d)", op, c.cfg.MaxResponseBytes)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// authorize adds the configured credentials.
func (c *client) authorize(ctx context.Context, req *http.Request) error {
	a := c.cfg.Auth
	switch a.Type {
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+a.Token)
	case AuthBasic:
		req.SetBasicAuth(a.Username, a.Password)
	case AuthAPIKey:
		req.Header.Set(a.Header, a.Key)
	case AuthOAuth2ClientCreds:
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

// unwrapURLError drops *url.Error's repetition of the method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no answer in time: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// redactURL drops user info and the query from a URL for messages (a
// query may carry a customer's address).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(bad URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// tokenSource fetches and caches OAuth2 client-credentials tokens.
type tokenSource struct {
	cfg *Config
	hc  *http.Client
	ua  string

	mu      sync.Mutex
	tok     string
	expires time.Time
	now     func() time.Time
}

// tokenError is a refusal from the token endpoint.
type tokenError struct {
	Status int
	Code   string
	Desc   string
}

func (e *tokenError) Error() string {
	msg := fmt.Sprintf("oauth2 token endpoint answered %d", e.Status)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Desc != "" {
		msg += ": " + e.Desc
	}
	return msg
}

func (t *tokenSource) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

func (t *tokenSource) invalidate() {
	t.mu.Lock()
	t.tok = ""
	t.mu.Unlock()
}

// token returns a cached token or fetches one. The lock is held while
// fetching so a burst of requests asks the endpoint once.
func (t *tokenSource) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && t.clock().Before(t.expires) {
		return t.tok, nil
	}
	tok, life, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	// Refresh a little early: a tenth of the lifetime, at most a minute.
	margin := min(life/10, time.Minute)
	t.tok, t.expires = tok, t.clock().Add(life-margin)
	return tok, nil
}

func (t *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	a := t.cfg.Auth
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(a.Scopes) > 0 {
		form.Set("scope", strings.Join(a.Scopes, " "))
	}
	if a.TokenAuthInBody {
		form.Set("client_id", a.ClientID)
		form.Set("client_secret", a.ClientSecret)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("oauth2 token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", t.ua)
	if !a.TokenAuthInBody {
		req.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(a.ClientSecret))
	}
	res, err := t.hc.Do(req)
	if err != nil {
		return "", 0, &requestError{Op: "oauth2 token: POST " + redactURL(a.TokenURL), Err: unwrapURLError(err)}
	}
	defer func() { _ = res.Body.Close() }() // read-only body
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return "", 0, &requestError{Op: "oauth2 token: read answer", Err: err}
	}
	var body struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	_ = json.Unmarshal(b, &body)
	if res.StatusCode != http.StatusOK {
		return "", 0, &tokenError{Status: res.StatusCode, Code: body.Error, Desc: body.Description}
	}
	if body.AccessToken == "" {
		return "", 0, &tokenError{Status: res.StatusCode, Desc: "answer has no access_token"}
	}
	if body.TokenType != "" && !strings.EqualFold(body.TokenType, "bearer") {
		return "", 0, &tokenError{Status: res.StatusCode, Desc: fmt.Sprintf("token_type %q is not bearer", body.TokenType)}
	}
	life := time.Hour // RFC 6749 makes expires_in optional
	var secs json.Number
	if len(body.ExpiresIn) > 0 {
		// Some servers write expires_in as a string.
		raw := strings.Trim(string(body.ExpiresIn), `"`)
		secs = json.Number(raw)
		if n, err := secs.Int64(); err == nil && n > 0 {
			life = time.Duration(n) * time.Second
		}
	}
	return body.AccessToken, life, nil
}

// isTimeout reports whether err is a deadline or net timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
