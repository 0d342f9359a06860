package pluginapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/wogate/wogate/pkg/pluginapi/internal/wire"
)

// ServeOption tunes Serve.
type ServeOption func(*serveOptions)

type serveOptions struct {
	maxMsg   int
	level    hclog.Level
	maxProcs int
}

// WithMaxProcs sets GOMAXPROCS for the plugin process unless the GOMAXPROCS
// environment variable is set. An I/O-bound plugin answers faster with 1:
// the gRPC reader, the handler and the writer then hand off on one thread
// instead of waking each other across threads (see docs/plugins.md for the
// measurement).
func WithMaxProcs(n int) ServeOption {
	return func(o *serveOptions) { o.maxProcs = n }
}

// WithMaxMessageSize sets the largest gRPC message the plugin sends or
// accepts (default DefaultMaxMessageSize). Keep it equal to the gateway's.
func WithMaxMessageSize(n int) ServeOption {
	return func(o *serveOptions) {
		if n > 0 {
			o.maxMsg = n
		}
	}
}

// WithLogLevel sets the level of the SDK's own (go-plugin) log lines:
// "trace", "debug", "info", "warn" or "error". Default "info".
func WithLogLevel(level string) ServeOption {
	return func(o *serveOptions) {
		if l := hclog.LevelFromString(level); l != hclog.NoLevel {
			o.level = l
		}
	}
}

// Serve runs p as a wogate plugin and returns when the gateway ends it. It
// is all a plugin's main needs:
//
//	func main() { pluginapi.Serve(&myPlugin{}) }
//
// Serve leaves SIGTERM and SIGINT to the gateway while it runs (the
// gateway drains its work, then stops the plugin), and returns on its own
// once the gateway is gone (killed, say): calls in flight finish, the
// plugin's Stop runs, and main returns. See docs/plugins.md, "Signals and
// the gateway's death".
//
// Run by hand (without the gateway's handshake cookie), the binary says it
// is a plugin and exits, except for two flags that print what Describe
// reports, for docs generation: --describe (JSON) and --config-markdown
// (the config table).
func Serve(p Plugin, opts ...ServeOption) {
	o := serveOptions{maxMsg: DefaultMaxMessageSize, level: hclog.Info}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxProcs > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(o.maxProcs)
	}
	if os.Getenv(wire.Handshake.MagicCookieKey) == "" && len(os.Args) > 1 {
		if code, handled := describeCommand(p, os.Args[1], os.Stdout); handled {
			os.Exit(code)
		}
	}
	w := newHostWatch()
	srvCh := make(chan *grpc.Server, 1)
	stopped := make(chan struct{}) // closed when a host-loss stop has finished
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	sigs, stopSigs := termSignals()
	defer stopSigs()
	go w.run(wctx)
	go func() {
		for {
			select {
			case <-wctx.Done():
				return
			case <-w.Gone():
				stopOrphan(p, w.why, srvCh)
				close(stopped)
				return
			case sig := <-sigs:
				// The gateway is alive: it stops this plugin itself, in
				// order, after draining its work (see termSignals).
				w.check(time.Now())
				select {
				case <-w.Gone():
				default:
					Logger().Debug("signal ignored: the gateway stops its plugins", "signal", sig.String())
				}
			}
		}
	}()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: pluginSet(p, o.maxMsg)},
		GRPCServer: func(so []grpc.ServerOption) *grpc.Server {
			srv := grpc.NewServer(wire.ServerOptions(o.maxMsg, append(so, w.serverOption()))...)
			srvCh <- srv
			return srv
		},
		// stdout carries the handshake line; logs go to stderr as hclog
		// JSON, which the gateway parses and re-logs under the plugin's
		// name.
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "sdk", Level: o.level, Output: stderr, JSONFormat: true,
		}),
	})
	// Serve returns when the gRPC server stops; if that was the host-loss
	// stop, let it finish the plugin's Stop before main returns.
	select {
	case <-w.Gone():
		<-stopped
	default:
	}
}

// orphanDrain bounds how long an orphaned plugin lets calls in flight
// finish, and then its Stop run, before it exits.
const orphanDrain = 10 * time.Second

// stopOrphan ends a plugin whose host is gone: calls in flight finish
// (their answers have nowhere to go, but their side effects complete
// rather than stop halfway), then the plugin's Stop runs, as the gateway
// would have called it, and Serve returns, so main returns with status 0.
func stopOrphan(p Plugin, why string, srvCh <-chan *grpc.Server) {
	Logger().Warn("the gateway is gone; stopping", "reason", why)
	var srv *grpc.Server
	select {
	case srv = <-srvCh:
	default: // the handshake never got that far
	}
	if srv != nil {
		drained := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(drained)
		}()
		select {
		case <-drained:
		case <-time.After(orphanDrain):
			srv.Stop()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), orphanDrain)
	defer cancel()
	if err := guard("stop", func() error { return p.Stop(ctx) }); err != nil {
		Logger().Error("stop", "err", err)
	}
	if srv == nil {
		os.Exit(0) // go-plugin's Serve is still waiting for a connection
	}
}

// describeCommand implements the --describe and --config-markdown flags.
func describeCommand(p Plugin, arg string, w io.Writer) (code int, handled bool) {
	if arg != "--describe" && arg != "--config-markdown" {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := p.Describe(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "describe: %v\n", err)
		return 1, true
	}
	if arg == "--config-markdown" {
		fmt.Fprint(w, info.ConfigSchema.Markdown())
		return 0, true
	}
	type field struct {
		Name        string    `json:"name"`
		Type        FieldType `json:"type"`
		Required    bool      `json:"required,omitempty"`
		Default     any       `json:"default,omitempty"`
		Description string    `json:"description,omitempty"`
		Secret      bool      `json:"secret,omitempty"`
		Enum        []string  `json:"enum,omitempty"`
		Example     string    `json:"example,omitempty"`
	}
	out := struct {
		Name        string  `json:"name"`
		Version     string  `json:"version"`
		Description string  `json:"description,omitempty"`
		Protocol    int     `json:"protocol"`
		Config      []field `json:"config"`
	}{Name: info.Name, Version: info.Version, Description: info.Description, Protocol: ProtocolVersion, Config: []field{}}
	for _, f := range info.ConfigSchema.Fields {
		var def any
		if b := defaultJSON(f); b != nil {
			def = json.RawMessage(b)
		}
		out.Config = append(out.Config, field{f.Name, f.Type, f.Required, def, f.Description, f.Secret, f.Enum, f.Example})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return 1, true
	}
	return 0, true
}

// stderr is the process's stderr as it was at start. go-plugin redirects
// os.Stderr once serving begins (to stream it to the gateway as plain
// text); logs written here stay structured.
var stderr = os.Stderr

var (
	loggerOnce sync.Once
	logger     *slog.Logger
)

// Logger returns a structured logger for plugin code. Lines go to stderr
// in hclog's JSON shape, which the gateway parses and re-logs under the
// plugin's name with their level and attributes. Host.Log is the
// alternative that goes over the plugin connection instead.
func Logger() *slog.Logger {
	loggerOnce.Do(func() {
		logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
			Level:       slog.LevelDebug,
			ReplaceAttr: hclogAttr,
		}))
	})
	return logger
}

// hclogAttr renames slog's built-in keys to hclog's JSON keys.
func hclogAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		if t, ok := a.Value.Any().(time.Time); ok {
			return slog.String("@timestamp", t.Format("2006-01-02T15:04:05.000000Z07:00"))
		}
		return slog.Attr{Key: "@timestamp", Value: a.Value}
	case slog.LevelKey:
		l, _ := a.Value.Any().(slog.Level)
		return slog.String("@level", hclogLevelName(l))
	case slog.MessageKey:
		return slog.Attr{Key: "@message", Value: a.Value}
	}
	return a
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// slogLevel maps a Host.Log level name to slog; unknown names are info.
func slogLevel(level string) slog.Level { return wire.SlogLevel(level) }
