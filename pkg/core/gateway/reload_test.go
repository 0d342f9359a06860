package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// reloadWith rewrites the world's config file with edit applied and
// reloads it, as `gateway run` does on SIGHUP.
func (w *world) reloadWith(edit func(string) string) (ReloadResult, error) {
	w.t.Helper()
	path := w.g.current().Path
	b, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	text := edit(string(b))
	if text == string(b) {
		w.t.Fatal("edit changed nothing")
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		w.t.Fatalf("config:\n%s\n%v", text, err)
	}
	return w.g.Reload(context.Background(), cfg)
}

// handledUnder creates a work order, waits until the gateway accepted it
// and returns the config version its decision was recorded under.
func (w *world) handledUnder() string {
	w.t.Helper()
	id := w.create()
	w.waitFor("accepted", func() bool { return w.status(id) == corrigo.StatusAccepted })
	var ev store.Event
	w.waitFor("event done", func() bool {
		evs, _ := w.g.Store().EventsForWorkOrder(context.Background(), "main", id)
		if len(evs) != 1 || evs[0].Status != store.EventDone {
			return false
		}
		ev = evs[0]
		return true
	})
	return ev.ConfigVersion
}

func TestReloadKeepsOldConfigOnErrorAndUnchangedPluginsRunning(t *testing.T) {
	w := newWorld(t, worldOpts{})
	v1 := w.g.current().Version
	if got := w.handledUnder(); got != v1 {
		t.Fatalf("decision under %q, want %q", got, v1)
	}
	before := w.g.plugins.Health()["accept"]

	// A rule change: new rules, same plugin process.
	res, err := w.reloadWith(func(s string) string {
		return strings.Replace(s, `when: event.Action == "NewWorkOrder"`, `when: event.Action == "NewWorkOrder" && event.WorkOrderId > 0`, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	v2 := res.NewVersion
	if v2 == v1 || res.OldVersion != v1 || !slices.Equal(res.Changed, []string{"rules"}) ||
		!slices.Equal(res.Plugins.Unchanged, []string{"accept"}) || res.Rules != 1 {
		t.Fatalf("result = %+v", res)
	}
	if h := w.g.plugins.Health()["accept"]; h.PID != before.PID || !h.Since.Equal(before.Since) {
		t.Fatalf("unchanged plugin restarted: %+v → %+v", before, h)
	}
	if got := w.handledUnder(); got != v2 {
		t.Fatalf("decision under %q after reload, want %q", got, v2)
	}

	// Failures: each leaves v2 running with the same plugin process.
	failures := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"rule does not compile", func(s string) string {
			return strings.Replace(s, `event.WorkOrderId > 0`, `event.WorkOrderId > "x"`, 1)
		}, "compile rules"},
		{"plugin fails to start", func(s string) string {
			return strings.Replace(s, "config: {}", "config: {crash_on_configure: true}", 1)
		}, `plugin "accept"`},
		{"plugin binary is not a plugin", func(s string) string {
			return strings.Replace(s, testplugin.Build(t, "accept"), testplugin.Build(t, "notaplugin"), 1)
		}, "not a wogate plugin"},
	}
	for _, f := range failures {
		path := w.g.current().Path
		good, _ := os.ReadFile(path)
		_, err := w.reloadWith(f.edit)
		if err == nil || !strings.Contains(err.Error(), f.want) {
			t.Fatalf("%s: err = %v, want it to mention %q", f.name, err, f.want)
		}
		if st := w.g.LastReload(); st.LastError != err.Error() || st.LastVersion != v2 {
			t.Errorf("%s: last reload = %+v", f.name, st)
		}
		if got := w.g.current().Version; got != v2 {
			t.Fatalf("%s: config in force %q, want %q", f.name, got, v2)
		}
		if h := w.g.plugins.Health()["accept"]; h.PID != before.PID || h.State != "running" {
			t.Fatalf("%s: plugin after failed reload: %+v (was pid %d)", f.name, h, before.PID)
		}
		if got := w.handledUnder(); got != v2 {
			t.Fatalf("%s: decision under %q, want %q", f.name, got, v2)
		}
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Keys that need a restart refuse the whole reload, each one named,
	// even with a rule change next to them.
	_, err = w.reloadWith(func(s string) string {
		s = strings.Replace(s, "listen: 127.0.0.1:1", "listen: 127.0.0.1:2", 1)
		s = strings.Replace(s, "polling: {enabled: false}", "polling: {enabled: false}\n      message_id_prefix: other", 1)
		return strings.Replace(s, `event.WorkOrderId > 0`, `event.WorkOrderId > 1`, 1)
	})
	var re *RestartRequiredError
	if !errors.As(err, &re) || !slices.Equal(re.Keys, []string{"corrigo.accounts.main.message_id_prefix", "listen"}) {
		t.Fatalf("err = %v, want a restart error naming listen and message_id_prefix", err)
	}
	if w.g.current().Version != v2 {
		t.Fatal("refused reload changed the config in force")
	}

	// The metrics count both outcomes.
	rec := httptest.NewRecorder()
	w.g.metrics.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`wogate_config_reloads_total{result="success"} 1`, `wogate_config_reloads_total{result="failure"} 4`,
		`wogate_config_info{version="` + v2 + `"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), `version="`+v1+`"`) {
		t.Errorf("metrics still show the old version %s", v1)
	}
}

func TestReloadReplacesChangedPluginAndShadowsAccount(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{comment: one}"})
	before := w.g.plugins.Health()["accept"]
	res, err := w.reloadWith(func(s string) string {
		s = strings.Replace(s, "{comment: one}", "{comment: two}", 1)
		return strings.Replace(s, "polling: {enabled: false}", "polling: {enabled: false}\n      shadow: true", 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Plugins.Replaced, []string{"accept"}) ||
		!slices.Equal(res.Changed, []string{"corrigo.accounts.main.shadow", "plugins.accept.config"}) {
		t.Fatalf("result = %+v", res)
	}
	h := w.g.plugins.Health()["accept"]
	if h.PID == before.PID || h.State != "running" {
		t.Fatalf("plugin not replaced: %+v → %+v", before, h)
	}
	// The account is in shadow mode now: the action is recorded, not sent.
	id := w.create()
	ctx := context.Background()
	w.waitFor("shadow action", func() bool {
		acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
		return len(acts) == 1 && acts[0].Status == store.ActionShadow
	})
	acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
	if !strings.Contains(string(acts[0].Payload), `"two"`) {
		t.Errorf("action from the old plugin config: %s", acts[0].Payload)
	}
	if st := w.status(id); st != corrigo.StatusNew {
		t.Errorf("work order %d is %s; a shadow account sends nothing", id, st)
	}
}

func TestDiffConfigIgnoresRulePositions(t *testing.T) {
	a := &config.Config{Rules: []config.Rule{{Name: "r", When: "true", Line: 3}}}
	b := &config.Config{Rules: []config.Rule{{Name: "r", When: "true", Line: 5}}}
	if changed, _ := diffConfig(a, b); len(changed) != 0 {
		t.Fatalf("changed = %v; moving a rule down the file changes nothing", changed)
	}
	b.Rules[0].Shadow = true
	b.Corrigo.Accounts = map[string]config.Account{"new": {}}
	changed, restart := diffConfig(a, b)
	if !slices.Equal(changed, []string{"corrigo.accounts.new", "rules"}) || !slices.Equal(restart, []string{"corrigo.accounts.new"}) {
		t.Fatalf("changed = %v, restart = %v", changed, restart)
	}
}

// TestReloadDeliverySettings: retry limits apply to events failing after
// the reload; a changed breaker setting rebuilds the account's breaker.
func TestReloadDeliverySettings(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{fail_rate: 1}"})
	deadAfter := func() int {
		id := w.create()
		var ev store.Event
		w.waitFor("dead after retries", func() bool {
			evs, _ := w.g.Store().EventsForWorkOrder(context.Background(), "main", id)
			if len(evs) != 1 || evs[0].Status != store.EventDead {
				return false
			}
			ev = evs[0]
			return true
		})
		return ev.Attempts
	}
	if n := deadAfter(); n != 3 {
		t.Fatalf("dead after %d attempts, want 3", n)
	}
	res, err := w.reloadWith(func(s string) string {
		s = strings.Replace(s, "max_attempts: 3}", "max_attempts: 5, breaker: {consecutive_failures: 9}}", 1)
		return strings.Replace(s, "backoff_max: 100ms", "backoff_max: 50ms", 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Changed, []string{"corrigo.accounts.main.breaker.consecutive_failures", "delivery.backoff_max",
		"delivery.breaker.consecutive_failures", "delivery.max_attempts"}) ||
		!slices.Equal(res.Breakers, []string{"main"}) {
		t.Fatalf("result = %+v", res)
	}
	if n := deadAfter(); n != 5 {
		t.Fatalf("dead after %d attempts after the reload, want 5", n)
	}
	// The event lease needs a restart: the dispatcher and the egress
	// worker take it (and the send timeout derived from it) at start.
	_, err = w.reloadWith(func(s string) string {
		return strings.Replace(s, "max_attempts: 5,", "max_attempts: 5, event_lease: 1m,", 1)
	})
	var re *RestartRequiredError
	if !errors.As(err, &re) || !slices.Equal(re.Keys, []string{"delivery.event_lease"}) {
		t.Fatalf("err = %v", err)
	}
}

// TestReloadLogLevel: log.level reloads when the gateway was given the
// logger's level variable, and needs a restart otherwise.
func TestReloadLogLevel(t *testing.T) {
	w := newWorld(t, worldOpts{})
	_, err := w.reloadWith(func(s string) string { return s + "log: {level: warn}\n" })
	var re *RestartRequiredError
	if !errors.As(err, &re) || !slices.Equal(re.Keys, []string{"log.level"}) {
		t.Fatalf("without Options.LogLevel: err = %v, want log.level to need a restart", err)
	}
	lv := new(slog.LevelVar)
	w.g.opts.LogLevel = lv // as gateway run passes it
	res, err := w.reloadWith(func(s string) string { return strings.Replace(s, "level: warn", "level: error", 1) })
	if err != nil {
		t.Fatal(err)
	}
	if lv.Level() != slog.LevelError || !slices.Equal(res.Changed, []string{"log.level"}) {
		t.Fatalf("level %s, changed %v", lv.Level(), res.Changed)
	}
}

// TestReloadWebhookCertificate: a new certificate takes effect for the
// account's webhooks at once, on the same path.
func TestReloadWebhookCertificate(t *testing.T) {
	w := newWorld(t, worldOpts{})
	_, pem, err := corrigo.GenerateCertificate("someone-else", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(w.g.current().Path)
	other := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(other, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "corrigo.pem")
	res, err := w.reloadWith(func(s string) string { return strings.Replace(s, "file:"+good, "file:"+other, 1) })
	if err != nil || !slices.Equal(res.Changed, []string{"corrigo.accounts.main.webhook.certificate"}) {
		t.Fatalf("result %+v, err %v", res, err)
	}
	// CorrigoPro's tokens no longer verify: the webhook is refused (and
	// stays in CorrigoPro's retry queue).
	id := w.create()
	w.waitFor("webhook refused", func() bool { return w.g.WebhookStats()["bad_signature"] > 0 })
	if st := w.status(id); st != corrigo.StatusNew {
		t.Fatalf("work order %s with a webhook the new certificate refuses", st)
	}
	// Back to CorrigoPro's certificate: the retried webhook is accepted.
	if _, err := w.reloadWith(func(s string) string { return strings.Replace(s, "file:"+other, "file:"+good, 1) }); err != nil {
		t.Fatal(err)
	}
	w.waitFor("accepted after the certificate came back", func() bool { return w.status(id) == corrigo.StatusAccepted })
}

// TestDiffConfigTLSNeedsRestart: other certificate files or TLS settings
// need a restart (the pair behind the same files reloads by itself).
func TestDiffConfigTLSNeedsRestart(t *testing.T) {
	a := &config.Config{TLS: config.TLS{CertFile: "/a.crt", KeyFile: "/a.key"}}
	b := &config.Config{TLS: config.TLS{CertFile: "/b.crt", KeyFile: "/a.key"}, Admin: config.Admin{TLS: config.TLS{ClientCAFile: "/ca.pem"}}}
	changed, restart := diffConfig(a, b)
	if !slices.Equal(restart, changed) || len(restart) != 2 {
		t.Fatalf("changed = %v, restart = %v; want both TLS keys to need a restart", changed, restart)
	}
}

// TestReloadPrepareFailureChangesNoComponent: a reload that changes every
// component's keys and that one component refuses while preparing leaves
// every component as it was (rules, webhooks, intake, dispatch, egress,
// log level, plugins, the config in force); without the refused value
// the same reload changes each of them.
func TestReloadPrepareFailureChangesNoComponent(t *testing.T) {
	w := newWorld(t, worldOpts{})
	g := w.g
	g.opts.LogLevel = new(slog.LevelVar)
	cur := g.current()
	path := cur.Corrigo.Accounts["main"].Webhook.Path
	type state struct {
		live     *config.Config
		eval     any
		hook     any
		shadow   bool
		dispatch any
		egress   any
		level    slog.Level
		pid      int
	}
	snapshot := func() state {
		return state{live: g.current(), eval: g.rl.eval.p.Load(), hook: g.hooks[path].h.Load(), shadow: g.rl.intake.isShadow("main"),
			dispatch: g.disp.RetryPolicy(), egress: g.sender.RetryPolicy(), level: g.opts.LogLevel.Level(),
			pid: g.plugins.Health()["accept"].PID}
	}
	// everything changes a key of each component.
	everything := func() *config.Config {
		next := *cur
		next.Version = "next"
		next.Rules = slices.Clone(cur.Rules)
		next.Rules[0].When += " && event.WorkOrderId > 0"
		next.Corrigo.Accounts = maps.Clone(cur.Corrigo.Accounts)
		acc := next.Corrigo.Accounts["main"]
		acc.Shadow = true
		acc.Webhook.ClockSkew += time.Minute
		acc.Breaker.ConsecutiveFailures = 9
		next.Corrigo.Accounts["main"] = acc
		next.Delivery.MaxAttempts = 7
		next.Delivery.Breaker.ConsecutiveFailures = 9
		next.Log.Level = "error"
		return &next
	}
	before := snapshot()
	for _, f := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		// egress prepares after rules, webhooks, intake and dispatch.
		{"egress refuses a negative breaker timeout", func(c *config.Config) {
			acc := c.Corrigo.Accounts["main"]
			acc.Breaker.OpenTimeout = -time.Second
			c.Corrigo.Accounts["main"] = acc
		}, "negative breaker open timeout"},
		{"the webhook certificate does not parse", func(c *config.Config) {
			acc := c.Corrigo.Accounts["main"]
			acc.Webhook.Certificate = "not a certificate"
			c.Corrigo.Accounts["main"] = acc
		}, "account main"},
		{"log.level is not a level", func(c *config.Config) { c.Log.Level = "loud" }, "log.level"},
	} {
		next := everything()
		f.edit(next)
		_, err := g.Reload(t.Context(), next)
		if err == nil || !strings.Contains(err.Error(), f.want) {
			t.Fatalf("%s: err = %v, want it to mention %q", f.name, err, f.want)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s: a failed reload changed a component:\nbefore %+v\nafter  %+v", f.name, before, after)
		}
	}
	res, err := g.Reload(t.Context(), everything())
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if after.live == before.live || after.eval == before.eval || after.hook == before.hook || !after.shadow ||
		after.dispatch == before.dispatch || after.egress == before.egress || after.level != slog.LevelError ||
		!slices.Equal(res.Breakers, []string{"main"}) {
		t.Fatalf("the same reload without the refused value did not change every component:\nbefore %+v\nafter  %+v\nresult %+v", before, after, res)
	}
	if after.pid != before.pid {
		t.Fatalf("unchanged plugin restarted: pid %d → %d", before.pid, after.pid)
	}
}
