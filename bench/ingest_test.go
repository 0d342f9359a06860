// Package bench holds wogate's performance benchmarks that span packages:
// webhook ingest over real loopback HTTP against a bare net/http handler,
// and the end-to-end pipeline from a sandbox webhook to the action the
// sandbox records. Results and commands are in docs/performance.md.
//
// Benchmarks report throughput (req/s or events/s) and latency percentiles
// with b.ReportMetric; they are never timed tests.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/ingest"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo"
)

// signer mints the webhook token and the verifier that checks it.
type signer struct {
	token    string
	verifier *corrigo.Verifier
}

func newSigner(tb testing.TB) signer {
	tb.Helper()
	key, certPEM, err := corrigo.GenerateCertificate("bench", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := corrigo.NewVerifier(certPEM, corrigo.VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return signer{token: tok, verifier: v}
}

// tokenCache is the gateway's verified-token cache, rebuilt here because it
// is internal to pkg/core/gateway: a token that verified is trusted until
// its expiry, so the RSA check runs once per token, not per request.
type tokenCache struct {
	v  *corrigo.Verifier
	mu sync.RWMutex
	ok map[string]time.Time
}

func (c *tokenCache) Check(tok string) (string, error) {
	c.mu.RLock()
	until, hit := c.ok[tok]
	c.mu.RUnlock()
	if hit && time.Now().Before(until) {
		return "", nil
	}
	res, err := c.v.VerifyToken(tok)
	if err != nil {
		return string(corrigo.ReasonOf(err)), err
	}
	c.mu.Lock()
	c.ok[tok] = res.Expires
	c.mu.Unlock()
	return "", nil
}

// notificationBody returns a realistic NewWorkOrder body (about 1.5 KB)
// with a unique MessageId.
func notificationBody(tb testing.TB, seq int64) []byte {
	wo := corrigo.WorkOrder{
		WorkOrderId: seq, WorkOrderNumber: "WO-" + strconv.FormatInt(seq, 10), Status: corrigo.StatusNew,
		Type: corrigo.TypeRequest, Created: corrigo.NewTime(time.Now()), BranchId: 492042,
		Customer:            &corrigo.CustomerRef{ID: 101, Name: "Northwind Retail"},
		AccompanyingMessage: "Walk-in freezer not holding temperature; product at risk. Please call store manager on arrival.",
		Nte:                 &corrigo.Nte{Amount: 1500},
		Sla: &corrigo.Sla{DueDate: corrigo.NewTime(time.Now().Add(48 * time.Hour)), OnSiteBy: corrigo.NewTime(time.Now().Add(4 * time.Hour)),
			AcknowledgeBy: corrigo.NewTime(time.Now().Add(time.Hour)), PriorityName: "HIGH"},
		Contact:         &corrigo.Contact{FullName: "Dana Store", Phones: []string{"+12025550141"}, Emails: []string{"dana@example.com"}},
		ServiceLocation: &corrigo.ServiceLocation{SpaceId: 77, SpaceName: "Store 1042", Address: &corrigo.Address{Street1: "1 Main St", City: "Springfield", State: "IL", Zip: "62701", Country: "US"}},
		WorkDetails:     &corrigo.WorkDetails{Assets: []corrigo.Asset{{Id: 5, Path: "Store 1042 > Kitchen", AssetName: "Walk-in freezer", Task: "Repair"}}},
		Currency:        "USD",
	}
	b, err := corrigo.NewNotification(corrigo.Header{
		WorkOrderId: seq, BranchId: 492042, Sender: &corrigo.Sender{Name: "Northwind", Type: "Customer"},
		ActionDate: corrigo.NewTime(time.Now()), ApiVersion: "1.1", MessageId: fmt.Sprintf("%08x-bench-%d", seq, time.Now().UnixNano()),
	}, corrigo.NewWorkOrderPayload{Details: wo})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func openSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// bareHandler is the baseline: a plain net/http handler that verifies the
// token with the given check, decodes the notification and, when st is set,
// stores it — nothing else (no size bound, no logging, no counters).
func bareHandler(check func(string) (string, error), st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if len(auth) < 8 {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if _, err := check(auth[7:]); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := corrigo.DecodeNotification(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if st != nil {
			if _, err := st.InsertEvent(r.Context(), &store.Event{Account: "main", MessageID: n.Header.MessageId,
				WorkOrderID: n.Header.WorkOrderId, Action: string(n.Header.Action), Source: "webhook", Body: n.Raw}); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	})
}

// gatewayHandler is the real webhook endpoint on SQLite.
func gatewayHandler(tb testing.TB, check func(string) (string, error), st store.Store) http.Handler {
	h, err := ingest.NewWebhook(ingest.WebhookOptions{Account: "main", Verify: check, Store: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stats: &ingest.Stats{}})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// postAll fires b.N webhooks at url from `clients` goroutines over pooled
// keep-alive connections and reports req/s and latency percentiles.
func postAll(b *testing.B, url, token string, clients int) {
	b.Helper()
	tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = notificationBody(b, int64(i+1))
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				req, _ := http.NewRequestWithContext(b.Context(), "POST", url, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json; charset=utf-8")
				req.Header.Set("Event-Type", "NewWorkOrder")
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, b.N)
	}
	reportLatency(b, lat, elapsed, "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
}

// cpuTime is the CPU time (user + system) this process has used. Per
// request it is a cost that contention on a shared machine inflates far
// less than wall-clock throughput; it includes the load generator, which is
// the same for every variant.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportLatency adds throughput and p50/p99 (µs) to the benchmark output.
func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration, unit string) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit)
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op") // wall time per op is meaningless with concurrent clients
}

// BenchmarkIngest compares the gateway's webhook endpoint (verify with the
// token cache, bound, decode, group-committed SQLite insert, 2xx) with bare
// handlers over the same loopback HTTP, 32 concurrent senders.
//
//	go test ./bench -run '^$' -bench Ingest -benchtime 20000x
func BenchmarkIngest(b *testing.B) {
	const clients = 32
	sg := newSigner(b)
	cases := []struct {
		name string
		h    func(b *testing.B) http.Handler
	}{
		{"bare/verify+decode", func(b *testing.B) http.Handler { return bareHandler(sg.verifier.Check, nil) }},
		{"bare/cachedverify+decode", func(b *testing.B) http.Handler {
			return bareHandler((&tokenCache{v: sg.verifier, ok: map[string]time.Time{}}).Check, nil)
		}},
		{"bare/verify+decode+store", func(b *testing.B) http.Handler { return bareHandler(sg.verifier.Check, openSQLite(b)) }},
		{"bare/cachedverify+decode+store", func(b *testing.B) http.Handler {
			return bareHandler((&tokenCache{v: sg.verifier, ok: map[string]time.Time{}}).Check, openSQLite(b))
		}},
		{"gateway/verify+decode+store", func(b *testing.B) http.Handler { return gatewayHandler(b, sg.verifier.Check, openSQLite(b)) }},
		{"gateway/cachedverify+decode+store", func(b *testing.B) http.Handler {
			return gatewayHandler(b, (&tokenCache{v: sg.verifier, ok: map[string]time.Time{}}).Check, openSQLite(b))
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(c.h(b))
			defer srv.Close()
			postAll(b, srv.URL+"/webhooks/corrigo/main", sg.token, clients)
		})
	}
}
