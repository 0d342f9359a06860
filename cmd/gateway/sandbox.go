package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// sandboxOptions are sandbox's flags.
type sandboxOptions struct {
	listen, webhookURL, clientID, clientSecret string
	autoCreate, lifetime                       time.Duration
	timeScale                                  float64
	seedWOs, maxAttempts, concurrency          int
	seed                                       int64
	retry, verbose                             bool
	keyFile, certFile, certOut                 string
}

func (o *sandboxOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8089", "`ADDR` to listen on")
	fs.StringVar(&o.webhookURL, "webhook-url", "", "`URL` to POST webhook notifications to (empty: webhooks off; set later with PUT /_sandbox/webhook)")
	fs.StringVar(&o.clientID, "client-id", sandbox.DefaultClientID, "OAuth client id")
	fs.StringVar(&o.clientSecret, "client-secret", sandbox.DefaultClientSecret, "OAuth client secret")
	fs.DurationVar(&o.autoCreate, "auto-create", 0, "dispatch a new random work order at this interval (0: only on demand)")
	fs.Float64Var(&o.timeScale, "time-scale", 1, "multiply webhook retry delays by this factor (0.001 runs the 5-minute first retry in 300ms)")
	fs.IntVar(&o.seedWOs, "seed-work-orders", 25, "work orders that exist at start")
	fs.Int64Var(&o.seed, "seed", 1, "random seed for generated data")
	fs.BoolVar(&o.retry, "webhook-retry", true, "retry failed webhook deliveries on CorrigoPro's schedule")
	fs.IntVar(&o.maxAttempts, "webhook-max-attempts", sandbox.DefaultMaxAttempts, "attempts before a notification is dead")
	fs.IntVar(&o.concurrency, "webhook-concurrency", sandbox.DefaultWebhookConcurrency, "parallel webhook deliveries")
	fs.DurationVar(&o.lifetime, "token-lifetime", sandbox.DefaultTokenLifetime, "lifetime of access and webhook tokens")
	fs.StringVar(&o.keyFile, "key", "", "PEM RSA private key `FILE` to sign tokens with (with --cert; default: generate one)")
	fs.StringVar(&o.certFile, "cert", "", "PEM certificate `FILE` matching --key")
	fs.StringVar(&o.certOut, "cert-out", "", "also write the certificate PEM to this `FILE`")
	fs.BoolVar(&o.verbose, "v", false, "log work orders and webhook deliveries to stderr")
}

var sandboxCmd = &command{
	name:     "sandbox",
	summary:  "run the CorrigoPro Direct sandbox (OAuth, REST API, webhooks, control API)",
	synopsis: "sandbox [--listen ADDR] [--webhook-url URL] [flags]\nsandbox emulate ACTION [--work-order N]",
	doc: `Runs the CorrigoPro emulator on its own until SIGINT or SIGTERM: OAuth
client credentials, the REST API with CorrigoPro's status rules, signed
webhook notifications with CorrigoPro's retry queue, a usage log, and a
control API under /_sandbox/ for tests and demos. It prints its URLs and
the certificate to configure as the account's webhook certificate. See
docs/sandbox.md.`,
	example: `gateway sandbox
gateway sandbox --listen 127.0.0.1:8089 --webhook-url http://127.0.0.1:8080/webhooks/main --auto-create 10s -v`,
	flags: func(fs *flag.FlagSet) { new(sandboxOptions).define(fs) },
}

var sandboxEmulateCmd = &command{
	name:     "sandbox emulate",
	summary:  "send a sample notification of any type from a running sandbox",
	synopsis: "sandbox emulate ACTION [--work-order N] [--branch N] [--sandbox URL]",
	doc: `Asks a running sandbox (POST /_sandbox/emulate) to send a correctly
signed sample notification of ACTION, one of CorrigoPro's 26 notification
types (NewWorkOrder, CheckedIn, ProcedureMarked, IsmStatusChanged, ...), to
its webhook URL, like CorrigoPro Desktop's Event Notification Emulator.
With --work-order the sample is built from that work order's real state;
nothing on the work order changes. Without it the work order id is 42, as
in CorrigoPro's emulator. Prints the notification id and MessageId.`,
	example: `gateway sandbox emulate ProcedureMarked --work-order 10005
gateway sandbox emulate NewWorkOrder --branch 500479 --sandbox http://127.0.0.1:8089`,
	flags: func(fs *flag.FlagSet) { new(sandboxEmulateOptions).define(fs) },
}

type sandboxEmulateOptions struct {
	url               string
	workOrder, branch int64
}

func (o *sandboxEmulateOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "sandbox", "http://127.0.0.1:8089", "base `URL` of the running sandbox")
	fs.Int64Var(&o.workOrder, "work-order", 0, "build the sample from this work order's state (`ID`)")
	fs.Int64Var(&o.branch, "branch", 0, "branch `ID` of a sample without a work order (default: the first branch)")
}

func init() {
	sandboxCmd.run = runSandbox
	sandboxEmulateCmd.run = runSandboxEmulate
	sandboxCmd.subs = []*command{sandboxEmulateCmd}
	registerCommand(sandboxCmd)
}

// runSandboxEmulate asks a running sandbox for a sample notification.
func runSandboxEmulate(ctx context.Context, args []string) int {
	var o sandboxEmulateOptions
	pos, err := sandboxEmulateCmd.parse(args, os.Stdout, os.Stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	if len(pos) != 1 {
		return exitCode(usageError(sandboxEmulateCmd, os.Stderr, "want one ACTION, got %q", pos))
	}
	body, _ := json.Marshal(sandbox.EmulateRequest{Action: pos[0], WorkOrderId: o.workOrder, BranchId: o.branch})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.url, "/")+"/_sandbox/emulate", bytes.NewReader(body))
	if err != nil {
		return exitCode(usageError(sandboxEmulateCmd, os.Stderr, "--sandbox: %v", err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway sandbox emulate: %v\n", err)
		return 1
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		fmt.Fprintf(os.Stderr, "gateway sandbox emulate: HTTP %d: %s\n", resp.StatusCode, e.Error)
		return 1
	}
	var res sandbox.EmulateResult
	if err := json.Unmarshal(b, &res); err != nil {
		fmt.Fprintf(os.Stderr, "gateway sandbox emulate: answer: %v\n", err)
		return 1
	}
	fmt.Printf("notification %d %s queued: work order %d, branch %d, MessageId %s\n", res.NotificationId, res.Action, res.WorkOrderId, res.BranchId, res.MessageId)
	return 0
}

// runSandbox starts the emulator and serves until ctx is cancelled.
func runSandbox(ctx context.Context, args []string) int {
	if len(args) > 0 {
		if sub := sandboxCmd.sub(args[0]); sub != nil {
			return sub.run(ctx, args[1:])
		}
	}
	var o sandboxOptions
	pos, err := sandboxCmd.parse(args, os.Stdout, os.Stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	if len(pos) > 0 {
		return exitCode(usageError(sandboxCmd, os.Stderr, "unexpected arguments %q", pos))
	}
	listen, webhookURL, clientID, clientSecret := &o.listen, &o.webhookURL, &o.clientID, &o.clientSecret
	autoCreate, timeScale, seedWOs, seed, retry := &o.autoCreate, &o.timeScale, &o.seedWOs, &o.seed, &o.retry
	maxAttempts, concurrency, lifetime := &o.maxAttempts, &o.concurrency, &o.lifetime
	keyFile, certFile, certOut, verbose := &o.keyFile, &o.certFile, &o.certOut, &o.verbose
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := sandbox.Options{
		Clients:            map[string]string{*clientID: *clientSecret},
		WebhookURL:         *webhookURL,
		NoWebhookRetry:     !*retry,
		WebhookMaxAttempts: *maxAttempts,
		WebhookConcurrency: *concurrency,
		TimeScale:          *timeScale,
		TokenLifetime:      *lifetime,
		Seed:               *seed,
		SeedWorkOrders:     *seedWOs,
		AutoCreateEvery:    *autoCreate,
		Logger:             logger,
	}
	if (*keyFile == "") != (*certFile == "") {
		return exitCode(usageError(sandboxCmd, os.Stderr, "--key and --cert go together"))
	}
	if *keyFile != "" {
		key, cert, err := loadKeyPair(*keyFile, *certFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gateway sandbox: %v\n", err)
			return 1
		}
		opts.Key, opts.CertificatePEM = key, cert
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway sandbox: %v\n", err)
		return 1
	}
	if _, err := sb.Start(*listen); err != nil {
		_ = sb.Close()
		fmt.Fprintf(os.Stderr, "gateway sandbox: --listen %s: %v (pass another --listen address)\n", *listen, err)
		return 1
	}
	if *certOut != "" {
		if err := os.WriteFile(*certOut, sb.CertificatePEM(), 0o644); err != nil { //nolint:gosec // G306: a public certificate, meant to be read by other tools
			_ = sb.Close()
			fmt.Fprintf(os.Stderr, "gateway sandbox: write certificate: %v\n", err)
			return 1
		}
	}
	printBanner(os.Stdout, sb, *clientID, *clientSecret, *autoCreate, *timeScale)
	<-ctx.Done()
	fmt.Fprintln(os.Stdout, "sandbox: shutting down")
	if err := sb.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "gateway sandbox: shutdown: %v\n", err)
		return 1
	}
	return 0
}

func printBanner(w io.Writer, sb *sandbox.Sandbox, id, secret string, autoCreate time.Duration, timeScale float64) {
	hook := sb.WebhookURL()
	if hook == "" {
		hook = "(off — set with: curl -X PUT " + sb.ControlURL() + "webhook -d '{\"Url\":\"http://...\"}')"
	}
	auto := "on demand (POST " + sb.ControlURL() + "workorders)"
	if autoCreate > 0 {
		auto = "every " + autoCreate.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CorrigoPro Direct sandbox is running\n\n")
	fmt.Fprintf(&b, "  REST base        %sapi/\n", sb.BaseURL())
	fmt.Fprintf(&b, "  OAuth token URL  %s\n", sb.OAuthURL())
	fmt.Fprintf(&b, "  Certificate      %s\n", sb.CertificateURL())
	fmt.Fprintf(&b, "  Control API      %s\n", sb.ControlURL())
	fmt.Fprintf(&b, "  Webhook URL      %s\n", hook)
	fmt.Fprintf(&b, "  client_id        %s\n", id)
	fmt.Fprintf(&b, "  client_secret    %s\n", secret)
	fmt.Fprintf(&b, "  New work orders  %s\n", auto)
	fmt.Fprintf(&b, "  Retry time scale %g\n\n", timeScale)
	fmt.Fprintf(&b, "Try it:\n\n")
	fmt.Fprintf(&b, "  TOKEN=$(curl -s -X POST %s -H 'Content-Type: application/x-www-form-urlencoded' \\\n", sb.OAuthURL())
	fmt.Fprintf(&b, "    -d 'grant_type=client_credentials&client_id=%s&client_secret=%s' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", id, secret)
	fmt.Fprintf(&b, "  curl -s '%sapi/customers?messageId=1' -H \"Authorization: Bearer $TOKEN\"\n\n", sb.BaseURL())
	fmt.Fprintf(&b, "Press Ctrl-C to stop.\n")
	_, _ = io.WriteString(w, b.String())
}

// loadKeyPair reads an RSA private key (PKCS#1 or PKCS#8) and its
// certificate, and checks that they belong together.
func loadKeyPair(keyFile, certFile string) (*rsa.PrivateKey, []byte, error) {
	kb, err := os.ReadFile(keyFile) //nolint:gosec // G304: the operator's --key flag
	if err != nil {
		return nil, nil, fmt.Errorf("read key: %w", err)
	}
	cb, err := os.ReadFile(certFile) //nolint:gosec // G304: the operator's --cert flag
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	kblock, _ := pem.Decode(kb)
	if kblock == nil {
		return nil, nil, fmt.Errorf("%s: no PEM block", keyFile)
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(kblock.Bytes); err == nil {
		key = k
	} else if k8, err8 := x509.ParsePKCS8PrivateKey(kblock.Bytes); err8 == nil {
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("%s: not an RSA key", keyFile)
		}
		key = rk
	} else {
		return nil, nil, fmt.Errorf("%s: parse key: %w", keyFile, err)
	}
	cblock, _ := pem.Decode(cb)
	if cblock == nil {
		return nil, nil, fmt.Errorf("%s: no PEM block", certFile)
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: parse certificate: %w", certFile, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not belong to %s", certFile, keyFile)
	}
	return key, cb, nil
}

// sandboxWebhookClient is how the embedded sandbox reaches the gateway's
// public listener: nil (the sandbox's default) without TLS; with TLS, a
// client that trusts exactly the certificate the gateway serves, read from
// tls.cert_file at each new connection so that a rotated certificate is
// trusted as soon as the gateway serves it. The host name is not checked:
// the sandbox dials the listen address, which an operator's certificate
// need not name, and pinning the configured file is the stronger check.
func sandboxWebhookClient(cfg *config.Config) *http.Client {
	if !cfg.TLS.Enabled() {
		return nil
	}
	certFile := cfg.TLS.CertFile
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4 * sandbox.DefaultWebhookConcurrency
	tr.MaxIdleConnsPerHost = 2 * sandbox.DefaultWebhookConcurrency
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // verified below against the configured certificate
		VerifyConnection: func(cs tls.ConnectionState) error {
			b, err := os.ReadFile(certFile)
			if err != nil {
				return fmt.Errorf("sandbox: read tls.cert_file: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(b) {
				return fmt.Errorf("sandbox: no certificate in %s", certFile)
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("sandbox: the gateway sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		},
	}
	return &http.Client{Transport: tr, Timeout: sandbox.DefaultWebhookTimeout}
}
