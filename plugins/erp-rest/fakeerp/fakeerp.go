// Package fakeerp is a small field-service ERP ("FieldFlow") served over
// real HTTP, for testing the erp-rest plugin the way a real ERP would
// treat it: authentication (none, bearer, basic, API key, OAuth2 client
// credentials with expiring tokens), jobs with validation errors (422),
// duplicate detection by idempotency key and external reference (409),
// sites, slow answers and injected failures, and signed status callbacks
// back to the gateway.
//
// API (all JSON):
//
//	POST /oauth/token                  client_credentials → {access_token, token_type, expires_in}
//	POST /api/v1/jobs                  {title, external_ref, site_id?, ...} → 201 {data: {job: {id, status, scheduled_for?}}}
//	GET  /api/v1/jobs?external_ref=R   → {data: [job...]}
//	GET  /api/v1/jobs/{id}             → {data: {job: ...}}
//	GET  /api/v1/sites?ref=R           → {data: [site]} or 404
//	POST /api/v1/sites                 {ref, name?} → 201 {id}
package fakeerp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Auth says what the ERP demands of API requests.
type Auth struct {
	// Type is "none", "bearer", "basic", "api_key" or "oauth2".
	Type string
	// Token is the static bearer token.
	Token string
	// Username and Password are for basic auth.
	Username, Password string
	// Header and Key are for API key auth.
	Header, Key string
	// ClientID and ClientSecret are for OAuth2; tokens live TokenLifetime
	// (default 1h). ClientAuthInBody expects them as form fields instead of
	// HTTP basic auth. Scope, if set, must be among the requested scopes.
	ClientID, ClientSecret string
	ClientAuthInBody       bool
	TokenLifetime          time.Duration
	Scope                  string
}

// Options configure a Server.
type Options struct {
	Auth Auth
	// ScheduleAfter, when positive, schedules every new job this long
	// after creation and says so in the create answer (scheduled_for).
	ScheduleAfter time.Duration
	// RequireSite refuses jobs (422) without a known site_id.
	RequireSite bool
	// HideConflictID answers duplicate creates with a 409 that does not
	// carry the existing job's id (clients must look it up).
	HideConflictID bool
	// IgnoreIdempotencyKey makes the ERP blind to the idempotency header;
	// duplicates are then caught by external_ref only.
	IgnoreIdempotencyKey bool
	// LocationOnly answers a create with 201, a Location header and no
	// body (a common REST style).
	LocationOnly bool
	// OnCreate is called after a job is created, before the answer is
	// written (tests use it to make the client's next step fail).
	OnCreate func(Job)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Job is a job in the ERP.
type Job struct {
	ID             string         `json:"id"`
	ExternalRef    string         `json:"external_ref"`
	Title          string         `json:"title"`
	SiteID         string         `json:"site_id,omitempty"`
	Status         string         `json:"status"`
	ScheduledFor   string         `json:"scheduled_for,omitempty"`
	IdempotencyKey string         `json:"-"`
	Body           map[string]any `json:"-"`
}

// Site is a site in the ERP.
type Site struct {
	ID   string `json:"id"`
	Ref  string `json:"ref"`
	Name string `json:"name,omitempty"`
}

// Request is one request the ERP received.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
	Status              int
}

// Server is the fake ERP.
type Server struct {
	o   Options
	srv *httptest.Server

	mu        sync.Mutex
	jobs      map[string]*Job
	jobOrder  []string
	byKey     map[string]string
	byRef     map[string]string
	sites     map[string]*Site
	siteByRef map[string]string
	tokens    map[string]time.Time
	nextJob   int
	nextSite  int
	delay     time.Duration
	failures  []int
	// retryAfter is the Retry-After header of injected 429 and 503
	// failures ("" for none).
	retryAfter string
	requests   []Request
	issued     int
}

// New starts a fake ERP on a loopback port. Close it when done.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Auth.Type == "" {
		o.Auth.Type = "none"
	}
	if o.Auth.TokenLifetime == 0 {
		o.Auth.TokenLifetime = time.Hour
	}
	s := &Server{o: o, jobs: map[string]*Job{}, byKey: map[string]string{}, byRef: map[string]string{},
		sites: map[string]*Site{}, siteByRef: map[string]string{}, tokens: map[string]time.Time{}, nextJob: 1000, nextSite: 100}
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the server's root; the API is under URL()+"/api/v1".
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetDelay makes every later answer wait d (a slow ERP).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetRetryAfter makes injected 429 and 503 failures carry this
// Retry-After header ("" for none).
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	s.retryAfter = v
	s.mu.Unlock()
}

// FailNext makes the next len(statuses) API requests fail with those
// statuses (500, 503, 429, ...) before doing anything.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	s.failures = append(s.failures, statuses...)
	s.mu.Unlock()
}

// AddSite adds a site and returns its id.
func (s *Server) AddSite(ref, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addSiteLocked(ref, name).ID
}

func (s *Server) addSiteLocked(ref, name string) *Site {
	s.nextSite++
	site := &Site{ID: fmt.Sprintf("S-%d", s.nextSite), Ref: ref, Name: name}
	s.sites[site.ID] = site
	s.siteByRef[ref] = site.ID
	return site
}

// Sites returns every site.
func (s *Server) Sites() []Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Site, 0, len(s.sites))
	for _, id := range slices.Sorted(maps.Keys(s.sites)) {
		out = append(out, *s.sites[id])
	}
	return out
}

// Jobs returns every job in creation order.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, 0, len(s.jobOrder))
	for _, id := range s.jobOrder {
		out = append(out, *s.jobs[id])
	}
	return out
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// TokensIssued counts OAuth2 tokens handed out.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// ExpireTokens makes every issued token invalid (as after a key rotation).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// SetJobStatus changes a job's status (what a dispatcher in the ERP does).
func (s *Server) SetJobStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return fmt.Errorf("no job %q", id)
	}
	j.Status = status
	return nil
}

// Callback posts a status callback for job id to url, as the ERP does when
// a job changes: {"job_id", "status", "changed_at", ...extra}, signed with
// HMAC-SHA256 of the body in X-Signature (hex, "sha256=" prefix) when
// secret is set. It returns the answer's status and body.
func (s *Server) Callback(ctx context.Context, url, secret, jobID, status string, extra map[string]any) (int, []byte, error) {
	if err := s.SetJobStatus(jobID, status); err != nil {
		return 0, nil, err
	}
	body := map[string]any{"job_id": jobID, "status": status, "changed_at": s.o.Now().UTC().Format(time.RFC3339)}
	maps.Copy(body, extra)
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		req.Header.Set("X-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = res.Body.Close() }() // read-only body
	rb, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, rb, nil
}

// ServeHTTP implements the ERP's API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, Status: rec.status})
		s.mu.Unlock()
	}()
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/oauth/token" {
		s.token(rec, r, body)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/v1/") {
		writeJSON(rec, 404, map[string]any{"error": "no such endpoint"})
		return
	}
	s.mu.Lock()
	if len(s.failures) > 0 {
		st := s.failures[0]
		s.failures = s.failures[1:]
		ra := s.retryAfter
		s.mu.Unlock()
		if ra != "" && (st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable) {
			rec.Header().Set("Retry-After", ra)
		}
		writeJSON(rec, st, map[string]any{"error": "injected failure", "message": http.StatusText(st)})
		return
	}
	s.mu.Unlock()
	if !s.authorized(r) {
		writeJSON(rec, 401, map[string]any{"error": "unauthorized"})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v1")
	switch {
	case path == "/jobs" && r.Method == http.MethodPost:
		s.createJob(rec, r, body)
	case path == "/jobs" && r.Method == http.MethodGet:
		s.findJobs(rec, r)
	case strings.HasPrefix(path, "/jobs/") && r.Method == http.MethodGet:
		s.getJob(rec, strings.TrimPrefix(path, "/jobs/"))
	case path == "/sites" && r.Method == http.MethodGet:
		s.findSite(rec, r)
	case path == "/sites" && r.Method == http.MethodPost:
		s.createSite(rec, body)
	default:
		writeJSON(rec, 404, map[string]any{"error": "no such endpoint"})
	}
}

func (s *Server) authorized(r *http.Request) bool {
	a := s.o.Auth
	switch a.Type {
	case "bearer":
		return r.Header.Get("Authorization") == "Bearer "+a.Token
	case "basic":
		u, p, ok := r.BasicAuth()
		return ok && u == a.Username && p == a.Password
	case "api_key":
		return a.Key != "" && r.Header.Get(a.Header) == a.Key
	case "oauth2":
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		exp, ok := s.tokens[tok]
		return ok && s.o.Now().Before(exp)
	}
	return true
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, body []byte) {
	a := s.o.Auth
	if r.Method != http.MethodPost {
		writeJSON(w, 405, map[string]any{"error": "invalid_request"})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	var id, secret string
	if a.ClientAuthInBody {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	} else {
		var ok bool
		if id, secret, ok = r.BasicAuth(); !ok {
			writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "client authentication by HTTP basic auth required"})
			return
		}
	}
	if a.Type != "oauth2" || id != a.ClientID || secret != a.ClientSecret {
		writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "unknown client or wrong secret"})
		return
	}
	if a.Scope != "" && !slices.Contains(strings.Fields(r.PostForm.Get("scope")), a.Scope) {
		writeJSON(w, 400, map[string]any{"error": "invalid_scope", "error_description": "scope " + a.Scope + " is required"})
		return
	}
	buf := make([]byte, 16)
	_, _ = rand.Read(buf)
	tok := hex.EncodeToString(buf)
	s.mu.Lock()
	s.tokens[tok] = s.o.Now().Add(a.TokenLifetime)
	s.issued++
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(a.TokenLifetime / time.Second)})
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request, body []byte) {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil || in == nil {
		writeJSON(w, 400, map[string]any{"message": "body must be a JSON object"})
		return
	}
	str := func(k string) string { v, _ := in[k].(string); return strings.TrimSpace(v) }
	var problems []map[string]string
	if str("title") == "" {
		problems = append(problems, map[string]string{"field": "title", "message": "title is required"})
	}
	if str("external_ref") == "" {
		problems = append(problems, map[string]string{"field": "external_ref", "message": "external_ref is required"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	site := str("site_id")
	if site != "" || s.o.RequireSite {
		if _, ok := s.sites[site]; !ok {
			problems = append(problems, map[string]string{"field": "site_id", "message": fmt.Sprintf("unknown site %q", site)})
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if s.o.IgnoreIdempotencyKey {
		key = ""
	}
	if id, ok := s.byKey[key]; ok && key != "" {
		s.conflict(w, id, "a job was already created with this Idempotency-Key")
		return
	}
	if id, ok := s.byRef[str("external_ref")]; ok {
		s.conflict(w, id, "a job with this external_ref exists")
		return
	}
	if len(problems) > 0 {
		writeJSON(w, 422, map[string]any{"message": problems[0]["message"], "errors": problems})
		return
	}
	s.nextJob++
	j := &Job{ID: fmt.Sprintf("J-%d", s.nextJob), ExternalRef: str("external_ref"), Title: str("title"), SiteID: site,
		Status: "open", IdempotencyKey: key, Body: in}
	if s.o.ScheduleAfter > 0 {
		j.ScheduledFor = s.o.Now().Add(s.o.ScheduleAfter).UTC().Format(time.RFC3339)
		j.Status = "scheduled"
	}
	s.jobs[j.ID] = j
	s.jobOrder = append(s.jobOrder, j.ID)
	if key != "" {
		s.byKey[key] = j.ID
	}
	s.byRef[j.ExternalRef] = j.ID
	if s.o.OnCreate != nil {
		s.o.OnCreate(*j)
	}
	if s.o.LocationOnly {
		w.Header().Set("Location", s.srv.URL+"/api/v1/jobs/"+j.ID)
		w.WriteHeader(201)
		return
	}
	writeJSON(w, 201, map[string]any{"data": map[string]any{"job": j}})
}

func (s *Server) conflict(w http.ResponseWriter, id, msg string) {
	out := map[string]any{"message": msg}
	if !s.o.HideConflictID {
		out["existing_id"] = id
	}
	writeJSON(w, 409, out)
}

func (s *Server) findJobs(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("external_ref")
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []*Job{}
	if id, ok := s.byRef[ref]; ok {
		list = append(list, s.jobs[id])
	}
	writeJSON(w, 200, map[string]any{"data": list})
}

func (s *Server) getJob(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		writeJSON(w, 404, map[string]any{"message": "no such job"})
		return
	}
	writeJSON(w, 200, map[string]any{"data": map[string]any{"job": j}})
}

func (s *Server) findSite(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.siteByRef[ref]
	if !ok {
		writeJSON(w, 404, map[string]any{"message": "no site with ref " + ref})
		return
	}
	writeJSON(w, 200, map[string]any{"data": []*Site{s.sites[id]}})
}

func (s *Server) createSite(w http.ResponseWriter, body []byte) {
	var in struct {
		Ref  string `json:"ref"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, 400, map[string]any{"message": "body must be a JSON object"})
		return
	}
	if strings.TrimSpace(in.Ref) == "" {
		writeJSON(w, 422, map[string]any{"message": "ref is required"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.siteByRef[in.Ref]; ok {
		writeJSON(w, 409, map[string]any{"id": id, "message": "site exists"})
		return
	}
	site := s.addSiteLocked(in.Ref, in.Name)
	writeJSON(w, 201, site)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
