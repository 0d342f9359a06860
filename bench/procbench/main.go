// Command procbench measures wogate the way it is deployed: the gateway as
// its own process (`gateway run`, with its plugin as a child process), a
// load generator process posting signed NewWorkOrder notifications over
// many connections, and a stand-in CorrigoPro process that answers OAuth,
// the work order GET and the accept PUT. It reports, per round, events/s
// (first notification sent → last accept received), webhook and end-to-end
// latency percentiles, and CPU time per event and peak RSS for each
// process — gateway, plugin, load generator and stand-in apart, so the
// harness's own cost never hides in the gateway's figure.
//
// Two builds compare side by side with -vs: rounds alternate the binaries
// (A B A B …) so drift in the machine's load falls on both.
//
//	go build -o /tmp/gw ./cmd/gateway
//	go run ./bench/procbench -gateway /tmp/gw -events 20000 -rounds 3
//	go run ./bench/procbench -gateway /tmp/gw-old -vs /tmp/gw -rounds 5
//	go run ./bench/procbench -rounds 1 -rate 400 -events 240000 -rss-every 30s   # a 10-minute soak
//
// The roles "standin" and "load" are the same binary started again with
// that first argument; they are not meant to be run by hand.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "standin":
			exit(runStandin(os.Args[2:]))
		case "load":
			exit(runLoad(os.Args[2:]))
		}
	}
	exit(runBench(os.Args[1:]))
}

// exit ends the process: 0 for nil, 1 with the error on stderr otherwise.
func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "procbench:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ---- stand-in CorrigoPro ----------------------------------------------

// standinStats is what the stand-in reports on GET /_stats.
type standinStats struct {
	Accepted int64            `json:"accepted"`
	Requests map[string]int64 `json:"requests"` // "METHOD path" → count
	// AcceptedAt maps a work order id to when its accept arrived (unix ns);
	// only filled when asked with ?times=1.
	AcceptedAt map[int64]int64 `json:"accepted_at,omitempty"`
}

func runStandin(args []string) error {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	addrFile := fs.String("addr-file", "", "write the bound address here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		requests = map[string]int64{}
		accepted = map[int64]int64{}
		count    atomic.Int64
		tokenN   atomic.Int64
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /OAuth/Token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"standin-%d","token_type":"bearer","expires_in":1199}`, tokenN.Add(1))
	})
	mux.HandleFunc("GET /_stats", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st := standinStats{Accepted: count.Load(), Requests: maps(requests)}
		if r.URL.Query().Get("times") == "1" {
			st.AcceptedAt = make(map[int64]int64, len(accepted))
			for k, v := range accepted {
				st.AcceptedAt[k] = v
			}
		}
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("/Direct/", func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/Direct/")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests[r.Method+" "+path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		switch {
		case r.Method == http.MethodPut && strings.EqualFold(path, "api/workOrder/accept"):
			var req corrigo.ActionRequest
			if err := json.Unmarshal(body, &req); err != nil || req.WorkOrderId == 0 {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"ErrorCode":3000,"ErrorMessage":"bad request"}`)
				return
			}
			now := time.Now().UnixNano()
			mu.Lock()
			if _, dup := accepted[req.WorkOrderId]; !dup {
				accepted[req.WorkOrderId] = now
				count.Add(1)
			}
			mu.Unlock()
			_, _ = io.WriteString(w, `{}`)
		case r.Method == http.MethodGet && strings.EqualFold(path, "api/workOrder"):
			var resp corrigo.WorkOrdersResponse
			for _, s := range r.URL.Query()["ids"] {
				id, _ := strconv.ParseInt(s, 10, 64)
				resp.WorkOrders = append(resp.WorkOrders, sampleWorkOrder(id))
			}
			_ = json.NewEncoder(w).Encode(resp)
		case r.Method == http.MethodGet && strings.EqualFold(path, "api/customerSettings"):
			id, _ := strconv.Atoi(r.URL.Query().Get("customerId"))
			_ = json.NewEncoder(w).Encode(corrigo.CustomerSettingsResponse{Settings: corrigo.CustomerSettings{CustomerId: id}})
		default:
			_, _ = io.WriteString(w, `{}`)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	return (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}

func maps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sampleWorkOrder is the realistic New request work order (about 1.5 KB as
// a notification) that the load generator sends and the stand-in returns.
func sampleWorkOrder(id int64) corrigo.WorkOrder {
	now := time.Now()
	return corrigo.WorkOrder{
		WorkOrderId: id, WorkOrderNumber: "WO-" + strconv.FormatInt(id, 10), Status: corrigo.StatusNew,
		Type: corrigo.TypeRequest, Created: corrigo.NewTime(now), BranchId: 492042,
		Customer:            &corrigo.CustomerRef{ID: 101, Name: "Northwind Retail"},
		AccompanyingMessage: "Walk-in freezer not holding temperature; product at risk. Please call store manager on arrival.",
		Nte:                 &corrigo.Nte{Amount: 1500},
		Sla: &corrigo.Sla{DueDate: corrigo.NewTime(now.Add(48 * time.Hour)), OnSiteBy: corrigo.NewTime(now.Add(4 * time.Hour)),
			AcknowledgeBy: corrigo.NewTime(now.Add(time.Hour)), PriorityName: "HIGH"},
		Contact:         &corrigo.Contact{FullName: "Dana Store", Phones: []string{"+12025550141"}, Emails: []string{"dana@example.com"}},
		ServiceLocation: &corrigo.ServiceLocation{SpaceId: 77, SpaceName: "Store 1042", Address: &corrigo.Address{Street1: "1 Main St", City: "Springfield", State: "IL", Zip: "62701", Country: "US"}},
		WorkDetails:     &corrigo.WorkDetails{Assets: []corrigo.Asset{{Id: 5, Path: "Store 1042 > Kitchen", AssetName: "Walk-in freezer", Task: "Repair"}}},
		Currency:        "USD",
	}
}

// ---- load generator ---------------------------------------------------

// loadResult is what the load generator prints as JSON on stdout.
type loadResult struct {
	Sent     int             `json:"sent"`
	Status   map[int]int     `json:"status"`
	Errors   int             `json:"errors"`
	StartNs  int64           `json:"start_ns"`
	EndNs    int64           `json:"end_ns"`
	P50Us    int64           `json:"p50_us"`
	P99Us    int64           `json:"p99_us"`
	SentAtNs map[int64]int64 `json:"sent_at_ns"` // work order id → when its POST began
}

func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	url := fs.String("url", "", "webhook URL")
	tokenFile := fs.String("token-file", "", "file holding the webhook bearer token")
	events := fs.Int("events", 20000, "notifications to send")
	first := fs.Int64("first-id", 1, "first work order id")
	conns := fs.Int("conns", 64, "concurrent connections")
	rate := fs.Float64("rate", 0, "notifications per second (0: as fast as the gateway answers)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	auth := "Bearer " + strings.TrimSpace(string(tok))
	// Bodies are built before the clock starts: the generator's own JSON
	// work is not part of what is measured.
	bodies := make([][]byte, *events)
	for i := range bodies {
		id := *first + int64(i)
		b, err := corrigo.NewNotification(corrigo.Header{
			WorkOrderId: id, BranchId: 492042, Sender: &corrigo.Sender{Name: "Northwind", Type: "Customer"},
			ActionDate: corrigo.NewTime(time.Now()), ApiVersion: "1.1", MessageId: fmt.Sprintf("procbench-%d-%d", id, time.Now().UnixNano()),
		}, corrigo.NewWorkOrderPayload{Details: sampleWorkOrder(id)})
		if err != nil {
			return err
		}
		bodies[i] = b
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}, Timeout: time.Minute}
	res := loadResult{Status: map[int]int{}, SentAtNs: make(map[int64]int64, *events)}
	lat := make([]time.Duration, *events)
	sentAt := make([]int64, *events)
	status := make([]int, *events)
	var next atomic.Int64
	var wg sync.WaitGroup
	res.StartNs = time.Now().UnixNano()
	// Paced: notification i is not sent before start + i/rate, so a soak
	// runs at a steady load below capacity instead of a burst.
	start := time.Now()
	pace := func(i int) {
		if *rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))))
		}
	}
	for range *conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				pace(i)
				req, _ := http.NewRequest(http.MethodPost, *url, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				sentAt[i] = t0.UnixNano()
				resp, err := client.Do(req)
				if err != nil {
					status[i] = -1
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				lat[i] = time.Since(t0)
				status[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	res.EndNs = time.Now().UnixNano()
	ok := lat[:0:0]
	for i, s := range status {
		res.Sent++
		if s < 0 {
			res.Errors++
			continue
		}
		res.Status[s]++
		if s/100 == 2 {
			ok = append(ok, lat[i])
			res.SentAtNs[*first+int64(i)] = sentAt[i]
		}
	}
	res.P50Us, res.P99Us = percentile(ok, 0.50).Microseconds(), percentile(ok, 0.99).Microseconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// ---- orchestrator -----------------------------------------------------

type benchOpts struct {
	gateways []string
	plugin   string
	events   int
	conns    int
	rounds   int
	warmup   int
	keep     bool
	rate     float64
	rssEvery time.Duration
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("procbench", flag.ContinueOnError)
	var o benchOpts
	gw := fs.String("gateway", "", "gateway binary (default: go build ./cmd/gateway)")
	vs := fs.String("vs", "", "a second gateway binary; rounds alternate the two")
	fs.StringVar(&o.plugin, "plugin", "", "plugin binary answering accept (default: go build ./internal/testplugin/accept)")
	fs.IntVar(&o.events, "events", 20000, "notifications per round")
	fs.IntVar(&o.conns, "conns", 64, "load generator connections")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per binary")
	fs.IntVar(&o.warmup, "warmup", 200, "notifications sent before the measured ones, per round")
	fs.BoolVar(&o.keep, "keep", false, "keep each round's directory (config, store, logs)")
	fs.Float64Var(&o.rate, "rate", 0, "notifications per second (0: as fast as the gateway answers); with -events = rate × seconds this is a soak")
	fs.DurationVar(&o.rssEvery, "rss-every", 0, "print the gateway's and plugin's RSS this often during the measured part (a soak's memory curve)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "procbench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	if *gw == "" {
		*gw = filepath.Join(tmp, "gateway")
		if err := goBuild(*gw, "./cmd/gateway"); err != nil {
			return err
		}
	}
	if o.plugin == "" {
		o.plugin = filepath.Join(tmp, "accept-plugin")
		if err := goBuild(o.plugin, "./internal/testplugin/accept"); err != nil {
			return err
		}
	}
	o.gateways = []string{*gw}
	if *vs != "" {
		o.gateways = append(o.gateways, *vs)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	results := make([][]roundResult, len(o.gateways))
	for r := range o.rounds {
		for gi, bin := range o.gateways {
			dir := filepath.Join(tmp, fmt.Sprintf("round-%d-%c", r+1, 'A'+gi))
			res, err := runRound(self, bin, dir, o)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w (logs in %s; use -keep)", r+1, bin, err, dir)
			}
			results[gi] = append(results[gi], res)
			fmt.Fprintf(os.Stderr, "round %d %c: %s\n", r+1, 'A'+gi, res)
		}
	}
	fmt.Printf("load average at end: %s\n", loadavg())
	for gi, bin := range o.gateways {
		fmt.Printf("\n%c = %s (%d rounds of %d events, %d connections; SQLite store, synchronous=FULL)\n", 'A'+gi, bin, o.rounds, o.events, o.conns)
		summarize(results[gi])
	}
	if len(o.gateways) == 2 {
		a, b := medianOf(results[0], func(r roundResult) float64 { return r.eventsPerSec }), medianOf(results[1], func(r roundResult) float64 { return r.eventsPerSec })
		ca, cb := medianOf(results[0], roundResult.cpuPerEventTotal), medianOf(results[1], roundResult.cpuPerEventTotal)
		fmt.Printf("\nB ÷ A: throughput %.2f×, CPU per event (gateway+plugin) %.2f×\n", b/a, cb/ca)
	}
	return nil
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run procbench from the repository root): %w", pkg, err)
	}
	return nil
}

// roundResult is one round's figures.
type roundResult struct {
	eventsPerSec       float64
	webhookP50, p99    time.Duration
	e2eP50, e2eP99     time.Duration
	cpu                map[string]time.Duration // process role → CPU during the measured part
	rssKB              map[string]int64         // process role → peak RSS (VmHWM)
	events             int
	refused            int
	unexpectedRequests []string
}

func (r roundResult) cpuPerEvent(role string) time.Duration {
	return r.cpu[role] / time.Duration(max(1, r.events))
}

func (r roundResult) cpuPerEventTotal() float64 {
	return float64(r.cpuPerEvent("gateway")+r.cpuPerEvent("plugin")) / float64(time.Microsecond)
}

func (r roundResult) String() string {
	return fmt.Sprintf("%.0f events/s, webhook p50 %v p99 %v, end-to-end p50 %v p99 %v, CPU/event gateway %v plugin %v load %v stand-in %v, RSS gateway %d MiB plugin %d MiB",
		r.eventsPerSec, r.webhookP50, r.p99, r.e2eP50, r.e2eP99,
		r.cpuPerEvent("gateway"), r.cpuPerEvent("plugin"), r.cpuPerEvent("load"), r.cpuPerEvent("standin"),
		r.rssKB["gateway"]/1024, r.rssKB["plugin"]/1024)
}

func runRound(self, gatewayBin, dir string, o benchOpts) (res roundResult, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The stand-in CorrigoPro.
	standinAddrFile := filepath.Join(dir, "standin.addr")
	standin, err := startProc(ctx, dir, "standin", self, "standin", "-addr-file", standinAddrFile)
	if err != nil {
		return res, err
	}
	defer stopProc(standin)
	standinAddr, err := waitFile(standinAddrFile, 10*time.Second)
	if err != nil {
		return res, err
	}

	// The webhook certificate and one token for every notification, as
	// CorrigoPro signs one per delivery batch.
	key, certPEM, err := corrigo.GenerateCertificate("procbench", time.Hour)
	if err != nil {
		return res, err
	}
	tok, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		return res, err
	}
	certFile, tokenFile := filepath.Join(dir, "corrigo.pem"), filepath.Join(dir, "token")
	_ = os.WriteFile(filepath.Join(dir, "corrigo-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return res, err
	}
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		return res, err
	}

	listen, admin := freeAddr(), freeAddr()
	cfg := fmt.Sprintf(`listen: %s
data_dir: %s
corrigo:
  accounts:
    main:
      base_url: http://%s/Direct/
      oauth_url: http://%s/OAuth/Token
      client_id: procbench
      client_secret: procbench-secret
      webhook: {path: /webhooks/corrigo/main, certificate: "file:%s"}
      polling: {enabled: false}
plugins:
  accept: {command: %s, timeout: 10s, concurrency: 64, config: {mode: quiet}}
rules:
  - name: new-work-orders
    when: event.Action == "NewWorkOrder"
    plugin: accept
admin: {listen: %s}
log: {level: warn}
`, listen, filepath.Join(dir, "data"), standinAddr, standinAddr, certFile, o.plugin, admin)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return res, err
	}
	gw, err := startProc(ctx, dir, "gateway", gatewayBin, "run", "--config", cfgPath)
	if err != nil {
		return res, err
	}
	defer stopProc(gw)
	if err := waitReady("http://"+admin+"/readyz", 60*time.Second); err != nil {
		return res, fmt.Errorf("gateway not ready: %w (see %s)", err, filepath.Join(dir, "gateway.log"))
	}
	webhookURL := "http://" + listen + "/webhooks/corrigo/main"

	// Warm up: OAuth token, plugin connection, prepared statements, pools.
	if o.warmup > 0 {
		if _, err := runLoadProc(ctx, self, dir, "warmup", webhookURL, tokenFile, o.warmup, 1_000_000_000, o.conns, 0); err != nil {
			return res, err
		}
		if err := waitAccepted(standinAddr, int64(o.warmup), 2*time.Minute); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	plugins := childPIDs(gw.Process.Pid)
	if len(plugins) == 0 {
		return res, errors.New("the gateway has no plugin child process")
	}
	before := map[string]time.Duration{"gateway": cpuOf(gw.Process.Pid), "standin": cpuOf(standin.Process.Pid), "plugin": sumCPU(plugins)}

	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		if o.rssEvery <= 0 {
			return
		}
		began := time.Now()
		t := time.NewTicker(o.rssEvery)
		defer t.Stop()
		for {
			select {
			case <-stopRSS:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "  %6.0fs  RSS gateway %d MiB, plugin %d MiB\n", time.Since(began).Seconds(),
					rssKB(gw.Process.Pid)/1024, sumRSS(plugins)/1024)
			}
		}
	}()
	lr, err := runLoadProc(ctx, self, dir, "load", webhookURL, tokenFile, o.events, 1, o.conns, o.rate)
	close(stopRSS)
	<-rssDone
	if err != nil {
		return res, err
	}
	okCount := 0
	for s, n := range lr.result.Status {
		if s/100 == 2 {
			okCount += n
		} else {
			res.refused += n
		}
	}
	if err := waitAccepted(standinAddr, int64(o.warmup+okCount), 10*time.Minute); err != nil {
		return res, err
	}
	res.cpu = map[string]time.Duration{
		"gateway": cpuOf(gw.Process.Pid) - before["gateway"],
		"standin": cpuOf(standin.Process.Pid) - before["standin"],
		"plugin":  sumCPU(plugins) - before["plugin"],
		"load":    lr.cpu,
	}
	res.rssKB = map[string]int64{"gateway": hwmKB(gw.Process.Pid), "plugin": maxHWM(plugins)}
	var st standinStats
	if err := getJSON("http://"+standinAddr+"/_stats?times=1", &st); err != nil {
		return res, err
	}
	var last int64
	e2e := make([]time.Duration, 0, okCount)
	for id, sent := range lr.result.SentAtNs {
		at, ok := st.AcceptedAt[id]
		if !ok {
			return res, fmt.Errorf("work order %d was answered 2xx but never accepted", id)
		}
		last = max(last, at)
		e2e = append(e2e, time.Duration(at-sent))
	}
	for k := range st.Requests {
		if k != "PUT api/workOrder/accept" {
			res.unexpectedRequests = append(res.unexpectedRequests, k)
		}
	}
	res.events = okCount
	res.eventsPerSec = float64(okCount) / time.Duration(last-lr.result.StartNs).Seconds()
	res.webhookP50, res.p99 = time.Duration(lr.result.P50Us)*time.Microsecond, time.Duration(lr.result.P99Us)*time.Microsecond
	res.e2eP50, res.e2eP99 = percentile(e2e, 0.5), percentile(e2e, 0.99)
	return res, nil
}

type loadRun struct {
	result loadResult
	cpu    time.Duration
}

func runLoadProc(ctx context.Context, self, dir, name, url, tokenFile string, events int, firstID int64, conns int, rate float64) (loadRun, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "load", "-url", url, "-token-file", tokenFile,
		"-events", strconv.Itoa(events), "-first-id", strconv.FormatInt(firstID, 10), "-conns", strconv.Itoa(conns),
		"-rate", strconv.FormatFloat(rate, 'f', -1, 64))
	cmd.Stdout = &out
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return loadRun{}, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Run(); err != nil {
		return loadRun{}, fmt.Errorf("load generator: %w", err)
	}
	var lr loadRun
	if err := json.Unmarshal(out.Bytes(), &lr.result); err != nil {
		return lr, fmt.Errorf("load generator output: %w", err)
	}
	lr.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if lr.result.Errors > 0 {
		return lr, fmt.Errorf("load generator: %d requests failed without an HTTP answer", lr.result.Errors)
	}
	return lr, nil
}

func startProc(ctx context.Context, dir, name, bin string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	return cmd, nil
}

func stopProc(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFile(path string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("%s did not appear within %v", path, limit)
}

func waitReady(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

func waitAccepted(standinAddr string, want int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var st standinStats
	for time.Now().Before(deadline) {
		if err := getJSON("http://"+standinAddr+"/_stats", &st); err != nil {
			return err
		}
		if st.Accepted >= want {
			return nil
		}
		// Coarse polling keeps the harness's own CPU out of the way.
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%d of %d work orders accepted within %v", st.Accepted, want, limit)
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// ---- /proc readings (Linux) -------------------------------------------

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 100

// cpuOf returns a live process's user+system CPU time from /proc/PID/stat.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

func sumCPU(pids []int) time.Duration {
	var d time.Duration
	for _, p := range pids {
		d += cpuOf(p)
	}
	return d
}

// childPIDs lists the direct children of pid (the gateway's plugins).
func childPIDs(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// hwmKB is the process's peak resident set (VmHWM) in KiB.
// hwmKB is a process's peak RSS, rssKB its current RSS (kB).
func hwmKB(pid int) int64 { return statusKB(pid, "VmHWM:") }

func rssKB(pid int) int64 { return statusKB(pid, "VmRSS:") }

func sumRSS(pids []int) int64 {
	var n int64
	for _, p := range pids {
		n += rssKB(p)
	}
	return n
}

func statusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func maxHWM(pids []int) int64 {
	var m int64
	for _, p := range pids {
		m = max(m, hwmKB(p))
	}
	return m
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ---- summary ----------------------------------------------------------

func medianOf(rs []roundResult, f func(roundResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func summarize(rs []roundResult) {
	row := func(name, unit string, f func(roundResult) float64) {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		fmt.Printf("  %-34s %10.0f %s (%0.f–%0.f)\n", name, v[len(v)/2], unit, v[0], v[len(v)-1])
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	row("throughput", "events/s", func(r roundResult) float64 { return r.eventsPerSec })
	row("webhook latency p50", "µs", func(r roundResult) float64 { return us(r.webhookP50) })
	row("webhook latency p99", "µs", func(r roundResult) float64 { return us(r.p99) })
	row("end-to-end latency p50", "µs", func(r roundResult) float64 { return us(r.e2eP50) })
	row("end-to-end latency p99", "µs", func(r roundResult) float64 { return us(r.e2eP99) })
	for _, role := range []string{"gateway", "plugin", "load", "standin"} {
		row("CPU per event, "+role, "µs", func(r roundResult) float64 { return us(r.cpuPerEvent(role)) })
	}
	row("CPU per event, gateway+plugin", "µs", roundResult.cpuPerEventTotal)
	row("peak RSS, gateway", "MiB", func(r roundResult) float64 { return float64(r.rssKB["gateway"]) / 1024 })
	row("peak RSS, plugin", "MiB", func(r roundResult) float64 { return float64(r.rssKB["plugin"]) / 1024 })
	refused := 0
	var unexpected []string
	for _, r := range rs {
		refused += r.refused
		unexpected = append(unexpected, r.unexpectedRequests...)
	}
	slices.Sort(unexpected)
	fmt.Printf("  refused webhooks (non-2xx): %d; stand-in requests other than the accept PUT: %v\n", refused, slices.Compact(unexpected))
}
