package plugins_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

// waitDead waits for a stopped plugin's process to be gone (go-plugin
// reaps it shortly after Kill returns).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReconfigureStartsStopsReplacesAndKeeps(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	bin := acceptBin(t)
	report := map[string]any{"report": true}
	if err := m.Start(ctx, []plugins.Spec{
		{Name: "keep", Command: bin, Config: report},
		{Name: "change", Command: bin, Config: report},
		{Name: "drop", Command: bin},
	}); err != nil {
		t.Fatal(err)
	}
	before := m.Health()

	swaps := 0
	ch, err := m.Reconfigure(ctx, []plugins.Spec{
		{Name: "keep", Command: bin, Config: map[string]any{"report": true}}, // equal, built anew
		{Name: "change", Command: bin, Config: map[string]any{"report": true, "comment": "v2"}},
		{Name: "add", Command: bin},
	}, func() { swaps++ })
	if err != nil || swaps != 1 {
		t.Fatalf("err = %v, onSwap ran %d times", err, swaps)
	}
	want := plugins.Change{Started: []string{"add"}, Stopped: []string{"drop"}, Replaced: []string{"change"}, Unchanged: []string{"keep"}}
	if !slices.Equal(ch.Started, want.Started) || !slices.Equal(ch.Stopped, want.Stopped) ||
		!slices.Equal(ch.Replaced, want.Replaced) || !slices.Equal(ch.Unchanged, want.Unchanged) {
		t.Fatalf("change = %+v, want %+v", ch, want)
	}
	after := m.Health()
	if after["keep"].PID != before["keep"].PID || !after["keep"].Since.Equal(before["keep"].Since) {
		t.Errorf("unchanged plugin was restarted: %+v → %+v", before["keep"], after["keep"])
	}
	if after["change"].PID == before["change"].PID || after["change"].State != plugins.StateRunning {
		t.Errorf("changed plugin not replaced: %+v → %+v", before["change"], after["change"])
	}
	waitDead(t, before["change"].PID)
	waitDead(t, before["drop"].PID)
	if !slices.Equal(m.Names(), []string{"add", "change", "keep"}) {
		t.Errorf("names = %v", m.Names())
	}

	acts, err := m.HandleEvent(ctx, "change", event(7))
	if err != nil {
		t.Fatal(err)
	}
	if r := reportOf(t, acts); r.PID != after["change"].PID {
		t.Errorf("call went to pid %d, want the new instance %d", r.PID, after["change"].PID)
	}
	if acts[0].Comment != "v2" {
		t.Errorf("new instance not configured with the new config: %+v", acts[0])
	}
	// A removed plugin is unavailable (the event is retried under the new
	// rules), not unknown (which would park it).
	_, err = m.HandleEvent(ctx, "drop", event(8))
	if !errors.Is(err, plugins.ErrUnavailable) || errors.Is(err, plugins.ErrUnknownPlugin) {
		t.Errorf("call to removed plugin: %v, want ErrUnavailable", err)
	}
	if _, err := m.HandleEvent(ctx, "add", event(9)); err != nil {
		t.Errorf("added plugin: %v", err)
	}
}

func TestReconfigureLetsInFlightCallFinishOnOldInstance(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	bin := acceptBin(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "p", Command: bin, Timeout: 10 * time.Second,
		Config: map[string]any{"report": true, "delay": "800ms"}}}); err != nil {
		t.Fatal(err)
	}
	oldPID := m.Health()["p"].PID
	type result struct {
		acts []pluginapi.Action
		err  error
	}
	res := make(chan result, 1)
	go func() {
		acts, err := m.HandleEvent(ctx, "p", event(1))
		res <- result{acts, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for m.Health()["p"].InFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("call never reached the plugin")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if _, err := m.Reconfigure(ctx, []plugins.Spec{{Name: "p", Command: bin, Timeout: 10 * time.Second,
		Config: map[string]any{"report": true}}}, nil); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("in-flight call failed across the replacement: %v", r.err)
	}
	if got := reportOf(t, r.acts).PID; got != oldPID {
		t.Fatalf("in-flight call answered by pid %d, want the old instance %d", got, oldPID)
	}
	// Reconfigure returned only after the old instance was drained and
	// stopped, which took the rest of the 800ms call.
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("Reconfigure returned after %s, before the in-flight call could finish", waited)
	}
	waitDead(t, oldPID)
	acts, err := m.HandleEvent(ctx, "p", event(2))
	if err != nil {
		t.Fatal(err)
	}
	if got := reportOf(t, acts).PID; got == oldPID || got != m.Health()["p"].PID {
		t.Fatalf("call after the swap went to pid %d (old %d, new %d)", got, oldPID, m.Health()["p"].PID)
	}
}

func TestReconfigureFailureChangesNothing(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	bin := acceptBin(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "a", Command: bin}, {Name: "b", Command: bin}}); err != nil {
		t.Fatal(err)
	}
	before := m.Health()
	_, err := m.Reconfigure(ctx, []plugins.Spec{
		{Name: "a", Command: bin, Config: map[string]any{"comment": "changed"}}, // would be replaced
		{Name: "new", Command: bin},                 // would be started
		{Name: "broken", Command: notAPluginBin(t)}, // fails
	}, nil)
	if !errors.Is(err, plugins.ErrNotAPlugin) {
		t.Fatalf("err = %v, want ErrNotAPlugin", err)
	}
	after := m.Health()
	if !slices.Equal(m.Names(), []string{"a", "b"}) {
		t.Fatalf("names after a failed reconfigure = %v", m.Names())
	}
	for _, n := range []string{"a", "b"} {
		if after[n].PID != before[n].PID || after[n].State != plugins.StateRunning {
			t.Errorf("%s: %+v → %+v", n, before[n], after[n])
		}
		if _, err := m.HandleEvent(ctx, n, event(1)); err != nil {
			t.Errorf("%s after failed reconfigure: %v", n, err)
		}
	}
	// An invalid plugin config is a failure too.
	_, err = m.Reconfigure(ctx, []plugins.Spec{{Name: "a", Command: bin, Config: map[string]any{"fail_rate": 2.0}}}, nil)
	var ice *plugins.InvalidConfigError
	if !errors.As(err, &ice) || m.Health()["a"].PID != before["a"].PID || len(m.Names()) != 2 {
		t.Fatalf("err = %v, health = %+v", err, m.Health())
	}
}

// TestReconfigureUnderLoadLosesNoCall: while callers keep a plugin busy,
// replacing it again and again never fails a call: each one is answered
// by the old instance (which drains before it stops) or by the new one.
func TestReconfigureUnderLoadLosesNoCall(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	bin := acceptBin(t)
	spec := func(gen int) []plugins.Spec {
		return []plugins.Spec{{Name: "p", Command: bin, Concurrency: 4,
			Config: map[string]any{"report": true, "delay": "5ms", "comment": fmt.Sprintf("gen %d", gen)}}}
	}
	if err := m.Start(ctx, spec(0)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var calls int
	var errs []error
	pids := map[int]bool{}
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				acts, err := m.HandleEvent(ctx, "p", event(1))
				mu.Lock()
				calls++
				if err != nil {
					errs = append(errs, err)
				} else {
					pids[reportOf(t, acts).PID] = true
				}
				mu.Unlock()
			}
		})
	}
	for gen := 1; gen <= 4; gen++ {
		time.Sleep(100 * time.Millisecond)
		ch, err := m.Reconfigure(ctx, spec(gen), nil)
		if err != nil || !slices.Equal(ch.Replaced, []string{"p"}) {
			t.Fatalf("generation %d: %+v, %v", gen, ch, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed across replacements; first: %v", len(errs), calls, errs[0])
	}
	if len(pids) != 5 {
		t.Fatalf("calls were answered by %d processes, want all 5 generations", len(pids))
	}
	t.Logf("%d calls, none failed, answered by 5 generations of the plugin", calls)
}
