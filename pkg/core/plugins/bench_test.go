package plugins_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// benchEvent is a NewWorkOrder event with a realistically filled work
// order (the body carries it again, as CorrigoPro's notification does).
func benchEvent() pluginapi.Event {
	now := corrigo.NewTime(time.Now())
	wo := corrigo.WorkOrder{
		WorkOrderId: 4242, WorkOrderNumber: "WO-004242", Status: corrigo.StatusNew, Type: corrigo.TypeRequest,
		WorkType: &corrigo.WorkType{Name: "Repair"}, Created: now, LastUpdate: now,
		Customer: &corrigo.CustomerRef{}, BranchId: 17,
		Schedule:            &corrigo.Appointment{ScheduledStart: now, Pte: "Appointment"},
		AccompanyingMessage: "Leaking pipe under the sink in the second floor kitchen; water on the floor.",
		Nte:                 &corrigo.Nte{Amount: 500},
		Sla:                 &corrigo.Sla{DueDate: now, OnSiteBy: now, AcknowledgeBy: now, PriorityId: 2, PriorityName: "High"},
		Contact:             &corrigo.Contact{},
		ServiceLocation:     &corrigo.ServiceLocation{},
		Currency:            "USD",
	}
	return plugintest.NewWorkOrderEvent("acme", wo)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// cpuTimes returns the CPU time (user+system) used so far by this process
// and by the plugin process pid. Benchmarks report CPU per call beside
// latency: on a shared, loaded machine the latency includes waiting for a
// core, the CPU time does not.
func cpuTimes(b *testing.B, pid int) (self, plugin time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may contain spaces): state is
	// field 3, utime 14, stime 15, in clock ticks (USER_HZ, 100 on Linux).
	rest := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	st, _ := strconv.ParseInt(rest[12], 10, 64)
	plugin = time.Duration(ut+st) * 10 * time.Millisecond
	return self, plugin
}

func startBenchPlugin(b *testing.B, env ...string) *plugins.Manager {
	b.Helper()
	m := plugins.NewManager(nil, slog.New(slog.DiscardHandler))
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	err := m.Start(context.Background(), []plugins.Spec{{Name: "bench", Command: acceptBin(b), Concurrency: 64, Env: env,
		Config: map[string]any{"mode": "quiet"}}})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkPluginRoundTrip measures one HandleEvent (a NewWorkOrder event
// answered with an accept) through a real plugin subprocess: host-side
// encoding, gRPC over a Unix socket with mTLS, plugin-side decoding, the
// plugin's handler and the way back. Reported p50/p99 are per call.
func BenchmarkPluginRoundTrip(b *testing.B) {
	b.Run("plugin-procs=default", func(b *testing.B) { roundTrip(b) })
	// One P in the plugin process: the gRPC reader, the handler and the
	// writer then hand off on one thread, without cross-thread wake-ups.
	b.Run("plugin-procs=1", func(b *testing.B) { roundTrip(b, "GOMAXPROCS=1") })
}

func roundTrip(b *testing.B, env ...string) {
	m := startBenchPlugin(b, env...)
	ev := benchEvent()
	ctx := context.Background()
	for range 200 { // warm up connections and caches
		if _, err := m.HandleEvent(ctx, "bench", ev); err != nil {
			b.Fatal(err)
		}
	}
	pid := m.Health()["bench"].PID
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	hostCPU0, pluginCPU0 := cpuTimes(b, pid)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		actions, err := m.HandleEvent(ctx, "bench", ev)
		lat = append(lat, time.Since(t0))
		if err != nil || len(actions) != 1 {
			b.Fatal(err, actions)
		}
	}
	b.StopTimer()
	hostCPU1, pluginCPU1 := cpuTimes(b, pid)
	n := float64(len(lat))
	b.ReportMetric(float64((hostCPU1-hostCPU0).Microseconds())/n, "host-cpu-µs/op")
	b.ReportMetric(float64((pluginCPU1-pluginCPU0).Microseconds())/n, "plugin-cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkPluginRoundTripParallel is the same call from 8 goroutines at
// once (the dispatcher's situation), reporting calls/s.
func BenchmarkPluginRoundTripParallel(b *testing.B) {
	m := startBenchPlugin(b)
	ev := benchEvent()
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4) // × GOMAXPROCS goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if _, err := m.HandleEvent(ctx, "bench", ev); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkTransportFloor is the gRPC health check over the same kind of
// connection (go-plugin, AutoMTLS, Unix socket) to the same plugin binary:
// the cost of the transport alone, to compare BenchmarkPluginRoundTrip to.
// BenchmarkTransportFloor is a bare gRPC health check through go-plugin's
// connection to the accept plugin: the cost of the transport with no
// payload and no handler, with AutoMTLS (as the gateway runs plugins) and
// without (to show what TLS adds).
func BenchmarkTransportFloor(b *testing.B) {
	for _, tc := range []struct {
		name string
		mtls bool
	}{{"mtls", true}, {"plain", false}} {
		b.Run(tc.name, func(b *testing.B) { benchTransportFloor(b, tc.mtls) })
	}
}

func benchTransportFloor(b *testing.B, mtls bool) {
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  pluginhost.Handshake,
		VersionedPlugins: pluginhost.VersionedPlugins(0),
		Cmd:              exec.CommandContext(context.Background(), acceptBin(b)),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         mtls,
		Logger:           hclog.NewNullLogger(),
	})
	b.Cleanup(client.Kill)
	cp, err := client.Client()
	if err != nil {
		b.Fatal(err)
	}
	r, err := pluginhost.Dispense(cp)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := r.Ping(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// echoSocketEnv makes the test binary, started again by
// BenchmarkSocketFloor, echo on the Unix socket it names (see TestMain).
const echoSocketEnv = "WOGATE_BENCH_ECHO_SOCKET"

// BenchmarkSocketFloor is the operating system's floor under every plugin
// call: a 32-byte ping-pong over a Unix socket between this process and a
// child process (the test binary started again), with no gRPC, HTTP/2 or
// TLS. The difference to BenchmarkTransportFloor is what the gRPC stack
// costs on this machine.
func BenchmarkSocketFloor(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "echo.sock")
	ln, err := (&net.ListenConfig{}).Listen(b.Context(), "unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	cmd := exec.CommandContext(context.Background(), os.Args[0])
	cmd.Env = append(os.Environ(), echoSocketEnv+"="+sock)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close() }() // ends the child's echo loop
	msg, buf := make([]byte, 32), make([]byte, 64)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := conn.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf[:len(msg)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// runEcho is the child side of BenchmarkSocketFloor.
func runEcho(sock string) int {
	conn, err := (&net.Dialer{}).DialContext(context.Background(), "unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _ = io.Copy(conn, conn)
	return 0
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}
