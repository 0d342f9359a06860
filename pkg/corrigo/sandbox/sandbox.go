// Package sandbox is a full-lifecycle emulator of CorrigoPro Direct: the
// OAuth server, the REST API under /Direct/api/, a customer side that
// dispatches and changes work orders, webhook delivery with CorrigoPro's
// retry queue, a usage log, and a control API (/_sandbox/) with fault
// injection. It is a real HTTP server with its state in memory, so
// integrators can develop offline and wogate's tests have a faithful
// counterpart to talk to.
//
// Where CorrigoPro's behaviour is only inferred (API.md [I]), the sandbox
// picks one answer and documents it in docs/sandbox.md; most of those choices
// are options here.
package sandbox

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Defaults of Options.
const (
	DefaultClientID           = "sandbox"
	DefaultClientSecret       = "sandbox-secret"
	DefaultTokenLifetime      = 20 * time.Minute
	DefaultAudience           = "CorrigoProDirect"
	DefaultMaxAttempts        = 200
	DefaultWebhookConcurrency = 8
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultUsageLogSize       = 10000
	DefaultNotificationKeep   = 10000
	DefaultMaxUploadBytes     = 20 << 20
	// ApiVersion is what the sandbox writes into every notification header.
	ApiVersion = "1.1"
)

// DefaultRetrySchedule is CorrigoPro's documented webhook retry schedule
// (API.md §7): 5, 10, 20, 40 minutes, then every 60 minutes.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 60 * time.Minute,
}

// Options configure a Sandbox. The zero value works: one client
// "sandbox"/"sandbox-secret", no webhook URL, CorrigoPro's retry schedule, real time.
type Options struct {
	// Clients maps OAuth client ids to secrets. Default: DefaultClientID →
	// DefaultClientSecret.
	Clients map[string]string
	// WebhookURL receives notifications. Empty: notifications are recorded
	// (state "skipped") but not sent, as when webhooks are switched off.
	WebhookURL string
	// NoWebhookRetry switches the retry queue off: a failed delivery is dead
	// after its first attempt (still listable, reprocessable and ignorable).
	// By default failed deliveries are retried on RetrySchedule, as
	// CorrigoPro always does (API.md §7).
	NoWebhookRetry bool
	// WebhookMaxAttempts: a notification is dead after this many failed
	// attempts. Default DefaultMaxAttempts (200, API.md §7).
	WebhookMaxAttempts int
	// RetrySchedule is the delay after the 1st, 2nd, ... failed attempt; the
	// last entry repeats. Default DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// TimeScale multiplies every retry delay (and the injected redelivery
	// delay): 1 is real time, 0.0001 runs the 5-minute first retry in 30 ms.
	// Default 1.
	TimeScale float64
	// WebhookConcurrency is the number of parallel deliveries. Default 8.
	// Notifications of one work order may then overtake each other, as
	// CorrigoPro's may; use 1 for strict order.
	WebhookConcurrency int
	// WebhookTimeout bounds one delivery attempt; a timeout is a failure.
	WebhookTimeout time.Duration
	// WebhookAudience is the Aud claim of webhook tokens (default
	// "CorrigoProDirect", API.md §6.1).
	WebhookAudience string
	// TokenLifetime of OAuth access tokens and webhook tokens. Default 20
	// minutes (expires_in 1199).
	TokenLifetime time.Duration
	// TokenFormat chooses how tokens are encoded and signed. The zero value
	// is API.md §6.2's recommendation: base64url(gzip(ticket JSON)) without
	// padding, RSA PKCS#1 v1.5 with SHA-256 over the decoded data bytes. Its
	// Now is ignored (Options.Now is used).
	TokenFormat corrigo.IssuerOptions
	// Key signs tokens; CertificatePEM is its certificate. Both empty: a
	// fresh key and self-signed certificate are generated.
	Key            *rsa.PrivateKey
	CertificatePEM []byte
	// InvalidClientStatus is the HTTP status of {"error":"invalid_client"}.
	// Default 401 (RFC 6749 §5.2 allows 400 or 401; the guide shows it among
	// 400 answers, so this is configurable).
	InvalidClientStatus int
	// Seed makes generated data reproducible. 0 means 1.
	Seed int64
	// SeedWorkOrders work orders exist at start (no notifications are sent
	// for them: they were dispatched before the integration was switched on).
	SeedWorkOrders int
	// AutoCreateEvery dispatches a new random work order (with its
	// NewWorkOrder notification) at this interval. 0: only on demand.
	AutoCreateEvery time.Duration
	// UsageLogSize bounds the usage log (oldest entries are dropped).
	UsageLogSize int
	// NotificationKeep bounds how many delivered notifications are kept for
	// inspection; pending and dead ones are always kept.
	NotificationKeep int
	// MaxUploadBytes bounds an attachment upload (default 20 MB).
	MaxUploadBytes int64
	// Faults are the initial fault-injection settings.
	Faults Faults
	// Now replaces the clock (tests of token expiry). Default time.Now.
	Now func() time.Time
	// HTTPClient delivers webhooks. Default: a client with a tuned transport.
	HTTPClient *http.Client
	// Logger receives operational logs. Default: discarded.
	Logger *slog.Logger
}

// Sandbox is one emulated CorrigoPro Direct tenant: one provider company
// with its branches, connected to several customers.
type Sandbox struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	tokens *tokenService
	usage  *usageLog
	hooks  *webhooks
	mux    http.Handler

	faults atomic.Pointer[faultState]

	rngMu sync.Mutex
	rng   *rand.Rand

	mu        sync.RWMutex // guards the maps below, never held while a record is locked for long
	wos       map[int64]*record
	order     []*record
	byNumber  map[string]*record
	files     map[string]*file
	customers []*customerDef
	custByID  map[int]*customerDef
	branches  map[int64]*branchDef
	nextWO    int64
	woSeq     map[int]int

	seq atomic.Int64 // history, message and line item ids

	baseURL  atomic.Pointer[string]
	srv      *http.Server
	inflight atomic.Int64
	ln       net.Listener

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// New builds a sandbox and starts its background workers (webhook delivery,
// auto-creation). Call Start to serve HTTP, or mount Handler yourself, and
// Close when done.
func New(opts Options) (*Sandbox, error) {
	if len(opts.Clients) == 0 {
		opts.Clients = map[string]string{DefaultClientID: DefaultClientSecret}
	}
	if opts.WebhookMaxAttempts <= 0 {
		opts.WebhookMaxAttempts = DefaultMaxAttempts
	}
	if len(opts.RetrySchedule) == 0 {
		opts.RetrySchedule = DefaultRetrySchedule
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.WebhookConcurrency <= 0 {
		opts.WebhookConcurrency = DefaultWebhookConcurrency
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = DefaultWebhookTimeout
	}
	if opts.WebhookAudience == "" {
		opts.WebhookAudience = DefaultAudience
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.InvalidClientStatus == 0 {
		opts.InvalidClientStatus = http.StatusUnauthorized
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.UsageLogSize <= 0 {
		opts.UsageLogSize = DefaultUsageLogSize
	}
	if opts.NotificationKeep <= 0 {
		opts.NotificationKeep = DefaultNotificationKeep
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, fmt.Errorf("sandbox: faults: %w", err)
	}
	s := &Sandbox{
		opts: opts,
		log:  opts.Logger,
		now:  opts.Now,
		rng:  rand.New(rand.NewPCG(uint64(opts.Seed), uint64(opts.Seed)^0x5eed)), //nolint:gosec // G404: sandbox test data, not a secret
	}
	tokens, err := newTokenService(opts, s.now)
	if err != nil {
		return nil, err
	}
	s.tokens = tokens
	s.usage = newUsageLog(opts.UsageLogSize)
	s.setFaults(opts.Faults)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hooks = newWebhooks(s)
	s.hooks.setURL(opts.WebhookURL)
	s.resetState()
	s.mux = s.routes()
	s.hooks.start()
	if opts.AutoCreateEvery > 0 {
		s.wg.Add(1)
		go s.autoCreate(opts.AutoCreateEvery)
	}
	return s, nil
}

// Handler serves everything: OAuth, the REST API, the certificate and the
// control API.
func (s *Sandbox) Handler() http.Handler { return s.mux }

// Start listens on addr (e.g. "127.0.0.1:0") and serves Handler in the
// background. It returns the server's base URL ("http://127.0.0.1:PORT").
func (s *Sandbox) Start(addr string) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: %w", err) // net's error names the address
	}
	return s.Serve(ln), nil
}

// Serve is Start on a listener the caller bound (the gateway binds all its
// listeners before it starts anything); the sandbox owns ln from now on.
// It returns the base URL.
func (s *Sandbox) Serve(ln net.Listener) string {
	base := "http://" + ln.Addr().String()
	s.baseURL.Store(&base)
	s.ln = ln
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.inflight.Add(1)
			defer s.inflight.Add(-1)
			s.mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox: serve", "err", err)
		}
	}()
	return base
}

// SetPublicURL sets the base URL the sandbox reports (download URLs,
// BaseURL) when it is mounted with Handler instead of Start.
func (s *Sandbox) SetPublicURL(base string) {
	base = strings.TrimRight(base, "/")
	s.baseURL.Store(&base)
}

// URL is the server's root ("http://127.0.0.1:PORT"), empty before Start.
func (s *Sandbox) URL() string {
	if p := s.baseURL.Load(); p != nil {
		return *p
	}
	return ""
}

// BaseURL is the ".../Direct/" root for corrigo.Config.BaseURL.
func (s *Sandbox) BaseURL() string { return s.URL() + "/Direct/" }

// OAuthURL is the full token URL for corrigo.Config.OAuthURL.
func (s *Sandbox) OAuthURL() string { return s.URL() + "/OAuth/Token" }

// CertificateURL is where the PEM certificate can be downloaded.
func (s *Sandbox) CertificateURL() string { return s.URL() + "/certificate.pem" }

// ControlURL is the root of the control API.
func (s *Sandbox) ControlURL() string { return s.URL() + "/_sandbox/" }

// CertificatePEM is the certificate webhook and access tokens are signed
// for, as a provider downloads it from CorrigoPro Desktop.
func (s *Sandbox) CertificatePEM() []byte { return append([]byte(nil), s.tokens.certPEM...) }

// Clients returns the OAuth client credentials (id → secret).
func (s *Sandbox) Clients() map[string]string {
	out := make(map[string]string, len(s.opts.Clients))
	for k, v := range s.opts.Clients {
		out[k] = v
	}
	return out
}

// Close stops the HTTP server, webhook delivery and auto-creation. Pending
// notifications are dropped.
func (s *Sandbox) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	var err error
	if s.srv != nil {
		// Shutdown stops the listener and waits for requests in flight. It
		// would also wait up to 5 s for connections a client opened but
		// never used, so stop waiting once no request is in flight.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		go func() {
			defer cancel()
			for s.inflight.Load() > 0 && ctx.Err() == nil {
				time.Sleep(2 * time.Millisecond)
			}
		}()
		err = s.srv.Shutdown(ctx)
		cancel()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		if cerr := s.srv.Close(); err == nil {
			err = cerr
		}
	}
	s.cancel()
	s.wg.Wait()
	return err
}

// autoCreate dispatches a random work order every interval until Close.
func (s *Sandbox) autoCreate(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if _, err := s.CreateWorkOrder(WorkOrderSpec{}); err != nil {
				s.log.Warn("sandbox: auto-create", "err", err)
			}
		}
	}
}

// randIntN and friends serialise access to the shared generator.
func (s *Sandbox) randIntN(n int) int {
	if n <= 0 {
		return 0
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

func (s *Sandbox) randFloat() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

// scaled applies TimeScale to a delay.
func (s *Sandbox) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.opts.TimeScale)
}

// nextSeq returns a process-unique increasing number.
func (s *Sandbox) nextSeq() int64 { return s.seq.Add(1) }
