package corrigo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clientFake is a CorrigoPro look-alike on loopback for the client's tests:
// an OAuth endpoint that issues "tok-N" tokens and a /Direct/ root that
// records every API request and answers through a per-test handler.
type clientFake struct {
	t   *testing.T
	srv *httptest.Server

	tokenRequests atomic.Int64
	apiRequests   atomic.Int64

	mu            sync.Mutex
	expiresIn     int           // expires_in of issued tokens
	tokenDelay    time.Duration // slows the token endpoint to widen races
	tokenError    string        // when set, the token endpoint answers {"error":...}
	tokenStatus   int
	tokenForms    []url.Values
	valid         map[string]bool
	recorded      []clientRecorded
	handler       func(w http.ResponseWriter, r *http.Request, rec clientRecorded)
	unauthorizedN int // answer this many authorized API calls with 401 anyway
}

// clientRecorded is one API request as the fake received it.
type clientRecorded struct {
	Method string
	Path   string // relative to /Direct/
	Query  url.Values
	Header http.Header
	Body   []byte
}

const (
	fakeClientID     = "client-id-1"
	fakeClientSecret = "s3cret-value-XYZ"
)

func newClientFake(t *testing.T) *clientFake {
	t.Helper()
	f := &clientFake{t: t, expiresIn: 1199, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /OAuth/Token", f.serveToken)
	mux.HandleFunc("/Direct/", f.serveAPI)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *clientFake) baseURL() string  { return f.srv.URL + "/Direct/" }
func (f *clientFake) oauthURL() string { return f.srv.URL + "/OAuth/Token" }

func (f *clientFake) config() Config {
	return Config{BaseURL: f.baseURL(), OAuthURL: f.oauthURL(), ClientID: fakeClientID, ClientSecret: fakeClientSecret}
}

func (f *clientFake) client(mod ...func(*Config)) *Client {
	f.t.Helper()
	cfg := f.config()
	for _, m := range mod {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		f.t.Fatalf("NewClient: %v", err)
	}
	return c
}

func (f *clientFake) serveToken(w http.ResponseWriter, r *http.Request) {
	n := f.tokenRequests.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.tokenForms = append(f.tokenForms, r.PostForm)
	delay, terr, tstatus, exp := f.tokenDelay, f.tokenError, f.tokenStatus, f.expiresIn
	f.mu.Unlock()
	time.Sleep(delay)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	if terr != "" {
		if tstatus == 0 {
			tstatus = 400
		}
		w.WriteHeader(tstatus)
		fmt.Fprintf(w, `{"error":%q}`, terr)
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	if r.PostForm.Get("client_id") != fakeClientID || r.PostForm.Get("client_secret") != fakeClientSecret {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	tok := fmt.Sprintf("tok-%d", n)
	f.mu.Lock()
	f.valid[tok] = true
	f.mu.Unlock()
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":%d}`, tok, exp)
}

func (f *clientFake) serveAPI(w http.ResponseWriter, r *http.Request) {
	f.apiRequests.Add(1)
	body, _ := io.ReadAll(r.Body)
	rec := clientRecorded{
		Method: r.Method,
		Path:   strings.TrimPrefix(r.URL.Path, "/Direct/"),
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   body,
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	f.mu.Lock()
	f.recorded = append(f.recorded, rec)
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	authorized := ok && f.valid[tok]
	if authorized && f.unauthorizedN > 0 {
		f.unauthorizedN--
		authorized = false
	}
	h := f.handler
	f.mu.Unlock()
	if !authorized {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"Code":2000,"Message":"Authorization has been denied for this request.","ValidationErrors":null,"MessageId":null}`)
		return
	}
	if h == nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
		return
	}
	h(w, r, rec)
}

// revoke makes the fake reject every token issued so far.
func (f *clientFake) revoke() {
	f.mu.Lock()
	f.valid = map[string]bool{}
	f.mu.Unlock()
}

func (f *clientFake) setHandler(h func(w http.ResponseWriter, r *http.Request, rec clientRecorded)) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

func (f *clientFake) requests() []clientRecorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]clientRecorded(nil), f.recorded...)
}

// respondJSON is a handler that answers status with body.
func respondJSON(status int, body string) func(http.ResponseWriter, *http.Request, clientRecorded) {
	return func(w http.ResponseWriter, _ *http.Request, _ clientRecorded) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// bodyMap decodes a recorded JSON body.
func bodyMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body is not a JSON object: %v: %s", err, b)
	}
	return m
}

// fakeClock is a settable clock for token expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
