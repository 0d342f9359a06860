package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// One key for every sandbox in the tests: RSA key generation is the slowest
// part of New, and -race makes it slower still.
var (
	testKey     *rsa.PrivateKey
	testCertPEM []byte
)

func TestMain(m *testing.M) {
	var err error
	testKey, testCertPEM, err = corrigo.GenerateCertificate("sandbox test", time.Hour)
	if err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// start runs a sandbox on loopback and returns it with a client for it.
func start(t testing.TB, opts sandbox.Options) (*sandbox.Sandbox, *corrigo.Client) {
	t.Helper()
	if opts.Key == nil {
		opts.Key, opts.CertificatePEM = testKey, testCertPEM
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox.New: %v", err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb, newClient(t, sb)
}

func newClient(t testing.TB, sb *sandbox.Sandbox) *corrigo.Client {
	t.Helper()
	c, err := corrigo.NewClient(corrigo.Config{
		BaseURL: sb.BaseURL(), OAuthURL: sb.OAuthURL(),
		ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
		MessageIDPrefix: "test-",
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// mk creates a silent work order (no NewWorkOrder notification).
func mk(t testing.TB, sb *sandbox.Sandbox, spec sandbox.WorkOrderSpec) int64 {
	t.Helper()
	spec.Silent = true
	wo, err := sb.CreateWorkOrder(spec)
	if err != nil {
		t.Fatalf("CreateWorkOrder(%+v): %v", spec, err)
	}
	return wo.WorkOrderId
}

func status(t testing.TB, sb *sandbox.Sandbox, id int64) corrigo.Status {
	t.Helper()
	wo, _, ok := sb.WorkOrder(id)
	if !ok {
		t.Fatalf("work order %d not found", id)
	}
	return wo.Status
}

// wantErr checks err against an expected CorrigoPro code (0: success).
func wantErr(t testing.TB, err error, code int) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var ae *corrigo.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want code %d, got %v", code, err)
	}
	if ae.Code != code {
		t.Fatalf("want code %d, got %d (%v)", code, ae.Code, err)
	}
	wantStatus := http.StatusBadRequest
	switch code {
	case corrigo.CodeUnauthorized:
		wantStatus = http.StatusUnauthorized
	case corrigo.CodeInternal:
		wantStatus = http.StatusInternalServerError
	}
	if ae.StatusCode != wantStatus {
		t.Fatalf("code %d: want HTTP %d, got %d", code, wantStatus, ae.StatusCode)
	}
	if code == corrigo.CodeValidation && len(ae.ValidationErrors) == 0 {
		t.Fatalf("2100 without ValidationErrors: %v", err)
	}
	if ae.MessageId == "" {
		t.Fatalf("error without MessageId: %v", err)
	}
}

// rawToken fetches an access token with a plain form POST.
func rawToken(t testing.TB, sb *sandbox.Sandbox) string {
	t.Helper()
	resp, err := testhttp.PostForm(t.Context(), sb.OAuthURL(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr corrigo.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token: %v %+v", err, tr)
	}
	return tr.AccessToken
}

type rawResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r rawResp) errBody(t testing.TB) corrigo.ErrorBody {
	t.Helper()
	var eb corrigo.ErrorBody
	if err := json.Unmarshal(r.Body, &eb); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	return eb
}

// raw sends one request to the sandbox, bypassing the client.
func raw(t testing.TB, method, u, token, ctype string, body []byte) rawResp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func ctl(t testing.TB, sb *sandbox.Sandbox, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, sb.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	if out == nil && resp.StatusCode >= 300 && testing.Verbose() {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.StatusCode
}

// receiver is a webhook endpoint that records every delivery.
type receiver struct {
	mu     sync.Mutex
	got    []delivery
	answer func(n int, d delivery) int // status for the n-th delivery (1-based)
	srv    *http.Server
	url    string
}

type delivery struct {
	At     time.Time
	Header http.Header
	Body   []byte
	N      *corrigo.Notification
}

func newReceiver(t testing.TB, answer func(n int, d delivery) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d := delivery{At: time.Now(), Header: r.Header.Clone(), Body: b}
		d.N, _ = corrigo.DecodeNotification(b)
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		n := len(rc.got)
		rc.mu.Unlock()
		st := http.StatusOK
		if rc.answer != nil {
			st = rc.answer(n, d)
		}
		w.WriteHeader(st)
	})
	srv := &http.Server{Handler: mux}
	ln := listen(t)
	rc.srv = srv
	rc.url = "http://" + ln.Addr().String() + "/webhook"
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func idle(t testing.TB, sb *sandbox.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sb.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
