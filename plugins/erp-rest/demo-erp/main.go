// Command demo-erp serves the fake ERP the erp-rest tests use on a fixed
// address, so `make run` can show the erp-rest plugin creating jobs and
// accepting work orders without a real ERP. It is a demo, not a product:
// state lives in memory and is gone when it stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to serve the demo ERP on")
	token := flag.String("token", "dev-token", "bearer token the ERP demands")
	schedule := flag.Duration("schedule-after", 2*time.Hour, "schedule every new job this long after creation (0 = never)")
	requireSite := flag.Bool("require-site", false, "refuse (422) every job without a known site_id: shows what a mapping mistake does")
	flag.Parse()

	// Bind before announcing anything: `make run` and the tests wait for
	// the "listening" line, and a port held by something else must stop
	// them rather than send the ERP calls there.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo-erp: %v (pass -listen with a free address)\n", err)
		os.Exit(1)
	}
	erp := fakeerp.New(fakeerp.Options{
		Auth:          fakeerp.Auth{Type: "bearer", Token: *token},
		ScheduleAfter: *schedule,
		RequireSite:   *requireSite,
	})
	defer erp.Close()

	srv := &http.Server{Handler: erp, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "demo ERP listening on http://%s/api/v1 (bearer token %q)\n", ln.Addr(), *token)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "demo-erp:", err)
		os.Exit(1)
	}
}
