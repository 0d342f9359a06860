package corrigo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/wogate/wogate/pkg/corrigo/retryafter"
)

// MaxResponseBytes bounds how much of a response body the client reads. A
// page of 50 full work orders is far below it; anything larger is a broken
// or hostile server.
const MaxResponseBytes = 10 << 20

// DefaultUserAgent is sent when Config.UserAgent is empty.
const DefaultUserAgent = "wogate-corrigo/1"

// Config configures a Client. ClientID, ClientSecret and either Region or
// BaseURL are required.
type Config struct {
	// Region selects the REST host (apac, am, emea). Ignored when BaseURL
	// is set.
	Region Region
	// BaseURL overrides Region: the ".../Direct/" root that "api/..." paths
	// are appended to, e.g. a sandbox's URL. The REST Service URL shown in
	// CorrigoPro Desktop (ending in "/Direct/api/") is accepted too.
	BaseURL string
	// OAuthURL is the full token URL; default DefaultOAuthURL.
	OAuthURL string
	// ClientID and ClientSecret are the OAuth client credentials from the
	// CorrigoPro Direct tile. The secret never appears in errors or in
	// Observer exchanges.
	ClientID, ClientSecret string
	// MessageIDPrefix is put in front of every generated MessageId, so a
	// provider can find its calls in CorrigoPro's usage log.
	MessageIDPrefix string
	// HTTPClient sends every request; default NewHTTPClient(), a tuned
	// transport with a large idle-connection pool.
	HTTPClient *http.Client
	// Observer, if set, is called synchronously after every HTTP exchange,
	// token requests included (with the secret and the token redacted). It
	// runs on the calling goroutine, so it must be fast. The byte slices are
	// not reused by the client; an Observer may keep them.
	Observer func(Exchange)
	// RefreshBefore is how long before expiry the token is refreshed
	// (default DefaultRefreshBefore). When a token lives shorter than this,
	// it is refreshed at half its lifetime.
	RefreshBefore time.Duration
	// UserAgent is sent on every request; default DefaultUserAgent.
	UserAgent string
	// RateLimiter, if set, paces every HTTP exchange of this client (token
	// requests excepted): each waits for a token of the limiter. A wait
	// that would outlast the call's context fails at once with an error
	// that matches ErrRateLimited and reports the delay (RateLimitError).
	RateLimiter *rate.Limiter
	// AcceptAny2xx takes every 2xx answer as success. By default only 200
	// is: CorrigoPro's documentation says every other status is an error,
	// so a 201 or 204 fails with an *APIError (ClassNeedsPerson) naming it.
	AcceptAny2xx bool
}

// Exchange describes one HTTP request and its answer, for a communication
// log. Bodies are as sent and received (bounded); a token exchange carries
// client_secret=REDACTED and the access token replaced by REDACTED. A
// multipart upload's RequestBody is a JSON summary instead of the file.
type Exchange struct {
	Start        time.Time
	Duration     time.Duration
	Method       string
	URL          string
	Status       int // 0 when no response arrived
	RequestBody  []byte
	ResponseBody []byte
	MessageID    string
	WorkOrderID  int64 // 0 when the call is not about one work order
	Err          error // transport error or *APIError / *TokenError
}

// Client calls the CorrigoPro Direct API. It is safe for concurrent use;
// create one per CorrigoPro account and share it.
//
// The client does not retry, with one exception: a call answered 401 is sent
// once more with a freshly fetched token. Everything else is classified
// (ClassOf) and left to the caller, which knows whether a retry is safe.
type Client struct {
	base      string // ends with "/"
	prefix    string
	http      *http.Client
	observe   func(Exchange)
	ua        string
	auth      *tokenSource
	now       func() time.Time
	maxUpload int64
	maxBody   int64 // response read bound; MaxResponseBytes (tests lower it)
	limiter   *rate.Limiter
	// acceptAny2xx: Config.AcceptAny2xx (strict.go).
	acceptAny2xx bool
}

// NewClient validates cfg and returns a Client. It makes no network calls.
func NewClient(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, errors.New("corrigo: config: ClientID is required")
	}
	if cfg.ClientSecret == "" {
		return nil, errors.New("corrigo: config: ClientSecret is required")
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		if cfg.Region == "" {
			return nil, errors.New("corrigo: config: set Region (apac, am, emea) or BaseURL")
		}
		var err error
		if base, err = RegionBaseURL(cfg.Region); err != nil {
			return nil, fmt.Errorf("corrigo: config: %w", err)
		}
	}
	base, err := normalizeBaseURL(base)
	if err != nil {
		return nil, fmt.Errorf("corrigo: config: BaseURL: %w", err)
	}
	oauth := strings.TrimSpace(cfg.OAuthURL)
	if oauth == "" {
		oauth = DefaultOAuthURL
	}
	if err := checkAbsURL(oauth); err != nil {
		return nil, fmt.Errorf("corrigo: config: OAuthURL: %w", err)
	}
	if cfg.RefreshBefore < 0 {
		return nil, errors.New("corrigo: config: RefreshBefore must not be negative")
	}
	refresh := cfg.RefreshBefore
	if refresh == 0 {
		refresh = DefaultRefreshBefore
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewHTTPClient()
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	c := &Client{
		base:      base,
		prefix:    cfg.MessageIDPrefix,
		http:      hc,
		observe:   cfg.Observer,
		ua:        ua,
		now:       time.Now,
		maxUpload: MaxAttachmentBytes,
		maxBody:   MaxResponseBytes,
		limiter:   cfg.RateLimiter,

		acceptAny2xx: cfg.AcceptAny2xx,
	}
	c.auth = &tokenSource{
		oauthURL:      oauth,
		clientID:      cfg.ClientID,
		clientSecret:  cfg.ClientSecret,
		refreshBefore: refresh,
		httpClient:    hc,
		userAgent:     ua,
		observe:       cfg.Observer,
		now:           time.Now,
	}
	return c, nil
}

// BaseURL returns the ".../Direct/" root the client calls.
func (c *Client) BaseURL() string { return c.base }

// Token returns a valid access token, fetching or refreshing it if needed.
// Callers rarely need it: every API method authenticates itself.
func (c *Client) Token(ctx context.Context) (string, error) {
	return c.auth.get(ctx)
}

func checkAbsURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// normalizeBaseURL makes sure the root ends with "/" and strips a trailing
// "api/" (CorrigoPro Desktop shows the REST Service URL with it).
func normalizeBaseURL(s string) (string, error) {
	if err := checkAbsURL(s); err != nil {
		return "", err
	}
	u, _ := url.Parse(s)
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not carry a query or fragment", s)
	}
	p := strings.TrimRight(u.Path, "/")
	if strings.EqualFold(lastSegment(p), "api") {
		p = p[:len(p)-len("api")]
		p = strings.TrimRight(p, "/")
	}
	u.Path = p + "/"
	u.RawPath = ""
	return u.String(), nil
}

func lastSegment(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// messageID picks the MessageId of a call: an explicit one from the request
// body, then one set with WithMessageID, then a generated one.
func (c *Client) messageID(ctx context.Context, explicit string) string {
	if explicit != "" {
		return explicit
	}
	if id, ok := MessageIDFrom(ctx); ok {
		return id
	}
	return NewMessageID(c.prefix)
}

// call is one API request.
type call struct {
	method      string
	path        string     // relative to the root, e.g. "api/workOrder/accept"
	query       url.Values // GET parameters; messageId is added by do
	body        any        // JSON body (its MessageId already set), or nil
	raw         []byte     // pre-encoded body (multipart), used when body is nil
	contentType string     // for raw
	logBody     []byte     // what the Observer sees instead of raw
	messageID   string
	workOrderID int64
	out         any // decoded from a 2xx answer when non-nil
	// expect is the wrapper key out's answer must have, when that key is
	// inferred [I] (strict.go); "" checks nothing.
	expect string
}

// do sends c, retrying once with a fresh token after a 401, and decodes the
// answer into cl.out or an *APIError.
func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	ctype := ""
	switch {
	case cl.body != nil:
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("corrigo: %s %s: encode request: %w", cl.method, cl.path, err)
		}
		payload, ctype = b, "application/json"
		cl.logBody = b
	case cl.raw != nil:
		payload, ctype = cl.raw, cl.contentType
	}
	u := c.base + cl.path
	if cl.method == http.MethodGet {
		q := url.Values{}
		for k, v := range cl.query {
			q[k] = v
		}
		q.Set("messageId", cl.messageID)
		u += "?" + q.Encode()
	}
	tok, err := c.auth.get(ctx)
	if err != nil {
		return fmt.Errorf("corrigo: %s %s: %w", cl.method, cl.path, err)
	}
	status, body, hdr, err := c.send(ctx, cl, u, payload, ctype, tok)
	if err == nil && status == http.StatusUnauthorized {
		// The token was rejected: it expired early, was revoked, or the
		// server restarted. Drop it and try exactly once more.
		c.auth.invalidate(tok)
		if tok, err = c.auth.get(ctx); err != nil {
			return fmt.Errorf("corrigo: %s %s: after 401: %w", cl.method, cl.path, err)
		}
		status, body, hdr, err = c.send(ctx, cl, u, payload, ctype, tok)
	}
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return c.apiError(cl, status, body, hdr)
	}
	if err := c.successError(cl, status, body, hdr); err != nil {
		return err
	}
	if cl.out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, cl.out); err != nil {
		return fmt.Errorf("corrigo: %s %s: decode response (MessageId %s): %w", cl.method, cl.path, cl.messageID, err)
	}
	return nil
}

// wait takes a token of the rate limiter, if there is one. It waits when
// the token comes within half of the time the call has left (all of it
// when the context has no deadline); a longer wait is not started: the
// call fails with a *RateLimitError naming the delay, so the caller can
// schedule it for later instead of holding a slot.
func (c *Client) wait(ctx context.Context) error {
	if c.limiter == nil {
		return nil
	}
	r := c.limiter.Reserve()
	if !r.OK() {
		return &RateLimitError{Delay: time.Second}
	}
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl)/2 < d {
		r.Cancel()
		return &RateLimitError{Delay: d}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// send performs one HTTP exchange and reports it to the Observer. A
// transport error comes back wrapped with the call's method and path.
func (c *Client) send(ctx context.Context, cl call, u string, payload []byte, ctype, tok string) (int, []byte, http.Header, error) {
	if err := c.wait(ctx); err != nil {
		return 0, nil, nil, fmt.Errorf("corrigo: %s %s (MessageId %s): %w", cl.method, cl.path, cl.messageID, err)
	}
	ex := Exchange{Start: c.now(), Method: cl.method, URL: u, RequestBody: cl.logBody, MessageID: cl.messageID, WorkOrderID: cl.workOrderID}
	status, body, hdr, err := c.roundTrip(ctx, cl.method, u, payload, ctype, tok)
	if err != nil {
		err = fmt.Errorf("corrigo: %s %s (MessageId %s): %w", cl.method, cl.path, cl.messageID, err)
	}
	if c.observe != nil {
		ex.Duration = c.now().Sub(ex.Start)
		ex.Status, ex.ResponseBody, ex.Err = status, body, err
		if err == nil && status/100 != 2 {
			ex.Err = c.apiError(cl, status, body, hdr)
		} else if err == nil {
			ex.Err = c.successError(cl, status, body, hdr)
		}
		c.observe(ex)
	}
	return status, body, hdr, err
}

func (c *Client) roundTrip(ctx context.Context, method, u string, payload []byte, ctype, tok string) (int, []byte, http.Header, error) {
	var rd *bytes.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }() // read-only body
	body, err := readBounded(resp.Body, c.maxBody)
	if err != nil {
		return resp.StatusCode, nil, resp.Header, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, body, resp.Header, nil
}

// apiError decodes CorrigoPro's error body. Bodies that do not follow the
// format (404s, proxies, HTML error pages) still become an APIError, with a
// short excerpt of the body as the message.
//
// A 429 or 503 carrying Retry-After (delta-seconds or an HTTP-date) sets
// RetryAfter; other statuses' Retry-After is ignored (RFC 9110 gives it
// meaning only with 503 and 3xx, and 429 by RFC 6585).
func (c *Client) apiError(cl call, status int, body []byte, hdr http.Header) *APIError {
	e := &APIError{Method: cl.method, Path: cl.path, StatusCode: status, MessageId: cl.messageID}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		now := time.Now
		if c.now != nil {
			now = c.now
		}
		if d, ok := retryafter.FromHeader(hdr, now()); ok {
			e.RetryAfter = d
		}
	}
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err == nil && (eb.Code != 0 || eb.Message != "") {
		e.Code, e.Message, e.ValidationErrors = eb.Code, eb.Message, eb.ValidationErrors
		if eb.MessageId != "" {
			e.MessageId = eb.MessageId
		}
	} else {
		e.Message = snippet(body)
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	e.Hint = hintFor(cl, e)
	return e
}

// hintFor returns the getting-started guide's advice for an error, if any.
func hintFor(cl call, e *APIError) string {
	bodyCall := cl.method != http.MethodGet
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.Code == CodeUnauthorized:
		return "the bearer token was missing, malformed or expired (tokens live 1199 s); the client retries once with a fresh token, so if this persists check that the Authorization header reaches the server (proxies may strip it) and that the credentials belong to this region"
	case e.StatusCode >= 500 && bodyCall:
		return "CorrigoPro answers 500 when a body-bearing call lacks \"Content-Type: application/json\" or when the request goes to the wrong region's URL; check Region/BaseURL (and any proxy that rewrites headers)"
	case e.StatusCode >= 500:
		return "a 500 often means the request went to the wrong region's URL; check Region/BaseURL"
	case e.Code == CodeValidation && !bodyCall:
		return "a GET must carry its parameters in the query string, not in a JSON body"
	case e.Code == CodeValidation:
		return "a required field is missing or has the wrong type; see ValidationErrors"
	case e.Code == CodeTaxMismatch:
		return "the tax amount differs from the customer's calculation; after a person checks it, resubmit with SubmitAnyway: true"
	case e.Code == CodeBusinessRule:
		return "a business rule rejected the call; read Message and decide"
	case e.StatusCode == http.StatusNotFound && e.Code == 0:
		return "no such route or object: check that BaseURL is the \".../Direct/\" root and that the id exists"
	case e.StatusCode == http.StatusTooManyRequests:
		return "rate limited: slow down and retry later"
	}
	return ""
}

// snippet returns a short single-line excerpt of a non-JSON body for an
// error message. HTML pages are reduced to nothing: their markup says little.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if s[0] == '<' {
		return ""
	}
	const max = 200
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Join(strings.Fields(s), " ")
}
