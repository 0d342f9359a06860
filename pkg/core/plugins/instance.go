package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wogate/wogate/internal/backoff"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// proc is one running plugin process.
type proc struct {
	client   *plugin.Client
	remote   pluginhost.Remote
	info     pluginapi.RemoteInfo
	pid      int
	protocol int
	stderr   *stderrLog
	release  func() // frees the thread that launched the process (procattr_linux.go)

	deadOnce sync.Once
	dead     chan struct{} // closed when a call found the process gone
	deadErr  error
}

func (p *proc) markDead(err error) {
	p.deadOnce.Do(func() {
		p.deadErr = err
		close(p.dead)
	})
}

// instance is one configured plugin and its supervisor.
type instance struct {
	m    *Manager
	spec Spec
	sup  Supervisor // spec.Supervisor over the manager's
	log  *slog.Logger
	host pluginapi.Host
	sem  chan struct{}

	inflight atomic.Int64
	// calls counts the calls that took a process of this instance, from
	// before they wait for a concurrency slot until they return, so a
	// reload can let them finish before stopping the instance. Add only
	// happens under mu while retired is false, so Wait (after retire)
	// never races with an Add from zero.
	calls sync.WaitGroup

	mu          sync.Mutex
	retired     bool  // replaced or removed by Reconfigure: take no new calls
	cur         *proc // nil unless running
	info        pluginapi.RemoteInfo
	haveInfo    bool
	state       State
	since       time.Time
	restarts    int
	crashes     []time.Time
	lastErr     string
	lastErrAt   time.Time
	lastPID     int
	lastProto   int
	first       *proc // the process start launched; supervision begins with it
	supervised  atomic.Bool
	stopOnce    sync.Once
	stop        chan struct{}
	supervising chan struct{} // closed when supervise returns
}

func (m *Manager) newInstance(s Spec) *instance {
	log := m.log.With("plugin", s.Name)
	i := &instance{
		m:           m,
		spec:        s,
		sup:         s.Supervisor.over(m.sup),
		log:         log,
		sem:         make(chan struct{}, s.Concurrency),
		state:       StateStarting,
		since:       time.Now(),
		stop:        make(chan struct{}),
		supervising: make(chan struct{}),
	}
	i.host = &boundHost{svc: m.host, plugin: s.Name, log: log}
	return i
}

type launchMode int

const (
	launchStart   launchMode = iota // first start: validate, then configure
	launchRestart                   // restart: configure (which validates too)
	launchInspect                   // describe only
)

// launch starts a process, completes the handshake, describes the plugin
// and (unless inspecting) configures it.
func (i *instance) launch(ctx context.Context, mode launchMode) (*proc, error) {
	name := i.spec.Name
	cmd := exec.Command(i.spec.Command, i.spec.Args...) //nolint:noctx // the plugin outlives ctx; its supervisor stops it
	if cmd.Err != nil {
		return nil, fmt.Errorf("plugin %q: command %q: %w", name, i.spec.Command, cmd.Err)
	}
	// Only the allowlisted part of the gateway's environment, then
	// Spec.Env (env.go); SkipHostEnv keeps go-plugin from appending the
	// whole of it again.
	cmd.Env = pluginEnv(hostEnv(), i.spec.Env)
	cmd.Dir = i.spec.Dir
	dieWithHost(cmd)
	var secure *plugin.SecureConfig
	if i.spec.SHA256 != "" {
		want, _ := parseSHA256(i.spec.SHA256) // checked by normalize
		got, err := fileSHA256(cmd.Path)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: hash %s: %w", name, cmd.Path, err)
		}
		if !strings.EqualFold(hex.EncodeToString(got), hex.EncodeToString(want)) {
			return nil, fmt.Errorf("plugin %q: %w: %s has sha256 %x, config pins %x; refusing to start it",
				name, ErrChecksumMismatch, cmd.Path, got, want)
		}
		// go-plugin checks again right before exec, narrowing the window
		// in which the file could be swapped.
		secure = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}
	stderr := newStderrLog(i.log)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginhost.Handshake,
		VersionedPlugins: pluginhost.VersionedPlugins(i.m.maxMsg),
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     i.m.startTimeout,
		Logger:           quietHCLog,
		Stderr:           stderr,
		SyncStdout:       streamLog(i.log, "stdout", slog.LevelInfo),
		SyncStderr:       streamLog(i.log, "stderr", slog.LevelWarn),
		GRPCDialOptions:  pluginhost.GRPCDialOptions(i.m.maxMsg),
	})
	// Client forks the process; on Linux that must happen on a thread that
	// lives as long as the process (see onLaunchThread).
	var cp plugin.ClientProtocol
	var err error
	release := onLaunchThread(func() { cp, err = client.Client() })
	fail := func(err error) (*proc, error) {
		client.Kill()
		release()
		return nil, err
	}
	if err != nil {
		return fail(i.startError(cmd.Path, err, stderr.Tail()))
	}
	r, err := pluginhost.Dispense(cp)
	if err != nil {
		return fail(fmt.Errorf("plugin %q: %w", name, err))
	}
	p := &proc{client: client, remote: r, stderr: stderr, release: release, dead: make(chan struct{}), protocol: client.NegotiatedVersion()}
	p.pid, _ = strconv.Atoi(client.ID())
	p.info, err = r.Describe(ctx)
	if err != nil {
		return fail(fmt.Errorf("plugin %q: describe: %w", name, err))
	}
	if mode == launchInspect {
		return p, nil
	}
	if mode == launchStart {
		ces, err := r.ValidateConfig(ctx, i.spec.Config)
		if err != nil {
			return fail(fmt.Errorf("plugin %q: validate config: %w", name, i.callError(err, stderr.Tail())))
		}
		if len(ces) > 0 {
			return fail(&InvalidConfigError{Plugin: name, Errors: ces})
		}
	}
	if err := r.Configure(ctx, name, i.spec.Config, i.host); err != nil {
		var ces pluginapi.ConfigErrors
		if errors.As(err, &ces) {
			return fail(&InvalidConfigError{Plugin: name, Errors: ces})
		}
		return fail(fmt.Errorf("plugin %q: configure: %w", name, i.callError(err, stderr.Tail())))
	}
	return p, nil
}

// callError adds the plugin's last stderr lines to a transport error seen
// during start (typically: it crashed).
func (i *instance) callError(err error, tail []string) error {
	if status.Code(err) == codes.Unavailable && len(tail) > 0 {
		return fmt.Errorf("%w (plugin stderr: %s)", err, strings.Join(tail, " | "))
	}
	return err
}

// startError turns go-plugin's start failures into errors that say what
// is wrong with the binary.
func (i *instance) startError(path string, err error, tail []string) error {
	name := i.spec.Name
	msg := err.Error()
	stderrNote := ""
	if len(tail) > 0 {
		stderrNote = "; its stderr: " + strings.Join(tail, " | ")
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("plugin %q: %w: %s changed just before start; refusing to start it", name, ErrChecksumMismatch, path)
	case strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("plugin %q: %s exited before completing the plugin handshake without printing anything (%w, or it crashed at start)%s",
			name, path, ErrNotAPlugin, stderrNote)
	case strings.Contains(msg, "Unrecognized remote plugin message"),
		strings.Contains(msg, "unsupported plugin protocol"),
		strings.Contains(strings.ToLower(msg), "incompatible core api version"):
		first := strings.TrimPrefix(strings.SplitN(msg, "\n", 2)[0], "Unrecognized remote plugin message: ")
		return fmt.Errorf("plugin %q: %s is %w: it did not answer the handshake (first line on its stdout: %q); wogate plugins call pluginapi.Serve%s",
			name, path, ErrNotAPlugin, first, stderrNote)
	case strings.Contains(strings.ToLower(msg), "incompatible api version"):
		return fmt.Errorf("plugin %q: %s: %w: this gateway speaks plugin protocol %v; %s", name, path, ErrIncompatible,
			pluginapi.ProtocolVersion, strings.SplitN(msg, "\n", 2)[0])
	case strings.Contains(msg, "exited before we could connect"):
		return fmt.Errorf("plugin %q: %s exited before completing the plugin handshake (%w, or it crashed at start)%s",
			name, path, ErrNotAPlugin, stderrNote)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("plugin %q: %s did not complete the plugin handshake within %s (%w?)%s",
			name, path, i.m.startTimeout, ErrNotAPlugin, stderrNote)
	}
	return fmt.Errorf("plugin %q: start %s: %w%s", name, path, err, stderrNote)
}

// start is the first launch, bounded by the start timeout.
func (i *instance) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, i.m.startTimeout)
	defer cancel()
	p, err := i.launch(ctx, launchStart)
	if err != nil {
		i.setError(err)
		return err
	}
	if !i.setRunning(p, false) {
		i.stopProc(p)
		return ErrClosed
	}
	i.first = p
	i.log.Info("plugin started", "pid", p.pid, "version", p.info.Version, "protocol", p.protocol)
	return nil
}

// setRunning puts p in service; false means the instance is being shut
// down and the caller must stop p.
func (i *instance) setRunning(p *proc, restarted bool) bool {
	i.mu.Lock()
	select {
	case <-i.stop:
		i.mu.Unlock()
		return false
	default:
	}
	i.cur = p
	i.info, i.haveInfo = p.info, true
	i.lastPID, i.lastProto = p.pid, p.protocol
	if restarted {
		i.restarts++
	}
	i.setStateLocked(StateRunning)
	h := i.healthLocked()
	i.mu.Unlock()
	i.notify(h)
	return true
}

func (i *instance) setStateLocked(s State) {
	if i.state != s {
		i.state, i.since = s, time.Now()
	}
}

func (i *instance) setError(err error) {
	i.mu.Lock()
	i.lastErr, i.lastErrAt = err.Error(), time.Now()
	i.mu.Unlock()
}

func (i *instance) notify(h PluginHealth) {
	if i.m.hook != nil {
		i.m.hook(i.spec.Name, h)
	}
}

func (i *instance) describe() (pluginapi.RemoteInfo, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.info, i.haveInfo
}

func (i *instance) health() PluginHealth {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.healthLocked()
}

func (i *instance) healthLocked() PluginHealth {
	h := PluginHealth{
		Name: i.spec.Name, State: i.state, Since: i.since, Restarts: i.restarts,
		RecentCrashes: len(i.recentCrashesLocked(time.Now())),
		LastError:     i.lastErr, LastErrorAt: i.lastErrAt,
		Version: i.info.Version, Protocol: i.lastProto, InFlight: int(i.inflight.Load()),
	}
	if i.cur != nil {
		h.PID = i.cur.pid
	}
	return h
}

func (i *instance) recentCrashesLocked(now time.Time) []time.Time {
	cut := now.Add(-i.sup.CrashWindow)
	k := 0
	for _, t := range i.crashes {
		if t.After(cut) {
			i.crashes[k] = t
			k++
		}
	}
	i.crashes = i.crashes[:k]
	return i.crashes
}

// unavailable builds the error for a call that found no running process.
func (i *instance) unavailableLocked() error {
	switch i.state {
	case StateQuarantined:
		return fmt.Errorf("plugin %q: %w: %w (last error: %s)", i.spec.Name, ErrUnavailable, ErrQuarantined, i.lastErr)
	case StateStopped:
		return fmt.Errorf("plugin %q: %w: stopped", i.spec.Name, ErrUnavailable)
	}
	return fmt.Errorf("plugin %q: %w: %s", i.spec.Name, ErrUnavailable, i.state)
}

// call runs f against the running process with the concurrency limit and
// the per-call timeout, and classifies its error.
func (i *instance) call(ctx context.Context, f func(context.Context, pluginhost.Remote) error) error {
	i.mu.Lock()
	if i.retired {
		i.mu.Unlock()
		return errRetired
	}
	p := i.cur
	if p == nil {
		err := i.unavailableLocked()
		i.mu.Unlock()
		return err
	}
	i.calls.Add(1)
	i.mu.Unlock()
	defer i.calls.Done()

	select {
	case i.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("plugin %q: waiting for a free slot: %w", i.spec.Name, ctx.Err())
	}
	defer func() { <-i.sem }()
	i.inflight.Add(1)
	defer i.inflight.Add(-1)

	cctx, cancel := context.WithTimeout(ctx, i.spec.Timeout)
	defer cancel()
	err := f(cctx, p.remote)
	if err == nil {
		return nil
	}
	// The caller's context first, then our deadline: a plugin that
	// notices the propagated deadline may answer with its own error just
	// before the client gives up, and that is still a timeout.
	if ctx.Err() != nil {
		return fmt.Errorf("plugin %q: %w", i.spec.Name, ctx.Err())
	}
	code := status.Code(err)
	if cctx.Err() == context.DeadlineExceeded || code == codes.DeadlineExceeded {
		return fmt.Errorf("plugin %q: %w after %s", i.spec.Name, ErrTimeout, i.spec.Timeout)
	}
	var pe *pluginapi.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("plugin %q: %w", i.spec.Name, err)
	}
	select {
	case <-p.remote.Done():
		code = codes.Unavailable
	default:
	}
	if code == codes.Unavailable || code == codes.Canceled {
		i.lost(p, err)
		return fmt.Errorf("plugin %q: %w: %w", i.spec.Name, ErrUnavailable, err)
	}
	if code == codes.Unimplemented {
		return fmt.Errorf("plugin %q: %w", i.spec.Name, ErrNoInbound)
	}
	return fmt.Errorf("plugin %q: %w", i.spec.Name, err)
}

// lost takes a process out of service after a call found it gone; the
// supervisor restarts it.
func (i *instance) lost(p *proc, err error) {
	i.mu.Lock()
	if i.cur == p {
		i.cur = nil
		i.setStateLocked(StateRestarting)
	}
	i.mu.Unlock()
	p.markDead(err)
}

// supervise watches p, the running process, and restarts it when it
// dies; it follows each replacement until the plugin is quarantined or
// the instance shuts down.
func (i *instance) supervise(p *proc, done chan struct{}) {
	defer close(done)
	sup := i.sup
	tick := time.NewTicker(sup.HealthInterval)
	defer tick.Stop()
	for p != nil {
		var reason string
	watch:
		for {
			select {
			case <-i.stop:
				return
			case <-p.remote.Done():
				reason = "plugin process exited"
				break watch
			case <-p.dead:
				reason = fmt.Sprintf("plugin connection lost: %v", p.deadErr)
				break watch
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), sup.PingTimeout)
				err := p.remote.Ping(ctx)
				cancel()
				if err != nil {
					select {
					case <-i.stop:
						return
					default:
					}
					reason = fmt.Sprintf("health check failed: %v", err)
					break watch
				}
			}
		}
		if tail := p.stderr.Tail(); len(tail) > 0 {
			reason += " (stderr: " + tail[len(tail)-1] + ")"
		}
		p = i.recover(p, reason)
	}
}

// recover handles one crash: it takes the process out of service, then
// restarts with backoff until a launch succeeds (returning the new
// process), the plugin is quarantined or the instance stops (nil).
func (i *instance) recover(p *proc, reason string) *proc {
	i.mu.Lock()
	if i.cur == p {
		i.cur = nil
	}
	i.setStateLocked(StateRestarting)
	i.mu.Unlock()
	go p.kill()
	i.log.Error("plugin crashed", "pid", p.pid, "reason", reason)

	for {
		now := time.Now()
		i.mu.Lock()
		i.crashes = append(i.crashes, now)
		n := len(i.recentCrashesLocked(now))
		i.lastErr, i.lastErrAt = reason, now
		if n >= i.sup.MaxCrashes {
			i.setStateLocked(StateQuarantined)
			h := i.healthLocked()
			i.mu.Unlock()
			i.notify(h)
			i.log.Error("plugin quarantined: it crashed too often; fix it, then lift the quarantine (POST /api/v1/plugins/"+i.spec.Name+"/restart, gateway plugins restart) or restart the gateway",
				"crashes", n, "max_crashes", i.sup.MaxCrashes, "window", i.sup.CrashWindow, "last_error", reason)
			return nil
		}
		h := i.healthLocked()
		i.mu.Unlock()
		i.notify(h)

		wait := backoff.Exponential(i.sup.BackoffMin, i.sup.BackoffMax, n)
		i.log.Warn("restarting plugin", "in", wait, "crashes", n)
		select {
		case <-i.stop:
			return nil
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(context.Background(), i.m.startTimeout)
		np, err := i.launch(ctx, launchRestart)
		cancel()
		if err != nil {
			reason = "restart failed: " + err.Error()
			i.log.Error("plugin restart failed", "error", err)
			continue
		}
		if !i.setRunning(np, true) {
			i.stopProc(np)
			return nil
		}
		i.log.Info("plugin restarted", "pid", np.pid)
		return np
	}
}

// liftQuarantine starts a quarantined plugin afresh (Manager.Restart).
func (i *instance) liftQuarantine(ctx context.Context) error {
	i.mu.Lock()
	if i.retired {
		i.mu.Unlock()
		return fmt.Errorf("plugin %q: %w (a reload is replacing it)", i.spec.Name, ErrNotQuarantined)
	}
	if i.state != StateQuarantined {
		st := i.state
		i.mu.Unlock()
		return fmt.Errorf("plugin %q: %w (it is %s)", i.spec.Name, ErrNotQuarantined, st)
	}
	select {
	case <-i.stop:
		i.mu.Unlock()
		return ErrClosed
	default:
	}
	// Starting, not Quarantined, while the launch runs: a second Restart
	// gets ErrNotQuarantined instead of launching another process.
	i.setStateLocked(StateStarting)
	h := i.healthLocked()
	i.mu.Unlock()
	i.notify(h)
	i.log.Warn("lifting quarantine: starting the plugin afresh")

	ctx, cancel := context.WithTimeout(ctx, i.m.startTimeout)
	defer cancel()
	p, err := i.launch(ctx, launchRestart)
	if err != nil {
		i.mu.Lock()
		i.lastErr, i.lastErrAt = "restart after quarantine failed: "+err.Error(), time.Now()
		i.setStateLocked(StateQuarantined)
		h := i.healthLocked()
		i.mu.Unlock()
		i.notify(h)
		i.log.Error("plugin stays quarantined: restart failed", "error", err)
		return err
	}
	i.mu.Lock()
	select {
	case <-i.stop:
		i.mu.Unlock()
		i.stopProc(p)
		return ErrClosed
	default:
	}
	i.crashes = nil
	i.cur = p
	i.info, i.haveInfo = p.info, true
	i.lastPID, i.lastProto = p.pid, p.protocol
	i.restarts++
	i.setStateLocked(StateRunning)
	// The supervisor that quarantined the plugin has returned (or is
	// returning); a new one follows the new process, and shutdown waits
	// for it.
	done := make(chan struct{})
	i.supervising = done
	h = i.healthLocked()
	i.mu.Unlock()
	i.notify(h)
	i.log.Info("plugin restarted after quarantine", "pid", p.pid)
	go i.supervise(p, done) //nolint:gosec // G118: the supervisor outlives the call that started it; Close stops it
	return nil
}

// shutdown stops supervision and the process. It waits (bounded by ctx)
// for a restart in progress to notice, so no process outlives it.
func (i *instance) shutdown(ctx context.Context) {
	i.stopOnce.Do(func() { close(i.stop) })
	if i.supervised.Load() {
		i.mu.Lock()
		done := i.supervising
		i.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	i.mu.Lock()
	p := i.cur
	i.cur = nil
	i.setStateLocked(StateStopped)
	h := i.healthLocked()
	i.mu.Unlock()
	i.notify(h)
	if p != nil {
		i.stopRunning(ctx, p)
	}
}

// stopRunning asks p to stop and ends its process. A process that is
// already gone, or goes while it is asked, has stopped: that is what a
// signal to the whole process group does (systemd's default, Ctrl-C in a
// terminal) to a plugin that does not leave its shutdown to the gateway,
// and it is no failure.
func (i *instance) stopRunning(ctx context.Context, p *proc) {
	defer i.stopProc(p)
	select {
	case <-p.remote.Done():
		i.log.Info("plugin had already exited", "pid", p.pid)
		return
	default:
	}
	sctx, cancel := context.WithTimeout(ctx, i.m.stopTimeout)
	defer cancel()
	err := p.remote.Stop(sctx)
	if err == nil {
		return
	}
	if status.Code(err) == codes.Unavailable || status.Code(err) == codes.Canceled {
		// The connection broke: the process is exiting. Give go-plugin a
		// moment to see it go before calling it a failure.
		select {
		case <-p.remote.Done():
			i.log.Info("plugin exited while being stopped", "pid", p.pid)
			return
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
	i.log.Warn("plugin stop failed", "error", err)
}

// stopProc ends a process (go-plugin asks it to exit, then kills it).
func (i *instance) stopProc(p *proc) { p.kill() }

// kill ends the process and waits for it (go-plugin's Kill returns once it
// has exited), then frees its launch thread.
func (p *proc) kill() {
	p.client.Kill()
	p.release()
}

func parseSHA256(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(strings.ToLower(s)), "sha256:")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("want 64 hex digits, got %q", s)
	}
	return b, nil
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: a path the gateway's config names
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
