package plugins

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"
)

// errRetired is returned by a retired instance's call before anything is
// sent; callNamed then calls the instance that replaced it.
var errRetired = errors.New("plugin instance retired by a reconfigure")

// Change is what Reconfigure did, each list sorted by plugin name.
type Change struct {
	// Started are plugins that were not running before.
	Started []string
	// Stopped are plugins no longer in the specs.
	Stopped []string
	// Replaced are plugins whose spec changed: a new process took over
	// and the old one was stopped after its calls finished.
	Replaced []string
	// Unchanged kept their process.
	Unchanged []string
}

// Reconfigure makes the running plugins match specs: plugins not running
// yet are started, plugins missing from specs are stopped, plugins whose
// spec differs (command, args, environment, config, timeout, concurrency,
// sha256, supervisor) are replaced, and the others keep running untouched.
//
// New processes are started and configured first, while the old set keeps
// serving. If any of them fails, the ones this call started are stopped,
// nothing else changes and the error (one per plugin, joined) is returned.
// Otherwise the new instances are swapped in at once; calls that already
// reached an old instance finish on it (bounded by its timeout), calls
// that had not yet go to its replacement, and only then is the old
// process stopped. A call naming a stopped plugin fails with
// ErrUnavailable, which callers retry.
//
// onSwap, if not nil, runs at the moment of the swap, while no call can
// look a plugin up; the gateway swaps its rules there so that events
// evaluated under the new rules reach the new plugins. It must be quick
// and must not call the Manager.
//
// Reconfigure returns after the old processes are stopped. Concurrent
// Reconfigure calls run one after the other.
func (m *Manager) Reconfigure(ctx context.Context, specs []Spec, onSwap func()) (Change, error) {
	m.reconf.Lock()
	defer m.reconf.Unlock()

	norm, err := normalizeAll(specs, nil, "")
	if err != nil {
		return Change{}, err
	}

	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return Change{}, ErrClosed
	}
	current := make(map[string]*instance, len(m.instances))
	for n, inst := range m.instances {
		current[n] = inst
	}
	m.mu.RUnlock()

	var ch Change
	var launch []Spec
	for _, s := range norm {
		old, ok := current[s.Name]
		switch {
		case !ok:
			ch.Started = append(ch.Started, s.Name)
			launch = append(launch, s)
		case sameSpec(old.spec, s):
			ch.Unchanged = append(ch.Unchanged, s.Name)
		default:
			ch.Replaced = append(ch.Replaced, s.Name)
			launch = append(launch, s)
		}
	}
	wanted := make(map[string]bool, len(norm))
	for _, s := range norm {
		wanted[s.Name] = true
	}
	for n := range current {
		if !wanted[n] {
			ch.Stopped = append(ch.Stopped, n)
		}
	}
	for _, l := range [][]string{ch.Started, ch.Stopped, ch.Replaced, ch.Unchanged} {
		sort.Strings(l)
	}

	insts, err := m.startAll(ctx, launch)
	if err != nil {
		return Change{}, err
	}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, inst := range insts {
			inst.shutdown(context.Background())
		}
		return Change{}, ErrClosed
	}
	var old []*instance
	for _, inst := range insts {
		if prev, ok := m.instances[inst.spec.Name]; ok {
			old = append(old, prev)
		}
		m.instances[inst.spec.Name] = inst
		delete(m.removed, inst.spec.Name)
		inst.supervised.Store(true)
		go inst.supervise(inst.first, inst.supervising) //nolint:gosec // G118: the supervisor outlives the call that started it; Close stops it
	}
	for _, n := range ch.Stopped {
		old = append(old, m.instances[n])
		delete(m.instances, n)
		if m.removed == nil {
			m.removed = map[string]bool{}
		}
		m.removed[n] = true
	}
	if onSwap != nil {
		onSwap()
	}
	m.mu.Unlock()

	var wg sync.WaitGroup
	for _, inst := range old {
		wg.Go(func() { inst.retire(ctx) })
	}
	wg.Wait()
	return ch, nil
}

// sameSpec reports whether a and b (both normalized) would run the same
// plugin the same way.
func sameSpec(a, b Spec) bool {
	return a.Command == b.Command && a.Dir == b.Dir && slices.Equal(a.Args, b.Args) && slices.Equal(a.Env, b.Env) &&
		a.Timeout == b.Timeout && a.Concurrency == b.Concurrency && a.SHA256 == b.SHA256 && a.Supervisor == b.Supervisor &&
		reflect.DeepEqual(normConfig(a.Config), normConfig(b.Config))
}

// normConfig treats a nil and an empty config alike (a plugin section
// without config: and one with config: {} configure the plugin the same).
func normConfig(c map[string]any) map[string]any {
	if len(c) == 0 {
		return nil
	}
	return c
}

// retire takes an instance out of service after the manager stopped
// routing to it: new calls are refused (and go to the replacement), calls
// in flight may finish within the plugin's timeout plus the stop timeout,
// then the process is stopped. A call still running after that fails
// with ErrUnavailable and its event is retried.
func (i *instance) retire(ctx context.Context) {
	i.mu.Lock()
	i.retired = true
	i.mu.Unlock()
	done := make(chan struct{})
	go func() {
		i.calls.Wait()
		close(done)
	}()
	t := time.NewTimer(i.spec.Timeout + i.m.stopTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		i.log.Warn("stopping the old plugin instance with calls still in flight; their events are retried",
			"in_flight", i.inflight.Load())
	case <-ctx.Done():
	}
	i.shutdown(context.WithoutCancel(ctx))
	i.log.Info("old plugin instance stopped")
}
