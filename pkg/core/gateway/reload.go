package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/decide"
	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/ingest"
	"github.com/wogate/wogate/pkg/core/plugins"
)

// ReloadResult says what a reload changed.
type ReloadResult struct {
	// OldVersion and NewVersion are the config versions before and after.
	OldVersion, NewVersion string
	// Changed lists the keys that differ (e.g. "rules",
	// "plugins.erp.config", "corrigo.accounts.acme.shadow"), sorted.
	Changed []string
	// Plugins is what happened to each plugin.
	Plugins plugins.Change
	// Rules is the number of rules now live.
	Rules int
	// Breakers are the accounts whose circuit breaker settings changed;
	// their breakers were rebuilt (and start closed).
	Breakers []string
}

// RestartRequiredError refuses a reload that changes keys only a restart
// can apply. The running configuration is left as it was.
type RestartRequiredError struct {
	// Keys are the changed keys, sorted.
	Keys []string
}

func (e *RestartRequiredError) Error() string {
	return "these keys changed and need a restart, so nothing was reloaded: " + strings.Join(e.Keys, ", ")
}

// ReloadStatus is the outcome of the last reload attempt, for the admin
// API and tests.
type ReloadStatus struct {
	// Attempts counts reloads tried since start.
	Attempts int `json:"attempts"`
	// LastAttempt is when the last one ran; zero if none ran.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is the last attempt's error, "" if it succeeded.
	LastError string `json:"last_error,omitempty"`
	// LastSuccess is when a reload last succeeded, and LastVersion the
	// version it installed.
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastVersion string    `json:"last_version,omitempty"`
}

// reloader holds what a reload swaps. Readers load the atomics; Reload
// stores them together inside the plugin swap.
type reloader struct {
	mu     sync.Mutex // one reload at a time
	live   atomic.Pointer[config.Config]
	eval   liveEvaluator
	intake *actionIntake

	statusMu sync.Mutex
	status   ReloadStatus

	total       *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	info        *prometheus.GaugeVec
}

// liveEvaluator is the dispatcher's Evaluator: it loads the current rules
// once per event, so an event is evaluated entirely under one config
// version even when a reload swaps the rules meanwhile.
type liveEvaluator struct {
	p atomic.Pointer[decide.Evaluator]
}

// Evaluate implements dispatch.Evaluator.
func (l *liveEvaluator) Evaluate(ctx context.Context, in *dispatch.Input) (dispatch.Decision, error) {
	return l.p.Load().Evaluate(ctx, in)
}

// hookSlot serves one webhook path with the handler of the current
// config: a reload swaps in a handler with a new certificate or verify
// options without touching the listener.
type hookSlot struct {
	h atomic.Pointer[ingest.Webhook]
}

func (s *hookSlot) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.Load().ServeHTTP(w, r) }

// initReload records the config and evaluator New built, and registers
// the reload metrics.
func (g *Gateway) initReload(cfg *config.Config, eval *decide.Evaluator, intake *actionIntake) {
	g.rl.live.Store(cfg)
	g.rl.eval.p.Store(eval)
	g.rl.intake = intake
	g.rl.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wogate_config_reloads_total", Help: "Config reloads by result (success, failure).",
	}, []string{"result"})
	g.rl.total.WithLabelValues("success")
	g.rl.total.WithLabelValues("failure")
	g.rl.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wogate_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful config reload (0: none since start).",
	})
	g.rl.info = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wogate_config_info", Help: "1 for the config version now running.",
	}, []string{"version"})
	g.rl.info.WithLabelValues(cfg.Version).Set(1)
	g.metrics.Registry().MustRegister(g.rl.total, g.rl.lastSuccess, g.rl.info)
}

// current is the configuration now in force.
func (g *Gateway) current() *config.Config { return g.rl.live.Load() }

// Config returns the configuration now in force (after reloads).
func (g *Gateway) Config() *config.Config { return g.current() }

// LastReload reports the last reload attempt.
func (g *Gateway) LastReload() ReloadStatus {
	g.rl.statusMu.Lock()
	defer g.rl.statusMu.Unlock()
	return g.rl.status
}

// Reload applies next to the running gateway: validate, build the new
// runtime pieces, swap, stop the old ones.
//
// Rules and shadow flags, the plugin set (added plugins started, removed
// ones stopped, changed ones replaced, unchanged ones left running),
// plugin inbound tokens, each existing account's webhook verification
// (certificate, audience, clock skew, hashes, signed bytes, body limit),
// retry limits and backoff, circuit breaker settings and (with
// Options.LogLevel) log.level are reloaded: the keys of the component
// reloaders (reloaders).
// Anything else that changed (listeners, store, data_dir, accounts added
// or removed, account URLs and credentials, polling, reconciliation, the
// event lease, retention, log format, sandbox) needs a restart: the
// reload is refused with a *RestartRequiredError naming every such key.
//
// Each component prepares first (builds and checks everything, changing
// nothing); only when all have, the plugin manager starts the new plugins
// and, at its swap, every component installs what it prepared, in one
// step. On any error the running configuration stays in force untouched
// and plugins this reload started are stopped again. The outcome is
// logged, counted in wogate_config_reloads_total and kept for LastReload.
func (g *Gateway) Reload(ctx context.Context, next *config.Config) (res ReloadResult, err error) {
	g.rl.mu.Lock()
	defer g.rl.mu.Unlock()
	cur := g.current()
	res.OldVersion, res.NewVersion = cur.Version, next.Version
	start := time.Now()
	defer func() { g.reloaded(res, err, time.Since(start)) }()

	active := g.activeReloaders()
	changed, restart := diffKeys(cur, next, active)
	res.Changed = changed
	if len(restart) > 0 {
		return res, &RestartRequiredError{Keys: restart}
	}
	swaps := make([]func(*ReloadResult), 0, len(active))
	for _, r := range active {
		swap, err := r.prepare(g, next, changed)
		if err != nil {
			return res, err
		}
		if swap != nil {
			swaps = append(swaps, swap)
		}
	}
	res.Plugins, err = g.plugins.Reconfigure(ctx, assemble.PluginSpecs(next), func() {
		// Every component swaps here, together with the plugins, so an
		// event evaluated from here on sees the new rules and the new
		// plugin instances.
		for _, swap := range swaps {
			swap(&res)
		}
		g.rl.live.Store(next)
	})
	if err != nil {
		return res, fmt.Errorf("plugins: %w", err)
	}
	return res, nil
}

// ReloadFailed records a reload that failed before Reload could run (the
// file did not load or validate): logged, counted and kept for LastReload
// like a failed Reload. The running configuration stays in force.
func (g *Gateway) ReloadFailed(err error) {
	g.rl.mu.Lock()
	defer g.rl.mu.Unlock()
	g.reloaded(ReloadResult{OldVersion: g.current().Version}, err, 0)
}

// reloaded logs, counts and records one reload attempt.
func (g *Gateway) reloaded(res ReloadResult, err error, took time.Duration) {
	now := time.Now()
	g.rl.statusMu.Lock()
	g.rl.status.Attempts++
	g.rl.status.LastAttempt = now
	if err != nil {
		g.rl.status.LastError = err.Error()
	} else {
		g.rl.status.LastError = ""
		g.rl.status.LastSuccess, g.rl.status.LastVersion = now, res.NewVersion
	}
	g.rl.statusMu.Unlock()
	if err != nil {
		g.rl.total.WithLabelValues("failure").Inc()
		g.log.Error("config reload failed; the running config stays in force",
			"err", err, "config_version", res.OldVersion, "rejected_version", res.NewVersion, "changed", res.Changed)
		return
	}
	g.rl.total.WithLabelValues("success").Inc()
	g.rl.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	if res.OldVersion != res.NewVersion {
		g.rl.info.DeleteLabelValues(res.OldVersion)
		g.rl.info.WithLabelValues(res.NewVersion).Set(1)
	}
	g.log.Info("config reloaded", "old_version", res.OldVersion, "new_version", res.NewVersion,
		"changed", res.Changed, "rules", res.Rules, "breakers_rebuilt", res.Breakers,
		"plugins_started", res.Plugins.Started, "plugins_stopped", res.Plugins.Stopped,
		"plugins_replaced", res.Plugins.Replaced, "plugins_unchanged", res.Plugins.Unchanged,
		"took", took.Round(time.Millisecond).String())
}

// setShadow replaces the accounts' shadow flags for actions plugins
// submit on their own.
func (in *actionIntake) setShadow(m map[string]bool) { in.live.Store(&m) }

// isShadow reports whether account is in shadow mode under the config in
// force.
func (in *actionIntake) isShadow(account string) bool {
	if m := in.live.Load(); m != nil {
		return (*m)[account]
	}
	return in.shadow[account]
}

// A componentReloader is one component's part of Reload: the config keys
// it applies and its prepare step. The keys a reload may change are the
// keys of the reloaders, and only those: every other key needs a restart,
// so a key added to Config later is safe by default.
type componentReloader struct {
	// component names what the reloader changes.
	component string
	// keys are the config keys it applies, as key prefixes; "*" matches
	// one segment (a map key).
	keys []string
	// only, if set, says whether g can apply the keys at all; if it
	// cannot, they need a restart.
	only func(g *Gateway) bool
	// prepare builds the component's new state from next (changed are
	// the keys that differ), checking everything and changing nothing;
	// an error refuses the reload. swap, nil when there is nothing to
	// do, installs the state: it runs inside the plugin swap with every
	// other component's, must be quick and cannot fail.
	prepare func(g *Gateway, next *config.Config, changed []string) (swap func(*ReloadResult), err error)
}

// reloaders are the components a reload changes, prepared in this order.
// The plugin manager is not among them: its Reconfigure is the swap
// (starting new plugins is its prepare, undone when it fails), and it
// applies the plugins key.
var reloaders = []componentReloader{
	{component: "plugins", keys: []string{"plugins"}, prepare: preparePlugins},
	{component: "rules", keys: []string{"rules", "corrigo.accounts.*.shadow"}, prepare: prepareRules},
	{component: "webhooks", keys: []string{
		"corrigo.accounts.*.webhook.certificate",
		"corrigo.accounts.*.webhook.audience",
		"corrigo.accounts.*.webhook.clock_skew",
		"corrigo.accounts.*.webhook.hashes",
		"corrigo.accounts.*.webhook.signed_bytes",
		"corrigo.accounts.*.webhook.max_body_bytes",
		"corrigo.accounts.*.webhook.names",
		"corrigo.accounts.*.webhook.refuse_access_tokens",
		"corrigo.accounts.*.webhook.allowed_sources",
		"corrigo.accounts.*.webhook.explain_rejections",
	}, prepare: prepareWebhooks},
	{component: "intake", keys: []string{"corrigo.accounts.*.shadow"}, prepare: prepareIntake},
	{component: "dispatch", keys: []string{
		"delivery.max_attempts", "delivery.backoff_initial", "delivery.backoff_max", "delivery.retry_after_max",
	}, prepare: prepareDispatch},
	{component: "egress", keys: []string{
		"delivery.max_attempts", "delivery.backoff_initial", "delivery.backoff_max", "delivery.retry_after_max",
		"delivery.breaker", "corrigo.accounts.*.breaker",
	}, prepare: prepareEgress},
	{component: "log", keys: []string{"log.level"}, prepare: prepareLogLevel,
		only: func(g *Gateway) bool { return g.opts.LogLevel != nil }}, // the logger's level is a variable the gateway may set
}

// activeReloaders are the reloaders g can run.
func (g *Gateway) activeReloaders() []componentReloader {
	var out []componentReloader
	for _, r := range reloaders {
		if r.only == nil || r.only(g) {
			out = append(out, r)
		}
	}
	return out
}

// preparePlugins has nothing to build: plugins.Manager.Reconfigure
// checks the specs, starts what changed and swaps.
func preparePlugins(*Gateway, *config.Config, []string) (func(*ReloadResult), error) {
	return nil, nil
}

// prepareRules compiles the new rules against the new plugin set.
func prepareRules(g *Gateway, next *config.Config, _ []string) (func(*ReloadResult), error) {
	eval, err := decide.NewEvaluator(next, nil)
	if err != nil {
		return nil, err
	}
	return func(res *ReloadResult) {
		g.rl.eval.p.Store(eval)
		res.Rules = eval.Rules()
	}, nil
}

// prepareWebhooks builds a new endpoint (verifier, claims, allowlist) for
// each account whose webhook settings changed; the paths keep their
// slots.
func prepareWebhooks(g *Gateway, next *config.Config, changed []string) (func(*ReloadResult), error) {
	hooks := map[string]*ingest.Webhook{}
	var records []func() // the signature tracker learns the new verifiers' combinations (signatures.go)
	for _, name := range accountNames(next) {
		a := next.Corrigo.Accounts[name]
		if a.Webhook.Disabled || !hasPrefix(changed, "corrigo.accounts."+name+".webhook") {
			continue
		}
		h, configured, err := g.webhook(next, name, a)
		if err != nil {
			return nil, err
		}
		hooks[a.Webhook.Path] = h
		records = append(records, configured)
	}
	if len(hooks) == 0 {
		return nil, nil
	}
	return func(*ReloadResult) {
		for path, h := range hooks {
			g.hooks[path].h.Store(h)
		}
		for _, configured := range records {
			configured()
		}
	}, nil
}

// prepareIntake takes the accounts' shadow flags for actions plugins
// submit on their own.
func prepareIntake(g *Gateway, next *config.Config, _ []string) (func(*ReloadResult), error) {
	shadow := map[string]bool{}
	for name, a := range next.Corrigo.Accounts {
		shadow[name] = a.Shadow
	}
	return func(*ReloadResult) { g.rl.intake.setShadow(shadow) }, nil
}

// prepareDispatch takes the events' retry settings.
func prepareDispatch(g *Gateway, next *config.Config, _ []string) (func(*ReloadResult), error) {
	d := next.Delivery
	apply, err := g.disp.PrepareRetryPolicy(dispatch.RetryPolicy{MaxAttempts: d.MaxAttempts, BackoffBase: d.BackoffInitial,
		BackoffMax: d.BackoffMax, RetryAfterMax: retryAfterMax(d.RetryAfterMax)})
	if err != nil {
		return nil, err
	}
	return func(*ReloadResult) { apply() }, nil
}

// prepareEgress takes the actions' retry settings and the breakers. Run
// flags (Options.Breaker, EgressBackoff) keep overriding the file, as at
// start.
func prepareEgress(g *Gateway, next *config.Config, _ []string) (func(*ReloadResult), error) {
	d := next.Delivery
	backoff := d.BackoffInitial
	if g.opts.EgressBackoff > 0 {
		backoff = g.opts.EgressBackoff
	}
	r, err := g.sender.PrepareReload(egress.RetryPolicy{InitialBackoff: backoff, MaxBackoff: d.BackoffMax, MaxAttempts: d.MaxAttempts,
		RetryAfterMax: retryAfterMax(d.RetryAfterMax)}, breakerOptions(d.Breaker, g.opts.Breaker), accountBreakers(next, g.opts.Breaker))
	if err != nil {
		return nil, err
	}
	return func(res *ReloadResult) { res.Breakers = g.sender.Apply(r) }, nil
}

// prepareLogLevel parses log.level for Options.LogLevel.
func prepareLogLevel(g *Gateway, next *config.Config, _ []string) (func(*ReloadResult), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(next.Log.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	return func(*ReloadResult) { g.opts.LogLevel.Set(level) }, nil
}

// diffConfig lists the keys that differ between a and b and, among them,
// those that need a restart on any gateway (the reloaders' keys, without
// those only some gateways can apply).
func diffConfig(a, b *config.Config) (changed, restart []string) {
	var always []componentReloader
	for _, r := range reloaders {
		if r.only == nil {
			always = append(always, r)
		}
	}
	return diffKeys(a, b, always)
}

// diffKeys lists the keys that differ between a and b and, among them,
// those that none of rs applies. An account added or removed is a
// restart key of its own ("corrigo.accounts.<name>").
func diffKeys(a, b *config.Config, rs []componentReloader) (changed, restart []string) {
	diffValue(reflect.ValueOf(*a), reflect.ValueOf(*b), "", &changed)
	sort.Strings(changed)
	for _, k := range changed {
		if !isReloadable(k, rs) {
			restart = append(restart, k)
		}
	}
	return changed, restart
}

func isReloadable(key string, rs []componentReloader) bool {
	ks := strings.Split(key, ".")
	for _, r := range rs {
		if slices.ContainsFunc(r.keys, func(p string) bool { return matchKey(ks, p) }) {
			return true
		}
	}
	return false
}

// matchKey reports whether the key split into ks lies under the prefix p.
func matchKey(ks []string, p string) bool {
	ps := strings.Split(p, ".")
	if len(ks) < len(ps) {
		return false
	}
	for i, seg := range ps {
		if seg != "*" && seg != ks[i] {
			return false
		}
	}
	return true
}

// hasPrefix reports whether a key in keys is prefix or lies under it.
func hasPrefix(keys []string, prefix string) bool {
	for _, k := range keys {
		if k == prefix || strings.HasPrefix(k, prefix+".") {
			return true
		}
	}
	return false
}

// diffValue walks two values of the same type by their koanf keys. Struct
// fields without a koanf key (versions, file positions) are not config;
// maps of structs are compared key by key; everything else (lists, plugin
// config maps, scalars, secrets) is compared whole.
func diffValue(a, b reflect.Value, key string, out *[]string) {
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("koanf"), ",")[0]
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			diffValue(a.Field(i), b.Field(i), join(key, tag), out)
		}
		return
	case reflect.Map:
		if a.Type().Elem().Kind() == reflect.Struct {
			keys := map[string]bool{}
			for _, k := range a.MapKeys() {
				keys[k.String()] = true
			}
			for _, k := range b.MapKeys() {
				keys[k.String()] = true
			}
			for k := range keys {
				kv := reflect.ValueOf(k).Convert(a.Type().Key())
				av, bv := a.MapIndex(kv), b.MapIndex(kv)
				if !av.IsValid() || !bv.IsValid() {
					*out = append(*out, join(key, k))
					continue
				}
				diffValue(av, bv, join(key, k), out)
			}
			return
		}
	}
	if a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Struct && key == "rules" {
		// Rules carry their position in the file, which moves when a
		// comment is added above them: compare what they say.
		if !rulesEqual(a.Interface().([]config.Rule), b.Interface().([]config.Rule)) {
			*out = append(*out, key)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, key)
	}
}

func rulesEqual(a, b []config.Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.File, x.Line, x.Column, x.Block = "", 0, 0, false
		y.File, y.Line, y.Column, y.Block = "", 0, 0, false
		if x != y {
			return false
		}
	}
	return true
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
