package gateway

// Actions that plugins decide on their own, outside an event: queued
// through the Host's SubmitActions (a CSV dropped in a folder) or returned
// from an inbound HTTP request (an ERP's status callback on
// /plugins/<name>/inbound). Both are stored as inbound events carrying the
// actions (dispatch.ActionPluginActions) before anyone is told "done", so
// the dispatcher writes them to the outbox even if the gateway dies right
// after answering; the event's unique MessageID makes a repeated
// submission a no-op.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/ratelog"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// intakeStore is the part of store.Store the intake uses.
type intakeStore interface {
	InsertEvent(ctx context.Context, e *store.Event) (bool, error)
	SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error)
}

// actionIntake stores actions from plugins as inbound events.
type actionIntake struct {
	st       intakeStore
	accounts []string // sorted
	shadow   map[string]bool
	log      *slog.Logger
	now      func() time.Time
	// wake tells the dispatcher there is work; set once the dispatcher
	// exists (plugins may submit while they are still being started).
	wake atomic.Pointer[func()]
	// live is the accounts' shadow flags after a reload (reload.go);
	// nil until the first one.
	live atomic.Pointer[map[string]bool]
}

func newActionIntake(st intakeStore, shadow map[string]bool, log *slog.Logger) *actionIntake {
	in := &actionIntake{st: st, shadow: shadow, log: log, now: time.Now}
	for a := range shadow {
		in.accounts = append(in.accounts, a)
	}
	sort.Strings(in.accounts)
	return in
}

func (in *actionIntake) setWake(f func()) { in.wake.Store(&f) }

func (in *actionIntake) known(account string) bool {
	_, ok := in.shadow[account]
	return ok
}

// stored is what storing one submission did.
type stored struct {
	Events     int // events inserted
	Duplicates int // events already stored under the same MessageID
}

// store records actions from plugin for account under messageID. It
// returns once the events are committed.
func (in *actionIntake) store(ctx context.Context, plugin, account, messageID, key, via string, actions []pluginapi.Action) (stored, error) {
	var res stored
	evs, err := dispatch.NewPluginActionsEvents(plugin, account, messageID, dispatch.PluginActions{
		Key: key, Via: via, Shadow: in.isShadow(account), Actions: actions,
	}, in.now())
	if err != nil {
		return res, err
	}
	tp := tracectx.Traceparent(ctx) // "" unless a traced inbound request stores them
	for _, ev := range evs {
		ev.TraceParent = tp
		ok, err := in.st.InsertEvent(ctx, ev)
		if err != nil {
			return res, fmt.Errorf("store actions of work order %d: %w", ev.WorkOrderID, err)
		}
		if ok {
			res.Events++
		} else {
			res.Duplicates++
		}
	}
	if res.Events > 0 {
		if w := in.wake.Load(); w != nil {
			(*w)()
		}
	}
	return res, nil
}

// SubmitActions implements plugins.ActionQueue for the gateway's host
// services (assemble.HostOptions.Actions): the actions are stored as an
// inbound event with MessageID "plugin:<plugin>:<key>". An empty key gets
// a random one (no deduplication).
func (in *actionIntake) SubmitActions(ctx context.Context, plugin, account, key string, actions []pluginapi.Action) error {
	if !in.known(account) {
		in.log.Warn("refused actions submitted by a plugin", "plugin", plugin, "account", account, "key", key, "reason", "unknown account")
		return &pluginapi.Error{Message: fmt.Sprintf("unknown account %q", account)}
	}
	if err := pluginhost.CheckSubmission(key, actions); err != nil {
		in.log.Warn("refused actions submitted by a plugin", "plugin", plugin, "account", account, "key", key, "reason", err.Error())
		return err
	}
	if len(actions) == 0 {
		return nil
	}
	if key == "" {
		key = "random-" + uuid.NewString()
	}
	res, err := in.store(ctx, plugin, account, "plugin:"+plugin+":"+key, key, "submit", actions)
	if err != nil {
		in.log.Warn("could not store actions submitted by a plugin; it will try again", "plugin", plugin, "account", account, "key", key, "err", err)
		return pluginapi.RetryLater(err)
	}
	in.log.Info("plugin submitted actions", "plugin", plugin, "account", account, "key", key,
		"actions", kindList(actions), "duplicate", res.Events == 0)
	return nil
}

var _ plugins.ActionQueue = (*actionIntake)(nil)

func kindList(actions []pluginapi.Action) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = string(a.Kind)
	}
	return out
}

// InboundPlugins forwards inbound requests (plugins.Manager).
type InboundPlugins interface {
	HandleInbound(ctx context.Context, plugin string, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error)
}

// Inbound request limits and names.
const (
	// DefaultInboundMaxBytes bounds an inbound request body.
	DefaultInboundMaxBytes = 1 << 20
	// AccountHeader names the account an inbound request's actions are
	// for, when the gateway has several and cannot tell from the work
	// order.
	AccountHeader = "X-Wogate-Account"
	// IdempotencyHeader, when present, identifies the request instead of
	// a hash of its method, path, query and body: a second request with the
	// same value stores nothing more.
	IdempotencyHeader = "Idempotency-Key"
)

// inboundHandler serves /plugins/{name}/inbound[/...]: it forwards the
// request to the plugin and stores the actions the plugin returns before
// writing the plugin's answer.
type inboundHandler struct {
	plugins InboundPlugins
	intake  *actionIntake
	log     *slog.Logger
	maxBody int64
	// policy returns how a plugin's inbound requests are authenticated
	// (plugins.<name>.inbound under the config in force) and whether the
	// plugin is configured at all. nil: every route is closed.
	policy func(plugin string) (config.PluginInbound, bool)
	// rejections bounds the "inbound request failed" lines (per plugin
	// and status): an unauthenticated flood must not fill the disk. nil
	// logs every one.
	rejections *ratelog.Limiter
	// shed, if set, refuses authenticated requests with 503 and
	// Retry-After while the gateway is over its load limits (overload.go):
	// their actions would join a backlog that is already too long.
	shed func() (time.Duration, bool)
	// tracer starts a "plugin inbound <name>" span per request, the root
	// of a trace that the plugin call, the stored events, dispatch and
	// egress continue; nil: no-op.
	tracer trace.Tracer
}

// TokenHeader is the alternative to "Authorization: Bearer" for an
// inbound request's token.
const TokenHeader = "X-Wogate-Token" //nolint:gosec // G101: a header name, not a credential

// bearer returns the token r carries in X-Wogate-Token or as
// "Authorization: Bearer".
func bearer(r *http.Request) string {
	got := r.Header.Get(TokenHeader)
	if auth := r.Header.Get("Authorization"); got == "" && len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		got = strings.TrimSpace(auth[7:])
	}
	return got
}

// checkToken reports whether r carries want. The comparison is
// constant-time so the token cannot be guessed byte by byte.
func checkToken(r *http.Request, want string) bool {
	return subtle.ConstantTimeCompare([]byte(bearer(r)), []byte(want)) == 1
}

// checkHMAC reports whether header (hex, optionally "sha256=" first)
// is the HMAC-SHA256 of body under secret.
func checkHMAC(header, secret string, body []byte) bool {
	v := strings.TrimSpace(header)
	if len(v) > 7 && strings.EqualFold(v[:7], "sha256=") {
		v = v[7:]
	}
	got, err := hex.DecodeString(v)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// isLoopbackRemote reports whether a request's RemoteAddr is a loopback
// address.
func isLoopbackRemote(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errorJSON answers with a JSON error body.
func errorJSON(w http.ResponseWriter, status int, plugin, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	writeJSONBody(w, map[string]string{"error": msg, "plugin": plugin})
}

func (h *inboundHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("name")
	tracer := h.tracer
	if tracer == nil {
		tracer = tracectx.Noop()
	}
	ctx, span := tracer.Start(r.Context(), "plugin inbound "+name, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	r = r.WithContext(ctx) // the plugin call and the stored events continue the trace
	if span.IsRecording() {
		span.SetAttributes(tracectx.Plugin.String(name), semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path))
	}
	prefix := "/plugins/" + name + "/inbound"
	sub := strings.TrimPrefix(r.URL.Path, prefix)
	if sub == "" {
		sub = "/"
	}
	log := h.log.With("component", "inbound", "plugin", name, "method", r.Method, "path", sub)
	fail := func(status int, msg string, attrs ...any) {
		if span.IsRecording() {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status), tracectx.Reason.String(msg))
			if status >= 500 {
				span.SetStatus(codes.Error, msg)
			}
		}
		if h.rejections == nil || h.rejections.Allow(name+" "+strconv.Itoa(status)) {
			log.Warn("inbound request failed", append([]any{"status", status, "reason", msg, "ms", time.Since(start).Milliseconds()}, attrs...)...)
		}
		errorJSON(w, status, name, msg)
	}
	// refuse answers a request that did not authenticate: the caller
	// learns only the status (a generic body, the same whether the plugin
	// exists or not), the log gets why and how to fix it.
	refuse := func(status int, why string, attrs ...any) {
		if span.IsRecording() {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status), tracectx.Reason.String(why))
		}
		if h.rejections == nil || h.rejections.Allow(name+" "+strconv.Itoa(status)) {
			log.Warn("inbound request refused", append([]any{"status", status, "reason", why, "remote", r.RemoteAddr}, attrs...)...)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		writeJSONBody(w, map[string]string{"error": strings.ToLower(http.StatusText(status))})
	}

	var ib config.PluginInbound
	configured := false
	if h.policy != nil {
		ib, configured = h.policy(name)
	}
	switch {
	case !configured:
		refuse(http.StatusNotFound, fmt.Sprintf("no plugin %q is configured", name))
		return
	case !ib.Open():
		// Deny by default: without a credential the route does not
		// exist. The caller learns only that; the fix goes to the log.
		refuse(http.StatusNotFound, "the plugin has no inbound route: no credential is configured",
			"fix", "set plugins."+name+".inbound.token or plugins."+name+".inbound.hmac_secret (see docs/security.md)")
		return
	case !ib.Authenticated() && !isLoopbackRemote(r.RemoteAddr):
		// The loopback opt-in: validation refused it on a listener
		// others can reach; this holds even behind a misconfigured bind.
		refuse(http.StatusForbidden, "unauthenticated inbound requests are accepted from loopback addresses only")
		return
	case ib.Token != "" && !checkToken(r, ib.Token.Value()):
		refuse(http.StatusUnauthorized, "missing or wrong inbound token: send plugins."+name+".inbound.token as Authorization: Bearer or "+TokenHeader)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", h.maxBody))
			return
		}
		fail(http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if ib.HMACSecret != "" && !checkHMAC(r.Header.Get(ib.HMACHeader), ib.HMACSecret.Value(), body) {
		refuse(http.StatusUnauthorized, "missing or wrong "+ib.HMACHeader+": send the hex HMAC-SHA256 of the body under plugins."+name+".inbound.hmac_secret")
		return
	}
	// Only an authenticated caller learns which accounts exist
	// (FuzzInboundRequest: the check ran before the HMAC's).
	account := strings.TrimSpace(r.Header.Get(AccountHeader))
	if account != "" && !h.intake.known(account) {
		fail(http.StatusBadRequest, fmt.Sprintf("%s names unknown account %q", AccountHeader, account))
		return
	}
	if h.shed != nil {
		if wait, shed := h.shed(); shed {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second)/time.Second))))
			fail(http.StatusServiceUnavailable, "overloaded: the gateway refuses requests until its backlog is back under its limits; try again later")
			return
		}
	}
	req := pluginapi.InboundRequest{Method: r.Method, Path: sub, Header: r.Header.Clone(), Query: r.URL.Query(), Body: body}
	resp, actions, err := h.plugins.HandleInbound(r.Context(), name, req)
	if err != nil {
		var pe *pluginapi.Error
		switch {
		case errors.Is(err, plugins.ErrUnknownPlugin):
			fail(http.StatusNotFound, fmt.Sprintf("no plugin %q is configured", name))
		case errors.Is(err, plugins.ErrNoInbound):
			fail(http.StatusNotImplemented, fmt.Sprintf("plugin %q does not handle inbound requests", name))
		case errors.Is(err, plugins.ErrClosed):
			fail(http.StatusServiceUnavailable, "the gateway is shutting down; try again later")
		case plugins.IsRetryable(err):
			fail(http.StatusServiceUnavailable, "plugin unavailable; try again later: "+err.Error())
		case errors.As(err, &pe) && pe.NeedsPerson:
			// The plugin understood the request but cannot act on it
			// without a person (an unknown site, say): resending the
			// same request will not help, so say so with a 4xx.
			fail(http.StatusUnprocessableEntity, "needs a person: "+strings.TrimPrefix(pe.Message, "needs a person: "))
		case errors.As(err, &pe):
			fail(http.StatusInternalServerError, "plugin failed: "+pe.Message)
		default:
			fail(http.StatusInternalServerError, "plugin failed: "+err.Error())
		}
		return
	}

	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status > 599 {
		// Checked before storing: an answer the caller cannot get must not
		// leave actions behind.
		fail(http.StatusInternalServerError, fmt.Sprintf("plugin answered with HTTP status %d, which the gateway cannot send", status))
		return
	}

	var res stored
	if len(actions) > 0 {
		if err := pluginhost.CheckSubmission("", actions); err != nil {
			fail(http.StatusUnprocessableEntity, "the plugin's actions were refused: "+strings.TrimPrefix(errMessage(err), "submit actions: "),
				"actions", kindList(actions))
			return
		}
		groups, err := h.resolveAccounts(r.Context(), account, actions)
		if err != nil {
			var pe *pluginapi.Error
			if errors.As(err, &pe) {
				fail(http.StatusUnprocessableEntity, "the plugin's actions were refused: "+pe.Message, "actions", kindList(actions))
			} else {
				fail(http.StatusServiceUnavailable, "could not store the plugin's actions; try again later: "+err.Error())
			}
			return
		}
		key := requestKey(r, sub, body)
		for _, g := range groups {
			s, err := h.intake.store(r.Context(), name, g.account, "inbound:"+name+":"+key, key, "http", g.actions)
			res.Events += s.Events
			res.Duplicates += s.Duplicates
			if err != nil {
				fail(http.StatusServiceUnavailable, "could not store the plugin's actions; try again later: "+err.Error())
				return
			}
		}
	}

	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status), tracectx.ActionsCount.Int(len(actions)))
	}
	log.Info("inbound request", "status", status, "actions", kindList(actions),
		"stored", res.Events, "duplicate", res.Duplicates > 0 && res.Events == 0, "ms", time.Since(start).Milliseconds())
}

func errMessage(err error) string {
	var pe *pluginapi.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// requestKey identifies a request for deduplication: its Idempotency-Key
// header, else a hash of method, path, query and body (a request repeated
// byte for byte is the same request: an ERP retrying a callback).
func requestKey(r *http.Request, sub string, body []byte) string {
	if k := strings.TrimSpace(r.Header.Get(IdempotencyHeader)); k != "" {
		if len(k) <= 100 && !strings.ContainsAny(k, "\x00\r\n") {
			return "key:" + k
		}
		sum := sha256.Sum256([]byte(k))
		return "key-sha256:" + hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	for _, s := range []string{r.Method, sub, r.URL.Query().Encode()} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	h.Write(body)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

type accountActions struct {
	account string
	actions []pluginapi.Action
}

// resolveAccounts decides which account each action is for: the
// X-Wogate-Account header; else the only account; else the account whose
// events mention the action's work order. An action whose account cannot
// be told is refused (*pluginapi.Error); a store failure is returned as
// is. Groups keep the actions' order.
func (h *inboundHandler) resolveAccounts(ctx context.Context, header string, actions []pluginapi.Action) ([]accountActions, error) {
	if header != "" {
		return []accountActions{{header, actions}}, nil
	}
	switch len(h.intake.accounts) {
	case 0:
		return nil, &pluginapi.Error{Message: "the gateway has no CorrigoPro account configured"}
	case 1:
		return []accountActions{{h.intake.accounts[0], actions}}, nil
	}
	ids := make([]int64, 0, len(actions))
	for _, a := range actions {
		ids = append(ids, a.WorkOrderID)
	}
	owners := map[int64][]string{}
	for _, acct := range h.intake.accounts {
		seen, err := h.intake.st.SeenWorkOrders(ctx, acct, ids)
		if err != nil {
			return nil, fmt.Errorf("look up work orders: %w", err)
		}
		for id, ok := range seen {
			if ok {
				owners[id] = append(owners[id], acct)
			}
		}
	}
	var out []accountActions
	index := map[string]int{}
	for _, a := range actions {
		accts := owners[a.WorkOrderID]
		if len(accts) != 1 {
			why := "no account has seen it"
			if len(accts) > 1 {
				why = "accounts " + strings.Join(accts, ", ") + " have all seen it"
			}
			return nil, &pluginapi.Error{Message: fmt.Sprintf("cannot tell which account work order %d belongs to (%s); send the %s header", a.WorkOrderID, why, AccountHeader)}
		}
		i, ok := index[accts[0]]
		if !ok {
			i = len(out)
			index[accts[0]] = i
			out = append(out, accountActions{account: accts[0]})
		}
		out[i].actions = append(out[i].actions, a)
	}
	return out, nil
}

// newIntake builds the gateway's action intake from the accounts in cfg.
func newIntake(cfg *config.Config, st intakeStore, log *slog.Logger) *actionIntake {
	shadow := map[string]bool{}
	for name, a := range cfg.Corrigo.Accounts {
		shadow[name] = a.Shadow
	}
	return newActionIntake(st, shadow, log)
}

// routeInbound serves the plugins' inbound paths on mux and connects the
// intake to the dispatcher.
func (g *Gateway) routeInbound(mux *http.ServeMux, in *actionIntake) {
	in.setWake(g.disp.Wake)
	g.inboundRejections = ratelog.New(ratelog.Options{Summary: func(key string, n int64, window time.Duration) {
		plugin, status, _ := strings.Cut(key, " ")
		g.log.Warn("inbound request failures not logged one by one", "component", "inbound", "plugin", plugin, "status", status,
			"suppressed", n, "window", window.Round(time.Second).String())
	}})
	registerInbound(mux, &inboundHandler{plugins: g.plugins, intake: in, log: g.log, maxBody: DefaultInboundMaxBytes, rejections: g.inboundRejections,
		policy: func(plugin string) (config.PluginInbound, bool) {
			p, ok := g.current().Plugins[plugin]
			return p.Inbound, ok
		}, tracer: g.tracer, shed: g.shed.Shedding})
}

// inboundPatterns are the public listener's inbound routes.
var inboundPatterns = []string{"/plugins/{name}/inbound", "/plugins/{name}/inbound/"}

func registerInbound(mux *http.ServeMux, h *inboundHandler) {
	for _, p := range inboundPatterns {
		mux.Handle(p, h)
	}
}
