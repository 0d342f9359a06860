// Package admin is the operators' side of the gateway: a JSON API under
// /api/v1/ and a server-rendered web UI under /ui/ for the communication
// log, dead letters (inspect, reprocess, ignore; one or in bulk), work
// order timelines, rule hit counts and plugin and circuit breaker health,
// plus /healthz, /readyz and (when given) Prometheus /metrics.
//
// Everything reads the store; what only the running gateway knows (the
// live rules and their hit counts, plugin and breaker state, the config
// version) comes through the small Runtime interface, so the admin handler
// can be built and tested without a gateway.
//
// Mount the handler at the root of its own listener (config admin.listen):
//
//	h := admin.New(st, rt, admin.Options{Token: cfg.Admin.Token.Value(), Metrics: m.Handler()})
//	srv := &http.Server{Addr: cfg.Admin.Listen, Handler: h}
//
// Its pages link to absolute paths (/ui/..., /api/v1/...), so it cannot
// live under a path prefix of another server.
package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// Runtime is what the admin handler needs from the running gateway. Each
// method must be cheap and safe for concurrent use; it is called per
// request. Live implements it from the gateway's parts.
type Runtime interface {
	// Accounts lists the configured account names, sorted.
	Accounts() []string
	// ConfigVersion is the version of the config now running; requeued
	// dead letters are handled under it.
	ConfigVersion() string
	// Rules lists the live rules in config order with their hit counts.
	Rules() []RuleInfo
	// Plugins reports each plugin's health, sorted by name.
	Plugins() []PluginInfo
	// Breakers reports each account's CorrigoPro circuit breaker.
	Breakers() []BreakerInfo
}

// RuleInfo is one live rule.
type RuleInfo struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	When   string `json:"when"`
	Plugin string `json:"plugin,omitempty"`
	Stop   bool   `json:"stop,omitempty"`
	Shadow bool   `json:"shadow,omitempty"`
	// Hits counts events the rule matched since HitsSince.
	Hits      int64     `json:"hits"`
	HitsSince time.Time `json:"hits_since,omitzero"`
}

// PluginInfo is one plugin's health.
type PluginInfo struct {
	Name          string    `json:"name"`
	State         string    `json:"state"` // starting, running, restarting, quarantined, stopped
	Since         time.Time `json:"since,omitzero"`
	Restarts      int       `json:"restarts"`
	RecentCrashes int       `json:"recent_crashes"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	PID           int       `json:"pid,omitempty"`
	Version       string    `json:"version,omitempty"`
	Protocol      int       `json:"protocol,omitempty"`
	InFlight      int       `json:"in_flight"`
}

// BreakerInfo is one account's circuit breaker.
type BreakerInfo struct {
	Account string `json:"account"`
	State   string `json:"state"` // closed, half-open, open
}

// Options configure the handler.
type Options struct {
	// Token is the bearer token the API and UI require (config
	// admin.token). Empty turns authentication off, which the config
	// only allows on a loopback listener; the UI then still uses a
	// session cookie for its CSRF protection.
	Token string
	// Metrics, if set, is served at /metrics (metrics.Metrics.Handler).
	Metrics http.Handler
	// MetricsNeedToken requires the bearer token on /metrics too
	// (Prometheus' authorization: credentials). Default: open, like
	// /healthz and /readyz.
	MetricsNeedToken bool
	// Ready, if set, answers /readyz: nil means ready. Default: the store
	// answers a ping and every plugin the Runtime reports is running.
	Ready func(ctx context.Context) error
	// Problems, if set, answers /readyz instead of Ready: each entry is
	// one reason the gateway is not ready; none means ready.
	Problems func(ctx context.Context) []string
	// AllowedHosts are host names (or addresses) the Host header may
	// carry besides DefaultAllowedHosts: the admin.listen host and
	// admin.allowed_hosts. Requests for other hosts get 421 (DNS
	// rebinding), except health checks and metrics.
	AllowedHosts []string
	// Pprof serves Go's runtime profiles under /debug/pprof/ behind the
	// bearer token (config admin.pprof; pprof.go). Off by default.
	Pprof bool
	// SessionTTL is how long a UI login lasts; default 12h.
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Handler is the admin HTTP handler. Create it with New.
type Handler struct {
	st  store.Store
	rt  Runtime
	o   Options
	log *slog.Logger
	mux *http.ServeMux
	// patterns are the mux's patterns in registration order (Routes).
	patterns []string
	key      []byte // signs session cookies and CSRF tokens
	tmpl     *templates
	g        *guard
	// epoch is the session epoch (session.go); epochMu orders revocations.
	epoch   atomic.Int64
	epochMu sync.Mutex
	// logins throttles failed token checks (throttle.go).
	logins *loginThrottle
}

// New returns the admin handler over st. rt may be nil (no live rules,
// plugins or breakers are shown; accounts are not checked).
func New(st store.Store, rt Runtime, o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	h := &Handler{st: st, rt: rt, o: o, log: o.Logger.With("component", "admin"), mux: http.NewServeMux()}
	if o.Token != "" {
		// Derived from the token: sessions survive a restart and end
		// when the token is rotated.
		mac := hmac.New(sha256.New, []byte("wogate admin session key v1"))
		mac.Write([]byte(o.Token))
		h.key = mac.Sum(nil)
	} else {
		h.key = make([]byte, 32)
		_, _ = rand.Read(h.key)
	}
	h.tmpl = mustTemplates()
	h.g = newGuard(o.AllowedHosts)
	h.logins = newLoginThrottle(o.Now)
	if o.Token != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := h.loadEpoch(ctx); err != nil {
			// Without the stored epoch a revoked session could come back:
			// start a fresh epoch no stored session can have.
			h.log.Warn("could not read the admin session epoch; every session must log in again", "err", err)
			h.epoch.Store(time.Now().UnixNano())
		}
		cancel()
	}
	h.routes()
	return h
}

func (h *Handler) routes() {
	m := routeMux{h}
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", h.readyz)
	if h.o.Metrics != nil {
		if h.o.MetricsNeedToken {
			m.Handle("GET /metrics", h.apiAuth(h.o.Metrics))
		} else {
			m.Handle("GET /metrics", h.o.Metrics)
		}
	}

	api := func(pattern string, f http.HandlerFunc) { m.Handle(pattern, h.apiAuth(f)) }
	api("GET /api/v1/dead-letters", h.apiListDeadLetters)
	api("GET /api/v1/dead-letters/{kind}/{id}", h.apiShowDeadLetter)
	api("POST /api/v1/dead-letters/{kind}/{id}/reprocess", h.apiResolveOne(opReprocess))
	api("POST /api/v1/dead-letters/{kind}/{id}/ignore", h.apiResolveOne(opIgnore))
	api("POST /api/v1/dead-letters/reprocess", h.apiResolveBulk(opReprocess))
	api("POST /api/v1/dead-letters/ignore", h.apiResolveBulk(opIgnore))
	api("GET /api/v1/log", h.apiLog)
	api("GET /api/v1/work-orders", h.apiWorkOrders)
	api("GET /api/v1/work-orders/{id}/timeline", h.apiTimeline)
	api("GET /api/v1/rules", h.apiRules)
	api("GET /api/v1/plugins", h.apiPlugins)
	api("POST /api/v1/plugins/{name}/restart", h.apiRestartPlugin)
	api("GET /api/v1/breakers", h.apiBreakers)
	api("GET /api/v1/backlog", h.apiBacklog)
	api("GET /api/v1/status", h.apiStatus)
	api("GET /api/v1/openapi.json", h.apiOpenAPI)
	api("POST /api/v1/sessions/revoke", h.apiRevokeSessions)
	m.Handle("/api/", h.apiAuth(http.HandlerFunc(h.apiNotFound)))
	if h.o.Pprof {
		h.pprofRoutes(m)
	}

	h.uiRoutes()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
}

// routeMux registers on the handler's mux and remembers each pattern,
// so the routes can be listed (Routes) and checked against the OpenAPI
// document.
type routeMux struct{ h *Handler }

func (m routeMux) Handle(pattern string, handler http.Handler) {
	m.h.patterns = append(m.h.patterns, pattern)
	m.h.mux.Handle(pattern, handler)
}

func (m routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// Routes lists the patterns the handler serves ("GET /api/v1/log", ...,
// and the catch-alls "/api/" and "/ui/"), in registration order.
func (h *Handler) Routes() []string { return append([]string(nil), h.patterns...) }

// apiNotFound answers API paths no route matched: 405 with Allow when
// the path exists for another method, else 404, both as JSON.
func (h *Handler) apiNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := h.mux.Handler(r2); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or "))
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "", "no such API endpoint: "+r.Method+" "+r.URL.Path)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on form posts, which hides a cross-site POST.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	if !h.g.check(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// readyz answers 200 when the store answers and every plugin runs.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if h.o.Problems != nil {
		problems = h.o.Problems(ctx)
	} else if h.o.Ready != nil {
		if err := h.o.Ready(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	} else {
		if err := h.st.Ping(ctx); err != nil {
			problems = append(problems, "store: "+err.Error())
		}
		if h.rt != nil {
			for _, p := range h.rt.Plugins() {
				if p.State != "running" {
					problems = append(problems, "plugin "+p.Name+": "+p.State)
				}
			}
		}
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": problems})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// tokenOK compares a presented token with the configured one in constant
// time (for equal lengths; the length itself is not secret enough to
// matter, and hashing first hides it anyway).
func (h *Handler) tokenOK(presented string) bool {
	if h.o.Token == "" {
		return true
	}
	a := sha256.Sum256([]byte(presented))
	b := sha256.Sum256([]byte(h.o.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	const p = "bearer "
	if len(v) <= len(p) || !strings.EqualFold(v[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(v[len(p):]), true
}

// apiAuth requires the bearer token. The API never accepts the UI's
// cookie: a browser attaches cookies to forged cross-site requests, but
// never an Authorization header.
func (h *Handler) apiAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.Token != "" {
			tok, ok := bearer(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wogate-admin"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "", "missing bearer token: send Authorization: Bearer <admin.token>")
				return
			}
			if wait := h.logins.blocked(r); wait > 0 {
				tooManyLogins(w, wait)
				return
			}
			if !h.tokenOK(tok) {
				h.logins.failed(r)
				w.Header().Set("WWW-Authenticate", `Bearer realm="wogate-admin", error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "", "invalid bearer token")
				return
			}
			h.logins.succeeded(r)
		}
		if !jsonOnly(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiError is the JSON error body of every 4xx and 5xx answer.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, apiError{Error: errorBody{Code: code, Field: field, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fieldError is a bad input, answered 400 naming the field.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Msg }

func badField(field, format string) error { return &fieldError{Field: field, Msg: format} }

// storeStatus maps a store error to an HTTP status and code.
func storeStatus(err error) (int, string) {
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, "invalid_argument"
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "invalid_argument"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, store.ErrWrongState):
		return http.StatusConflict, "wrong_state"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// fail answers err as JSON with the status it maps to.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := storeStatus(err)
	field := ""
	var fe *fieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	if status >= 500 {
		h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, code, field, err.Error())
}

func (h *Handler) accounts() []string {
	if h.rt == nil {
		return nil
	}
	return h.rt.Accounts()
}

func (h *Handler) configVersion() string {
	if h.rt == nil {
		return ""
	}
	return h.rt.ConfigVersion()
}
