// Package gateway wires the gateway's stages into one runtime and owns
// their lifecycle. New builds, in this order, and fails early with a
// clear error: the listeners, the store (pkg/core/assemble opens it; here
// it is decorated with metrics and write health), the communication log,
// one CorrigoPro client per account, egress (sender and worker), the
// plugins with their host services (pkg/core/assemble), the rules
// (pkg/core/decide), dispatch, ingest (webhook endpoints with their
// token verifiers, pollers, the plugins' inbound routes) and the admin
// listener. Run serves until its context ends and then shuts down in the
// order that loses nothing (stop accepting, stop claiming, let in-flight
// work finish within a deadline, stop plugins, close the store). Reload
// applies a new configuration through each component's reloader.
//
// The stages never call each other directly: ingest writes events to the
// store, dispatch turns them into outbox actions, egress sends those. The
// gateway only connects wake-up signals between them so an event does not
// wait for a poll interval. Nothing outside cmd/ imports this package.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/commlog"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/decide"
	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/ingest"
	"github.com/wogate/wogate/pkg/core/metrics"
	"github.com/wogate/wogate/pkg/core/netallow"
	"github.com/wogate/wogate/pkg/core/overload"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/ratelog"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// Options are runtime settings that are not part of the config file.
type Options struct {
	// Logger receives the gateway's log; default slog.Default().
	Logger *slog.Logger
	// LogLevel, if set, is the level Logger's handler filters by; a
	// reload then applies log.level to it (otherwise log.level needs a
	// restart).
	LogLevel *slog.LevelVar
	// Listener, if set, is used instead of listening on cfg.Listen (tests,
	// socket activation). AdminListener likewise replaces admin.listen
	// (ignored when admin.listen is empty). The gateway owns both from
	// New on and closes them, also when New fails.
	Listener      net.Listener
	AdminListener net.Listener
	// ShutdownTimeout bounds each shutdown step; default 15s.
	ShutdownTimeout time.Duration
	// Workers is the dispatcher's pool size; default 64.
	Workers int
	// EgressConcurrency bounds concurrent CorrigoPro calls; default 64.
	EgressConcurrency int
	// HTTPClient is used by every CorrigoPro client; default the client
	// package's tuned transport (large idle pool per host).
	HTTPClient *http.Client
	// Breaker overrides the circuit breaker settings of the config
	// (delivery.breaker and each account's breaker) for every account:
	// non-zero fields win (gateway run's --breaker-* flags, tests).
	Breaker egress.BreakerOptions
	// SQLiteSynchronous overrides the SQLite store's synchronous setting
	// (FULL by default; NORMAL trades the last commits on power loss for
	// throughput). Benchmarks compare both.
	SQLiteSynchronous string
	// PostgresSchema puts the PostgreSQL store's tables in this schema
	// (tests and benchmarks use a fresh one); default the search_path.
	PostgresSchema string
	// WrapStore, if set, wraps the opened store (instrumentation, fault
	// injection in tests).
	WrapStore func(store.Store) store.Store
	// EgressBackoff overrides the first retry delay of actions (tests).
	EgressBackoff time.Duration
	// Version is the gateway's build version, the service.version of its
	// traces.
	Version string
	// TracerProvider, if set, replaces the one built from cfg.Tracing
	// (tests: an SDK provider with an in-memory exporter). The caller
	// owns it and shuts it down.
	TracerProvider trace.TracerProvider
	// OnReady, if set, is called once Run serves webhooks and the admin
	// listener and runs dispatch and egress; OnStopping when Run begins
	// to shut down. gateway run tells systemd (sd_notify READY=1,
	// STOPPING=1).
	OnReady, OnStopping func()
}

// Gateway is one running gateway.
type Gateway struct {
	cfg  *config.Config
	opts Options
	log  *slog.Logger

	st        store.Store
	shed      *overload.Shedder // load shedding (overload.go)
	clog      *commlog.Writer
	clients   map[string]*corrigo.Client
	sender    *egress.Sender
	egressObs *egressObserver
	worker    *egress.Worker
	plugins   *plugins.Manager
	disp      *dispatch.Dispatcher
	pollers   []*ingest.Poller
	hooks     map[string]*hookSlot // by path; reload.go swaps their handlers
	routes    []string             // the public listener's patterns (PublicRoutes)
	// health watches the store's writes (storehealth.go).
	health *healthStore
	// inboundRejections bounds the inbound handler's failure lines.
	inboundRejections *ratelog.Limiter
	stats             *ingest.Stats
	sigs              *signatureTracker // signatures.go
	srv               *http.Server
	ln                net.Listener
	metrics           *metrics.Metrics
	adminSrv          *http.Server
	adminLn           net.Listener
	tls, adminTLS     *listenerTLS // tls.go; nil without TLS
	closeFns          []func()
	rl                reloader       // reload.go
	silences          silenceReports // reconcile_wiring.go

	tracer         trace.Tracer
	tracerProvider trace.TracerProvider
	tracingOn      bool

	mu      sync.Mutex
	running bool
}

// New builds the runtime described by cfg, in the order of the package
// doc: listeners, store, communication log, clients, egress, plugins,
// rules, dispatch, ingest, admin. Nothing is served until Run. On error
// everything already started is stopped again.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *Gateway, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 15 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.EgressConcurrency <= 0 {
		opts.EgressConcurrency = 64
	}
	g := &Gateway{cfg: cfg, opts: opts, log: opts.Logger, clients: map[string]*corrigo.Client{},
		hooks: map[string]*hookSlot{}, stats: &ingest.Stats{}, metrics: metrics.New(metrics.Options{})}
	defer func() {
		if err != nil {
			g.closeAll()
		}
	}()

	// Listeners first: a taken port fails the start before a plugin runs
	// or anything is announced (listen.go).
	if err := g.bindListeners(); err != nil {
		return nil, err
	}
	if err := g.setupTLS(); err != nil { // tls.go
		return nil, err
	}
	if err := g.setupTracing(ctx); err != nil { // tracing.go
		return nil, err
	}
	if err := g.openStore(ctx); err != nil {
		return nil, err
	}
	g.openCommLog()
	if err := g.buildClients(); err != nil {
		return nil, err
	}
	g.buildEgress()
	// Plugins, then rules: a rule naming a plugin that failed to start is
	// caught here rather than at the first event.
	intake, err := g.startPlugins(ctx)
	if err != nil {
		return nil, err
	}
	eval, err := decide.NewEvaluator(cfg, nil)
	if err != nil {
		return nil, err
	}
	g.initReload(cfg, eval, intake) // reload.go
	if err := g.buildDispatcher(); err != nil {
		return nil, err
	}
	if err := g.buildIngest(intake); err != nil {
		return nil, err
	}
	g.buildAdmin() // admin.go
	return g, nil
}

// openStore opens the configured store (running migrations) and
// decorates it as every stage sees it: Options.WrapStore, the store
// metrics, and the write health readiness watches (storehealth.go). The
// store closes with the gateway.
func (g *Gateway) openStore(ctx context.Context) error {
	// Exclusive: one gateway per SQLite file, and the leases a killed
	// predecessor left are taken back at once (sqlite.Options).
	st, err := assemble.OpenStore(ctx, g.cfg, assemble.StoreOptions{
		SQLiteSynchronous: g.opts.SQLiteSynchronous, PostgresSchema: g.opts.PostgresSchema, Exclusive: true,
		Logger: g.log,
	})
	if err != nil {
		return err
	}
	g.shed = g.newShedder(st, sqliteDir(g.cfg)) // overload.go; before the store is decorated
	g.metrics.SetOverloadSource(g.shed.State)
	if t, ok := st.(interface{ TookOverLeases() (int64, int64) }); ok {
		if ev, ac := t.TookOverLeases(); ev+ac > 0 {
			g.log.Info("took over the leases a previous gateway left on this store; its work starts again now",
				"events", ev, "actions", ac)
		}
	}
	if g.opts.WrapStore != nil {
		st = g.opts.WrapStore(st)
	}
	g.health = newHealthStore(g.metrics.WrapStore(st))
	g.st = g.health
	g.metrics.SetBacklogSource(g.st)
	g.onClose(func() {
		if cerr := g.st.Close(); cerr != nil {
			g.log.Warn("close store", "err", cerr)
		}
	})
	return nil
}

// openCommLog starts the communication log writer over the store.
func (g *Gateway) openCommLog() {
	g.clog = commlog.New(g.st, commlog.Options{Logger: g.log,
		Directory: commlog.NewDirectory(commlog.DirectoryOptions{Lookup: workOrderInfo(g.st)})})
	g.metrics.SetCommLogStats(g.clog.Stats)
	g.onClose(g.clog.Close)
}

// buildClients builds one CorrigoPro client per account, on one pooled
// transport, feeding the communication log and the metrics.
func (g *Gateway) buildClients() error {
	httpClient := g.corrigoHTTPClient()
	for _, name := range accountNames(g.cfg) {
		a := g.cfg.Corrigo.Accounts[name]
		c, err := corrigo.NewClient(corrigo.Config{
			Region: a.Region, BaseURL: a.BaseURL, OAuthURL: a.OAuthURL,
			ClientID: a.ClientID, ClientSecret: a.ClientSecret.Value(),
			MessageIDPrefix: a.MessageIDPrefix, HTTPClient: httpClient, RateLimiter: rateLimiter(a.RateLimit),
			Observer:     g.metrics.ObserveExchanges(name, exchangeObserver(g.clog, name)),
			AcceptAny2xx: g.cfg.Corrigo.AcceptAny2xx, // strict.go in pkg/corrigo
		})
		if err != nil {
			return fmt.Errorf("account %s: corrigo client: %w", name, err)
		}
		g.clients[name] = c
	}
	return nil
}

// buildEgress builds the sender (guard, breakers, retries) over the
// clients and the worker that feeds it from the outbox.
func (g *Gateway) buildEgress() {
	cfg, opts := g.cfg, g.opts
	apis := map[string]egress.API{}
	prefixes := map[string]string{} // the sender derives actions' MessageIds itself
	for name, c := range g.clients {
		apis[name] = c
		prefixes[name] = cfg.Corrigo.Accounts[name].MessageIDPrefix
	}
	backoff := cfg.Delivery.BackoffInitial
	if opts.EgressBackoff > 0 {
		backoff = opts.EgressBackoff
	}
	g.egressObs = newEgressObserver(g.log.With("component", "egress"))
	g.sender = egress.NewSender(apis, egress.Options{
		Guard:           egress.GuardOptions{Logger: g.log, MaxWorkOrders: cfg.Delivery.GuardCacheWorkOrders},
		InitialBackoff:  backoff,
		MaxBackoff:      cfg.Delivery.BackoffMax,
		MaxAttempts:     cfg.Delivery.MaxAttempts,
		RetryAfterMax:   retryAfterMax(cfg.Delivery.RetryAfterMax),
		Breaker:         breakerOptions(cfg.Delivery.Breaker, opts.Breaker),
		AccountBreakers: accountBreakers(cfg, opts.Breaker),
		AccountPrefixes: prefixes,
		Observer:        metrics.Tee(g.egressObs, g.metrics),
		Logger:          g.log.With("component", "egress"),
	})
	g.metrics.SetBreakerSource(g.sender)
	g.worker = egress.NewWorker(g.st, g.sender, egress.WorkerOptions{
		Concurrency: opts.EgressConcurrency, Logger: g.log.With("component", "egress"),
		PollInterval: 500 * time.Millisecond, StopTimeout: opts.ShutdownTimeout,
		Lease:  cfg.Delivery.EventLease, // renewed while a send runs (egress.WorkerOptions.Lease); a killed process's sends are retaken after it
		Tracer: g.tracer,
	})
}

// startPlugins starts every configured plugin (launched, described, its
// config validated and applied) with the host services they call back
// into: work orders and customer settings through the sender, the
// store's key-value space, and the intake for the actions they submit on
// their own, which it returns.
func (g *Gateway) startPlugins(ctx context.Context) (*actionIntake, error) {
	intake := newIntake(g.cfg, g.st, g.log) // inbound.go
	host := assemble.NewHost(g.cfg, assemble.HostOptions{Reader: g.sender, Settings: g.sender.Guard(), KV: g.st, Actions: intake})
	g.plugins = plugins.NewManager(host, g.log.With("component", "plugins"))
	g.metrics.SetPluginSource(g.plugins)
	g.onClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
		defer cancel()
		if err := g.plugins.Close(ctx); err != nil {
			g.log.Warn("stop plugins", "err", err)
		}
	})
	if err := g.plugins.Start(ctx, assemble.PluginSpecs(g.cfg)); err != nil {
		return nil, fmt.Errorf("start plugins: %w", err)
	}
	return intake, nil
}

// buildDispatcher builds the dispatcher over the live rules (reload.go),
// the instrumented plugins and the sender's work order reads.
func (g *Gateway) buildDispatcher() (err error) {
	cfg, opts := g.cfg, g.opts
	g.disp, err = dispatch.New(dispatch.Options{
		Store: g.st, Evaluator: &g.rl.eval, Plugins: g.metrics.InstrumentPlugins(g.plugins), WorkOrders: g.sender,
		Workers: opts.Workers, Lease: cfg.Delivery.EventLease,
		MaxAttempts: cfg.Delivery.MaxAttempts, BackoffBase: cfg.Delivery.BackoffInitial, BackoffMax: cfg.Delivery.BackoffMax,
		RetryAfterMax: retryAfterMax(cfg.Delivery.RetryAfterMax), OutageWait: g.sender.OutageWait,
		DrainTimeout: opts.ShutdownTimeout, Classify: decide.ClassifyPluginError,
		Observe:  g.sender.Guard().ObserveNotification,
		OnOutbox: g.worker.Kick,
		Logger:   g.log,
		Tracer:   g.tracer,
	})
	return err
}

// buildIngest builds the public listener's server: each account's webhook
// endpoint (one verifier per certificate) and poller, the plugins'
// inbound routes and the health endpoints.
func (g *Gateway) buildIngest(intake *actionIntake) error {
	g.metrics.SetWebhookStats(g.stats.Snapshot)
	g.sigs = newSignatureTracker(g.log, g.metrics.WebhookSignatureVerified) // signatures.go
	mux := &routeMux{ServeMux: http.NewServeMux(), routes: &g.routes}
	wake := func(*store.Event) { g.disp.Wake() }
	for _, name := range accountNames(g.cfg) {
		a := g.cfg.Corrigo.Accounts[name]
		if !a.Webhook.Disabled {
			h, configured, err := g.webhook(g.cfg, name, a)
			if err != nil {
				return err
			}
			configured()
			slot := &hookSlot{}
			slot.h.Store(h)
			g.hooks[a.Webhook.Path] = slot
			mux.Handle(a.Webhook.Path, slot)
		}
		if a.Polling.Enabled {
			p, err := ingest.NewPoller(ingest.PollerOptions{
				Account: name, API: g.clients[name], Store: g.st,
				Interval: a.Polling.Interval, Lookback: a.Polling.Lookback,
				OnStored: wake, Logger: g.log,
			})
			if err != nil {
				return err
			}
			g.pollers = append(g.pollers, p)
		}
	}
	g.routeInbound(mux.ServeMux, intake) // inbound.go: /plugins/{name}/inbound
	g.routes = append(g.routes, inboundPatterns...)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", g.readyz)
	g.srv = &http.Server{
		Handler:           mux.ServeMux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          g.serverErrorLog("listen"), // tls.go: handshake errors bounded
	}
	return nil
}

// webhook builds one account's endpoint with its certificate's verifier,
// its pinned claims and its source allowlist.
func (g *Gateway) webhook(cfg *config.Config, name string, a config.Account) (_ *ingest.Webhook, configured func(), _ error) {
	vo, err := WebhookVerifyOptions(cfg, name, a)
	if err != nil {
		return nil, nil, err
	}
	v, err := corrigo.NewVerifier([]byte(a.Webhook.Certificate.Value()), vo)
	if err != nil {
		return nil, nil, fmt.Errorf("account %s: %w", name, err)
	}
	allowed, err := netallow.Parse(a.Webhook.AllowedSources)
	if err != nil {
		return nil, nil, fmt.Errorf("account %s: webhook allowed_sources: %w", name, err)
	}
	proxies, err := netallow.Parse(cfg.TrustedProxies)
	if err != nil {
		return nil, nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	var source func(*http.Request) (string, bool)
	if !allowed.Empty() {
		source = func(r *http.Request) (string, bool) {
			addr, ok := netallow.ClientAddr(r, proxies)
			if !ok {
				return "unknown", false
			}
			return addr.String(), allowed.Contains(addr)
		}
	}
	h, err := ingest.NewWebhook(ingest.WebhookOptions{
		Account: name, Verify: newCachedVerifier(v, g.sigs.observer(name)).Check, Store: g.st, SourceAllowed: source,
		ExplainRejections: a.Webhook.ExplainRejections,
		MaxBodyBytes:      a.Webhook.MaxBodyBytes, Logger: g.log, Stats: g.stats,
		OnStored:   func(*store.Event) { g.disp.Wake() },
		OnExchange: g.clog.Add,
		Tracer:     g.tracer,
		Shed:       g.shed.Shedding,
	})
	if err != nil {
		return nil, nil, err
	}
	return h, func() { g.sigs.configure(name, v) }, nil
}

// WebhookVerifyOptions are the verifier options of account name's webhook
// as the gateway builds them (gateway token inspect checks tokens with the
// same ones).
func WebhookVerifyOptions(cfg *config.Config, name string, a config.Account) (corrigo.VerifyOptions, error) {
	vo := corrigo.VerifyOptions{Audience: a.Webhook.Audience, ClockSkew: a.Webhook.ClockSkew, Names: a.Webhook.Names}
	if a.Webhook.RefuseAccessTokens {
		vo.RefuseNames = clientIDs(cfg)
	}
	for _, h := range a.Webhook.Hashes {
		hash, err := corrigo.ParseHash(h)
		if err != nil {
			return vo, fmt.Errorf("account %s: webhook hashes: %w", name, err)
		}
		vo.Hashes = append(vo.Hashes, hash)
	}
	for _, s := range a.Webhook.SignedBytes {
		sb, err := corrigo.ParseSignedBytes(s)
		if err != nil {
			return vo, fmt.Errorf("account %s: webhook signed_bytes: %w", name, err)
		}
		vo.SignedBytes = append(vo.SignedBytes, sb)
	}
	return vo, nil
}

// clientIDs are the OAuth client ids the gateway's accounts (and the
// embedded sandbox) use: a webhook token naming one of them is an access
// token, not a webhook token.
func clientIDs(cfg *config.Config) []string {
	var ids []string
	for _, name := range sortedKeys(cfg.Corrigo.Accounts) {
		if id := cfg.Corrigo.Accounts[name].ClientID; id != "" {
			ids = append(ids, id)
		}
	}
	if cfg.UsesSandbox() && cfg.Sandbox.ClientID != "" {
		ids = append(ids, cfg.Sandbox.ClientID)
	}
	return ids
}

// bindListeners binds the public listener (cfg.Listen or
// Options.Listener) and the admin one (admin.listen or
// Options.AdminListener); the close functions release them if New fails.
func (g *Gateway) bindListeners() error {
	g.ln = g.opts.Listener
	if g.ln == nil {
		ln, err := Bind("listen", g.cfg.Listen)
		if err != nil {
			return err
		}
		g.ln = ln
	}
	if g.cfg.Admin.Listen != "" {
		g.adminLn = g.opts.AdminListener
		if g.adminLn == nil {
			ln, err := Bind("admin.listen", g.cfg.Admin.Listen)
			if err != nil {
				_ = g.ln.Close()
				return err
			}
			g.adminLn = ln
		}
	} else if g.opts.AdminListener != nil {
		_ = g.opts.AdminListener.Close()
	}
	// Closed last (registered first); after Run's shutdown they are
	// closed already and this is a no-op.
	g.onClose(func() {
		_ = g.ln.Close()
		if g.adminLn != nil {
			_ = g.adminLn.Close()
		}
	})
	return nil
}

// Listen returns the public listener's address (New bound it), so a
// caller learns the port of ":0" before serving.
func (g *Gateway) Listen() (net.Addr, error) { return g.ln.Addr(), nil }

// Close releases what New started (plugins, store, listeners) for a
// caller that does not Run the gateway after all; Run does it itself.
func (g *Gateway) Close() {
	g.mu.Lock()
	running := g.running
	g.mu.Unlock()
	if !running {
		g.closeAll()
	}
}

// Run serves webhooks and runs pollers, dispatch and egress until ctx
// ends, then shuts down gracefully. It returns after everything stopped
// and the store is closed.
func (g *Gateway) Run(ctx context.Context) error {
	addr, err := g.Listen()
	if err != nil {
		g.closeAll()
		return err
	}
	g.mu.Lock()
	if g.running {
		g.mu.Unlock()
		return errors.New("gateway: Run called twice")
	}
	g.running = true
	g.mu.Unlock()
	g.logStart(addr)
	tlsCtx, stopTLSWatch := context.WithCancel(ctx)
	defer stopTLSWatch()
	g.watchTLS(tlsCtx)
	stopAdmin, err := g.serveAdmin()
	if err != nil {
		g.closeAll()
		return err
	}

	serveErr := make(chan error, 1)
	go func() {
		if err := serve(g.srv, g, g.tls, false); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
		close(serveErr)
	}()

	ingestCtx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	dispCtx, stopDisp := context.WithCancel(context.WithoutCancel(ctx))
	egressCtx, stopEgress := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIngest()
	defer stopDisp()
	defer stopEgress()
	var pollWG, dispWG, egressWG sync.WaitGroup
	for _, p := range g.pollers {
		pollWG.Go(func() { _ = p.Run(ingestCtx) })
	}
	pollWG.Go(func() { g.runMaintenance(ingestCtx) }) // reconciliation and retention (reconcile_wiring.go)
	pollWG.Go(func() { g.shed.Run(ingestCtx) })       // load shedding (overload.go)
	dispWG.Go(func() {
		if err := g.disp.Run(dispCtx); err != nil {
			g.log.Error("dispatcher stopped", "err", err)
		}
	})
	egressWG.Go(func() {
		if err := g.worker.Run(egressCtx); err != nil {
			g.log.Error("egress worker stopped", "err", err)
		}
	})

	if g.opts.OnReady != nil {
		g.opts.OnReady()
	}

	var runErr error
	select {
	case <-ctx.Done():
		g.log.Info("shutting down: no longer accepting webhooks")
	case err, ok := <-serveErr:
		if ok && err != nil {
			runErr = fmt.Errorf("serve: %w", err)
			g.log.Error("listener failed; shutting down", "err", err)
		}
	}
	if g.opts.OnStopping != nil {
		g.opts.OnStopping()
	}

	// 1. Stop accepting: answer the webhooks in flight, refuse new ones
	//    (CorrigoPro retries them later).
	sctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
	if err := g.srv.Shutdown(sctx); err != nil {
		g.log.Warn("webhook listener did not drain in time", "err", err)
		_ = g.srv.Close()
	}
	cancel()
	// The rejection counts of the last minute, so the log accounts for
	// every refused request (ratelog summaries).
	for _, slot := range g.hooks {
		slot.h.Load().FlushRejectionLog()
	}
	g.inboundRejections.Flush()
	// 2. Stop polling and claiming; in-flight events finish within the
	//    dispatcher's deadline, the rest is reclaimed after its lease.
	stopIngest()
	pollWG.Wait()
	stopDisp()
	dispWG.Wait()
	// 3. Send what dispatch just wrote, while CorrigoPro keeps taking it,
	//    then stop sending; sends in flight finish within egress's
	//    deadline. Whatever is left stays in the outbox for the next start.
	g.flushOutbox()
	stopEgress()
	egressWG.Wait()
	// 4. The admin listener, then plugins, communication log, store.
	stopAdmin()
	g.closeAll()
	st := g.disp.Stats()
	sent := g.egressObs.counts()
	g.log.Info("gateway stopped", "events_done", st.Done, "events_dead", st.Dead+st.Parked, "actions", st.Actions,
		"actions_sent", sent[egress.OutcomeSent], "actions_refused", sent[egress.OutcomeRefused], "actions_failed", sent[egress.OutcomeDead]+sent[egress.OutcomeParked])
	return runErr
}

// flushOutbox waits until the outbox has no pending action, for at most
// ShutdownTimeout, and gives up earlier when a second passes without any
// send finishing (the rest are retries waiting for their time, or
// CorrigoPro is down: they are sent after the next start).
func (g *Gateway) flushOutbox() {
	deadline := time.Now().Add(g.opts.ShutdownTimeout)
	lastDone, lastProgress := g.egressObs.total(), time.Now()
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		bl, err := g.st.Backlog(ctx)
		cancel()
		if err != nil {
			return
		}
		pending := 0
		for _, b := range bl {
			pending += b.PendingActions
		}
		if pending == 0 {
			return
		}
		if done := g.egressObs.total(); done != lastDone {
			lastDone, lastProgress = done, time.Now()
		} else if time.Since(lastProgress) > time.Second {
			g.log.Info("leaving actions in the outbox for the next start", "pending", pending)
			return
		}
		g.worker.Kick()
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *Gateway) logStart(addr net.Addr) {
	g.log.Info("gateway listening", "addr", addr.String(), "tls", g.tls != nil, "config", g.cfg.Path, "config_version", g.cfg.Version)
	for _, name := range accountNames(g.cfg) {
		a := g.cfg.Corrigo.Accounts[name]
		attrs := []any{"account", name, "api", g.clients[name].BaseURL()}
		if a.Webhook.Disabled {
			attrs = append(attrs, "webhook", "disabled")
		} else {
			attrs = append(attrs, "webhook", scheme(g.tls)+"://"+addr.String()+a.Webhook.Path)
		}
		if a.Polling.Enabled {
			attrs = append(attrs, "polling", a.Polling.Interval.String(), "lookback", a.Polling.Lookback.String())
		} else {
			attrs = append(attrs, "polling", "off")
		}
		if a.Reconcile.Interval > 0 {
			attrs = append(attrs, "reconcile", a.Reconcile.Interval.String(), "window", a.Reconcile.Window.String())
		}
		if a.Reconcile.SilenceAlert > 0 && !a.Webhook.Disabled {
			attrs = append(attrs, "silence_alert", a.Reconcile.SilenceAlert.String())
		}
		if a.Shadow {
			attrs = append(attrs, "shadow", true)
		}
		g.log.Info("account live", attrs...)
	}
	for _, name := range sortedKeys(g.cfg.Plugins) {
		p := g.cfg.Plugins[name]
		g.log.Info("plugin live", "plugin", name, "command", p.Command, "timeout", p.Timeout.String(), "concurrency", p.Concurrency)
	}
	for i, r := range g.cfg.Rules {
		g.log.Info("rule live", "index", i, "rule", r.Name, "plugin", r.Plugin, "when", r.When, "stop", r.Stop, "shadow", r.Shadow)
	}
}

// problems lists why the gateway is not ready: the store does not answer,
// its last write failed, a plugin is not running. Empty: ready.
func (g *Gateway) problems(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var problems []string
	if err := g.st.Ping(ctx); err != nil {
		problems = append(problems, "store: "+err.Error())
	} else if p := g.health.writeProblem(ctx); p != "" {
		problems = append(problems, p)
	}
	problems = append(problems, g.overloadProblems()...)
	return append(problems, pluginProblems(g.plugins)...)
}

// readyz answers the public listener's /readyz: 200 or 503, nothing
// more. The listener faces the internet, and store errors and plugin
// names are for operators: the admin listener's /readyz lists them.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if len(g.problems(r.Context())) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		writeJSONBody(w, map[string]any{"status": "unavailable"})
		return
	}
	writeJSONBody(w, map[string]any{"status": "ready"})
}

// WebhookStats returns the webhook counters (accepted, duplicate, and each
// rejection reason).
func (g *Gateway) WebhookStats() map[string]int64 { return g.stats.Snapshot() }

// Store returns the gateway's store (admin tools, tests).
func (g *Gateway) Store() store.Store { return g.st }

func (g *Gateway) onClose(f func()) { g.closeFns = append(g.closeFns, f) }

// closeAll runs the close functions in reverse order of registration,
// once.
func (g *Gateway) closeAll() {
	fns := g.closeFns
	g.closeFns = nil
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

func accountNames(cfg *config.Config) []string { return sortedKeys(cfg.Corrigo.Accounts) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Stats is a snapshot of the pipeline's counters.
type Stats struct {
	Webhooks map[string]int64         // accepted, duplicate, rejection reasons
	Dispatch dispatch.Stats           // events done, dead, retried, actions written
	Egress   map[egress.Outcome]int64 // sends by outcome
}

// Stats returns the pipeline's counters.
func (g *Gateway) Stats() Stats {
	return Stats{Webhooks: g.stats.Snapshot(), Dispatch: g.disp.Stats(), Egress: g.egressObs.counts()}
}

// routeMux remembers the patterns registered on the public listener, so
// they can be listed (PublicRoutes) and checked against the OpenAPI
// document.
type routeMux struct {
	*http.ServeMux
	routes *[]string
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	*m.routes = append(*m.routes, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// PublicRoutes lists the patterns the public listener serves: each
// account's webhook path, the plugins' inbound paths, /healthz, /readyz.
func (g *Gateway) PublicRoutes() []string { return append([]string(nil), g.routes...) }

// rateLimiter builds an account's optional request rate limit; nil when
// rate_limit.per_second is 0 (off).
func rateLimiter(rl config.RateLimit) *rate.Limiter {
	if rl.PerSecond <= 0 {
		return nil
	}
	burst := rl.Burst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rl.PerSecond)))
	}
	return rate.NewLimiter(rate.Limit(rl.PerSecond), burst)
}

// retryAfterMax maps delivery.retry_after_max to egress: the config's 0s
// ("ignore Retry-After") is egress's negative (its zero is the default).
func retryAfterMax(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
