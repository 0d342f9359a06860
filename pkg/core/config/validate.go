package config

import (
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/netallow"
	"github.com/wogate/wogate/pkg/core/tlscert"
	"github.com/wogate/wogate/pkg/corrigo"
)

// namePattern is what account and plugin names must look like: they end
// up in URL paths, metric labels, store keys and environment variable
// names (where the gateway lowercases everything).
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// secretKeyPattern marks plugin config keys that hold secrets by name.
var secretKeyPattern = regexp.MustCompile(`(?i)(secret|passw|token|api[_-]?key|credential|private[_-]?key|authorization)`)

// Accepted webhook verification settings (API.md §6).
var (
	validHashes      = []string{"sha1", "sha256", "sha384", "sha512"}
	validSignedBytes = []string{"decoded", "segment", "gunzipped"}
	validLogLevels   = []string{"debug", "info", "warn", "error"}
	validLogFormats  = []string{"json", "text"}
	validDrivers     = []string{"sqlite", "postgres"}
	validQuickChecks = []string{"auto", "always", "off"}
	validExporters   = []string{"none", "otlp-grpc", "otlp-http", "stdout"}
)

// headerNamePattern is an HTTP header name (RFC 9110 token) that is also
// valid as gRPC metadata once lower-cased.
var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// resolvePaths makes the relative paths of the file relative to its
// directory rather than to wherever the gateway was started (the
// convention of Caddy and Prometheus): `gateway validate` run from another
// directory must see the same files as `gateway run` from the config's.
// file: references are resolved the same way when they are read.
func (l *loader) resolvePaths(c *Config) {
	c.Dir = l.absDir()
	c.DataDir = resolvePath(c.Dir, c.DataDir)
	for _, t := range []*TLS{&c.TLS, &c.Admin.TLS} {
		t.CertFile = resolvePath(c.Dir, t.CertFile)
		t.KeyFile = resolvePath(c.Dir, t.KeyFile)
		t.ClientCAFile = resolvePath(c.Dir, t.ClientCAFile)
	}
	if c.Store.Driver == "sqlite" && c.Store.DSN != "" {
		c.Store.DSN = Secret(resolvePath(c.Dir, c.Store.DSN.Value()))
	}
	for name, p := range c.Plugins {
		// A bare name is a PATH lookup, as in a shell; only a path
		// (./bin/x, bin/x) is anchored to the config's directory.
		if strings.ContainsRune(p.Command, '/') || strings.ContainsRune(p.Command, filepath.Separator) {
			p.Command = resolvePath(c.Dir, p.Command)
			c.Plugins[name] = p
		}
	}
}

// absDir is the absolute directory of the file being loaded.
func (l *loader) absDir() string {
	if d, err := filepath.Abs(l.dir); err == nil {
		return d
	}
	return l.dir
}

// resolvePath anchors a relative path at dir; absolute and empty paths
// stay as they are (an empty one is reported by validation).
func resolvePath(dir, p string) string {
	if strings.TrimSpace(p) == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// finish fills in values computed from others and the positions of rule
// conditions.
func (l *loader) finish(c *Config) {
	for i := range c.Rules {
		r := &c.Rules[i]
		r.File = l.file
		key := fmt.Sprintf("rules[%d].when", i)
		if line, col, block, ok := l.pos.exprStart(key); ok {
			r.Line, r.Column, r.Block = line, col, block
		} else {
			r.Line, r.Column = l.pos.lookup(key, true)
		}
	}
	l.resolvePaths(c)
	if c.Store.Driver == "sqlite" && c.Store.DSN == "" && c.DataDir != "" {
		c.Store.DSN = Secret(filepath.Join(c.DataDir, DefaultSQLiteFile))
	}
	for name, acc := range c.Corrigo.Accounts {
		if acc.Region != "" {
			if r, err := corrigo.ParseRegion(string(acc.Region)); err == nil {
				acc.Region = r
			}
		}
		if !acc.Sandbox && acc.OAuthURL == "" && (acc.Region != "" || acc.BaseURL != "") {
			acc.OAuthURL = corrigo.DefaultOAuthURL
		}
		// Breaker keys the account does not set inherit delivery.breaker.
		set := l.breakerSet[name]
		if !set["consecutive_failures"] {
			acc.Breaker.ConsecutiveFailures = c.Delivery.Breaker.ConsecutiveFailures
		}
		if !set["open_timeout"] {
			acc.Breaker.OpenTimeout = c.Delivery.Breaker.OpenTimeout
		}
		if !set["half_open_requests"] {
			acc.Breaker.HalfOpenRequests = c.Delivery.Breaker.HalfOpenRequests
		}
		c.Corrigo.Accounts[name] = acc
	}
	for name, p := range c.Plugins {
		if p.Inbound.Token == "" {
			// inbound_token is the older spelling; validation refuses both.
			p.Inbound.Token = p.InboundToken
		}
		prefix := normKey("plugins." + name + ".config.")
		for k := range l.secrets {
			if rest, ok := strings.CutPrefix(k, prefix); ok {
				if p.secretKeys == nil {
					p.secretKeys = map[string]bool{}
				}
				p.secretKeys[rest] = true
			}
		}
		markSecretNames(p.Config, "", &p)
		c.Plugins[name] = p
	}
}

// markSecretNames marks config keys whose names say they hold a secret.
func markSecretNames(m map[string]any, prefix string, p *Plugin) {
	for k, v := range m {
		path := joinKey(prefix, k)
		if secretKeyPattern.MatchString(k) {
			if _, isMap := v.(map[string]any); !isMap {
				if p.secretKeys == nil {
					p.secretKeys = map[string]bool{}
				}
				p.secretKeys[path] = true
			}
		}
		if sub, ok := v.(map[string]any); ok {
			markSecretNames(sub, path, p)
		}
	}
}

// validate checks what types cannot: required values, ranges, references
// between sections.
func (l *loader) validate(c *Config) {
	l.checkListen("listen", c.Listen, false)
	if strings.TrimSpace(c.DataDir) == "" {
		l.errorf("data_dir", true, "must not be empty")
	}

	// store
	if !oneOf(c.Store.Driver, validDrivers) {
		l.errorf("store.driver", true, "unknown driver %q (want sqlite or postgres)", c.Store.Driver)
	}
	if c.Store.Driver == "postgres" && c.Store.DSN == "" {
		l.errorf("store.dsn", false, "required for the postgres driver (e.g. postgres://user@host:5432/db)")
	}
	if c.Store.GroupCommit.MaxBatch < 1 {
		l.errorf("store.group_commit.max_batch", true, "must be at least 1")
	}
	l.nonNegative("store.group_commit.max_wait", c.Store.GroupCommit.MaxWait)
	if !oneOf(c.Store.SQLite.QuickCheck, validQuickChecks) {
		l.errorf("store.sqlite.quick_check", true, "unknown mode %q (want auto, always or off)", c.Store.SQLite.QuickCheck)
	}
	if c.Store.SQLite.QuickCheckBudget <= 0 {
		l.errorf("store.sqlite.quick_check_budget", true, "must be positive (quick_check: off skips the check)")
	}

	l.validateAccounts(c)
	l.validatePlugins(c)
	l.validateRules(c)

	// delivery
	if c.Delivery.MaxAttempts < 1 {
		l.errorf("delivery.max_attempts", true, "must be at least 1")
	}
	l.positive("delivery.backoff_initial", c.Delivery.BackoffInitial)
	l.positive("delivery.backoff_max", c.Delivery.BackoffMax)
	if c.Delivery.BackoffMax > 0 && c.Delivery.BackoffMax < c.Delivery.BackoffInitial {
		l.errorf("delivery.backoff_max", true, "must not be less than backoff_initial (%s)", c.Delivery.BackoffInitial)
	}
	l.positive("delivery.event_lease", c.Delivery.EventLease)
	if c.Delivery.GuardCacheWorkOrders < 1 {
		l.errorf("delivery.guard_cache_work_orders", true, "must be ≥ 1")
	}
	// overload
	if c.Overload.MaxPendingEvents < 0 {
		l.errorf("overload.max_pending_events", true, "must be ≥ 0 (0: no limit)")
	}
	if c.Overload.MinFreeDiskBytes < 0 {
		l.errorf("overload.min_free_disk_bytes", true, "must be ≥ 0 (0: no check)")
	}
	if c.Overload.MaxStoreBytes < 0 {
		l.errorf("overload.max_store_bytes", true, "must be ≥ 0 (0: no limit)")
	}
	l.nonNegative("overload.max_oldest_pending", c.Overload.MaxOldestPending)
	l.positive("overload.retry_after", c.Overload.RetryAfter)
	l.positive("overload.sample_interval", c.Overload.SampleInterval)
	l.nonNegative("delivery.retry_after_max", c.Delivery.RetryAfterMax)
	l.validateBreaker("delivery.breaker", c.Delivery.Breaker, nil)
	l.positive("customer_settings.refresh", c.CustomerSettings.Refresh)

	l.validateTLS("tls", c.TLS, false)
	for _, e := range c.PlaintextListeners() {
		l.warnf(e.Key, "%s", e.Message) // `gateway validate` turns these into errors
	}
	// admin
	if c.Admin.Listen != "" {
		l.validateTLS("admin.tls", c.Admin.TLS, true)
		if l.checkListen("admin.listen", c.Admin.Listen, false) && !isLoopback(c.Admin.Listen) && c.Admin.Token == "" {
			l.errorf("admin.token", false, "required when admin.listen (%s) is not a loopback address", c.Admin.Listen)
		}
		if c.Admin.Token != "" && len(c.Admin.Token.Value()) < MinAdminTokenLen {
			l.errorf("admin.token", false, "must be at least %d characters (e.g. openssl rand -hex 32)", MinAdminTokenLen)
		}
		if c.Admin.Pprof && c.Admin.Token == "" {
			l.errorf("admin.pprof", false, "needs admin.token: profiles show what the gateway holds in memory, secrets included; set admin.token (at least %d characters, e.g. openssl rand -hex 32) or turn admin.pprof off", MinAdminTokenLen)
		}
		if c.Admin.Listen == c.Listen {
			l.errorf("admin.listen", true, "must differ from listen (%s)", c.Listen)
		}
		for i, h := range c.Admin.AllowedHosts {
			if h = strings.TrimSpace(h); h == "" || strings.ContainsAny(h, "/: ") && net.ParseIP(h) == nil {
				l.errorf(fmt.Sprintf("admin.allowed_hosts[%d]", i), true, "want a host name or address without scheme, port or path (e.g. wogate.internal)")
			}
		}
		if host, _, err := net.SplitHostPort(c.Admin.Listen); err == nil && len(c.Admin.AllowedHosts) == 0 && !isLoopback(c.Admin.Listen) {
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				l.warnf("admin.allowed_hosts", "admin.listen (%s) takes connections on every address, but only requests for localhost, 127.0.0.1 and ::1 are served (others get 421): list the names operators use, e.g. [wogate.internal, 10.0.0.5]", c.Admin.Listen)
			}
		}
	}

	// sandbox
	if c.UsesSandbox() {
		l.checkListen("sandbox.listen", c.Sandbox.Listen, true)
		if c.Sandbox.TimeScale <= 0 {
			l.errorf("sandbox.time_scale", true, "must be positive")
		}
		if c.Sandbox.ClientID == "" {
			l.errorf("sandbox.client_id", true, "must not be empty")
		}
		if c.Sandbox.ClientSecret == "" {
			l.errorf("sandbox.client_secret", true, "must not be empty")
		}
	}
	l.nonNegative("sandbox.auto_create", c.Sandbox.AutoCreate)

	// log, retention
	if !oneOf(c.Log.Level, validLogLevels) {
		l.errorf("log.level", true, "unknown level %q (want %s)", c.Log.Level, strings.Join(validLogLevels, ", "))
	}
	if !oneOf(c.Log.Format, validLogFormats) {
		l.errorf("log.format", true, "unknown format %q (want json or text)", c.Log.Format)
	}
	l.nonNegative("retention.events", c.Retention.Events)
	l.nonNegative("retention.log", c.Retention.Log)

	l.validateTracing(c.Tracing)
	if _, err := netallow.Parse(c.TrustedProxies); err != nil {
		l.errorf("trusted_proxies", false, "%v", err)
	}
}

func (l *loader) validateTracing(t Tracing) {
	if !oneOf(t.Exporter, validExporters) {
		l.errorf("tracing.exporter", true, "unknown exporter %q (want %s)", t.Exporter, strings.Join(validExporters, ", "))
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		l.errorf("tracing.sample_ratio", true, "must be from 0 to 1, got %v", t.SampleRatio)
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		l.errorf("tracing.service_name", true, "must not be empty")
	}
	for _, name := range sortedKeys(t.Headers) {
		if !headerNamePattern.MatchString(name) {
			l.errorf("tracing.headers."+name, false, "invalid header name %q", name)
		}
	}
	otlp := t.Exporter == "otlp-grpc" || t.Exporter == "otlp-http"
	if t.Endpoint != "" && t.Exporter != "none" && t.Exporter != "stdout" {
		if strings.Contains(t.Endpoint, "://") {
			u, err := url.Parse(t.Endpoint)
			switch {
			case err != nil:
				l.errorf("tracing.endpoint", true, "invalid URL: %v", err)
			case u.Scheme != "http" && u.Scheme != "https":
				l.errorf("tracing.endpoint", true, "unsupported scheme %q (want http or https)", u.Scheme)
			case u.Host == "":
				l.errorf("tracing.endpoint", true, "URL %q has no host", t.Endpoint)
			case t.Insecure && u.Scheme == "https":
				l.warnf("tracing.insecure", "ignored: the endpoint's https scheme asks for TLS")
			}
		} else if _, port, err := net.SplitHostPort(t.Endpoint); err != nil || port == "" {
			l.errorf("tracing.endpoint", true, "invalid endpoint %q: want host:port (e.g. otel-collector:4317) or a URL", t.Endpoint)
		}
	}
	if !otlp && t.Exporter != "" && oneOf(t.Exporter, validExporters) {
		for _, f := range []struct {
			key string
			set bool
		}{{"endpoint", t.Endpoint != ""}, {"insecure", t.Insecure}, {"headers", len(t.Headers) > 0}} {
			if f.set {
				l.warnf("tracing."+f.key, "ignored: only the otlp-grpc and otlp-http exporters use it (exporter is %s)", t.Exporter)
			}
		}
	}
}

func (l *loader) validateAccounts(c *Config) {
	if len(l.rawAccounts) == 0 {
		l.errorf("corrigo.accounts", false, "at least one account is required")
		return
	}
	paths := map[string]string{}
	for _, name := range sortedKeys(c.Corrigo.Accounts) {
		a := c.Corrigo.Accounts[name]
		p := "corrigo.accounts." + name
		if !namePattern.MatchString(name) {
			l.errorf(p, false, "invalid account name %q: use lower-case letters, digits, - and _", name)
		}
		if a.Sandbox {
			for _, f := range []struct {
				key string
				set bool
			}{{"region", a.Region != ""}, {"base_url", a.BaseURL != ""}, {"oauth_url", a.OAuthURL != ""}, {"client_id", a.ClientID != ""}, {"client_secret", a.ClientSecret != ""}} {
				if f.set {
					l.warnf(p+"."+f.key, "ignored: the account uses the embedded sandbox (sandbox: true)")
				}
			}
		} else {
			switch {
			case a.Region == "" && a.BaseURL == "":
				l.errorf(p+".region", false, "required: a region (apac, am or emea), a base_url, or sandbox: true")
			case a.Region != "" && a.BaseURL != "":
				l.warnf(p+".region", "ignored: base_url is set and takes precedence")
			case a.Region != "":
				if _, err := corrigo.ParseRegion(string(a.Region)); err != nil {
					l.errorf(p+".region", true, "unknown region %q (want apac, am or emea)", a.Region)
				}
			}
			if a.BaseURL != "" {
				l.checkURL(p+".base_url", a.BaseURL)
			}
			if a.OAuthURL != "" {
				l.checkURL(p+".oauth_url", a.OAuthURL)
			}
			if a.ClientID == "" {
				l.errorf(p+".client_id", false, "required (the OAuth client id from CorrigoPro Desktop)")
			}
			if a.ClientSecret == "" {
				l.errorf(p+".client_secret", false, "required (use ${ENV_NAME} or file:/path)")
			}
		}

		w := a.Webhook
		wp := p + ".webhook"
		if !w.Disabled {
			if !strings.HasPrefix(w.Path, "/") {
				l.errorf(wp+".path", true, "must start with /")
			} else if other, dup := paths[w.Path]; dup {
				l.errorf(wp+".path", true, "%s is already the webhook path of account %q", w.Path, other)
			} else {
				paths[w.Path] = name
			}
			if !a.Sandbox {
				if w.Certificate == "" {
					l.errorf(wp+".certificate", false, "required to verify webhook tokens (e.g. file:./certs/corrigo.pem), unless webhook.disabled is true")
				} else if !hasPEMCertificate(w.Certificate.Value()) {
					l.errorf(wp+".certificate", true, "not a PEM certificate (want -----BEGIN CERTIFICATE-----)")
				}
			}
		}
		l.nonNegative(wp+".clock_skew", w.ClockSkew)
		for i, h := range w.Hashes {
			if !oneOf(strings.ToLower(h), validHashes) {
				l.errorf(fmt.Sprintf("%s.hashes[%d]", wp, i), true, "unknown hash %q (want %s)", h, strings.Join(validHashes, ", "))
			}
		}
		for i, s := range w.SignedBytes {
			if !oneOf(strings.ToLower(s), validSignedBytes) {
				l.errorf(fmt.Sprintf("%s.signed_bytes[%d]", wp, i), true, "unknown signed_bytes %q (want %s)", s, strings.Join(validSignedBytes, ", "))
			}
		}
		if w.MaxBodyBytes <= 0 {
			l.errorf(wp+".max_body_bytes", true, "must be positive")
		}
		if w.ExplainRejections && !w.Disabled && !isLoopback(c.Listen) {
			l.warnf(wp+".explain_rejections", "on while listen (%s) is not a loopback address: anyone can learn why their token failed (bad_signature, expired, ...); turn it off once integrated", c.Listen)
		}
		for i, n := range w.Names {
			if strings.TrimSpace(n) == "" {
				l.errorf(fmt.Sprintf("%s.names[%d]", wp, i), true, "must not be empty")
			}
		}
		if _, err := netallow.Parse(w.AllowedSources); err != nil {
			l.errorf(wp+".allowed_sources", false, "%v", err)
		}

		pp := p + ".polling"
		if a.Polling.Enabled {
			l.positive(pp+".interval", a.Polling.Interval)
		} else {
			l.nonNegative(pp+".interval", a.Polling.Interval)
		}
		l.nonNegative(pp+".lookback", a.Polling.Lookback)
		if w.Disabled && !a.Polling.Enabled {
			l.warnf(p, "receives no events: both the webhook and polling are disabled")
		}

		rp := p + ".reconcile"
		l.nonNegative(rp+".interval", a.Reconcile.Interval)
		if a.Reconcile.Interval > 0 {
			l.positive(rp+".window", a.Reconcile.Window)
		}
		l.nonNegative(rp+".silence_alert", a.Reconcile.SilenceAlert)

		if a.RateLimit.PerSecond < 0 {
			l.errorf(p+".rate_limit.per_second", true, "must not be negative, got %v", a.RateLimit.PerSecond)
		}
		if a.RateLimit.Burst < 0 {
			l.errorf(p+".rate_limit.burst", true, "must not be negative, got %d", a.RateLimit.Burst)
		}
		if a.RateLimit.Burst > 0 && a.RateLimit.PerSecond == 0 {
			l.errorf(p+".rate_limit.burst", true, "needs rate_limit.per_second (the limit is off without it)")
		}

		// Inherited values were checked at delivery.breaker.
		if set := l.breakerSet[name]; len(set) > 0 {
			l.validateBreaker(p+".breaker", a.Breaker, set)
		}
	}
}

// validateBreaker checks a breaker section; when only is not nil, just
// the keys it holds.
func (l *loader) validateBreaker(key string, b Breaker, only map[string]bool) {
	check := func(k string) bool { return only == nil || only[k] }
	if check("consecutive_failures") && b.ConsecutiveFailures < 1 {
		l.errorf(key+".consecutive_failures", true, "must be at least 1")
	}
	if check("open_timeout") {
		l.positive(key+".open_timeout", b.OpenTimeout)
	}
	if check("half_open_requests") && b.HalfOpenRequests < 1 {
		l.errorf(key+".half_open_requests", true, "must be at least 1")
	}
}

func (l *loader) validatePlugins(c *Config) {
	used := map[string]bool{}
	for _, r := range c.Rules {
		used[r.Plugin] = true
	}
	for _, name := range sortedKeys(c.Plugins) {
		p := c.Plugins[name]
		key := "plugins." + name
		if !namePattern.MatchString(name) {
			l.errorf(key, false, "invalid plugin name %q: use lower-case letters, digits, - and _", name)
		}
		if strings.TrimSpace(p.Command) == "" {
			l.errorf(key+".command", false, "required (the plugin executable, e.g. ./bin/csv-export)")
		}
		l.positive(key+".timeout", p.Timeout)
		if p.Concurrency < 1 {
			l.errorf(key+".concurrency", true, "must be at least 1")
		}
		if p.SHA256 != "" {
			if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
				l.errorf(key+".sha256", true, "want 64 hexadecimal digits")
			}
		}
		sv, sk := p.Supervisor, key+".supervisor"
		if sv.MaxCrashes < 1 {
			l.errorf(sk+".max_crashes", true, "must be at least 1 (the crash that quarantines the plugin)")
		}
		l.positive(sk+".window", sv.Window)
		l.positive(sk+".backoff_initial", sv.BackoffInitial)
		l.positive(sk+".backoff_max", sv.BackoffMax)
		if sv.BackoffMax > 0 && sv.BackoffMax < sv.BackoffInitial {
			l.errorf(sk+".backoff_max", true, "must not be less than backoff_initial (%s)", sv.BackoffInitial)
		}
		if sv.Window > 0 && sv.BackoffInitial >= sv.Window {
			l.errorf(sk+".window", true, "must be longer than backoff_initial (%s), or crashes never add up to a quarantine", sv.BackoffInitial)
		}
		for _, k := range sortedKeys(p.Env) {
			switch {
			case !envName.MatchString(k):
				l.errorf(key+".env."+k, false, "invalid environment variable name %q (letters, digits and _, not starting with a digit)", k)
			case strings.HasPrefix(strings.ToUpper(k), "PLUGIN_") || strings.EqualFold(k, "WOGATE_PLUGIN_COOKIE"):
				l.errorf(key+".env."+k, false, "%s is set by the plugin handshake; choose another name", k)
			}
		}
		l.validateInbound(c, name, p)
		if !used[name] {
			l.warnf(key, "not used by any rule")
		}
	}
}

// validateInbound refuses inbound settings that would let anyone who can
// reach the public listener make the gateway act on CorrigoPro.
func (l *loader) validateInbound(c *Config, name string, p Plugin) {
	key := "plugins." + name + ".inbound"
	ib := p.Inbound
	if p.InboundToken != "" && p.Inbound.Token != p.InboundToken {
		l.errorf("plugins."+name+".inbound_token", false, "set either inbound_token or inbound.token, not both (inbound_token is the older spelling)")
	}
	for _, s := range []struct {
		key string
		v   Secret
	}{{key + ".token", ib.Token}, {key + ".hmac_secret", ib.HMACSecret}} {
		if s.v != "" && len(s.v.Value()) < MinInboundSecretLen {
			k := s.key
			if s.key == key+".token" && p.InboundToken != "" {
				k = "plugins." + name + ".inbound_token"
			}
			l.errorf(k, false, "must be at least %d characters (e.g. openssl rand -hex 32)", MinInboundSecretLen)
		}
	}
	if ib.HMACSecret != "" && !headerNamePattern.MatchString(ib.HMACHeader) {
		l.errorf(key+".hmac_header", true, "invalid header name %q", ib.HMACHeader)
	}
	if ib.AllowUnauthenticatedOnLoopback {
		switch {
		case ib.Authenticated():
			l.warnf(key+".allow_unauthenticated_on_loopback", "ignored: a credential is set, so every inbound request must prove it")
		case !isLoopback(c.Listen):
			l.errorf(key+".allow_unauthenticated_on_loopback", false,
				"listen (%s) is not a loopback address, so anyone who can reach it could make the gateway act on CorrigoPro through /plugins/%s/inbound: "+
					"set plugins.%s.inbound.token or plugins.%s.inbound.hmac_secret (${ENV} or file:), or remove the opt-in",
				c.Listen, name, name, name)
		}
	}
}

func (l *loader) validateRules(c *Config) {
	if len(c.Rules) == 0 {
		l.warnf("rules", "no rules: events are stored and marked handled without any plugin call")
	}
	seen := map[string]int{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		switch {
		case strings.TrimSpace(r.Name) == "":
			l.errorf(key+".name", false, "required: every rule needs a unique name")
		default:
			if j, dup := seen[r.Name]; dup {
				line, _ := l.pos.lookup(fmt.Sprintf("rules[%d].name", j), true)
				where := fmt.Sprintf("rules[%d]", j)
				if line > 0 {
					where += " at line " + strconv.Itoa(line)
				}
				l.errorf(key+".name", true, "duplicate rule name %q (also %s)", r.Name, where)
			} else {
				seen[r.Name] = i
			}
		}
		if strings.TrimSpace(r.When) == "" {
			if tag := l.pos.localTag(key + ".when"); tag != "" {
				// `when: !hasWorkOrder` is a YAML tag on an empty value.
				l.errorf(key+".when", true, "YAML reads %s as a tag, leaving the condition empty: quote the condition (when: %q)", tag, tag)
			} else {
				l.errorf(key+".when", false, `required: a condition ("true" matches every event)`)
			}
		}
		switch {
		case r.Plugin == "" && !r.Stop:
			l.errorf(key+".plugin", false, "required (or stop: true to drop matching events from later rules)")
		case r.Plugin != "":
			if !l.rawPlugins[r.Plugin] {
				names := sortedKeys(l.rawPlugins)
				list := "none"
				if len(names) > 0 {
					list = strings.Join(names, ", ")
				}
				l.errorf(key+".plugin", true, "unknown plugin %q (configured plugins: %s)", r.Plugin, list)
			}
		}
	}
}

func (l *loader) positive(key string, d time.Duration) {
	if d <= 0 {
		l.errorf(key, true, "must be a positive duration, got %s", d)
	}
}

func (l *loader) nonNegative(key string, d time.Duration) {
	if d < 0 {
		l.errorf(key, true, "must not be negative, got %s", d)
	}
}

// checkListen validates a host:port listen address; port 0 (any free port)
// is allowed only when anyPort is set.
func (l *loader) checkListen(key, addr string, anyPort bool) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		l.errorf(key, true, "invalid listen address %q: want host:port (e.g. 127.0.0.1:8080)", addr)
		return false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		l.errorf(key, true, "invalid port %q in listen address %q", port, addr)
		return false
	}
	if n == 0 && !anyPort {
		l.errorf(key, true, "port 0 is not allowed in %q: CorrigoPro and operators need a fixed port", addr)
		return false
	}
	if strings.ContainsAny(host, " /") {
		l.errorf(key, true, "invalid host %q in listen address", host)
		return false
	}
	return true
}

func (l *loader) checkURL(key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.errorf(key, true, "invalid URL %q: want an absolute http(s) URL", s)
	}
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasPEMCertificate(s string) bool {
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			return true
		}
	}
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateTLS checks one listener's tls block and the files it names:
// readable, PEM, key matching certificate, not expired (an error) and not
// ending within tlscert.ExpiryWarning (a warning).
func (l *loader) validateTLS(key string, t TLS, admin bool) {
	if _, err := tlscert.ParseVersion(t.MinVersion); err != nil {
		l.errorf(key+".min_version", true, "%v", err)
	}
	if t.ClientCAFile != "" && !admin {
		l.errorf(key+".client_ca_file", false, "only admin.tls takes client certificates; webhooks authenticate with CorrigoPro's token")
	}
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		if t.ClientCAFile != "" && admin {
			l.errorf(key+".client_ca_file", false, "needs %s.cert_file and %s.key_file: client certificates are only asked for over TLS", key, key)
		}
		return
	case t.CertFile == "":
		l.errorf(key+".cert_file", false, "required with %s.key_file", key)
		return
	case t.KeyFile == "":
		l.errorf(key+".key_file", false, "required with %s.cert_file", key)
		return
	}
	if t.TerminatedByProxy {
		l.errorf(key+".terminated_by_proxy", true, "contradicts %s.cert_file: either the gateway serves TLS or a proxy in front does", key)
	}
	warn, err := tlscert.Check(t.CertFile, t.KeyFile, time.Now())
	if err != nil {
		l.errorf(key+".cert_file", false, "%v", err)
	} else if warn != "" {
		l.warnf(key+".cert_file", "%s", warn)
	}
	if t.ClientCAFile != "" {
		if _, err := tlscert.LoadCAs(t.ClientCAFile); err != nil {
			l.errorf(key+".client_ca_file", false, "%v", err)
		}
	}
}

// PlaintextListeners names each listener that takes connections from
// other machines without TLS and without the config saying a proxy in
// front terminates it, with how to fix it. `gateway validate` refuses
// them; `gateway run` warns (Load's warnings).
func (c *Config) PlaintextListeners() []ErrorEntry {
	var out []ErrorEntry
	check := func(listenKey, addr, tlsKey string, t TLS) {
		if addr == "" || isLoopback(addr) || t.Enabled() || t.TerminatedByProxy {
			return
		}
		out = append(out, ErrorEntry{Key: tlsKey, Message: fmt.Sprintf(
			"%s (%s) is not a loopback address and has no TLS: set %s.cert_file and %s.key_file (docs/tls.md), "+
				"or %s.terminated_by_proxy: true if a reverse proxy in front of it terminates TLS", listenKey, addr, tlsKey, tlsKey, tlsKey)})
	}
	check("listen", c.Listen, "tls", c.TLS)
	check("admin.listen", c.Admin.Listen, "admin.tls", c.Admin.TLS)
	return out
}
