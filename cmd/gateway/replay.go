package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/internal/progress"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/replay"
	"github.com/wogate/wogate/pkg/core/store"
)

// replayOptions are replay's flags.
type replayOptions struct {
	path, since, from, to, account, workOrder, action, format, store string
	limit                                                            int
	withPlugins, quiet                                               bool
}

func (o *replayOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.path, "config", "", "configuration `FILE` whose rules the events go through; its store is read (required)")
	fs.StringVar(&o.since, "since", "", "only events received in this last duration (24h), or since this time")
	fs.StringVar(&o.from, "from", "", "only events received at or after this time: RFC 3339, UTC date, or a duration back from now")
	fs.StringVar(&o.to, "to", "", "only events received before this time (same forms as --from)")
	fs.StringVar(&o.account, "account", "", "only this account's events")
	fs.StringVar(&o.workOrder, "work-order", "", "only this work order's events")
	fs.StringVar(&o.action, "action", "", "only events of this CorrigoPro action (NewWorkOrder, CheckedIn...)")
	fs.IntVar(&o.limit, "limit", 0, "replay at most this many events (default: all that match)")
	fs.BoolVar(&o.withPlugins, "with-plugins", false, "start the configured plugins and ask them again (they see the calls)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&o.store, "store", "", "read the store at `PATH|DSN` instead of the one --config configures: a SQLite file, or a postgres:// DSN")
}

var replayCmd = &command{
	name:    "replay",
	summary: "run stored events through the config's rules again, in shadow, and show what would differ",
	synopsis: `replay --config FILE [--store PATH|DSN] [--since DUR | --from TIME [--to TIME]]
[--account A] [--work-order ID] [--action NAME] [--limit N] [--with-plugins] [--format text|json] [--quiet]`,
	doc: replayDoc,
	example: `gateway replay --config new.yaml --since 24h
gateway replay --config new.yaml --work-order 10006 --format json`,
	flags: func(fs *flag.FlagSet) { new(replayOptions).define(fs) },
}

func init() {
	replayCmd.run = runReplay
	registerCommand(replayCmd)
}

func runReplay(ctx context.Context, args []string) int {
	return replayMain(ctx, args, os.Stdout, os.Stderr, replayEnv{progress: progress.IsTerminal(os.Stderr)})
}

// replayEnv is what the command takes from its surroundings; tests set it.
type replayEnv struct {
	progress bool             // stderr is a terminal
	now      func() time.Time // default time.Now
	// progressOpts, when set, replace the reporter's defaults (tests).
	progressOpts *progress.Options
	// pgSchema is the PostgreSQL schema of the store (tests).
	pgSchema string
}

const replayDoc = `Runs the events stored by the gateway through the rules of FILE (the new
or current configuration) in shadow and shows, per event, what would
differ from what was done: which rules match, whether the event ends done
or as a dead letter, and which actions it produces. Nothing is sent to
CorrigoPro and nothing is written: the store FILE configures (or --store
names) is opened read-only, which is safe while the gateway runs.

Plugins answer what they answered when the event was handled, so a
changed rule shows which actions would appear or disappear. With
--with-plugins the configured plugins are started and asked again (see
docs/integrators.md: plugins with side effects see these calls).

Exit codes: 0 no event differs; 1 some event differs or could not be
replayed; 2 usage, configuration or store errors.`

func replayMain(ctx context.Context, args []string, stdout, stderr io.Writer, env replayEnv) int {
	if env.now == nil {
		env.now = time.Now
	}
	var o replayOptions
	pos, err := replayCmd.parse(args, stdout, stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	path, since, from, to, account, workOrder, action := &o.path, &o.since, &o.from, &o.to, &o.account, &o.workOrder, &o.action
	limit, withPlugins, format, quiet, storeFlag := &o.limit, &o.withPlugins, &o.format, &o.quiet, &o.store
	usageErr := func(format string, args ...any) int {
		return exitCode(usageError(replayCmd, stderr, format, args...))
	}
	switch {
	case len(pos) > 0:
		return usageErr("unexpected arguments %q (the config file goes after --config)", pos)
	case *path == "":
		return usageErr("no configuration: pass --config FILE (the config whose rules the stored events go through)")
	case *format != "text" && *format != "json":
		return usageErr("--format must be text or json, not %q", *format)
	case *since != "" && (*from != "" || *to != ""):
		return usageErr("give --since or --from/--to, not both")
	case *limit < 0:
		return usageErr("--limit must be positive")
	}
	now := env.now()
	var f store.EventFilter
	if *since != "" {
		if f.Since, err = admin.ParseTime("--since", *since, now); err != nil {
			return usageErr("%v", err)
		}
	}
	if f.Since.IsZero() && *from != "" {
		if f.Since, err = admin.ParseTime("--from", *from, now); err != nil {
			return usageErr("%v", err)
		}
	}
	if *to != "" {
		if f.Until, err = admin.ParseTime("--to", *to, now); err != nil {
			return usageErr("%v", err)
		}
		if !f.Since.IsZero() && !f.Until.After(f.Since) {
			return usageErr("--to (%s) must be after --from (%s)", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
		}
	}
	if *workOrder != "" {
		if f.WorkOrderID, err = strconv.ParseInt(*workOrder, 10, 64); err != nil || f.WorkOrderID <= 0 {
			return usageErr("--work-order must be a work order id, not %q", *workOrder)
		}
	}
	f.Account, f.Action, f.Limit = *account, *action, *limit

	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "gateway replay: %v\n", err)
		return 2
	}
	if f.Account != "" {
		if _, ok := cfg.Corrigo.Accounts[f.Account]; !ok {
			names := make([]string, 0, len(cfg.Corrigo.Accounts))
			for n := range cfg.Corrigo.Accounts {
				names = append(names, n)
			}
			sort.Strings(names)
			return usageErr("--account %q is not in %s (accounts: %s)", f.Account, *path, strings.Join(names, ", "))
		}
	}
	// A sandbox-only configuration runs on its own store (gateway run
	// starts it fresh each time): replay that one.
	switch {
	case strings.HasPrefix(*storeFlag, "postgres://"), strings.HasPrefix(*storeFlag, "postgresql://"):
		cfg.Store.Driver, cfg.Store.DSN = "postgres", config.Secret(*storeFlag)
	case *storeFlag != "":
		cfg.Store.Driver, cfg.Store.DSN = "sqlite", config.Secret(*storeFlag)
	}
	sandboxes := 0
	for _, a := range cfg.Corrigo.Accounts {
		if a.Sandbox {
			sandboxes++
		}
	}
	if p := sandboxStorePath(cfg, sandboxes); sandboxes > 0 && p != "" && *storeFlag == "" {
		cfg.Store.DSN = config.Secret(p)
	}
	st, err := assemble.OpenStore(ctx, cfg, assemble.StoreOptions{ReadOnly: true, PostgresSchema: env.pgSchema})
	if err != nil {
		fmt.Fprintf(stderr, "gateway replay: %v\n", err)
		return 2
	}
	defer func() { _ = st.Close() }()
	if *withPlugins {
		fmt.Fprintln(stderr, "gateway replay: warning: --with-plugins calls the configured plugins with stored events again;"+
			" a plugin with side effects acts on them (erp-rest, for one, creates ERP jobs). Actions they return are compared, never sent.")
	}

	popts := progress.Options{Enabled: env.progress && !*quiet}
	if env.progressOpts != nil {
		popts = *env.progressOpts
		popts.Enabled = popts.Enabled && !*quiet
	}
	bar := progress.New(stderr, "replay", "events", popts)
	rep, err := replay.Run(ctx, replay.Options{
		Config: cfg, ConfigFile: *path, Source: st, Filter: f, WithPlugins: *withPlugins,
		Progress: bar.Update,
		Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	bar.Done()
	if err != nil {
		fmt.Fprintf(stderr, "gateway replay: %v\n", err)
		if rep == nil {
			return 2
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			fmt.Fprintf(stderr, "gateway replay: %v\n", werr)
			return 2
		}
	} else {
		writeReplayText(stdout, rep)
	}
	switch {
	case err != nil:
		return 2
	case rep.OK():
		return 0
	}
	return 1
}

// writeReplayText prints one block per differing event, then the summary.
func writeReplayText(w io.Writer, rep *replay.Report) {
	for _, e := range rep.Events {
		fmt.Fprintf(w, "event %d  %s  work order %d  %s  received %s  (message %s, %s)\n",
			e.ID, e.Account, e.WorkOrderID, e.Action, e.ReceivedAt.Format(time.RFC3339), e.MessageID, e.Source)
		if e.Error != "" {
			fmt.Fprintf(w, "  error:    not replayed: %s\n", e.Error)
		}
		if r := e.Replayed; r != nil {
			rec := e.Recorded
			fmt.Fprintf(w, "  config:   %s → %s\n", orNone(rec.ConfigVersion), orNone(r.ConfigVersion))
			if slices.Contains(e.Changes, "outcome") {
				fmt.Fprintf(w, "  outcome:  %s → %s\n", outcomeText(rec), outcomeText(*r))
			}
			if slices.Contains(e.Changes, "rules") || slices.Contains(e.Changes, "stopped") {
				fmt.Fprintf(w, "  rules:    %s → %s\n", rulesText(rec), rulesText(*r))
			}
			if slices.Contains(e.Changes, "skipped") {
				fmt.Fprintf(w, "  skipped:  %s → %s\n", orNone(rec.Skipped), orNone(r.Skipped))
			}
			if len(e.ActionDiff) > 0 {
				fmt.Fprintf(w, "  actions:  %d → %d\n", len(rec.Actions), len(r.Actions))
			}
			for _, d := range e.ActionDiff {
				switch d.Change {
				case "removed":
					fmt.Fprintf(w, "    - %s\n", actionLine(d.Recorded))
				case "added":
					fmt.Fprintf(w, "    + %s\n", actionLine(d.Replayed))
				default:
					fmt.Fprintf(w, "    ~ %s\n", actionLine(d.Recorded))
					for _, fd := range d.Fields {
						fmt.Fprintf(w, "        %s\n", fd)
					}
				}
			}
		}
		for _, n := range e.Notes {
			fmt.Fprintf(w, "  note:     %s\n", n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "replayed %s under config %s (%s)", plural(rep.Replayed, "event"), orNone(rep.ConfigVersion), rep.Config)
	if rep.WithPlugins {
		fmt.Fprint(w, " with live plugins")
	}
	fmt.Fprintf(w, ": %d unchanged, %d changed, %s", rep.Unchanged, rep.Changed, plural(rep.Errors, "error"))
	if rep.Skipped > 0 {
		fmt.Fprintf(w, "; %d skipped (pending or inbound)", rep.Skipped)
	}
	fmt.Fprintln(w)
	if len(rep.RecordedVersions) > 0 {
		vs := make([]string, 0, len(rep.RecordedVersions))
		for v, n := range rep.RecordedVersions {
			vs = append(vs, fmt.Sprintf("%s (%d)", orNone(v), n))
		}
		sort.Strings(vs)
		fmt.Fprintf(w, "recorded under config %s\n", strings.Join(vs, ", "))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func outcomeText(s replay.Side) string {
	if s.Error != "" {
		return s.Status + " (" + oneLine(s.Error, 200) + ")"
	}
	return s.Status
}

func rulesText(s replay.Side) string {
	t := "[" + strings.Join(s.Rules, ", ") + "]"
	if len(s.Rules) == 0 {
		t = "[] (none)"
	}
	if s.Stopped {
		t += " stopped"
	}
	return t
}

func actionLine(a *replay.Action) string {
	s := fmt.Sprintf("%s (rule %s, plugin %s, work order %d)", a.Kind, a.Rule, a.Plugin, a.WorkOrderID)
	if a.Shadow {
		s += " shadow"
	}
	if a.Status != "" {
		s += " [" + a.Status + "]"
	}
	return s + " " + oneLine(string(a.Payload), 160)
}
