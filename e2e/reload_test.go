package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// reloadStep is one rewrite of the config file during the reload test.
type reloadStep struct {
	name string
	edit func(base string) string
	// hup sends SIGHUP after writing; otherwise the gateway's file watch
	// must notice the change.
	hup bool
	// rename writes a new file and renames it over the config, as
	// editors and ConfigMap updates do; otherwise the file is rewritten
	// in place.
	rename bool
	// broken configs must be refused with the old one left running:
	// "rule" (loads, but a rule does not compile) or "file" (does not
	// load at all).
	broken string
	// plugin is the plugin the rules of this config send events to.
	plugin string
	// change is the plugin change the reload must report (started,
	// stopped, replaced, unchanged).
	change [4][]string
}

// TestReloadUnderLoad proves issue 6's reload promise against real
// processes: while the sandbox fires a few hundred webhooks (with
// duplicate and out-of-order redeliveries and transient API errors) at
// `gateway run`, the test rewrites its config file six times — a rule
// change, a second plugin taking over the events, a rule that does not
// compile, a file that does not load, the plugin replaced and the first
// one removed, and back — by SIGHUP and by the file watch. At the end the crash ledger must hold (every accepted
// MessageId handled once, every action recorded by CorrigoPro once, in
// order, nothing pending or dead), and every decision must carry a config
// version that was in force, made by the plugin that version's rules
// name, never the broken one.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("reload load test: skipped in -short")
	}
	// About 10 seconds of traffic, so that every config is in force for
	// a while under load.
	p := crashParams{WorkOrders: 120, Steps: 3, Senders: 8, Pace: 600 * time.Millisecond, Seed: crashSeed(),
		Drain: 30 * time.Second, PluginDelay: 3 * time.Millisecond}
	t.Logf("seed %d (rerun with WOGATE_CRASH_SEED=%d)", p.Seed, p.Seed)
	w := newCrashWorld(t, p)
	gw := w.gws[0]
	baseBytes, err := os.ReadFile(gw.cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := string(baseBytes)
	// The template's plugin block and rule, which the steps rewrite.
	const ruleWhen = `    when: "true"`
	const rulePlugin = "    plugin: worker\n"
	start, end := strings.Index(base, "  worker:\n"), strings.Index(base, "rules:\n")
	if start < 0 || end < 0 || !strings.Contains(base, ruleWhen) || !strings.Contains(base, rulePlugin) {
		t.Fatalf("the crash config template changed; update this test:\n%s", base)
	}
	worker := base[start:end] // "  worker:\n    command: ...\n    config:\n ..."
	worker2 := strings.Replace(worker, "  worker:\n", "  worker2:\n", 1) + "      comment: answered by worker2\n"
	withPlugins := func(s string, blocks ...string) string {
		return s[:start] + strings.Join(blocks, "") + s[end:]
	}
	route := func(s, plugin string) string {
		return strings.Replace(s, rulePlugin, "    plugin: "+plugin+"\n", 1)
	}
	when := func(s, cond string) string { return strings.Replace(s, ruleWhen, "    when: "+cond, 1) }

	steps := []reloadStep{
		{name: "rule condition changed", hup: true, rename: true, plugin: "worker",
			edit:   func(b string) string { return when(b, `event.Action != ""`) },
			change: [4][]string{nil, nil, nil, {"worker"}}},
		{name: "second plugin takes the events", plugin: "worker2",
			edit: func(b string) string {
				return route(when(withPlugins(b, worker, worker2), `event.Action != ""`), "worker2")
			},
			change: [4][]string{{"worker2"}, nil, nil, {"worker"}}},
		{name: "broken rule", broken: "rule",
			edit: func(b string) string {
				return route(when(withPlugins(b, worker, worker2), `event.Action > 1`), "worker2")
			}},
		{name: "invalid file", broken: "file", hup: true,
			edit: func(b string) string {
				return strings.Replace(withPlugins(b, worker, worker2), "\nrules:\n", "\nrulez:\n", 1)
			}},
		{name: "plugin replaced, first plugin removed", hup: true, plugin: "worker2",
			edit: func(b string) string {
				return route(withPlugins(b, strings.Replace(worker2, "delay: 3ms", "delay: 4ms", 1)), "worker2")
			},
			change: [4][]string{nil, {"worker"}, {"worker2"}, nil}},
		{name: "back to the first plugin", rename: true, plugin: "worker",
			edit:   func(b string) string { return when(b, `event.WorkOrderId > 0`) },
			change: [4][]string{{"worker"}, {"worker2"}, nil, nil}},
	}
	if !strings.Contains(worker, "delay: 3ms") {
		t.Fatalf("plugin block lacks the delay this test changes:\n%s", worker)
	}

	versionOf := func(text string) string {
		path := filepath.Join(w.dir, "probe.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatalf("config:\n%s\n%v", text, err)
		}
		return cfg.Version
	}
	type window struct {
		version, plugin string
		from, to        time.Time // in force, for sure, between these
	}
	windows := []window{{version: versionOf(base), plugin: "worker"}}
	brokenVersion := ""

	w.startAll()
	w.sb.SetWebhookURL(w.hook)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	trackCtx, stopTrack := context.WithCancel(ctx)
	defer stopTrack()
	go w.trackDeliveries(trackCtx)
	windows[0].from = time.Now()

	trafficDone := make(chan error, 1)
	go func() { trafficDone <- w.traffic(ctx) }()

	total := p.WorkOrders * p.Steps
	logOffset := 0
	for i, st := range steps {
		// Spread the reloads over the traffic: step i at (i+1)/7 of it.
		at := total * (i + 1) / (len(steps) + 2)
		w.mu.Lock()
		for len(w.delivered) < at && ctx.Err() == nil {
			w.cond.Wait()
		}
		w.mu.Unlock()
		text := st.edit(base)
		version := ""
		if st.broken != "file" {
			version = versionOf(text)
		}
		written := time.Now()
		if st.rename {
			tmp := gw.cfg + ".tmp"
			if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, gw.cfg); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(gw.cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if st.hup {
			if err := gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		msg, key := `"msg":"config reloaded"`, `"new_version":"`+version+`"`
		switch st.broken {
		case "rule":
			msg, key = `"msg":"config reload failed`, `"rejected_version":"`+version+`"`
		case "file":
			msg, key = `"msg":"config reload failed`, `rulez`
		}
		var line map[string]any
		deadline := time.Now().Add(20 * time.Second)
		for line == nil {
			log := gw.logText()
			for _, l := range strings.Split(log[logOffset:], "\n") {
				if strings.Contains(l, msg) && strings.Contains(l, key) {
					if err := json.Unmarshal([]byte(l), &line); err != nil {
						t.Fatalf("log line %q: %v", l, err)
					}
				}
			}
			if line == nil {
				if time.Now().After(deadline) {
					t.Fatalf("step %q: no log line %s with %s within 20s", st.name, msg, key)
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			logOffset = len(log)
		}
		t.Logf("step %d %q (%s, %s): %v", i+1, st.name, map[bool]string{true: "SIGHUP", false: "file watch"}[st.hup],
			map[bool]string{true: "renamed over", false: "written in place"}[st.rename], line)
		if st.broken != "" {
			if version != "" {
				brokenVersion = version
			}
			want := map[string]string{"rule": "compile rules", "file": "unknown key"}[st.broken]
			if !strings.Contains(fmt.Sprint(line["err"]), want) || line["config_version"] != windows[len(windows)-1].version {
				t.Errorf("broken config: %v; want an error mentioning %q with the old version %s kept", line, want, windows[len(windows)-1].version)
			}
			continue
		}
		for k, key := range []string{"plugins_started", "plugins_stopped", "plugins_replaced", "plugins_unchanged"} {
			var got []string
			if l, ok := line[key].([]any); ok {
				for _, x := range l {
					got = append(got, fmt.Sprint(x))
				}
			}
			if !slices.Equal(got, st.change[k]) {
				t.Errorf("step %q: %s = %v, want %v", st.name, key, got, st.change[k])
			}
		}
		windows[len(windows)-1].to = written
		windows = append(windows, window{version: version, plugin: st.plugin, from: time.Now()})
	}
	if err := <-trafficDone; err != nil {
		t.Fatalf("traffic: %v", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, p.Drain)
	defer dcancel()
	if err := w.drain(dctx); err != nil {
		t.Fatal(err)
	}
	w.termAll()
	windows[len(windows)-1].to = time.Now()

	// 1. The crash ledger: exactly once, in order, nothing left.
	bad, rep := w.checkLedger(context.Background())
	t.Logf("%s", rep)
	for _, b := range bad {
		t.Error(b)
	}

	// 2. Every decision carries a version that was in force, made by the
	//    plugin its rules name; events handled well inside a version's
	//    window carry that version. The margin covers an event evaluated
	//    just before a swap and stored just after it.
	const margin = 500 * time.Millisecond
	st, err := sqlite.Open(context.Background(), filepath.Join(w.dir, "data", config.DefaultSQLiteFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	pluginOf := map[string]string{}
	for _, win := range windows {
		pluginOf[win.version] = win.plugin
	}
	perVersion := map[string]int{}
	for _, id := range w.wos {
		evs, err := st.EventsForWorkOrder(context.Background(), "main", id)
		if err != nil {
			t.Fatal(err)
		}
		acts, err := st.ActionsForWorkOrder(context.Background(), "main", id)
		if err != nil {
			t.Fatal(err)
		}
		byEvent := map[int64]string{}
		for _, a := range acts {
			byEvent[a.EventID] = a.Plugin
		}
		for _, e := range evs {
			perVersion[e.ConfigVersion]++
			want, known := pluginOf[e.ConfigVersion]
			switch {
			case e.ConfigVersion == brokenVersion:
				t.Errorf("event %d was handled under the broken config %s", e.ID, brokenVersion)
			case !known:
				t.Errorf("event %d carries config version %q, never in force", e.ID, e.ConfigVersion)
			case byEvent[e.ID] != want:
				t.Errorf("event %d under %s was answered by plugin %q, want %q", e.ID, e.ConfigVersion, byEvent[e.ID], want)
			}
			for _, win := range windows {
				if e.HandledAt.After(win.from.Add(margin)) && e.HandledAt.Before(win.to) && e.ConfigVersion != win.version {
					t.Errorf("event %d handled at %s under %s; %s was in force from %s to %s", e.ID,
						e.HandledAt.Format(time.RFC3339Nano), e.ConfigVersion, win.version, win.from.Format(time.RFC3339Nano), win.to.Format(time.RFC3339Nano))
				}
			}
		}
	}
	t.Logf("decisions per config version: %v", perVersion)
	for _, win := range windows {
		if perVersion[win.version] == 0 {
			t.Errorf("no event was handled under %s: the reloads did not happen under load", win.version)
		}
	}

	// 3. Plugins whose spec did not change were not restarted: worker
	//    started at start and when it came back; worker2 when added and
	//    when replaced.
	log := gw.logText()
	for plugin, want := range map[string]int{"worker": 2, "worker2": 2} {
		n := 0
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, `"msg":"plugin started"`) && strings.Contains(l, `"plugin":"`+plugin+`"`) {
				n++
			}
		}
		if n != want {
			t.Errorf("plugin %s started %d times, want %d", plugin, n, want)
		}
	}
	if n := countLines(log, `"msg":"config reloaded"`); n != len(windows)-1 {
		t.Errorf("%d successful reloads logged, want %d", n, len(windows)-1)
	}
	if n := countLines(log, `"msg":"config reload failed`); n != 2 {
		t.Errorf("%d failed reloads logged, want 2", n)
	}
}
