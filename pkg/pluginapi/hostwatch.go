package pluginapi

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// A plugin must not outlive the gateway that started it: a gateway killed
// with SIGKILL or by the OOM killer cannot stop its plugins, and an orphan
// keeps files open, holds ports and may act on stale work. The gateway
// asks Linux for a parent-death signal, but the SDK does not rely on it
// (other hosts, other systems, a wrapper script between gateway and
// plugin). hostWatch notices on its own, from two signs, either enough:
//
//   - The parent changed. A process whose parent dies is re-parented (to
//     init or the nearest subreaper), so os.Getppid stops returning the
//     pid it returned at start. Polled; meaningful on Unix. (Windows keeps
//     reporting the original parent, so the sign never fires there.)
//   - The gateway's connection closed. The gateway dials the plugin's gRPC
//     server once and keeps the connection for the plugin's whole life;
//     the kernel closes it when the gateway dies, on any system. Counted
//     with a gRPC stats handler; after the last connection ends the watch
//     waits a moment for a new one before calling the host gone.
//
// What go-plugin itself offers is not enough: its Serve only ends when the
// gateway asks, stdin is the gateway's own stdin (often /dev/null, which
// reads EOF at once, so EOF says nothing), and stdout/stderr only fail on
// a write.
type hostWatch struct {
	ppid  int
	every time.Duration
	grace time.Duration // how long no connection may last before the host counts as gone

	conns    atomic.Int64
	everConn atomic.Bool
	lostAt   atomic.Int64 // unix nanos when the connection count last fell to 0

	once sync.Once
	gone chan struct{}
	why  string
}

func newHostWatch() *hostWatch {
	return &hostWatch{ppid: os.Getppid(), every: 250 * time.Millisecond, grace: 2 * time.Second, gone: make(chan struct{})}
}

// Gone is closed once the host is gone.
func (w *hostWatch) Gone() <-chan struct{} { return w.gone }

func (w *hostWatch) markGone(why string) {
	w.once.Do(func() {
		w.why = why
		close(w.gone)
	})
}

// check looks for either sign once.
func (w *hostWatch) check(now time.Time) {
	if p := os.Getppid(); p != w.ppid {
		w.markGone("the gateway process is gone (the plugin's parent changed)")
		return
	}
	if w.everConn.Load() && w.conns.Load() == 0 {
		if lost := w.lostAt.Load(); lost != 0 && now.Sub(time.Unix(0, lost)) >= w.grace {
			w.markGone("the gateway's connection closed")
		}
	}
}

// run polls until the host is gone or ctx ends.
func (w *hostWatch) run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.gone:
			return
		case now := <-t.C:
			w.check(now)
		}
	}
}

// serverOption counts the gRPC server's connections.
func (w *hostWatch) serverOption() grpc.ServerOption { return grpc.StatsHandler(connCounter{w}) }

type connCounter struct{ w *hostWatch }

func (c connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c connCounter) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.w.everConn.Store(true)
		c.w.conns.Add(1)
	case *stats.ConnEnd:
		if c.w.conns.Add(-1) == 0 {
			c.w.lostAt.Store(time.Now().UnixNano())
		}
	}
}

// termSignals delivers SIGTERM (and SIGINT, which go-plugin already
// swallows) to the plugin instead of ending it.
//
// A plugin leaves its shutdown to the gateway while the gateway is alive:
// systemd's default stop (KillMode=control-group) and Ctrl-C in a terminal
// signal the whole process group at once, gateway and plugins together. A
// plugin that exited at once would fail the gateway's in-flight calls and
// its orderly Stop (logged as "plugin stop failed … EOF"). The gateway
// drains its work, then stops every plugin itself; the signal only ends a
// plugin whose host is already gone. (The process still dies on SIGKILL,
// systemd's last resort after TimeoutStopSec.)
func termSignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	return ch, func() { signal.Stop(ch) }
}
