package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/gateway"
	"github.com/wogate/wogate/pkg/core/sdnotify"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// runOptions are run's flags.
type runOptions struct {
	path            string
	breakerFailures uint
	breakerOpen     time.Duration
	shutdown        time.Duration
	watch           bool
}

func (o *runOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.path, "config", "", "configuration `FILE` (YAML); required")
	fs.UintVar(&o.breakerFailures, "breaker-failures", 0, "override delivery.breaker.consecutive_failures (and every account's breaker): open the circuit breaker after this many transient failures in a row")
	fs.DurationVar(&o.breakerOpen, "breaker-open-timeout", 0, "override delivery.breaker.open_timeout (and every account's breaker): how long an open breaker waits before a probe call")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 15*time.Second, "how long each shutdown step may take before in-flight work is handed back")
	fs.BoolVar(&o.watch, "watch-config", true, "reload the config when its file changes (SIGHUP always reloads)")
}

var runCmd = &command{
	name:     "run",
	summary:  "run the gateway: receive webhooks, dispatch to plugins, send actions",
	synopsis: "run --config FILE [flags]",
	doc: `Runs the gateway until SIGINT or SIGTERM, then shuts down gracefully:
stops accepting webhooks, finishes in-flight work, stops plugins.
SIGHUP, or a change of the file with --watch-config, reloads the config
(see docs/operations.md, Reloading). Relative paths in the file are
relative to the file's directory.`,
	example: `gateway run --config examples/config.yaml
WOGATE_LISTEN=0.0.0.0:8443 gateway run --config /etc/wogate/config.yaml`,
	flags: func(fs *flag.FlagSet) { new(runOptions).define(fs) },
}

func init() {
	runCmd.run = runGateway
	registerCommand(runCmd)
}

func runGateway(ctx context.Context, args []string) int {
	var o runOptions
	pos, err := runCmd.parse(args, os.Stdout, os.Stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	switch {
	case len(pos) > 0:
		return exitCode(usageError(runCmd, os.Stderr, "unexpected arguments %q (the config file goes after --config)", pos))
	case o.path == "":
		return exitCode(usageError(runCmd, os.Stderr, "no configuration: pass --config FILE (examples/config.yaml runs the gateway with the embedded sandbox)"))
	}
	path, breakerFailures, breakerOpen, shutdown, watch := &o.path, &o.breakerFailures, &o.breakerOpen, &o.shutdown, &o.watch
	if *breakerFailures > math.MaxUint32 {
		return exitCode(usageError(runCmd, os.Stderr, "--breaker-failures %d is out of range (at most %d)", *breakerFailures, uint32(math.MaxUint32)))
	}
	// SIGHUP ends a process by default: take it over before the slow part
	// of the start, and keep one that arrives meanwhile for later.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if abs, err := filepath.Abs(*path); err == nil {
		*path = abs // the watch compares absolute names
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: invalid configuration:\n%v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	log, level, err := newLogger(cfg.Log, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %v\n", err)
		return 1
	}
	// Under systemd (Type=notify) the unit learns when the gateway serves,
	// reloads and stops. Taken from the environment before any plugin
	// starts, so that no plugin inherits the socket.
	notify, err := sdnotify.FromEnv()
	if err != nil {
		log.Error("cannot tell the service manager the gateway's state", "err", err)
	}
	tell := func(send func() error) func() {
		return func() {
			if err := send(); err != nil {
				log.Warn("service manager notification failed", "err", err)
			}
		}
	}

	// The embedded sandbox lives here, not in pkg/core: the gateway only
	// sees an account whose URLs, credentials and certificate happen to
	// point at it.
	// Every listener is bound before anything starts or is announced: a
	// taken port fails here, naming the key to change, with no plugin to
	// stop and no "listening" line that was not true.
	lns, err := bindListeners(cfg)
	if err != nil {
		log.Error("gateway failed to start", "err", err)
		return 1
	}
	var sb *sandbox.Sandbox
	var sbAccount string
	prepare := func(*config.Config) {}
	if cfg.UsesSandbox() {
		dsn := cfg.Store.DSN
		sb, sbAccount, err = startSandbox(cfg, log, lns.sandbox)
		if err != nil {
			lns.closeGateway()
			log.Error("start embedded sandbox", "err", err)
			return 1
		}
		defer func() { _ = sb.Close() }()
		// A reloaded config gets the same sandbox wiring, so only what
		// the operator changed differs.
		freshDSN := cfg.Store.DSN
		prepare = func(c *config.Config) {
			pointAtSandbox(c, sb)
			if c.Store.DSN == dsn {
				c.Store.DSN = freshDSN
			}
		}
	}

	// serving closes when Run serves; reloads wait for it, so that a
	// SIGHUP during the start cannot tell systemd READY=1 early.
	serving := make(chan struct{})
	// New owns the listeners from here on, and stops whatever it started
	// (plugins included) when it fails.
	g, err := gateway.New(ctx, cfg, gateway.Options{
		Listener:        lns.public,
		AdminListener:   lns.admin,
		Logger:          log,
		LogLevel:        level,
		Version:         version,
		ShutdownTimeout: *shutdown,
		OnReady:         func() { tell(notify.Ready)(); close(serving) },
		OnStopping:      tell(notify.Stopping),
		Breaker: egress.BreakerOptions{
			ConsecutiveFailures: uint32(*breakerFailures), //nolint:gosec // bounds-checked after flag parsing
			OpenTimeout:         *breakerOpen,
		},
	})
	if err != nil {
		log.Error("gateway failed to start", "err", err)
		return 1
	}
	addr, err := g.Listen()
	if err != nil {
		g.Close() // stops the plugins New started
		log.Error("gateway failed to start", "err", err)
		return 1
	}
	if sb != nil {
		a := cfg.Corrigo.Accounts[sbAccount]
		if !a.Webhook.Disabled {
			scheme := "http"
			if cfg.TLS.Enabled() {
				scheme = "https"
			}
			url := scheme + "://" + addr.String() + a.Webhook.Path
			sb.SetWebhookURL(url)
			log.Info("embedded sandbox sends webhooks to the gateway", "account", sbAccount, "url", url)
		}
	}
	rctx, stopReload := context.WithCancel(ctx)
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		r := &reloader{g: g, path: *path, prepare: prepare, log: log, notify: notify, serving: serving}
		r.run(rctx, hup, *watch)
	}()
	defer func() {
		stopReload()
		<-reloadDone
	}()
	if err := g.Run(ctx); err != nil {
		log.Error("gateway stopped with an error", "err", err)
		return 1
	}
	return 0
}

// listeners are the sockets `gateway run` binds before it starts anything.
type listeners struct {
	public, admin, sandbox net.Listener // admin and sandbox nil when off
}

// bindListeners binds listen, admin.listen and (with the embedded
// sandbox) sandbox.listen; on error none stays open.
func bindListeners(cfg *config.Config) (*listeners, error) {
	l := &listeners{}
	var err error
	if l.public, err = gateway.Bind("listen", cfg.Listen); err != nil {
		return nil, err
	}
	if cfg.Admin.Listen != "" {
		if l.admin, err = gateway.Bind("admin.listen", cfg.Admin.Listen); err != nil {
			l.closeGateway()
			return nil, err
		}
	}
	if cfg.UsesSandbox() {
		if l.sandbox, err = gateway.Bind("sandbox.listen", cfg.Sandbox.Listen); err != nil {
			l.closeGateway()
			return nil, err
		}
	}
	return l, nil
}

// closeGateway closes the gateway's listeners (the sandbox owns its own
// once startSandbox has it).
func (l *listeners) closeGateway() {
	_ = l.public.Close()
	if l.admin != nil {
		_ = l.admin.Close()
	}
}

// startSandbox starts the embedded CorrigoPro sandbox on ln and points
// every account with sandbox: true at it. The sandbox has one webhook
// URL: the first such account (by name) receives its notifications; the
// others can still poll.
func startSandbox(cfg *config.Config, log *slog.Logger, ln net.Listener) (*sandbox.Sandbox, string, error) {
	sc := cfg.Sandbox
	sb, err := sandbox.New(sandbox.Options{
		Clients:         map[string]string{sc.ClientID: sc.ClientSecret.Value()},
		TimeScale:       sc.TimeScale,
		AutoCreateEvery: sc.AutoCreate,
		HTTPClient:      sandboxWebhookClient(cfg), // https to a TLS listener
		Logger:          log.With("component", "sandbox"),
	})
	if err != nil {
		_ = ln.Close()
		return nil, "", err
	}
	sb.Serve(ln)
	names := pointAtSandbox(cfg, sb)
	if len(names) == 0 {
		_ = sb.Close()
		return nil, "", errors.New("no account uses the sandbox")
	}
	sort.Strings(names)
	if err := freshSandboxStore(cfg, len(names), log); err != nil {
		_ = sb.Close()
		return nil, "", err
	}
	log.Info("embedded sandbox started", "url", sb.URL(), "control", sb.ControlURL(), "accounts", strings.Join(names, ","),
		"auto_create", sc.AutoCreate.String())
	if len(names) > 1 {
		log.Warn("several accounts use the embedded sandbox; only the first receives its webhooks", "webhooks_to", names[0])
	}
	return sb, names[0], nil
}

// pointAtSandbox points every account with sandbox: true at sb (URLs,
// credentials, webhook certificate) and returns their names.
func pointAtSandbox(cfg *config.Config, sb *sandbox.Sandbox) []string {
	var names []string
	sc := cfg.Sandbox
	for name, a := range cfg.Corrigo.Accounts {
		if !a.Sandbox {
			continue
		}
		names = append(names, name)
		a.BaseURL = sb.BaseURL()
		a.OAuthURL = sb.OAuthURL()
		a.ClientID = sc.ClientID
		a.ClientSecret = sc.ClientSecret
		a.Webhook.Certificate = config.Secret(sb.CertificatePEM())
		cfg.Corrigo.Accounts[name] = a
	}
	return names
}

// freshSandboxStore gives a gateway whose only CorrigoPro is the embedded
// sandbox its own SQLite file, emptied at every start. The sandbox keeps its
// state in memory and numbers work orders from 10001 again each time; a
// store remembering the previous run's 10001 would take the new one for a
// duplicate. A configured DSN, PostgreSQL or a real account next to the
// sandbox leave the store alone.
func freshSandboxStore(cfg *config.Config, sandboxAccounts int, log *slog.Logger) error {
	path := sandboxStorePath(cfg, sandboxAccounts)
	if path == "" {
		return nil
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reset the sandbox store: %w", err)
		}
	}
	cfg.Store.DSN = config.Secret(path)
	log.Info("sandbox-only configuration: using a fresh store for this run", "path", path)
	return nil
}

// sandboxStorePath is the SQLite file a gateway with sandboxAccounts
// sandbox accounts uses instead of the configured store (see
// freshSandboxStore), or "" when it uses the configured one.
func sandboxStorePath(cfg *config.Config, sandboxAccounts int) string {
	def := filepath.Join(cfg.DataDir, config.DefaultSQLiteFile)
	if sandboxAccounts != len(cfg.Corrigo.Accounts) || cfg.Store.Driver != "sqlite" ||
		(!cfg.Store.DSN.IsZero() && cfg.Store.DSN.Value() != def) {
		return ""
	}
	return filepath.Join(cfg.DataDir, "sandbox.db")
}

// newLogger builds the gateway's slog logger from the log config.
// The level is a variable so that a reload can change it.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	lv := new(slog.LevelVar)
	lv.Set(level)
	o := &slog.HandlerOptions{Level: lv}
	switch c.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), lv, nil
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, o)), lv, nil
	}
	return nil, nil, fmt.Errorf("log format %q: want json or text", c.Format)
}
