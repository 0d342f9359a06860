package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/rules"
	"github.com/wogate/wogate/pkg/corrigo"
)

// env builds Options from a fixed environment, so tests never depend on
// the process environment (and may run in parallel).
func env(vars ...string) config.Options {
	m := map[string]string{}
	for _, v := range vars {
		k, val, _ := strings.Cut(v, "=")
		m[k] = val
	}
	return config.Options{
		Environ: func() []string { return vars },
		LookupEnv: func(k string) (string, bool) {
			v, ok := m[k]
			return v, ok
		},
	}
}

// load loads a file and, like `gateway validate`, compiles its rules;
// every problem comes back as one list of formatted entries.
func load(t *testing.T, path string, opts config.Options) (*config.Config, []string) {
	t.Helper()
	cfg, err := config.LoadWith(path, opts)
	var entries []config.ErrorEntry
	var rs []config.Rule
	if err != nil {
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("load %s: error is %T, want *config.Error: %v", path, err, err)
		}
		entries = append(entries, ce.Entries...)
		rs = ce.Rules
	} else {
		rs = cfg.Rules
	}
	if _, rerr := rules.Compile(rs); rerr != nil {
		var ce *config.Error
		if !errors.As(rerr, &ce) {
			t.Fatalf("compile rules of %s: error is %T: %v", path, rerr, rerr)
		}
		// As gateway validate does: a key the loader already reported
		// (an empty condition) is not reported twice.
		seen := map[string]bool{}
		for _, e := range entries {
			seen[e.Key] = true
		}
		for _, e := range ce.Entries {
			if !seen[e.Key] {
				entries = append(entries, e)
			}
		}
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		if e.File != path {
			t.Errorf("entry %q names file %q, want %q", e, e.File, path)
		}
		out[i] = e.String()
	}
	return cfg, out
}

var testEnv = env(
	"TEST_CLIENT_ID=client-from-env",
	"TEST_CLIENT_SECRET=secret-from-env",
	"WOGATE_TEST_POSTGRES=postgres://ignored", // not a config key: ignored
)

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d good files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, errs := load(t, f, testEnv)
			if len(errs) > 0 {
				t.Fatalf("unexpected errors:\n%s", strings.Join(errs, "\n"))
			}
			if cfg.Version == "" || len(cfg.Version) != 12 {
				t.Errorf("version %q", cfg.Version)
			}
		})
	}
}

// TestBadConfigs pairs each bad file with substrings its errors must
// contain, positions included. Every bad file must be listed.
func TestBadConfigs(t *testing.T) {
	cases := map[string][]string{
		"unknown_key.bad.yaml": {
			`unknown_key.bad.yaml:6:9: corrigo.accounts.main.polling.intervall: unknown key "intervall" (did you mean "interval"?)`,
			`unknown_key.bad.yaml:7:1: lisen: unknown key "lisen" (did you mean "listen"?)`,
			`unknown_key.bad.yaml:11:19: plugins.csv.supervisor.max_crash: unknown key "max_crash" (did you mean "max_crashes"?)`,
		},
		"wrong_type.bad.yaml": {
			`wrong_type.bad.yaml:3:22: corrigo.accounts.main.sandbox: invalid boolean "yes please"`,
			`wrong_type.bad.yaml:7:11: plugins.csv.args: wrong type: want a list, got a string`,
			`wrong_type.bad.yaml:8:18: plugins.csv.concurrency: invalid integer "many"`,
			`wrong_type.bad.yaml:9:13: plugins.csv.config: wrong type: want a mapping, got a list`,
			`wrong_type.bad.yaml:10:27: plugins.csv.supervisor.window: invalid duration "soon"`,
			`wrong_type.bad.yaml:10:46: plugins.csv.supervisor.max_crashes: wrong type: want an integer, got a list`,
			`wrong_type.bad.yaml:11:8: rules: wrong type: want a list, got a mapping`,
		},
		"missing_required.bad.yaml": {
			`missing_required.bad.yaml:3:5: corrigo.accounts.prod.client_id: required`,
			`missing_required.bad.yaml:3:5: corrigo.accounts.prod.client_secret: required`,
			`missing_required.bad.yaml:7:3: plugins.csv.command: required`,
			`missing_required.bad.yaml:9:5: rules[0].name: required`,
			`missing_required.bad.yaml:11:5: rules[1].when: required`,
			`missing_required.bad.yaml:13:5: rules[2].plugin: required (or stop: true`,
		},
		"bad_duration.bad.yaml": {
			`bad_duration.bad.yaml:6:19: corrigo.accounts.main.polling.interval: invalid duration "1x"`,
			`bad_duration.bad.yaml:9:46: plugins.csv.timeout: invalid duration 10: add a unit`,
			`bad_duration.bad.yaml:13:20: delivery.backoff_initial: must be a positive duration, got 0s`,
		},
		"unknown_region.bad.yaml": {
			`unknown_region.bad.yaml:4:15: corrigo.accounts.main.region: unknown region "mars" (want apac, am or emea)`,
			`unknown_region.bad.yaml:8:5: corrigo.accounts.other.region: required: a region`,
		},
		"missing_plugin.bad.yaml": {
			`missing_plugin.bad.yaml:9:13: rules[0].plugin: unknown plugin "erp" (configured plugins: csv)`,
		},
		"bad_expr.bad.yaml": {
			"bad_expr.bad.yaml:8:59: rules[0].when: rule \"typo\": type corrigo.Sla has no field IsEmergncy (did you mean \"IsEmergency\"?)\n" +
				" | event.Action == \"NewWorkOrder\" && workOrder.Sla.IsEmergncy\n" +
				" | ................................................^",
			`bad_expr.bad.yaml:11:12: rules[1].when: rule "not-bool": expected bool, but got int`,
			"bad_expr.bad.yaml:16:9: rules[2].when: rule \"block\": unknown name bogus\n |   bogus > 1\n | ..^",
			`bad_expr.bad.yaml:19:48: rules[3].when: rule "bad-regex": invalid regular expression "("`,
		},
		"duplicate_rules.bad.yaml": {
			`duplicate_rules.bad.yaml:8:13: rules[1].name: duplicate rule name "all" (also rules[0] at line 7)`,
		},
		"unresolved_env.bad.yaml": {
			`unresolved_env.bad.yaml:5:18: corrigo.accounts.main.client_id: environment variable WOGATE_TEST_SURELY_UNSET_ID is not set`,
			`unresolved_env.bad.yaml:6:22: corrigo.accounts.main.client_secret: environment variable WOGATE_TEST_SURELY_UNSET_SECRET is not set`,
			`unresolved_env.bad.yaml:9:10: admin.token: invalid reference ${not a name}`,
		},
		"missing_secret_file.bad.yaml": {
			`missing_secret_file.bad.yaml:6:22: corrigo.accounts.main.client_secret: cannot read secret file testdata/does-not-exist.txt: no such file or directory`,
			`missing_secret_file.bad.yaml:7:31: corrigo.accounts.main.webhook.certificate: not a PEM certificate`,
		},
		// YAML syntax errors name the line and column of the offending
		// text, not the start of the enclosing block (yamlpos.go).
		"yaml_syntax.bad.yaml": {
			`yaml_syntax.bad.yaml:3:13: invalid YAML: did not find expected ',' or '}' (is the { opened on this line closed?)`,
		},
		"duplicate_key.bad.yaml": {
			`duplicate_key.bad.yaml:2:1: invalid YAML: mapping key "listen" already defined at line 1`,
		},
		"syntax_rule_indent.bad.yaml": {
			`syntax_rule_indent.bad.yaml:11:4: invalid YAML: did not find expected '-' indicator (check this line's indentation`,
		},
		"syntax_value_indent.bad.yaml": {
			`syntax_value_indent.bad.yaml:11:12: invalid YAML: mapping values are not allowed in this context (a line indented deeper`,
		},
		"syntax_account_indent.bad.yaml": {
			`syntax_account_indent.bad.yaml:6:6: invalid YAML: did not find expected key (check this line's indentation`,
		},
		"syntax_after_quote.bad.yaml": {
			`syntax_after_quote.bad.yaml:9:26: invalid YAML: did not find expected key (text after a quoted value, ] or }: quote the whole value`,
		},
		"when_tag.bad.yaml": {
			`when_tag.bad.yaml:8:11: rules[0].when: YAML reads !hasWorkOrder as a tag, leaving the condition empty: quote the condition (when: "!hasWorkOrder")`,
		},
		"syntax_tab.bad.yaml": {
			`syntax_tab.bad.yaml:5:1: invalid YAML: found a tab character that violates indentation`,
		},
		"syntax_quote.bad.yaml": {
			`syntax_quote.bad.yaml:9:26: invalid YAML: found unexpected end of stream (is the quote opened here closed?)`,
		},
		"top_level.bad.yaml": {
			`top_level.bad.yaml:1:1: the top level must be a mapping`,
		},
		"quick_check.bad.yaml": {
			`quick_check.bad.yaml:2:26: store.sqlite.quick_check: unknown mode "sometimes" (want auto, always or off)`,
			`quick_check.bad.yaml:2:57: store.sqlite.quick_check_budget: must be positive (quick_check: off skips the check)`,
		},
		"postgres_no_dsn.bad.yaml": {
			`postgres_no_dsn.bad.yaml:1:1: store.dsn: required for the postgres driver`,
		},
		"breaker.bad.yaml": {
			`breaker.bad.yaml:5:40: corrigo.accounts.main.breaker.consecutive_failures: must be at least 1`,
			`breaker.bad.yaml:9:38: corrigo.accounts.other.breaker.half_open_requests: must be at least 1`,
			`breaker.bad.yaml:13:18: corrigo.accounts.third.breaker.open_timout: unknown key "open_timout" (did you mean "open_timeout"?)`,
			`breaker.bad.yaml:15:36: delivery.breaker.consecutive_failures: must be at least 1`,
			`breaker.bad.yaml:15:53: delivery.breaker.open_timeout: must be a positive duration, got 0s`,
			`breaker.bad.yaml:15:77: delivery.breaker.half_open_requests: must be at least 1`,
		},
		"rate_limit.bad.yaml": {
			`rate_limit.bad.yaml:5:33: corrigo.accounts.main.rate_limit.per_second: must not be negative, got -2`,
			`rate_limit.bad.yaml:5:44: corrigo.accounts.main.rate_limit.burst: must not be negative, got -1`,
			`rate_limit.bad.yaml:9:28: corrigo.accounts.other.rate_limit.burst: needs rate_limit.per_second`,
			`rate_limit.bad.yaml:11:20: delivery.retry_after_max: must not be negative, got -1s`,
		},
		"supervisor.bad.yaml": {
			`supervisor.bad.yaml:7:32: plugins.a.supervisor.max_crashes: must be at least 1`,
			`supervisor.bad.yaml:7:43: plugins.a.supervisor.window: must be a positive duration, got 0s`,
			`supervisor.bad.yaml:7:81: plugins.a.supervisor.backoff_max: must not be less than backoff_initial (2s)`,
			`supervisor.bad.yaml:11:15: plugins.b.supervisor.window: must be longer than backoff_initial (250ms)`,
			`supervisor.bad.yaml:12:20: plugins.b.supervisor.backoff_max: must be a positive duration, got -1s`,
		},
		"tracing.bad.yaml": {
			`tracing.bad.yaml:4:13: tracing.exporter: unknown exporter "jaeger" (want none, otlp-grpc, otlp-http, stdout)`,
			`tracing.bad.yaml:5:13: tracing.endpoint: invalid endpoint "collector": want host:port`,
			`tracing.bad.yaml:6:17: tracing.sample_ratio: must be from 0 to 1, got 1.5`,
			`tracing.bad.yaml:7:17: tracing.service_name: must not be empty`,
			`tracing.bad.yaml:9:5: tracing.headers.bad header: invalid header name "bad header"`,
		},
		"tracing_url.bad.yaml": {
			`tracing_url.bad.yaml:5:13: tracing.endpoint: unsupported scheme "grpc" (want http or https)`,
			`tracing_url.bad.yaml:6:17: tracing.sample_ratio: invalid number "all"`,
		},
		"inbound.bad.yaml": {
			`inbound.bad.yaml:8:16: plugins.open.inbound.allow_unauthenticated_on_loopback: listen (0.0.0.0:8080) is not a loopback address`,
			`inbound.bad.yaml:11:16: plugins.short.inbound.token: must be at least 16 characters`,
			`inbound.bad.yaml:11:33: plugins.short.inbound.hmac_secret: must be at least 16 characters`,
			`inbound.bad.yaml:14:5: plugins.both.inbound_token: set either inbound_token or inbound.token, not both`,
			`inbound.bad.yaml:18:66: plugins.header.inbound.hmac_header: invalid header name "bad header"`,
		},
		"webhook_sources.bad.yaml": {
			`webhook_sources.bad.yaml:1:1: trusted_proxies: entry 0 ("10.0.0.1/8"): host bits are set; did you mean 10.0.0.0/8?`,
			`webhook_sources.bad.yaml:7:17: corrigo.accounts.main.webhook.names[0]: must not be empty`,
			`webhook_sources.bad.yaml:8:9: corrigo.accounts.main.webhook.allowed_sources: entry 1 ("corrigo.example.com"): not an IP address or CIDR prefix`,
		},
		"plugin_env.bad.yaml": {
			`plugin_env.bad.yaml:9:7: plugins.a.env.1BAD: invalid environment variable name "1BAD"`,
			`plugin_env.bad.yaml:10:7: plugins.a.env.PLUGIN_MIN_PORT: PLUGIN_MIN_PORT is set by the plugin handshake`,
			`plugin_env.bad.yaml:11:7: plugins.a.env.wogate_plugin_cookie: wogate_plugin_cookie is set by the plugin handshake`,
		},
		"semantics.bad.yaml": {
			`semantics.bad.yaml:1:9: listen: invalid listen address "localhost"`,
			`semantics.bad.yaml:2:18: store.driver: unknown driver "mysql"`,
			`semantics.bad.yaml:6:42: corrigo.accounts.b.webhook.path: /hooks is already the webhook path of account "a"`,
			`semantics.bad.yaml:7:5: corrigo.accounts.Bad_Name: invalid account name "Bad_Name"`,
			`semantics.bad.yaml:9:50: plugins.csv.concurrency: must be at least 1`,
			`semantics.bad.yaml:9:61: plugins.csv.sha256: want 64 hexadecimal digits`,
			`semantics.bad.yaml:12:1: admin.token: required when admin.listen (0.0.0.0:8081) is not a loopback address`,
			`semantics.bad.yaml:13:15: log.level: unknown level "verbose"`,
			`semantics.bad.yaml:13:32: log.format: unknown format "xml"`,
		},
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range files {
		if _, ok := cases[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected errors in TestBadConfigs", f)
		}
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			if _, err := os.Stat(path); err != nil {
				t.Fatal(err)
			}
			_, errs := load(t, path, testEnv)
			if len(errs) == 0 {
				t.Fatal("loaded without errors")
			}
			all := strings.Join(errs, "\n")
			for _, w := range want {
				if !strings.Contains(all, "testdata/"+w) {
					t.Errorf("missing error:\n  %s\ngot:\n%s", w, all)
				}
			}
			if len(errs) != len(want) {
				t.Errorf("got %d errors, want %d:\n%s", len(errs), len(want), all)
			}
		})
	}
}

func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "..", "examples", "config.yaml")
	cfg, errs := load(t, path, env())
	if len(errs) > 0 {
		t.Fatalf("examples/config.yaml is invalid:\n%s", strings.Join(errs, "\n"))
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("examples/config.yaml has warnings: %v", cfg.Warnings)
	}
	set, err := rules.CompileConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w := set.Warnings(); len(w) > 0 {
		t.Errorf("examples/config.yaml rule warnings: %v", w)
	}
	if !cfg.UsesSandbox() || !cfg.Corrigo.Accounts["main"].Sandbox {
		t.Error("the example must run against the embedded sandbox")
	}
	for _, name := range []string{"emergencies-to-erp", "everything-to-csv"} {
		found := false
		for _, r := range cfg.Rules {
			found = found || r.Name == name
		}
		if !found {
			t.Errorf("rule %s missing from the example", name)
		}
	}
	// Relative to examples/, the repository's bin/ (make build).
	bin := mustAbs(t, filepath.Join("..", "..", "..", "bin"))
	if cfg.Plugins["csv"].Command != filepath.Join(bin, "csv-export") || cfg.Plugins["erp"].Command != filepath.Join(bin, "erp-rest") {
		t.Errorf("plugin commands: %+v", cfg.Plugins)
	}
	if want := mustAbs(t, filepath.Join("..", "..", "..", "data")); cfg.DataDir != want {
		t.Errorf("data_dir = %s, want %s (the repository's data/, as before)", cfg.DataDir, want)
	}
	if cfg.Tracing.Enabled() {
		t.Error("the example must leave tracing off")
	}
}

// TestExampleTracingBlock: the commented-out tracing block of the example
// is valid once uncommented.
func TestExampleTracingBlock(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(l, "# tracing:") {
			in = true
		}
		if in && strings.HasPrefix(l, "# ") {
			lines[i] = strings.TrimPrefix(l, "# ")
		}
	}
	if !in {
		t.Fatal("examples/config.yaml has no commented-out tracing block")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	must(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600))
	cfg, errs := load(t, path, env("TRACING_API_KEY=k"))
	if len(errs) > 0 {
		t.Fatalf("uncommented tracing block is invalid:\n%s", strings.Join(errs, "\n"))
	}
	if tr := cfg.Tracing; !tr.Enabled() || tr.Exporter != "otlp-grpc" || tr.Headers["x-api-key"].Value() != "k" {
		t.Errorf("tracing = %+v", tr)
	}
}

func TestDefaults(t *testing.T) {
	cfg, errs := load(t, "testdata/minimal.good.yaml", env())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	acc := cfg.Corrigo.Accounts["main"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, config.DefaultConfig.Listen},
		// Relative to the config file's directory, made absolute.
		{"data_dir", cfg.DataDir, filepath.Join(mustAbs(t, "testdata"), "data")},
		{"store.driver", cfg.Store.Driver, "sqlite"},
		{"store.dsn", cfg.Store.DSN.Value(), filepath.Join(mustAbs(t, "testdata"), "data", "wogate.db")},
		{"group_commit.max_batch", cfg.Store.GroupCommit.MaxBatch, config.DefaultConfig.Store.GroupCommit.MaxBatch},
		{"store.sqlite.quick_check", cfg.Store.SQLite.QuickCheck, "auto"},
		{"store.sqlite.quick_check_budget", cfg.Store.SQLite.QuickCheckBudget, 10 * time.Second},
		{"webhook.path", acc.Webhook.Path, "/webhooks/corrigo/main"},
		{"webhook.clock_skew", acc.Webhook.ClockSkew, 5 * time.Minute},
		{"webhook.max_body_bytes", acc.Webhook.MaxBodyBytes, int64(4 << 20)},
		{"polling.enabled", acc.Polling.Enabled, true},
		{"polling.interval", acc.Polling.Interval, time.Minute},
		{"polling.lookback", acc.Polling.Lookback, 15 * time.Minute},
		{"reconcile.interval", acc.Reconcile.Interval, time.Hour},
		{"delivery.max_attempts", cfg.Delivery.MaxAttempts, 10},
		{"delivery.event_lease", cfg.Delivery.EventLease, 10 * time.Second},
		{"delivery.retry_after_max", cfg.Delivery.RetryAfterMax, 10 * time.Minute},
		{"account rate_limit", acc.RateLimit, config.RateLimit{}},
		{"delivery.breaker.consecutive_failures", cfg.Delivery.Breaker.ConsecutiveFailures, 5},
		{"delivery.breaker.open_timeout", cfg.Delivery.Breaker.OpenTimeout, 30 * time.Second},
		{"delivery.breaker.half_open_requests", cfg.Delivery.Breaker.HalfOpenRequests, 1},
		{"account breaker", acc.Breaker, cfg.Delivery.Breaker},
		{"customer_settings.refresh", cfg.CustomerSettings.Refresh, 15 * time.Minute},
		{"admin.listen", cfg.Admin.Listen, "127.0.0.1:8081"},
		{"sandbox.listen", cfg.Sandbox.Listen, "127.0.0.1:8090"},
		{"sandbox.time_scale", cfg.Sandbox.TimeScale, 1.0},
		{"sandbox.client_secret", cfg.Sandbox.ClientSecret.Value(), config.DefaultConfig.Sandbox.ClientSecret.Value()},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "json"},
		{"retention.events", cfg.Retention.Events, 30 * 24 * time.Hour},
		{"tracing.exporter", cfg.Tracing.Exporter, "none"},
		{"tracing.enabled", cfg.Tracing.Enabled(), false},
		{"tracing.sample_ratio", cfg.Tracing.SampleRatio, 1.0},
		{"tracing.service_name", cfg.Tracing.ServiceName, "wogate"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	w := strings.Join(entries(cfg.Warnings), "\n")
	if !strings.Contains(w, "rules: no rules") {
		t.Errorf("want a no-rules warning, got %q", w)
	}
}

func entries(es []config.ErrorEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	return out
}

func TestFullConfig(t *testing.T) {
	cfg, errs := load(t, "testdata/full.good.yaml", testEnv)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	prod := cfg.Corrigo.Accounts["prod"]
	if prod.Region != corrigo.RegionAM {
		t.Errorf("region %q, want normalised am", prod.Region)
	}
	if prod.ClientID != "12345" {
		t.Errorf("numeric client_id decoded as %q", prod.ClientID)
	}
	if prod.ClientSecret.Value() != "file-secret-value" {
		t.Errorf("file: secret resolved to %q (trailing newline must go)", prod.ClientSecret.Value())
	}
	if !strings.HasPrefix(prod.Webhook.Certificate.Value(), "-----BEGIN CERTIFICATE-----") {
		t.Error("certificate not read from file")
	}
	if prod.OAuthURL != corrigo.DefaultOAuthURL {
		t.Errorf("oauth_url default %q", prod.OAuthURL)
	}
	if prod.Reconcile.Window != 48*time.Hour || cfg.Retention.Events != 90*24*time.Hour {
		t.Errorf("day durations: window %v, retention %v", prod.Reconcile.Window, cfg.Retention.Events)
	}
	if got := prod.Webhook.Hashes; len(got) != 2 || got[0] != "sha256" {
		t.Errorf("hashes %v", got)
	}
	emea := cfg.Corrigo.Accounts["emea"]
	if !emea.Shadow || !emea.Webhook.Disabled || emea.Polling.Interval != 30*time.Second {
		t.Errorf("emea: %+v", emea)
	}
	erp := cfg.Plugins["erp"]
	if erp.Timeout != 5*time.Second || erp.Concurrency != 16 || len(erp.Args) != 1 {
		t.Errorf("erp: %+v", erp)
	}
	// Supervisor settings: the defaults, or field by field what is set.
	if sv := erp.Supervisor; sv != (config.PluginSupervisor{MaxCrashes: config.DefaultPlugin.Supervisor.MaxCrashes,
		Window: config.DefaultPlugin.Supervisor.Window, BackoffInitial: config.DefaultPlugin.Supervisor.BackoffInitial,
		BackoffMax: config.DefaultPlugin.Supervisor.BackoffMax}) {
		t.Errorf("erp supervisor (defaults) = %+v", sv)
	}
	if sv := cfg.Plugins["csv"].Supervisor; sv != (config.PluginSupervisor{MaxCrashes: 3, Window: 5 * time.Minute,
		BackoffInitial: time.Second, BackoffMax: config.DefaultPlugin.Supervisor.BackoffMax}) {
		t.Errorf("csv supervisor = %+v", sv)
	}
	if !erp.IsSecretKey("auth.password") || erp.IsSecretKey("auth.user") {
		t.Error("auth.password should be secret by name, auth.user not")
	}
	if r := cfg.Rules[2]; !r.FetchWorkOrder || r.Plugin != "erp" {
		t.Errorf("rule 2: %+v", r)
	}
	if r := cfg.Rules[0]; !r.Stop || r.Plugin != "" {
		t.Errorf("stop rule without plugin: %+v", r)
	}
	// Rule positions point at the first character of the condition.
	if r := cfg.Rules[1]; r.Line != 50 || r.Column != 11 {
		t.Errorf("rule 1 at %d:%d, want 50:11", r.Line, r.Column)
	}
	if r := cfg.Rules[3]; r.Line != 59 || r.Column != 7 || !r.Block {
		t.Errorf("block rule at %d:%d block=%v, want 59:7 block", r.Line, r.Column, r.Block)
	}
	if r := cfg.Rules[4]; r.Line != 64 || r.Column != 12 {
		t.Errorf("quoted rule at %d:%d, want 64:12", r.Line, r.Column)
	}
	if l, c := cfg.Position("plugins.erp.config.base_url"); l != 39 || c != 17 {
		t.Errorf("Position = %d:%d, want 39:17", l, c)
	}
	if tr := cfg.Tracing; !tr.Enabled() || tr.Exporter != "otlp-grpc" || tr.Endpoint != "otel-collector:4317" || !tr.Insecure ||
		tr.SampleRatio != 0.25 || tr.ServiceName != "wogate-prod" || tr.Headers["x-api-key"].Value() != "k" {
		t.Errorf("tracing: %+v (headers %v)", tr, tr.Headers["x-api-key"].Value())
	}
	e := cfg.Entry("plugins.erp.config.base_url", "unreachable")
	if got := e.String(); got != "testdata/full.good.yaml:39:17: plugins.erp.config.base_url: unreachable" {
		t.Errorf("Entry = %q", got)
	}
}

func TestEnvOverrides(t *testing.T) {
	opts := env(
		"WOGATE_LISTEN=127.0.0.1:9999",
		"WOGATE_LOG__LEVEL=debug",
		"WOGATE_CORRIGO__ACCOUNTS__MAIN__POLLING__INTERVAL=30s",
		"WOGATE_CORRIGO__ACCOUNTS__MAIN__POLLING__ENABLED=false",
		"WOGATE_PLUGINS__CSV__CONCURRENCY=3",
		"WOGATE_PLUGINS__CSV__CONFIG__DIR=/tmp/out",
		"WOGATE_CORRIGO__ACCOUNTS__EXTRA__SANDBOX=true",
		"WOGATE_TEST_POSTGRES=postgres://not-config",
		"WOGATE_UNRELATED=1",
		"OTHER_LISTEN=1.2.3.4:1",
	)
	cfg, errs := load(t, "../../../examples/config.yaml", opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	main := cfg.Corrigo.Accounts["main"]
	if cfg.Listen != "127.0.0.1:9999" || cfg.Log.Level != "debug" || main.Polling.Interval != 30*time.Second || main.Polling.Enabled {
		t.Errorf("overrides not applied: listen %s level %s polling %+v", cfg.Listen, cfg.Log.Level, main.Polling)
	}
	if cfg.Plugins["csv"].Concurrency != 3 || cfg.Plugins["csv"].Config["dir"] != "/tmp/out" {
		t.Errorf("plugin overrides: %+v", cfg.Plugins["csv"])
	}
	if extra, ok := cfg.Corrigo.Accounts["extra"]; !ok || !extra.Sandbox || extra.Webhook.Path != "/webhooks/corrigo/extra" {
		t.Errorf("account added from the environment: %+v (ok=%v)", extra, ok)
	}
	// Untouched values keep the file's.
	if cfg.Plugins["csv"].Command != mustAbs(t, "../../../bin/csv-export") || cfg.Sandbox.AutoCreate != 10*time.Second {
		t.Error("file values lost")
	}
	base, _ := load(t, "../../../examples/config.yaml", env())
	if base.Version == cfg.Version {
		t.Error("version must change with an override")
	}
}

func TestEnvOverrideErrors(t *testing.T) {
	_, errs := load(t, "../../../examples/config.yaml", env(
		"WOGATE_CORRIGO__ACCOUNTS__MAIN__POLLING__INTERVAL=1x",
		"WOGATE_RULES__0__WHEN=false",
		"WOGATE_LOG____LEVEL=x",
		"WOGATE_LOG__COLOUR=red",
	))
	all := strings.Join(errs, "\n")
	for _, want := range []string{
		`config.yaml: corrigo.accounts.main.polling.interval (from WOGATE_CORRIGO__ACCOUNTS__MAIN__POLLING__INTERVAL): invalid duration "1x"`,
		`config.yaml: rules.0.when (from WOGATE_RULES__0__WHEN): rules cannot be overridden from the environment`,
		`config.yaml: WOGATE_LOG____LEVEL: malformed override`,
		`config.yaml: log.colour (from WOGATE_LOG__COLOUR): unknown key "colour"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}

// The secrets of this test must never appear in any printed form.
var secretValues = []string{"s3cr3t-client", "t0ken-admin-0123456789", "p4ss-plugin", "dsn-pa55", "file-secret-value", "ENV-PLUGIN-KEY", "sandbox-s3cret", "tr4ce-key"}

func TestSecretsNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	cert, err := os.ReadFile("testdata/corrigo.pem")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), cert, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("file-secret-value\n"), 0o600))
	yaml := `
store: { driver: postgres, dsn: "postgres://u:dsn-pa55@db/x" }
corrigo:
  accounts:
    prod:
      region: am
      client_id: id
      client_secret: ${CS}
      webhook: { certificate: file:cert.pem }
    two:
      region: am
      client_id: id2
      client_secret: file:secret.txt
      webhook: { disabled: true }
plugins:
  erp:
    command: ./erp
    config:
      password: p4ss-plugin
      nested: { key: "${PK}" }
      plain: visible-value
rules:
  - { name: r, when: "true", plugin: erp }
admin: { token: t0ken-admin-0123456789 }
sandbox: { client_secret: sandbox-s3cret }
tracing: { exporter: otlp-http, headers: { x-api-key: "${TK}" } }
`
	path := filepath.Join(dir, "c.yaml")
	must(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.LoadWith(path, env("CS=s3cr3t-client", "PK=ENV-PLUGIN-KEY", "TK=tr4ce-key"))
	if err != nil {
		t.Fatal(err)
	}
	// The values are there for code that uses them...
	if cfg.Corrigo.Accounts["prod"].ClientSecret.Value() != "s3cr3t-client" || cfg.Plugins["erp"].Config["password"] != "p4ss-plugin" ||
		cfg.Tracing.Headers["x-api-key"].Value() != "tr4ce-key" {
		t.Fatal("secrets not loaded")
	}
	// ...and nowhere else.
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outputs = append(outputs,
			fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg),
			fmt.Sprintf(verb, cfg.Corrigo.Accounts), fmt.Sprintf(verb, cfg.Corrigo.Accounts["prod"]),
			fmt.Sprintf(verb, cfg.Plugins), fmt.Sprintf(verb, cfg.Plugins["erp"]),
			fmt.Sprintf(verb, cfg.Store), fmt.Sprintf(verb, cfg.Admin.Token), fmt.Sprintf(verb, cfg.Tracing))
	}
	for _, v := range []any{cfg, *cfg, cfg.Corrigo, cfg.Plugins, cfg.Plugins["erp"], cfg.Redacted()} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("config", "cfg", cfg, "value", *cfg, "account", cfg.Corrigo.Accounts["prod"], "plugin", cfg.Plugins["erp"], "secret", cfg.Admin.Token)
		outputs = append(outputs, buf.String())
	}
	outputs = append(outputs, cfg.String(), cfg.Plugins["erp"].String())
	for _, out := range outputs {
		for _, s := range secretValues {
			if strings.Contains(out, s) {
				t.Fatalf("secret %q printed in:\n%s", s, out)
			}
		}
	}
	if all := strings.Join(outputs, "\n"); !strings.Contains(all, "REDACTED") || !strings.Contains(all, "visible-value") {
		t.Error("printed forms should show REDACTED and keep non-secret values")
	}
	// Redacted holds no secret bytes at all, not just hidden ones.
	red := cfg.Redacted()
	if red.Corrigo.Accounts["prod"].ClientSecret.Value() != "REDACTED" || red.Plugins["erp"].Config["nested"].(map[string]any)["key"] != "REDACTED" ||
		red.Tracing.Headers["x-api-key"].Value() != "REDACTED" {
		t.Errorf("Redacted kept a secret: %q", red.Corrigo.Accounts["prod"].ClientSecret.Value())
	}
	// Redacted must not alias the original's maps.
	if cfg.Plugins["erp"].Config["password"] != "p4ss-plugin" || cfg.Tracing.Headers["x-api-key"].Value() != "tr4ce-key" {
		t.Error("Redacted modified the original")
	}
	// MarkPluginSecret hides a key the plugin declares secret.
	cfg.MarkPluginSecret("erp", "plain")
	if strings.Contains(fmt.Sprint(cfg), "visible-value") {
		t.Error("MarkPluginSecret did not hide the value")
	}
}

// Errors must not print secret values either, even next to a bad value.
func TestSecretsNotInErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	must(t, os.WriteFile(path, []byte(`
corrigo:
  accounts:
    prod:
      region: am
      client_id: id
      client_secret: ${CS}
      webhook: { certificate: "${CS}" }
delivery: { backoff_max: "${CS}" }
`), 0o600))
	_, err := config.LoadWith(path, env("CS=s3cr3t-client"))
	if err == nil {
		t.Fatal("want errors")
	}
	// The certificate check must not echo the value; backoff_max is not
	// a secret field, but its value came from a reference, so the
	// duration error must not quote it either.
	msg := err.Error()
	if strings.Contains(msg, "s3cr3t-client") {
		t.Errorf("secret echoed in errors:\n%s", msg)
	}
	if !strings.Contains(msg, `delivery.backoff_max: invalid duration "<value from reference>"`) {
		t.Errorf("missing duration error:\n%s", msg)
	}
	if !strings.Contains(msg, "not a PEM certificate") {
		t.Errorf("missing certificate error:\n%s", msg)
	}
}

func TestSecretType(t *testing.T) {
	s := config.Secret("hunter2")
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%10s", s, s, s, s, s, s, s)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("leaked: %s", out)
		}
	}
	b, _ := json.Marshal(map[string]any{"s": s})
	if string(b) != `{"s":"REDACTED"}` {
		t.Errorf("json %s", b)
	}
	if s.Value() != "hunter2" {
		t.Error("Value")
	}
	if fmt.Sprint(config.Secret("")) != "" {
		t.Error("an empty secret should print empty")
	}
}

func TestSecretReferences(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "id.txt"), []byte("from-file\r\n"), 0o600))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	cases := []struct {
		value, want, err string
	}{
		{`${A}`, "alpha", ""},
		{`pre-${A}-${B}-post`, "pre-alpha-beta-post", ""},
		{`${UNSET:-fallback}`, "fallback", ""},
		{`${A:-fallback}`, "alpha", ""},
		{`${EMPTY}`, "", "client_id: required"},
		{`$${A}`, "${A}", ""},
		{`cost $5`, "cost $5", ""},
		{`file:id.txt`, "from-file", ""},
		{`file:${DIR}/id.txt`, "from-file", ""},
		{`${UNSET}`, "", "environment variable UNSET is not set"},
		{`${A`, "", "unterminated ${ reference"},
		{`${1A}`, "", "invalid reference ${1A}"},
		{`file:`, "", "file: reference has no path"},
		{`file:sub`, "", "is a directory"},
		{`file:missing.txt`, "", "cannot read secret file"},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			path := filepath.Join(dir, "c.yaml")
			body := fmt.Sprintf("corrigo:\n  accounts:\n    a:\n      region: am\n      client_id: %q\n      client_secret: x\n      webhook: { disabled: true }\n", c.value)
			must(t, os.WriteFile(path, []byte(body), 0o600))
			cfg, err := config.LoadWith(path, env("A=alpha", "B=beta", "EMPTY=", "DIR="+dir))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Corrigo.Accounts["a"].ClientID; got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// Plugin config strings are also plugin templates: only upper-case
// references are the environment's.
func TestPluginConfigTemplates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	must(t, os.WriteFile(p, []byte(`
corrigo: { accounts: { a: { sandbox: true } } }
plugins:
  erp:
    command: ./erp
    config:
      auth_token: ${ERP_TOKEN}
      idempotency_key: wogate-${account}-${wo.WorkOrderId}
      create_body: { site_id: "${site_id}", title: "${wo.WorkOrderNumber} ${ERP_TOKEN:-x}", odd: "${unterminated" }
      literal: "$${ERP_TOKEN}"
rules: [ { name: r, when: "true", plugin: erp } ]
`), 0o600))
	cfg, err := config.LoadWith(p, env("ERP_TOKEN=tok", "site_id=from-env"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Plugins["erp"].Config
	body := c["create_body"].(map[string]any)
	for got, want := range map[any]string{
		c["auth_token"]:      "tok",
		c["idempotency_key"]: "wogate-${account}-${wo.WorkOrderId}",
		body["site_id"]:      "${site_id}",
		body["title"]:        "${wo.WorkOrderNumber} tok",
		body["odd"]:          "${unterminated",
		c["literal"]:         "${ERP_TOKEN}",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if !cfg.Plugins["erp"].IsSecretKey("auth_token") || !cfg.Plugins["erp"].IsSecretKey("create_body.title") || cfg.Plugins["erp"].IsSecretKey("idempotency_key") {
		t.Error("values from references are secret, template-only values are not")
	}
	// An unset upper-case reference is still an error.
	must(t, os.WriteFile(p, []byte("corrigo: { accounts: { a: { sandbox: true } } }\nplugins: { erp: { command: x, config: { k: \"${NOPE}\" } } }\n"), 0o600))
	if _, err := config.LoadWith(p, env()); err == nil || !strings.Contains(err.Error(), "plugins.erp.config.k: environment variable NOPE is not set") {
		t.Errorf("err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	write := func(secret, rule string) string {
		dir := t.TempDir()
		p := filepath.Join(dir, "c.yaml")
		must(t, os.WriteFile(p, []byte(fmt.Sprintf(`
corrigo: { accounts: { a: { region: am, client_id: id, client_secret: %s, webhook: { disabled: true } } } }
plugins: { p: { command: ./p } }
rules: [ { name: r, when: %q, plugin: p } ]
`, secret, rule)), 0o600))
		cfg, err := config.LoadWith(p, env())
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Version
	}
	v1, v2 := write("one", "true"), write("one", "true")
	if v1 != v2 {
		t.Errorf("same config, different versions %s %s (path must not count)", v1, v2)
	}
	if write("two", "true") != v1 {
		t.Error("a rotated secret changes the version; secrets must not be hashed")
	}
	if write("one", "false") == v1 {
		t.Error("a rule change must change the version")
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	must(t, os.WriteFile(p, []byte(`
corrigo:
  accounts:
    quiet: { sandbox: true, region: am, webhook: { disabled: true }, polling: { enabled: false } }
plugins:
  unused: { command: ./x }
  used: { command: ./y }
rules:
  - { name: r, when: "true", plugin: used }
`), 0o600))
	cfg, err := config.LoadWith(p, env())
	if err != nil {
		t.Fatal(err)
	}
	got := entries(cfg.Warnings)
	sort.Strings(got)
	all := strings.Join(got, "\n")
	want := []string{
		`c.yaml:4:5: corrigo.accounts.quiet: receives no events: both the webhook and polling are disabled`,
		`c.yaml:4:29: corrigo.accounts.quiet.region: ignored: the account uses the embedded sandbox`,
		`c.yaml:6:3: plugins.unused: not used by any rule`,
	}
	if len(got) != len(want) {
		t.Errorf("got %d warnings, want %d", len(got), len(want))
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing warning %q in:\n%s", w, all)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := config.Load("testdata/no-such-file.yaml")
	if err == nil || err.Error() != "testdata/no-such-file.yaml: cannot read config: no such file or directory" {
		t.Errorf("err = %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBreakerInheritance: an account's breaker keys override
// delivery.breaker one by one; absent keys (and accounts without a breaker
// section) take delivery.breaker's values, environment overrides included.
func TestBreakerInheritance(t *testing.T) {
	data := []byte(`
corrigo:
  accounts:
    main: { sandbox: true, breaker: { open_timeout: 2m } }
    plain: { sandbox: true, webhook: { disabled: true } }
delivery:
  breaker: { consecutive_failures: 7, half_open_requests: 2 }
`)
	cfg, err := config.Parse("b.yaml", data, env("WOGATE_CORRIGO__ACCOUNTS__PLAIN__BREAKER__CONSECUTIVE_FAILURES=9"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]config.Breaker{
		"main":  {ConsecutiveFailures: 7, OpenTimeout: 2 * time.Minute, HalfOpenRequests: 2},
		"plain": {ConsecutiveFailures: 9, OpenTimeout: 30 * time.Second, HalfOpenRequests: 2},
	}
	for name, w := range want {
		if got := cfg.Corrigo.Accounts[name].Breaker; got != w {
			t.Errorf("account %s breaker %+v, want %+v", name, got, w)
		}
	}
	if got := cfg.Delivery.Breaker; got != (config.Breaker{ConsecutiveFailures: 7, OpenTimeout: 30 * time.Second, HalfOpenRequests: 2}) {
		t.Errorf("delivery.breaker %+v", got)
	}
}

// TestYAMLSyntaxPositionInExample mis-indents one line of the example
// config, as the report that led to yamlpos.go did ("plugin: erp" under
// the first rule), and checks the error names that line and its column,
// however far it is from the "rules:" that yaml.v3 alone would blame.
func TestYAMLSyntaxPositionInExample(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "    plugin: erp") {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatal(`examples/config.yaml has no "    plugin: erp" line`)
	}
	for _, c := range []struct {
		indent string
		col    int
		msg    string
	}{
		{"   ", 4, "did not find expected '-' indicator"},
		{"     ", 12, "mapping values are not allowed in this context"},
		{"      ", 13, "mapping values are not allowed in this context"},
	} {
		broken := append([]string(nil), lines...)
		broken[at] = c.indent + strings.TrimLeft(lines[at], " ")
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(strings.Join(broken, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errs := load(t, path, env())
		want := fmt.Sprintf("%s:%d:%d: invalid YAML: %s", path, at+1, c.col, c.msg)
		if len(errs) != 1 || !strings.HasPrefix(errs[0], want) {
			t.Errorf("indent %d: errors\n%s\nwant one starting %s", len(c.indent), strings.Join(errs, "\n"), want)
		}
	}
}

func TestDuplicateKeyPositioned(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"listen: a\nlog: {level: info, format: text, level: debug}\n",
			`dup.yaml:2:34: invalid YAML: mapping key "level" already defined at line 2`},
		{"log:\n  level: info\n  \"level\": debug\n",
			`dup.yaml:3:3: invalid YAML: mapping key "level" already defined at line 2`},
	} {
		_, err := config.Parse("dup.yaml", []byte(c.data), env())
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %T: %v", err, err)
		}
		if got := ce.Error(); got != c.want {
			t.Errorf("%q: got\n%s\nwant\n%s", c.data, got, c.want)
		}
	}
}

// TestUnquotedBooleanConditions: `when: true` unquoted is a YAML boolean,
// read as the condition "true", so it matches every event just as the
// quoted form does (and false matches none).
func TestUnquotedBooleanConditions(t *testing.T) {
	cfg, errs := load(t, filepath.Join("testdata", "when_unquoted.good.yaml"), env())
	if len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	var got []string
	for _, r := range cfg.Rules {
		got = append(got, r.When)
	}
	if strings.Join(got, ",") != "false,true,true" {
		t.Fatalf("conditions = %q", got)
	}
	set, err := rules.Compile(cfg.Rules)
	if err != nil {
		t.Fatal(err)
	}
	d, err := set.Evaluate(&rules.Env{Event: rules.EventEnv{Action: "NewWorkOrder"}})
	if err != nil {
		t.Fatal(err)
	}
	var matched []string
	for _, m := range d.Matched {
		matched = append(matched, m.Rule)
	}
	if strings.Join(matched, ",") != "everything,everything-again" {
		t.Errorf("matched %q, want everything and everything-again", matched)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRelativePaths: paths in the file, and from environment overrides,
// are anchored at the config file's directory; bare commands stay PATH
// lookups and absolute paths stay as written.
func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	must(t, os.WriteFile(p, []byte(`data_dir: state
store: {driver: sqlite, dsn: db/w.db}
corrigo: { accounts: { main: { sandbox: true } } }
plugins:
  a: {command: ./bin/a}
  b: {command: bin/b}
  c: {command: c-on-path}
  d: {command: /opt/d}
rules:
  - {name: a, when: "true", plugin: a}
  - {name: b, when: "true", plugin: b}
  - {name: c, when: "true", plugin: c}
  - {name: d, when: "true", plugin: d}
`), 0o600))
	cfg, err := config.LoadWith(p, env())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"dir", cfg.Dir, dir},
		{"data_dir", cfg.DataDir, filepath.Join(dir, "state")},
		{"store.dsn", cfg.Store.DSN.Value(), filepath.Join(dir, "db", "w.db")},
		{"plugins.a.command", cfg.Plugins["a"].Command, filepath.Join(dir, "bin", "a")},
		{"plugins.b.command", cfg.Plugins["b"].Command, filepath.Join(dir, "bin", "b")},
		{"plugins.c.command", cfg.Plugins["c"].Command, "c-on-path"},
		{"plugins.d.command", cfg.Plugins["d"].Command, "/opt/d"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	over, err := config.LoadWith(p, env("WOGATE_DATA_DIR=other"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "other"); over.DataDir != want {
		t.Errorf("WOGATE_DATA_DIR=other: data_dir = %q, want %q", over.DataDir, want)
	}
}

// TestInboundRoutes: which inbound settings open a plugin's route, and
// which listen addresses the loopback opt-in is refused on.
func TestInboundRoutes(t *testing.T) {
	cases := []struct {
		name, listen, inbound string
		inboundToken          string // the older key
		open, authenticated   bool
		wantErr               string
	}{
		{name: "nothing: closed", listen: "127.0.0.1:8080", inbound: "{}"},
		{name: "no inbound key: closed", listen: "0.0.0.0:8080"},
		{name: "token", listen: "0.0.0.0:8080", inbound: "{token: '${TOK}'}", open: true, authenticated: true},
		{name: "older inbound_token", listen: "0.0.0.0:8080", inboundToken: "${TOK}", open: true, authenticated: true},
		{name: "hmac", listen: "[::]:8080", inbound: "{hmac_secret: '${TOK}'}", open: true, authenticated: true},
		{name: "empty env default: closed", listen: "0.0.0.0:8080", inbound: "{token: '${UNSET_TOKEN:-}'}"},
		{name: "opt-in on 127.0.0.1", listen: "127.0.0.1:8080", inbound: "{allow_unauthenticated_on_loopback: true}", open: true},
		{name: "opt-in on ::1", listen: "[::1]:8080", inbound: "{allow_unauthenticated_on_loopback: true}", open: true},
		{name: "opt-in on localhost", listen: "localhost:8080", inbound: "{allow_unauthenticated_on_loopback: true}", open: true},
		{name: "opt-in on all addresses", listen: "0.0.0.0:8080", inbound: "{allow_unauthenticated_on_loopback: true}", wantErr: "is not a loopback address"},
		{name: "opt-in on an empty host", listen: ":8080", inbound: "{allow_unauthenticated_on_loopback: true}", wantErr: "is not a loopback address"},
		{name: "opt-in on a LAN address", listen: "192.168.1.5:8080", inbound: "{allow_unauthenticated_on_loopback: true}", wantErr: "is not a loopback address"},
		{name: "opt-in with a token anywhere", listen: "0.0.0.0:8080", inbound: "{token: '${TOK}', allow_unauthenticated_on_loopback: true}", open: true, authenticated: true},
		{name: "15-character token", listen: "127.0.0.1:8080", inbound: "{token: abcdefghijklmno}", wantErr: "at least 16 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := "listen: \"" + tc.listen + "\"" + "\ncorrigo: {accounts: {main: {sandbox: true}}}\nplugins:\n  p:\n    command: ./p\n"
			if tc.inbound != "" {
				y += "    inbound: " + tc.inbound + "\n"
			}
			if tc.inboundToken != "" {
				y += "    inbound_token: " + tc.inboundToken + "\n"
			}
			y += "rules: [{name: r, when: 'true', plugin: p}]\nadmin: {listen: ''}\n"
			cfg, err := config.Parse("inbound.yaml", []byte(y), env("TOK=0123456789abcdef0123"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ib := cfg.Plugins["p"].Inbound
			if ib.Open() != tc.open || ib.Authenticated() != tc.authenticated {
				t.Fatalf("open %v authenticated %v, want %v %v", ib.Open(), ib.Authenticated(), tc.open, tc.authenticated)
			}
			if tc.authenticated && ib.Token != "" && ib.Token.Value() != "0123456789abcdef0123" {
				t.Fatalf("token not resolved")
			}
			if ib.HMACHeader != config.DefaultPlugin.Inbound.HMACHeader {
				t.Fatalf("hmac_header = %q", ib.HMACHeader)
			}
		})
	}
}

// TestAdminAllowedHosts: malformed names are errors; a wildcard admin
// listener without names gets a warning that says what to add.
func TestAdminAllowedHosts(t *testing.T) {
	cases := []struct {
		listen, hosts string
		wantErr       string
		wantWarn      bool
	}{
		{listen: "127.0.0.1:8081"},
		{listen: "0.0.0.0:8081", wantWarn: true},
		{listen: "[::]:8081", wantWarn: true},
		{listen: "0.0.0.0:8081", hosts: "[wogate.internal, 10.0.0.5, '2001:db8::1']"},
		{listen: "10.0.0.5:8081"},
		{listen: "0.0.0.0:8081", hosts: "['http://wogate.internal']", wantErr: "admin.allowed_hosts[0]: want a host name"},
		{listen: "0.0.0.0:8081", hosts: "['wogate.internal:8081']", wantErr: "admin.allowed_hosts[0]"},
		{listen: "0.0.0.0:8081", hosts: "['']", wantErr: "admin.allowed_hosts[0]"},
	}
	for _, tc := range cases {
		y := "corrigo: {accounts: {main: {sandbox: true}}}\nadmin:\n  listen: \"" + tc.listen + "\"\n  token: a-long-admin-token-0123456789\n"
		if tc.hosts != "" {
			y += "  allowed_hosts: " + tc.hosts + "\n"
		}
		cfg, err := config.Parse("admin.yaml", []byte(y), env())
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s %s: err %v, want %q", tc.listen, tc.hosts, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: %v", tc.listen, tc.hosts, err)
		}
		warned := false
		for _, w := range cfg.Warnings {
			warned = warned || w.Key == "admin.allowed_hosts"
		}
		if warned != tc.wantWarn {
			t.Errorf("%s %s: warning %v, want %v (%v)", tc.listen, tc.hosts, warned, tc.wantWarn, cfg.Warnings)
		}
	}
}

// TestExplainRejectionsWarning: explaining why tokens fail is for
// integrating; on a listener others can reach, validate says so.
func TestExplainRejectionsWarning(t *testing.T) {
	for _, tc := range []struct {
		listen string
		warn   bool
	}{{"127.0.0.1:8080", false}, {"[::1]:8080", false}, {"0.0.0.0:8080", true}, {"203.0.113.5:8080", true}} {
		y := "listen: \"" + tc.listen + "\"\ncorrigo: {accounts: {main: {sandbox: true, webhook: {explain_rejections: true}}}}\nadmin: {listen: ''}\n"
		cfg, err := config.Parse("explain.yaml", []byte(y), env())
		if err != nil {
			t.Fatal(err)
		}
		warned := false
		for _, w := range cfg.Warnings {
			warned = warned || (w.Key == "corrigo.accounts.main.webhook.explain_rejections" && strings.Contains(w.Message, "turn it off"))
		}
		if warned != tc.warn {
			t.Errorf("listen %s: warned %v, want %v (%v)", tc.listen, warned, tc.warn, cfg.Warnings)
		}
	}
}

func TestAdminTokenLength(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"0123456789abcdef", true}, {"0123456789abcde", false}, {"", true}} {
		y := "corrigo: {accounts: {main: {sandbox: true}}}\nadmin: {token: '" + tc.token + "'}\n"
		_, err := config.Parse("admin.yaml", []byte(y), env())
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "admin.token: must be at least 16 characters")) {
			t.Errorf("token of %d characters: %v", len(tc.token), err)
		}
	}
}

// A file that names one account and one plugin and sets nothing else
// loads as the default values: DefaultConfig, DefaultAccount and
// DefaultPlugin are what the loader fills in, section by section.
func TestDefaultsAreTheDefaultStructs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	data := "corrigo:\n  accounts:\n    main:\n      sandbox: true\nplugins:\n  p:\n    command: /bin/true\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, errs := load(t, path, env())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d, da, dp := config.DefaultConfig, config.DefaultAccount, config.DefaultPlugin
	acc, p := cfg.Corrigo.Accounts["main"], cfg.Plugins["p"]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, d.Listen},
		{"data_dir", cfg.DataDir, filepath.Join(dir, "data")},
		{"store.driver", cfg.Store.Driver, d.Store.Driver},
		{"store.group_commit", cfg.Store.GroupCommit, d.Store.GroupCommit},
		{"delivery", cfg.Delivery, d.Delivery},
		{"customer_settings", cfg.CustomerSettings, d.CustomerSettings},
		{"admin.listen", cfg.Admin.Listen, d.Admin.Listen},
		{"sandbox", cfg.Sandbox, d.Sandbox},
		{"log", cfg.Log, d.Log},
		{"retention", cfg.Retention, d.Retention},
		{"tracing.exporter", cfg.Tracing.Exporter, d.Tracing.Exporter},
		{"tracing.sample_ratio", cfg.Tracing.SampleRatio, d.Tracing.SampleRatio},
		{"tracing.service_name", cfg.Tracing.ServiceName, d.Tracing.ServiceName},
		{"account webhook.clock_skew", acc.Webhook.ClockSkew, da.Webhook.ClockSkew},
		{"account webhook.max_body_bytes", acc.Webhook.MaxBodyBytes, da.Webhook.MaxBodyBytes},
		{"account webhook.refuse_access_tokens", acc.Webhook.RefuseAccessTokens, da.Webhook.RefuseAccessTokens},
		{"account webhook.path", acc.Webhook.Path, config.DefaultWebhookPathPrefix + "main"},
		{"account polling", acc.Polling, da.Polling},
		{"account reconcile", acc.Reconcile, da.Reconcile},
		{"account breaker", acc.Breaker, d.Delivery.Breaker},
		{"plugin timeout", p.Timeout, dp.Timeout},
		{"plugin concurrency", p.Concurrency, dp.Concurrency},
		{"plugin inbound.hmac_header", p.Inbound.HMACHeader, dp.Inbound.HMACHeader},
		{"plugin supervisor", p.Supervisor, dp.Supervisor},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestAdminPprofNeedsToken: profiles show the gateway's memory, so
// admin.pprof is refused without admin.token, on loopback too.
func TestAdminPprofNeedsToken(t *testing.T) {
	for _, tc := range []struct {
		admin string
		ok    bool
	}{
		{"{pprof: true}", false},
		{"{pprof: true, token: a-long-admin-token-0123456789}", true},
		{"{pprof: false}", true},
	} {
		y := "corrigo: {accounts: {main: {sandbox: true}}}\nadmin: " + tc.admin + "\n"
		cfg, err := config.Parse("admin.yaml", []byte(y), env())
		if (err == nil) != tc.ok {
			t.Errorf("admin %s: err %v, want ok=%v", tc.admin, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "admin.yaml:2:") || err != nil && !strings.Contains(err.Error(), "admin.pprof: needs admin.token") {
			t.Errorf("admin %s: error does not name the file, line and key: %v", tc.admin, err)
		}
		if err == nil && cfg.Admin.Pprof != strings.Contains(tc.admin, "true") {
			t.Errorf("admin %s: Pprof = %v", tc.admin, cfg.Admin.Pprof)
		}
	}
}
