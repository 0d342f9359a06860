// Package plugins runs the gateway's plugins: it launches each configured
// plugin binary as a child process through hashicorp/go-plugin (gRPC only,
// AutoMTLS, optional SHA-256 pinning), serves it the host callbacks
// (CorrigoPro look-ups, a per-plugin key-value store, logging), bounds each
// call with a timeout and each plugin with a concurrency limit, and
// supervises the processes: a plugin that dies is restarted with capped
// exponential backoff and configured again, and one that keeps crashing is
// quarantined. Calls to a plugin that is not running fail fast with
// ErrUnavailable so the caller can put the event back and retry later.
package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// Errors returned by the Manager. Plugin-reported errors are returned
// wrapped (match them with errors.As into *pluginapi.Error).
var (
	// ErrUnavailable: the plugin is not running (crashed, restarting,
	// quarantined or stopped). Nothing was delivered; retry the event
	// later.
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrQuarantined accompanies ErrUnavailable when the supervisor gave up
	// on a crash-looping plugin.
	ErrQuarantined = errors.New("plugin quarantined after repeated crashes")
	// ErrTimeout: the plugin did not answer within its timeout. The plugin
	// may still act on the event; handlers should be idempotent.
	ErrTimeout = errors.New("plugin call timed out")
	// ErrUnknownPlugin: no plugin of that name was started.
	ErrUnknownPlugin = errors.New("no such plugin")
	// ErrNoInbound: the plugin does not implement HandleInbound.
	ErrNoInbound = errors.New("plugin does not handle inbound requests")
	// ErrNotAPlugin: the binary did not complete the wogate plugin
	// handshake.
	ErrNotAPlugin = errors.New("not a wogate plugin")
	// ErrIncompatible: the plugin speaks no protocol version this gateway
	// knows.
	ErrIncompatible = errors.New("incompatible plugin protocol version")
	// ErrChecksumMismatch: the binary's SHA-256 differs from the pinned
	// one; it was not started.
	ErrChecksumMismatch = errors.New("plugin binary does not match its pinned sha256")
	// ErrClosed: the manager was closed.
	ErrClosed = errors.New("plugin manager closed")
	// ErrNotQuarantined: Restart was asked to lift the quarantine of a
	// plugin that is not quarantined (the supervisor handles the others).
	ErrNotQuarantined = errors.New("plugin is not quarantined")
)

// Spec is one plugin instance to run.
type Spec struct {
	// Name is the instance's name in the gateway config (rules route
	// events to it; its KV namespace).
	Name string
	// Command is the plugin executable (a path, or a name looked up in
	// PATH) and Args its arguments.
	Command string
	Args    []string
	// Dir is the plugin process's working directory; empty means the
	// gateway's. The gateway sets the config file's directory, so relative
	// paths in a plugin's config mean what they mean in the rest of the
	// file.
	Dir string
	// Env adds KEY=VALUE variables to the plugin's environment, which
	// otherwise holds only the PassEnv part of the gateway's (env.go).
	Env []string
	// Config is passed to ValidateConfig and Configure.
	Config map[string]any
	// Timeout bounds each HandleEvent/HandleInbound call (default 30s).
	Timeout time.Duration
	// Concurrency bounds the calls in flight to this plugin (default 16).
	Concurrency int
	// SHA256, when set, pins the binary: a binary whose hex SHA-256
	// differs is refused (at start and at every restart).
	SHA256 string
	// Supervisor tunes crash handling for this plugin; zero fields take
	// the Manager's (WithSupervisor, else DefaultSupervisor).
	Supervisor Supervisor
}

// HostServices is what the gateway offers plugins. KV calls carry the
// plugin instance's name, which namespaces its keys.
type HostServices interface {
	GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error)
	GetCustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error)
	KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error)
	KVPut(ctx context.Context, plugin, key string, value []byte) error
	KVDelete(ctx context.Context, plugin, key string) error
}

// Defaults for Spec and the supervisor.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 16
)

// Supervisor configures crash handling.
type Supervisor struct {
	// HealthInterval is how often a running plugin is pinged (default
	// 5s). Process exit is noticed at once regardless.
	HealthInterval time.Duration
	// PingTimeout bounds one health check (default 2s).
	PingTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before a restart, which
	// doubles with each crash inside CrashWindow (defaults 250ms, 30s).
	BackoffMin, BackoffMax time.Duration
	// MaxCrashes within CrashWindow quarantines the plugin (defaults 5
	// within 10m). A failed restart counts as a crash.
	MaxCrashes  int
	CrashWindow time.Duration
}

// DefaultSupervisor is used when no WithSupervisor option is given. Its
// crash and restart settings are the configuration's defaults
// (plugins.<name>.supervisor, config.DefaultPlugin), declared there once.
var DefaultSupervisor = Supervisor{
	HealthInterval: 5 * time.Second,
	PingTimeout:    2 * time.Second,
	BackoffMin:     config.DefaultPlugin.Supervisor.BackoffInitial,
	BackoffMax:     config.DefaultPlugin.Supervisor.BackoffMax,
	MaxCrashes:     config.DefaultPlugin.Supervisor.MaxCrashes,
	CrashWindow:    config.DefaultPlugin.Supervisor.Window,
}

func (s Supervisor) withDefaults() Supervisor { return s.over(DefaultSupervisor) }

// over returns s with its zero fields taken from base (whose fields are
// all set).
func (s Supervisor) over(base Supervisor) Supervisor {
	d := base
	if s.HealthInterval > 0 {
		d.HealthInterval = s.HealthInterval
	}
	if s.PingTimeout > 0 {
		d.PingTimeout = s.PingTimeout
	}
	if s.BackoffMin > 0 {
		d.BackoffMin = s.BackoffMin
	}
	if s.BackoffMax > 0 {
		d.BackoffMax = s.BackoffMax
	}
	if d.BackoffMax < d.BackoffMin {
		d.BackoffMax = d.BackoffMin
	}
	if s.MaxCrashes > 0 {
		d.MaxCrashes = s.MaxCrashes
	}
	if s.CrashWindow > 0 {
		d.CrashWindow = s.CrashWindow
	}
	return d
}

// Option tunes a Manager.
type Option func(*Manager)

// WithSupervisor sets crash handling for every plugin whose Spec does not
// set its own (Spec.Supervisor, field by field); zero fields keep their
// defaults.
func WithSupervisor(s Supervisor) Option { return func(m *Manager) { m.sup = s.withDefaults() } }

// WithStartTimeout bounds a plugin's launch, handshake and Configure
// (default 20s).
func WithStartTimeout(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.startTimeout = d
		}
	}
}

// WithStopTimeout bounds the Stop call at shutdown (default 5s).
func WithStopTimeout(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.stopTimeout = d
		}
	}
}

// WithMaxMessageSize sets the gRPC message limit both ways (default
// pluginapi.DefaultMaxMessageSize).
func WithMaxMessageSize(n int) Option {
	return func(m *Manager) {
		if n > 0 {
			m.maxMsg = n
		}
	}
}

// WithStateHook calls f on every state change of a plugin (for metrics).
// f must be fast and must not call back into the Manager.
func WithStateHook(f func(name string, h PluginHealth)) Option {
	return func(m *Manager) { m.hook = f }
}

// State is a plugin's supervisor state.
type State string

// Plugin states.
const (
	StateStarting    State = "starting"
	StateRunning     State = "running"
	StateRestarting  State = "restarting"
	StateQuarantined State = "quarantined"
	StateStopped     State = "stopped"
)

// PluginHealth is a plugin's state as reported by Health.
type PluginHealth struct {
	Name  string
	State State
	// Since is when the plugin entered State.
	Since time.Time
	// Restarts counts successful restarts since the manager started it.
	Restarts int
	// RecentCrashes counts crashes inside the supervisor's window.
	RecentCrashes int
	LastError     string
	LastErrorAt   time.Time
	PID           int
	// Version is what the plugin's Describe reports; Protocol the
	// negotiated protocol version.
	Version  string
	Protocol int
	InFlight int
}

// InvalidConfigError lists the problems a plugin found with its config.
type InvalidConfigError struct {
	Plugin string
	Errors []pluginapi.ConfigError
}

func (e *InvalidConfigError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, ce := range e.Errors {
		if ce.Key == "" {
			parts[i] = ce.Message
		} else {
			parts[i] = "config." + ce.Key + ": " + ce.Message
		}
	}
	return fmt.Sprintf("plugin %q: invalid config: %s", e.Plugin, strings.Join(parts, "; "))
}

// Manager runs and supervises plugins. It is safe for concurrent use.
type Manager struct {
	host         HostServices
	log          *slog.Logger
	sup          Supervisor
	startTimeout time.Duration
	stopTimeout  time.Duration
	maxMsg       int
	hook         func(string, PluginHealth)

	mu        sync.RWMutex
	instances map[string]*instance
	// removed are plugins a Reconfigure took away: a call naming one is
	// ErrUnavailable (retry; the next evaluation uses the new rules), not
	// ErrUnknownPlugin (park), because the rules that chose it were valid
	// when the event was evaluated.
	removed map[string]bool
	closed  bool

	// reconf serializes Reconfigure calls.
	reconf sync.Mutex
}

// NewManager returns a Manager whose plugins reach host for callbacks
// (host may be nil: host calls then fail). logger receives the plugins'
// own log lines under plugin=<name>.
func NewManager(host HostServices, logger *slog.Logger, opts ...Option) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		host:         host,
		log:          logger,
		sup:          DefaultSupervisor,
		startTimeout: 20 * time.Second,
		stopTimeout:  5 * time.Second,
		maxMsg:       pluginapi.DefaultMaxMessageSize,
		instances:    map[string]*instance{},
	}
	for _, opt := range opts {
		opt(m)
	}
	return m
}

func normalize(s Spec) (Spec, error) {
	if s.Name == "" {
		return s, errors.New("plugin spec has no name")
	}
	if strings.TrimSpace(s.Command) == "" {
		return s, fmt.Errorf("plugin %q: no command", s.Name)
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Concurrency <= 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.Supervisor.MaxCrashes < 0 || s.Supervisor.CrashWindow < 0 || s.Supervisor.BackoffMin < 0 ||
		s.Supervisor.BackoffMax < 0 || s.Supervisor.HealthInterval < 0 || s.Supervisor.PingTimeout < 0 {
		return s, fmt.Errorf("plugin %q: supervisor: negative setting %+v", s.Name, s.Supervisor)
	}
	if s.SHA256 != "" {
		if _, err := parseSHA256(s.SHA256); err != nil {
			return s, fmt.Errorf("plugin %q: sha256: %w", s.Name, err)
		}
	}
	return s, nil
}

// Start launches each plugin, checks its config (Describe, ValidateConfig)
// and configures it, then supervises it. Plugins start in parallel. If any
// fails, the ones started by this call are stopped and the errors (one per
// plugin, naming it) are returned joined.
func (m *Manager) Start(ctx context.Context, specs []Spec) error {
	m.mu.RLock()
	closed := m.closed
	running := map[string]bool{}
	for _, s := range specs {
		if _, ok := m.instances[s.Name]; ok {
			running[s.Name] = true
		}
	}
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	norm, err := normalizeAll(specs, running, "is already started")
	if err != nil {
		return err
	}

	insts, err := m.startAll(ctx, norm)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		for _, inst := range insts {
			inst.shutdown(context.Background())
		}
		return ErrClosed
	}
	for _, inst := range insts {
		m.instances[inst.spec.Name] = inst
		inst.supervised.Store(true)
		go inst.supervise(inst.first, inst.supervising) //nolint:gosec // G118: the supervisor outlives the call that started it; Close stops it
	}
	return nil
}

// Inspect launches the plugin of spec, asks for its description and
// validates spec.Config, then stops it. The returned error is about the
// launch itself (not a plugin, checksum mismatch, ...); config problems
// come back as the slice.
func (m *Manager) Inspect(ctx context.Context, spec Spec) (pluginapi.RemoteInfo, []pluginapi.ConfigError, error) {
	s, err := normalize(spec)
	if err != nil {
		return pluginapi.RemoteInfo{}, nil, err
	}
	inst := m.newInstance(s)
	ctx, cancel := context.WithTimeout(ctx, m.startTimeout)
	defer cancel()
	p, err := inst.launch(ctx, launchInspect)
	if err != nil {
		return pluginapi.RemoteInfo{}, nil, err
	}
	defer inst.stopProc(p)
	ces, err := p.remote.ValidateConfig(ctx, s.Config)
	if err != nil {
		return p.info, nil, fmt.Errorf("plugin %q: validate config: %w", s.Name, err)
	}
	return p.info, ces, nil
}

// Describe launches the plugin of spec, asks for its description and
// stops it, without configuring it (for `gateway plugins describe`).
// protocol is the plugin protocol version the launch negotiated.
func (m *Manager) Describe(ctx context.Context, spec Spec) (info pluginapi.RemoteInfo, protocol int, err error) {
	s, err := normalize(spec)
	if err != nil {
		return pluginapi.RemoteInfo{}, 0, err
	}
	inst := m.newInstance(s)
	ctx, cancel := context.WithTimeout(ctx, m.startTimeout)
	defer cancel()
	p, err := inst.launch(ctx, launchInspect)
	if err != nil {
		return pluginapi.RemoteInfo{}, 0, err
	}
	defer inst.stopProc(p)
	return p.info, p.protocol, nil
}

// Validate launches the plugin of spec, validates spec.Config and stops
// the plugin (for `gateway validate`).
func (m *Manager) Validate(ctx context.Context, spec Spec) ([]pluginapi.ConfigError, error) {
	_, ces, err := m.Inspect(ctx, spec)
	return ces, err
}

func (m *Manager) get(name string) (*instance, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	inst, ok := m.instances[name]
	if !ok {
		if m.removed[name] {
			return nil, fmt.Errorf("plugin %q: %w: removed by a config reload", name, ErrUnavailable)
		}
		return nil, fmt.Errorf("plugin %q: %w", name, ErrUnknownPlugin)
	}
	return inst, nil
}

// HandleEvent sends ev to the named plugin and returns its actions. The
// trace context of ctx's span, if any, goes along in the gRPC metadata
// (pluginapi.Traceparent reads it in the plugin).
func (m *Manager) HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	ctx = withTraceparent(ctx)
	var actions []pluginapi.Action
	err := m.callNamed(ctx, plugin, func(*instance) error { return nil }, func(ctx context.Context, r pluginhost.Remote) error {
		var err error
		actions, err = r.HandleEvent(ctx, ev)
		return err
	})
	return actions, err
}

// callNamed runs f on the named plugin's current instance. An instance
// that a Reconfigure retired between the look-up and the call refuses it
// before anything is sent, so the call is made again on the instance that
// replaced it. check vets the instance before the call.
func (m *Manager) callNamed(ctx context.Context, plugin string, check func(*instance) error, f func(context.Context, pluginhost.Remote) error) error {
	for {
		inst, err := m.get(plugin)
		if err != nil {
			return err
		}
		if err := check(inst); err != nil {
			return err
		}
		err = inst.call(ctx, f)
		if !errors.Is(err, errRetired) {
			return err
		}
		// Each retry sees a newer instance (or none); Reconfigure swaps
		// the map before it retires, so this loop ends.
	}
}

// HandleInbound forwards an inbound HTTP request to the named plugin.
func (m *Manager) HandleInbound(ctx context.Context, plugin string, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	ctx = withTraceparent(ctx)
	var (
		resp    pluginapi.InboundResponse
		actions []pluginapi.Action
	)
	noInbound := func(inst *instance) error {
		if info, ok := inst.describe(); ok && !info.HandlesInbound {
			return fmt.Errorf("plugin %q: %w", plugin, ErrNoInbound)
		}
		return nil
	}
	err := m.callNamed(ctx, plugin, noInbound, func(ctx context.Context, r pluginhost.Remote) error {
		var err error
		resp, actions, err = r.HandleInbound(ctx, req)
		return err
	})
	return resp, actions, err
}

// Restart lifts the quarantine of the named plugin: it forgets the
// plugin's crashes, launches it afresh (SHA-256 pin, handshake, Configure,
// bounded by the start timeout) and supervises it again, and returns its
// health. It fails with ErrNotQuarantined when the plugin is not
// quarantined, and with the launch error when the new process does not
// start, leaving the plugin quarantined with that error as its last one.
// Events refused while it was quarantined were put back by the
// dispatcher and reach the new process on their next attempt.
func (m *Manager) Restart(ctx context.Context, plugin string) (PluginHealth, error) {
	inst, err := m.get(plugin)
	if err != nil {
		return PluginHealth{}, err
	}
	err = inst.liftQuarantine(ctx)
	return inst.health(), err
}

// Info returns what the named plugin's Describe reported at its last
// (re)start.
func (m *Manager) Info(plugin string) (pluginapi.RemoteInfo, bool) {
	inst, err := m.get(plugin)
	if err != nil {
		return pluginapi.RemoteInfo{}, false
	}
	return inst.describe()
}

// Names lists the started plugins, sorted.
func (m *Manager) Names() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.instances))
	for n := range m.instances {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Health reports every plugin's state.
func (m *Manager) Health() map[string]PluginHealth {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]PluginHealth, len(m.instances))
	for n, inst := range m.instances {
		out[n] = inst.health()
	}
	return out
}

// Close stops every plugin: each gets a Stop call (bounded by the stop
// timeout and ctx), then its process is ended. Calls after Close fail with
// ErrClosed.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	insts := make([]*instance, 0, len(m.instances))
	for _, inst := range m.instances {
		insts = append(insts, inst)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst.shutdown(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// withTraceparent adds the W3C trace context of ctx's span to the outgoing
// gRPC metadata, so a plugin can continue the trace. With tracing off the
// span context is invalid and ctx is returned as it is.
func withTraceparent(ctx context.Context) context.Context {
	tp := tracectx.Traceparent(ctx)
	if tp == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, pluginapi.TraceparentKey, tp)
}

// normalizeAll normalizes each spec and refuses a name listed twice or
// already in taken (the message says why: "is listed twice", "is already
// started"). All problems are returned joined, one per plugin.
func normalizeAll(specs []Spec, taken map[string]bool, takenMsg string) ([]Spec, error) {
	norm := make([]Spec, 0, len(specs))
	seen := map[string]bool{}
	var errs []error
	for _, s := range specs {
		ns, err := normalize(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case taken[ns.Name]:
			errs = append(errs, fmt.Errorf("plugin %q %s", ns.Name, takenMsg))
			continue
		case seen[ns.Name]:
			errs = append(errs, fmt.Errorf("plugin %q is listed twice", ns.Name))
			continue
		}
		seen[ns.Name] = true
		norm = append(norm, ns)
	}
	return norm, errors.Join(errs...)
}

// startAll starts an instance per spec in parallel. If any fails, the
// others are stopped again and the errors are returned joined.
func (m *Manager) startAll(ctx context.Context, specs []Spec) ([]*instance, error) {
	insts := make([]*instance, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		insts[i] = m.newInstance(s)
		wg.Go(func() { errs[i] = insts[i].start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for i, inst := range insts {
			if errs[i] == nil {
				inst.shutdown(context.Background())
			}
		}
		return nil, err
	}
	return insts, nil
}
