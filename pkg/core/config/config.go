// Package config loads and validates the gateway's configuration: one YAML
// file, overridden by WOGATE_ environment variables, with secrets referenced
// as ${ENV_NAME} or file:/path and never printed.
//
// Loading is strict and complete: an unknown key, a value of the wrong type
// or a missing required value is an error naming the file, the line and
// column and the key path, and every such error is reported in one pass
// (see Error). Defaults are filled in before validation, so a loaded Config
// is ready to use: every duration is set, every account has a webhook path.
//
// The package knows the shape of rules but not their language: compiling
// the `when` conditions is pkg/core/rules' job, which reports its errors in
// the same ErrorEntry form, positioned with Rule.Line and Rule.Column.
package config

import (
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Defaults. A key absent from the file and the environment takes its value
// in DefaultConfig, or for the keys of one account or one plugin in
// DefaultAccount or DefaultPlugin; an explicit value is validated as
// written (an explicit `0s` for an interval is an error, not "use the
// default"). These three values are the only declaration of a default: the
// loader fills absent keys from them (applyDefaults), the schema docs show
// them, and components that need the same default outside a configuration
// (plugins.DefaultSupervisor) take it from here. A key whose default is
// its zero value is written out as an explicit default only when its field
// is tagged `default:"zero"` (a duration where 0 turns a feature off).
//
// Defaults that are not a key's value are derived where they are used: a
// sqlite store.dsn is DefaultSQLiteFile inside data_dir, a webhook path is
// DefaultWebhookPathPrefix and the account's name, oauth_url is the
// region's corrigo.DefaultOAuthURL, an account's breaker is
// delivery.breaker.
var DefaultConfig = Config{
	Listen:  "127.0.0.1:8080",
	DataDir: "./data",
	Store: StoreConfig{
		Driver:      "sqlite",
		GroupCommit: GroupCommit{MaxBatch: 256, MaxWait: 2 * time.Millisecond},
		SQLite:      SQLiteConfig{QuickCheck: "auto", QuickCheckBudget: 10 * time.Second},
	},
	Delivery: Delivery{
		MaxAttempts:          10,
		BackoffInitial:       time.Second,
		BackoffMax:           5 * time.Minute,
		EventLease:           10 * time.Second,
		RetryAfterMax:        10 * time.Minute,
		GuardCacheWorkOrders: 10000,
		Breaker:              Breaker{ConsecutiveFailures: 5, OpenTimeout: 30 * time.Second, HalfOpenRequests: 1},
	},
	CustomerSettings: CustomerSettings{Refresh: 15 * time.Minute},
	Admin:            Admin{Listen: "127.0.0.1:8081"},
	Sandbox: Sandbox{
		Listen:       "127.0.0.1:8090",
		TimeScale:    1.0,
		ClientID:     "wogate-sandbox",
		ClientSecret: "wogate-sandbox-secret", //nolint:gosec // G101: the embedded sandbox's public test secret
	},
	Log:       Log{Level: "info", Format: "json"},
	Retention: Retention{Events: 30 * 24 * time.Hour, Log: 7 * 24 * time.Hour},
	Tracing:   Tracing{Exporter: "none", SampleRatio: 1.0, ServiceName: "wogate"},
	Overload: Overload{
		MaxPendingEvents: 50000,
		MaxOldestPending: time.Hour,
		MinFreeDiskBytes: 512 << 20,
		MaxStoreBytes:    8 << 30,
		RetryAfter:       30 * time.Second,
		SampleInterval:   time.Second,
	},
}

// DefaultAccount holds the defaults of each corrigo.accounts.<name>
// section (webhook.path is derived from the name, see DefaultConfig).
var DefaultAccount = Account{
	Webhook: Webhook{
		ClockSkew:          5 * time.Minute,
		MaxBodyBytes:       4 << 20,
		RefuseAccessTokens: true,
	},
	Polling:   Polling{Enabled: true, Interval: time.Minute, Lookback: 15 * time.Minute},
	Reconcile: Reconcile{Interval: time.Hour, Window: 24 * time.Hour},
}

// DefaultPlugin holds the defaults of each plugins.<name> section. Its
// Supervisor is also the plugin host's (plugins.DefaultSupervisor).
var DefaultPlugin = Plugin{
	Timeout:     10 * time.Second,
	Concurrency: 8,
	Inbound:     PluginInbound{HMACHeader: "X-Wogate-Signature"},
	Supervisor: PluginSupervisor{
		MaxCrashes:     5,
		Window:         10 * time.Minute,
		BackoffInitial: 250 * time.Millisecond,
		BackoffMax:     30 * time.Second,
	},
}

// Defaults that are not the value of one key.
const (
	DefaultSQLiteFile          = "wogate.db"          // inside data_dir
	DefaultWebhookPathPrefix   = "/webhooks/corrigo/" // + account name
	DefaultEnvPrefix           = "WOGATE_"
	DefaultEnvNestingSeparator = "__"
)

// Config is the whole gateway configuration. The zero value is not useful:
// build one with Load or Parse, which fill in defaults and validate.
type Config struct {
	// Listen is the address of the public HTTP listener that receives
	// CorrigoPro webhooks (host:port). Default 127.0.0.1:8080.
	Listen string `koanf:"listen" json:"listen"`
	// DataDir holds the embedded SQLite store and other local state.
	// Relative paths are relative to the config file's directory (Load
	// makes it absolute). Default ./data.
	DataDir string `koanf:"data_dir" json:"data_dir"`
	// Store selects and tunes the durable store.
	Store StoreConfig `koanf:"store" json:"store"`
	// Corrigo lists the CorrigoPro accounts the gateway serves.
	Corrigo CorrigoConfig `koanf:"corrigo" json:"corrigo"`
	// Plugins are the plugin processes rules send events to, by name.
	Plugins map[string]Plugin `koanf:"plugins" json:"plugins"`
	// Rules decide which plugin gets which event. They run in order.
	Rules []Rule `koanf:"rules" json:"rules"`
	// Delivery tunes retries of events and actions.
	Delivery Delivery `koanf:"delivery" json:"delivery"`
	// CustomerSettings tunes the cache of customer completion settings
	// the action guard checks before sending a check-out.
	CustomerSettings CustomerSettings `koanf:"customer_settings" json:"customer_settings"`
	// Admin is the operators' listener: web UI, API, health and metrics.
	Admin Admin `koanf:"admin" json:"admin"`
	// Sandbox configures the embedded CorrigoPro sandbox, started
	// in-process when an account has sandbox: true.
	Sandbox Sandbox `koanf:"sandbox" json:"sandbox"`
	// Log configures the gateway's own log.
	Log Log `koanf:"log" json:"log"`
	// Retention says how long stored events and the communication log are
	// kept.
	Retention Retention `koanf:"retention" json:"retention"`
	// Tracing exports OpenTelemetry traces that follow each work order
	// from webhook to plugin to CorrigoPro call. Off by default.
	Tracing Tracing `koanf:"tracing" json:"tracing"`
	// Overload sets the limits above which webhooks are refused with 503
	// and Retry-After (CorrigoPro retries them) instead of growing the
	// backlog without bound.
	Overload Overload `koanf:"overload" json:"overload"`
	// TrustedProxies are the CIDR prefixes of reverse proxies in front of
	// the public listener. Only a connection from one of them has its
	// X-Forwarded-For read (webhook allowed_sources); anyone else's header
	// is ignored. Empty: the connection's peer is the client.
	TrustedProxies []string `koanf:"trusted_proxies" json:"trusted_proxies,omitempty"`
	// TLS serves the public listener over HTTPS (docs/tls.md).
	TLS TLS `koanf:"tls" json:"tls"`

	// Version is a short hash of the resolved configuration (secret values
	// excluded), recorded with every rule decision so a decision can be
	// traced to the configuration it was made under.
	Version string `koanf:"-" json:"version"`
	// Path is the file the configuration was loaded from.
	Path string `koanf:"-" json:"path"`
	// Dir is the absolute directory of Path. Relative paths in the file
	// (data_dir, a sqlite store.dsn, plugin commands, file: references)
	// are resolved against it when loading, and plugins run with it as
	// their working directory, so relative paths in their config mean the
	// same: a config behaves the same whatever directory the gateway is
	// started from.
	Dir string `koanf:"-" json:"-"`
	// Warnings are problems that do not stop the gateway (a value that
	// is ignored, an unusual combination). `gateway validate` prints them.
	Warnings []ErrorEntry `koanf:"-" json:"-"`

	// pos maps key paths to positions in the file, for errors found
	// after loading (rule compilation, plugin config validation).
	pos *positions
	// envKeys maps key paths to the environment variable that set them.
	envKeys map[string]string
}

// StoreConfig selects the durable store.
type StoreConfig struct {
	// Driver is "sqlite" (embedded, default) or "postgres".
	Driver string `koanf:"driver" json:"driver"`
	// DSN is the data source: for sqlite a file path (default
	// <data_dir>/wogate.db), for postgres a URL such as
	// postgres://user@host:5432/db (required). It may hold a password,
	// so it is a Secret.
	DSN Secret `koanf:"dsn" json:"dsn"`
	// GroupCommit batches concurrent writes into one transaction.
	GroupCommit GroupCommit `koanf:"group_commit" json:"group_commit"`
	// SQLite tunes the sqlite driver.
	SQLite SQLiteConfig `koanf:"sqlite" json:"sqlite"`
}

// SQLiteConfig tunes the embedded SQLite store.
type SQLiteConfig struct {
	// QuickCheck is what the gateway checks of the SQLite file at start,
	// before serving from it: "auto" runs SQLite's quick_check under
	// quick_check_budget (a check that runs out of budget is abandoned
	// with a warning and the gateway starts), "always" runs it to the end
	// however long it takes, "off" skips it. Damage found stops the
	// gateway with a message saying what to do. Default auto.
	QuickCheck string `koanf:"quick_check" json:"quick_check"`
	// QuickCheckBudget bounds quick_check in auto mode. Default 10s
	// (quick_check reads about 1 GB in 20s; docs/storage.md).
	QuickCheckBudget time.Duration `koanf:"quick_check_budget" json:"quick_check_budget"`
}

// GroupCommit batches concurrent store writes (webhook ingest under load)
// into one transaction: fewer fsyncs, higher throughput.
type GroupCommit struct {
	// MaxBatch is the most writes committed together. Default 256.
	MaxBatch int `koanf:"max_batch" json:"max_batch"`
	// MaxWait is how long a write may wait for others to join its batch.
	// 0 commits as soon as the store is free. Default 2ms.
	MaxWait time.Duration `koanf:"max_wait" json:"max_wait"`
}

// CorrigoConfig holds the CorrigoPro accounts.
type CorrigoConfig struct {
	// Accounts by name. The name appears in the default webhook path,
	// in logs and metrics, and in WOGATE_CORRIGO__ACCOUNTS__<NAME>__*
	// overrides; it must match [a-z0-9][a-z0-9_-]*. At least one.
	Accounts map[string]Account `koanf:"accounts" json:"accounts"`
	// AcceptAny2xx takes every 2xx answer from CorrigoPro as success.
	// Default false: CorrigoPro's documentation says every answer other
	// than 200 is an error, so a 201 or 204 fails the call visibly (an
	// action is parked, since it may have taken effect). Needs a restart.
	AcceptAny2xx bool `koanf:"accept_any_2xx" json:"accept_any_2xx,omitempty"`
}

// Account is one CorrigoPro account (one client id, one region).
type Account struct {
	// Region is the CorrigoPro data center: apac, am or emea. Either
	// Region or BaseURL is required unless Sandbox is set.
	Region corrigo.Region `koanf:"region" json:"region,omitempty"`
	// BaseURL overrides Region with an explicit ".../Direct/" API root.
	BaseURL string `koanf:"base_url" json:"base_url,omitempty"`
	// OAuthURL is the token endpoint. Default corrigo.DefaultOAuthURL.
	OAuthURL string `koanf:"oauth_url" json:"oauth_url,omitempty"`
	// ClientID is the OAuth client id from CorrigoPro Desktop.
	ClientID string `koanf:"client_id" json:"client_id,omitempty"`
	// ClientSecret is the OAuth client secret; use ${ENV} or file:.
	ClientSecret Secret `koanf:"client_secret" json:"client_secret,omitempty"`
	// MessageIDPrefix prefixes the MessageIds the gateway generates, so
	// its calls are easy to find in CorrigoPro's usage log.
	MessageIDPrefix string `koanf:"message_id_prefix" json:"message_id_prefix,omitempty"`
	// Sandbox connects the account to the embedded sandbox (see
	// Config.Sandbox) instead of CorrigoPro: URLs, credentials and the
	// webhook certificate come from the sandbox.
	Sandbox bool `koanf:"sandbox" json:"sandbox,omitempty"`
	// Webhook configures the endpoint CorrigoPro posts notifications to.
	Webhook Webhook `koanf:"webhook" json:"webhook"`
	// Polling searches for new work orders periodically, a safety net for
	// lost webhooks (and the only source when webhooks are disabled).
	Polling Polling `koanf:"polling" json:"polling"`
	// Reconcile periodically compares CorrigoPro's view with the store.
	Reconcile Reconcile `koanf:"reconcile" json:"reconcile"`
	// Shadow records decisions and actions for this account but never
	// sends actions to CorrigoPro: for trying rules on live traffic.
	Shadow bool `koanf:"shadow" json:"shadow,omitempty"`
	// Breaker overrides delivery.breaker for this account's circuit
	// breaker. Keys absent here take delivery.breaker's values, so after
	// loading every account's Breaker is complete.
	Breaker Breaker `koanf:"breaker" json:"breaker"`
	// RateLimit paces this account's requests to CorrigoPro. Default off.
	RateLimit RateLimit `koanf:"rate_limit" json:"rate_limit"`
}

// RateLimit is a token bucket over one account's CorrigoPro requests
// (every API call the gateway makes for the account; token requests are
// not counted). CorrigoPro documents no rate limit (API.md §1.8): this is
// for a limit agreed with CorrigoPro or learnt from its 429s.
type RateLimit struct {
	// PerSecond is the sustained request rate; 0 (the default) turns the
	// limit off. Fractions are allowed (0.5 is one request every 2 s).
	PerSecond float64 `koanf:"per_second" json:"per_second,omitempty"`
	// Burst is how many requests may go at once after a quiet spell.
	// Default: PerSecond rounded up, at least 1.
	Burst int `koanf:"burst" json:"burst,omitempty"`
}

// Webhook configures one account's notification endpoint.
type Webhook struct {
	// Path is the URL path on the public listener. Default
	// /webhooks/corrigo/<account>. Paths must be unique.
	Path string `koanf:"path" json:"path"`
	// Certificate is the PEM certificate whose key signs CorrigoPro's
	// webhook tokens, usually file:./certs/corrigo.pem. Required unless
	// the webhook is disabled or the account uses the sandbox.
	Certificate Secret `koanf:"certificate" json:"certificate,omitempty"`
	// Disabled turns the endpoint off (polling only).
	Disabled bool `koanf:"disabled" json:"disabled,omitempty"`
	// Audience is the audience claim a token must carry; empty means
	// CorrigoProDirect (the check is never off by omission), "-" turns
	// the check off.
	Audience string `koanf:"audience" json:"audience,omitempty"`
	// ClockSkew tolerates clock differences when checking a token's
	// issued and expiry times. Default 5m.
	ClockSkew time.Duration `koanf:"clock_skew" json:"clock_skew"`
	// Hashes are the signature hashes accepted: sha1, sha256, sha384,
	// sha512. Empty: the verifier's default set.
	Hashes []string `koanf:"hashes" json:"hashes,omitempty"`
	// SignedBytes are the byte forms the signature may cover: decoded,
	// segment, gunzipped. Empty: the verifier's default.
	SignedBytes []string `koanf:"signed_bytes" json:"signed_bytes,omitempty"`
	// MaxBodyBytes bounds a notification body. Default 4 MiB.
	MaxBodyBytes int64 `koanf:"max_body_bytes" json:"max_body_bytes"`
	// Names, when set, pins the token ticket's name claim: a token whose
	// name is none of these is refused (wrong_name). The value CorrigoPro
	// puts there is not published [I]; see docs/webhook-tokens.md for how
	// to read it from a token you received.
	Names []string `koanf:"names" json:"names,omitempty"`
	// RefuseAccessTokens refuses tokens whose name claim is the client id
	// of a configured account (not_webhook_token): those are OAuth access
	// tokens from /OAuth/Token, which anyone holding the client secret, or
	// a token the gateway sent, can replay as a webhook bearer. Default
	// true.
	RefuseAccessTokens bool `koanf:"refuse_access_tokens" json:"refuse_access_tokens"`
	// ExplainRejections puts why a token or source was refused
	// (bad_signature, expired, the verifier's message) in the 401/403
	// body, for integrating. Off by default: every refusal answers the
	// same, and the reason is in the log, the metrics and the
	// communication log's counts. validate warns when it is on with a
	// listen address that is not loopback.
	ExplainRejections bool `koanf:"explain_rejections" json:"explain_rejections,omitempty"`
	// AllowedSources, when set, lists the CIDR prefixes (or addresses)
	// webhook requests may come from; others get 403 before their token
	// is looked at. The address is the connection's peer, or with
	// trusted_proxies the client named in X-Forwarded-For.
	AllowedSources []string `koanf:"allowed_sources" json:"allowed_sources,omitempty"`
}

// Polling configures the search for new work orders.
type Polling struct {
	// Enabled turns polling on. Default true.
	Enabled bool `koanf:"enabled" json:"enabled"`
	// Interval between searches. Default 1m.
	Interval time.Duration `koanf:"interval" json:"interval"`
	// Lookback is how far before the last watermark each search reaches,
	// to catch work orders created while the gateway was down or that
	// CorrigoPro indexed late. Default 15m.
	Lookback time.Duration `koanf:"lookback" json:"lookback"`
}

// Reconcile configures the periodic comparison of CorrigoPro's work orders
// with what the gateway has seen.
type Reconcile struct {
	// Interval between reconciliations; 0 turns reconciliation off.
	// Default 1h.
	Interval time.Duration `koanf:"interval" json:"interval"`
	// Window is how far back each reconciliation looks. Default 24h.
	Window time.Duration `koanf:"window" json:"window"`
	// SilenceAlert raises an alert (log, metric, health) when no webhook
	// arrived for this long; 0 turns it off. Default off.
	SilenceAlert time.Duration `koanf:"silence_alert" json:"silence_alert" default:"zero"`
}

// Plugin is one plugin process.
type Plugin struct {
	// Command is the plugin executable. A relative path (one with a
	// slash, ./bin/x) is relative to the config file's directory (Load
	// makes it absolute); a bare name is looked up in PATH. Required.
	Command string `koanf:"command" json:"command"`
	// Args are passed to the command.
	Args []string `koanf:"args" json:"args,omitempty"`
	// Env are environment variables for the plugin process. A plugin
	// gets none of the gateway's environment but PATH, HOME, USER,
	// LOGNAME, TZ, LANG, LANGUAGE, LC_*, TMPDIR, SSL_CERT_FILE and
	// SSL_CERT_DIR (plugins.PassEnv), so whatever else it needs goes
	// here: HTTPS_PROXY: ${HTTPS_PROXY}. Values are treated as secrets
	// (never printed). Names PLUGIN_* and WOGATE_PLUGIN_COOKIE belong to
	// the plugin handshake.
	Env map[string]Secret `koanf:"env" json:"env,omitempty"`
	// Config is the plugin's own configuration, validated by the plugin
	// against the schema it describes. String values may use ${ENV} and
	// file: references; values from references are treated as secrets.
	Config map[string]any `koanf:"config" json:"config,omitempty"`
	// Timeout bounds one call to the plugin. Default 10s.
	Timeout time.Duration `koanf:"timeout" json:"timeout"`
	// Concurrency bounds concurrent calls to the plugin. Default 8.
	Concurrency int `koanf:"concurrency" json:"concurrency"`
	// SHA256, when set, pins the executable's SHA-256 (hex); a binary
	// that does not match is not started.
	SHA256 string `koanf:"sha256" json:"sha256,omitempty"`
	// InboundToken is the older spelling of Inbound.Token; setting both
	// is an error.
	InboundToken Secret `koanf:"inbound_token" json:"inbound_token,omitempty"`
	// Inbound says how requests to the plugin's inbound path
	// (/plugins/<name>/inbound) are authenticated. Without a credential
	// (or the explicit loopback opt-in) the path does not exist: the
	// gateway answers 404 and the plugin never sees the request.
	Inbound PluginInbound `koanf:"inbound" json:"inbound"`
	// Supervisor tunes how the gateway handles the plugin's process
	// crashing: restarts with backoff, and quarantine of a crash loop.
	Supervisor PluginSupervisor `koanf:"supervisor" json:"supervisor"`

	// secretKeys are the Config keys (dotted paths) whose values are
	// secret: resolved from ${ENV}/file: references or named like one.
	secretKeys map[string]bool
}

// PluginInbound authenticates the requests the gateway forwards to a
// plugin's HandleInbound. Inbound requests make the gateway act on
// CorrigoPro (check in, reject, invoice), so the route is deny by default:
// it exists only when at least one credential is set, or when the public
// listener is loopback-only and AllowUnauthenticatedOnLoopback says so.
// When several credentials are set, a request must prove all of them.
type PluginInbound struct {
	// Token must accompany every request as "Authorization: Bearer
	// <token>" or an X-Wogate-Token header (compared in constant time).
	// At least 16 characters.
	Token Secret `koanf:"token" json:"token,omitempty"`
	// HMACSecret makes every request carry the hex HMAC-SHA256 of its raw
	// body under this secret in HMACHeader (optionally prefixed
	// "sha256="), the scheme erp-rest and most ERPs' webhooks use. At
	// least 16 characters.
	HMACSecret Secret `koanf:"hmac_secret" json:"hmac_secret,omitempty"`
	// HMACHeader names the header carrying the HMAC. Default
	// X-Wogate-Signature.
	HMACHeader string `koanf:"hmac_header" json:"hmac_header"`
	// AllowUnauthenticatedOnLoopback opens the route without credentials,
	// for trying things on one machine. Only valid when listen is a
	// loopback address; requests from other addresses are refused anyway.
	AllowUnauthenticatedOnLoopback bool `koanf:"allow_unauthenticated_on_loopback" json:"allow_unauthenticated_on_loopback,omitempty"`
}

// Open reports whether the inbound route exists: a credential is set or
// the loopback opt-in is on. Validation has refused the opt-in on a
// listener that is not loopback-only.
func (p PluginInbound) Open() bool {
	return p.Authenticated() || p.AllowUnauthenticatedOnLoopback
}

// Authenticated reports whether requests must prove a credential.
func (p PluginInbound) Authenticated() bool { return p.Token != "" || p.HMACSecret != "" }

// MinAdminTokenLen is the shortest admin.token accepted.
const MinAdminTokenLen = 16

// MinInboundSecretLen is the shortest inbound token or HMAC secret
// accepted: 16 characters leave guessing hopeless even without the
// constant-time compare.
const MinInboundSecretLen = 16

// PluginSupervisor tunes the supervision of one plugin process. When the
// process dies (or fails its health check) the gateway puts the events it
// held back in their queue and restarts it after a backoff that starts at
// BackoffInitial and doubles with each crash inside Window, up to
// BackoffMax. The MaxCrashes-th crash inside Window quarantines the
// plugin: no more restarts until an operator lifts the quarantine (POST
// /api/v1/plugins/<name>/restart, `gateway plugins restart <name>`) or
// the gateway restarts; its events wait and are retried meanwhile.
type PluginSupervisor struct {
	// MaxCrashes within Window quarantines the plugin (so it is restarted
	// at most MaxCrashes-1 times in a row). Default 5.
	MaxCrashes int `koanf:"max_crashes" json:"max_crashes"`
	// Window is how long a crash counts towards MaxCrashes. Default 10m.
	Window time.Duration `koanf:"window" json:"window"`
	// BackoffInitial is the wait before the first restart. Default 250ms.
	BackoffInitial time.Duration `koanf:"backoff_initial" json:"backoff_initial"`
	// BackoffMax caps the wait before a restart. Default 30s.
	BackoffMax time.Duration `koanf:"backoff_max" json:"backoff_max"`
}

// Rule sends matching events to a plugin.
type Rule struct {
	// Name identifies the rule in decisions, logs and metrics. Required
	// and unique.
	Name string `koanf:"name" json:"name"`
	// When is the condition, an expr-lang expression that must be a bool
	// (see docs/rules.md). Required; "true" matches everything.
	When string `koanf:"when" json:"when"`
	// Plugin receives matching events. Required unless Stop is set: a
	// stop rule without a plugin drops matching events from later rules.
	Plugin string `koanf:"plugin" json:"plugin,omitempty"`
	// Stop ends rule evaluation for an event this rule matched.
	Stop bool `koanf:"stop" json:"stop,omitempty"`
	// Shadow records what the rule's plugin would do without sending it.
	Shadow bool `koanf:"shadow" json:"shadow,omitempty"`
	// FetchWorkOrder makes the gateway fetch the full work order before
	// evaluating the rule and pass it to the plugin, for events that do
	// not carry it (everything but NewWorkOrder). Rules whose condition
	// mentions workOrder fetch it anyway.
	FetchWorkOrder bool `koanf:"fetch_work_order" json:"fetch_work_order,omitempty"`

	// File, Line and Column locate the first character of When in the
	// configuration file (1-based; 0 when unknown), so expression errors
	// can point into the file.
	File   string `koanf:"-" json:"-"`
	Line   int    `koanf:"-" json:"-"`
	Column int    `koanf:"-" json:"-"`
	// Block is true when When is a YAML block scalar (| or >): its
	// continuation lines start at Column rather than at column 1.
	Block bool `koanf:"-" json:"-"`
}

// Delivery tunes retries of events (plugin calls) and actions (CorrigoPro
// calls). Retries use jittered exponential backoff between BackoffInitial
// and BackoffMax; after MaxAttempts the item becomes a dead letter.
type Delivery struct {
	// MaxAttempts before an event or action becomes a dead letter.
	// Default 10.
	MaxAttempts int `koanf:"max_attempts" json:"max_attempts"`
	// BackoffInitial is the first retry delay. Default 1s.
	BackoffInitial time.Duration `koanf:"backoff_initial" json:"backoff_initial"`
	// BackoffMax caps the retry delay. Default 5m.
	BackoffMax time.Duration `koanf:"backoff_max" json:"backoff_max"`
	// EventLease is how long a claimed event or action stays a worker's
	// without a renewal. Live workers renew the leases of their work every
	// third of it, so a plugin call or a send may take its own timeout;
	// a process that dies gives its work up within one lease (on SQLite
	// at once: the next gateway takes its leases back at start). Default 10s.
	EventLease time.Duration `koanf:"event_lease" json:"event_lease"`
	// RetryAfterMax caps the Retry-After CorrigoPro sends with a 429 or
	// 503: the account makes no calls for that long (at most this), and
	// the action's next try waits at least that long. 0s ignores
	// Retry-After. Default 10m.
	RetryAfterMax time.Duration `koanf:"retry_after_max" json:"retry_after_max"`
	// GuardCacheWorkOrders bounds how many work orders' statuses the
	// action guard keeps from notifications and fetches (about 0.8 KB
	// each); one evicted costs a GET when it is needed. Default 10000.
	GuardCacheWorkOrders int `koanf:"guard_cache_work_orders" json:"guard_cache_work_orders"`
	// Breaker configures the circuit breaker each account's CorrigoPro
	// calls go through; corrigo.accounts.<name>.breaker overrides it per
	// account.
	Breaker Breaker `koanf:"breaker" json:"breaker"`
}

// Breaker configures a per-account circuit breaker around CorrigoPro
// calls (see docs/delivery.md). Only transient, authentication and token
// failures count; validation and business-rule answers do not.
type Breaker struct {
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row. Default 5. ≥ 1.
	ConsecutiveFailures int `koanf:"consecutive_failures" json:"consecutive_failures"`
	// OpenTimeout is how long an open breaker refuses calls before letting
	// probes through (half-open). Default 30s.
	OpenTimeout time.Duration `koanf:"open_timeout" json:"open_timeout"`
	// HalfOpenRequests is how many probe calls may run while half-open;
	// that many successes close the breaker. Default 1. ≥ 1.
	HalfOpenRequests int `koanf:"half_open_requests" json:"half_open_requests"`
}

// CustomerSettings tunes the customer-settings cache.
type CustomerSettings struct {
	// Refresh is how often cached settings are fetched again. Default 15m.
	Refresh time.Duration `koanf:"refresh" json:"refresh"`
}

// Admin is the operators' listener.
type Admin struct {
	// Listen is the admin address; "" turns the admin listener off.
	// Default 127.0.0.1:8081.
	Listen string `koanf:"listen" json:"listen"`
	// Token is the bearer token the admin UI and API require. Required
	// when Listen is not a loopback address; at least MinAdminTokenLen
	// characters.
	Token Secret `koanf:"token" json:"token,omitempty"`
	// AllowedHosts are the host names (or addresses) operators use to
	// reach the admin listener, besides localhost, 127.0.0.1, ::1 and
	// the host of Listen. A request whose Host header names anything
	// else gets 421 (DNS rebinding), except /healthz, /readyz and
	// /metrics.
	AllowedHosts []string `koanf:"allowed_hosts" json:"allowed_hosts,omitempty"`
	// TLS serves the admin listener over HTTPS, optionally requiring
	// client certificates (docs/tls.md).
	TLS TLS `koanf:"tls" json:"tls"`
	// Pprof serves Go's runtime profiles (CPU, heap, goroutines, execution
	// trace) under /debug/pprof/ on the admin listener, behind admin.token,
	// which it requires. Off by default: a heap profile can hold secrets.
	Pprof bool `koanf:"pprof" json:"pprof,omitempty"`
}

// TLS configures HTTPS on one listener. The files are PEM; relative paths
// are relative to the config file's directory. The gateway reloads them
// on SIGHUP and when they change, without a restart.
type TLS struct {
	// CertFile is the certificate chain (leaf first); with KeyFile it
	// turns TLS on.
	CertFile string `koanf:"cert_file" json:"cert_file,omitempty"`
	// KeyFile is the certificate's private key.
	KeyFile string `koanf:"key_file" json:"key_file,omitempty"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `koanf:"min_version" json:"min_version,omitempty"`
	// ClientCAFile (admin.tls only) makes every admin client present a
	// certificate signed by one of these CAs.
	ClientCAFile string `koanf:"client_ca_file" json:"client_ca_file,omitempty"`
	// TerminatedByProxy says a reverse proxy in front terminates TLS, so
	// that `gateway validate` accepts a non-loopback listener without
	// cert_file.
	TerminatedByProxy bool `koanf:"terminated_by_proxy" json:"terminated_by_proxy,omitempty"`
}

// Enabled says whether the listener serves TLS itself.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Sandbox configures the embedded CorrigoPro sandbox, used by accounts with
// sandbox: true. It is for trying the gateway without a CorrigoPro account.
type Sandbox struct {
	// Listen is the sandbox's address (REST, OAuth, control API under
	// /_sandbox/). Default 127.0.0.1:8090.
	Listen string `koanf:"listen" json:"listen"`
	// AutoCreate makes the sandbox create a random work order this often;
	// 0 turns it off. Default off.
	AutoCreate time.Duration `koanf:"auto_create" json:"auto_create" default:"zero"`
	// TimeScale speeds up the sandbox's clock (SLA dates, token expiry).
	// Default 1.
	TimeScale float64 `koanf:"time_scale" json:"time_scale"`
	// ClientID is the OAuth client the sandbox accepts. Default
	// wogate-sandbox.
	ClientID string `koanf:"client_id" json:"client_id"`
	// ClientSecret is that client's secret. Default wogate-sandbox-secret.
	ClientSecret Secret `koanf:"client_secret" json:"client_secret"`
}

// Log configures the gateway's log.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `koanf:"level" json:"level"`
	// Format is json or text. Default json.
	Format string `koanf:"format" json:"format"`
}

// Tracing configures OpenTelemetry tracing (pkg/core/tracing). With the
// default exporter "none" the gateway records nothing and stores no trace
// context.
type Tracing struct {
	// Exporter is where spans go: none (default), otlp-grpc, otlp-http
	// (an OpenTelemetry Collector, Jaeger, Tempo, ...) or stdout (JSON,
	// one span per line, for trying it out).
	Exporter string `koanf:"exporter" json:"exporter"`
	// Endpoint is the OTLP receiver: host:port, or a URL
	// (http://collector:4318, https://...). Empty: the exporter's default
	// (localhost:4317 for gRPC, localhost:4318 for HTTP) or the standard
	// OTEL_EXPORTER_OTLP_ENDPOINT variable.
	Endpoint string `koanf:"endpoint" json:"endpoint,omitempty"`
	// Insecure sends OTLP without TLS (a collector on localhost or in the
	// same pod). A URL endpoint's scheme decides by itself.
	Insecure bool `koanf:"insecure" json:"insecure,omitempty"`
	// Headers are sent with every export (e.g. an API key of a hosted
	// tracing service). Values are secrets: use ${ENV} or file:.
	Headers map[string]Secret `koanf:"headers" json:"headers,omitempty"`
	// SampleRatio is the share of traces recorded, from 0 to 1, decided
	// at the webhook (later spans follow their trace's decision).
	// Default 1.
	SampleRatio float64 `koanf:"sample_ratio" json:"sample_ratio"`
	// ServiceName is the service.name resource attribute. Default wogate.
	ServiceName string `koanf:"service_name" json:"service_name"`
}

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool { return t.Exporter != "" && t.Exporter != "none" }

// Retention says how long history is kept; 0 keeps it forever.
type Retention struct {
	// Events is how long handled events (with their decisions and
	// actions) are kept. Default 720h (30 days).
	Events time.Duration `koanf:"events" json:"events"`
	// Log is how long the communication log is kept. Default 168h.
	Log time.Duration `koanf:"log" json:"log"`
}

// Overload holds the load-shedding limits (docs/operations.md,
// "Overload"). A limit of 0 is no limit. The gateway starts shedding when
// a sample reaches a limit and stops when every sampled value is back
// under 90% of its limit (for free disk: above 110%), so it does not
// flap at the edge.
type Overload struct {
	// MaxPendingEvents is the most events waiting for dispatch. Default 50000.
	MaxPendingEvents int `koanf:"max_pending_events" json:"max_pending_events"`
	// MaxOldestPending is the greatest age of the oldest pending event.
	// Default 1h.
	MaxOldestPending time.Duration `koanf:"max_oldest_pending" json:"max_oldest_pending"`
	// MinFreeDiskBytes is the least free space on the data_dir file
	// system (SQLite). Default 536870912 (512 MiB).
	MinFreeDiskBytes int64 `koanf:"min_free_disk_bytes" json:"min_free_disk_bytes"`
	// MaxStoreBytes is the largest the SQLite store (database and WAL)
	// may grow, or the PostgreSQL database. Default 8589934592 (8 GiB).
	MaxStoreBytes int64 `koanf:"max_store_bytes" json:"max_store_bytes"`
	// RetryAfter is the Retry-After a refused webhook gets. Default 30s.
	RetryAfter time.Duration `koanf:"retry_after" json:"retry_after"`
	// SampleInterval is how often the backlog, disk and store size are
	// read. Default 1s.
	SampleInterval time.Duration `koanf:"sample_interval" json:"sample_interval"`
}

// UsesSandbox reports whether any account uses the embedded sandbox, in
// which case the gateway starts it.
func (c *Config) UsesSandbox() bool {
	for _, a := range c.Corrigo.Accounts {
		if a.Sandbox {
			return true
		}
	}
	return false
}

// IsSecretKey reports whether the plugin config value at key (a dotted path
// inside Config, e.g. "auth.token") is a secret.
func (p Plugin) IsSecretKey(key string) bool { return p.secretKeys[key] }

// MarkPluginSecret marks a plugin config key (dotted path, e.g.
// "auth.token") as secret, for plugins whose schema declares secret fields;
// Redacted and every printed form of the config mask it from then on.
func (c *Config) MarkPluginSecret(plugin, key string) {
	p, ok := c.Plugins[plugin]
	if !ok {
		return
	}
	if p.secretKeys == nil {
		p.secretKeys = map[string]bool{}
	}
	p.secretKeys[key] = true
	c.Plugins[plugin] = p
}
