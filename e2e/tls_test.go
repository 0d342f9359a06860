package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testcerts"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestTLSListeners runs the real gateway binary with TLS on both
// listeners and a client CA on the admin one, its embedded sandbox
// delivering signed webhooks over https. It rotates the certificate on
// disk twice — rename into place (the file watch) and rewrite + SIGHUP —
// and checks that new connections see the new serial on both listeners
// and that webhooks keep arriving, without a restart.
func TestTLSListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short")
	}
	dir := t.TempDir()
	ca := testcerts.NewCA(t, "wogate e2e CA")
	clientCA := testcerts.NewCA(t, "wogate e2e operators")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.Server(t, time.Time{}, time.Time{}).Write(t, certFile, keyFile)
	if err := os.WriteFile(filepath.Join(dir, "clients.pem"), clientCA.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port, adminPort, sbPort := freePort(t), freePort(t), freePort(t)
	// Relative paths: they are relative to the config file's directory.
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: data
tls: { cert_file: tls.crt, key_file: tls.key }
admin:
  listen: 127.0.0.1:%d
  tls: { cert_file: tls.crt, key_file: tls.key, client_ca_file: clients.pem }
sandbox: { listen: 127.0.0.1:%d }
corrigo:
  accounts:
    main:
      sandbox: true
`, port, adminPort, sbPort)
	path := filepath.Join(dir, "wogate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.CommandContext(context.Background(), gatewayBin, "run", "--config", path) //nolint:gosec // the test's own binary
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})

	operator := clientCA.Client(t, "operator").TLS(t)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
	}
	adminURL := fmt.Sprintf("https://127.0.0.1:%d", adminPort)
	publicURL := fmt.Sprintf("https://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client(operator).Get(adminURL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("gateway exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin listener not up: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The admin API over TLS with a client certificate, HTTP/2; without
	// one the handshake fails.
	resp, err := client(operator).Get(adminURL + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
		t.Fatalf("admin status: %d %s %s", resp.StatusCode, resp.Proto, b)
	}
	if _, err := client().Get(adminURL + "/api/v1/status"); err == nil {
		t.Fatal("admin without a client certificate: request succeeded")
	}
	// Failed handshakes are something anyone can cause: 50 of them
	// (TLS 1.1 offers) write at most the limiter's burst of lines.
	for range 50 {
		if c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}); err == nil { //nolint:gosec // the handshake must fail on the version
			_ = c.Close()
			t.Fatal("TLS 1.1 accepted")
		}
	}
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "TLS handshake error from") && strings.Contains(line, `"listener":"listen"`) {
			n++
		}
	}
	if n < 1 || n > 10 {
		t.Errorf("%d handshake error lines on the public listener for 50 failed handshakes, want 1..10", n)
	}
	resp, err = client().Get(publicURL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("public listener: %s, want HTTP/2.0", resp.Proto)
	}

	sbURL := fmt.Sprintf("http://127.0.0.1:%d/_sandbox", sbPort)
	// webhookDelivered creates a work order in the sandbox and waits for
	// its notification to be delivered (a 2xx from the gateway over
	// https, signed by the sandbox's certificate).
	webhookDelivered := func(step string) {
		t.Helper()
		resp, err := http.Post(sbURL+"/workorders", "application/json", bytes.NewReader([]byte(`{"Count":1}`)))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ WorkOrders []struct{ WorkOrderId int64 } }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.WorkOrders) != 1 {
			t.Fatalf("%s: create work order: %v %+v", step, err, out)
		}
		_ = resp.Body.Close()
		id := out.WorkOrders[0].WorkOrderId
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("%s/notifications?workOrderId=%d", sbURL, id))
			if err != nil {
				t.Fatal(err)
			}
			var ns struct{ Notifications []sandbox.Notification }
			_ = json.NewDecoder(resp.Body).Decode(&ns)
			_ = resp.Body.Close()
			if len(ns.Notifications) > 0 && ns.Notifications[0].State == sandbox.StateDelivered {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: webhook for work order %d not delivered: %+v", step, id, ns.Notifications)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	webhookDelivered("first certificate")
	if want := fmt.Sprintf(`"url":"https://127.0.0.1:%d/`, port); !strings.Contains(logs.String(), want) {
		t.Errorf("the sandbox does not send webhooks over https (no %s in the log)", want)
	}

	serial := func(addr string, certs ...tls.Certificate) string {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), Certificates: certs})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	waitSerial := func(step, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			pub := serial(fmt.Sprintf("127.0.0.1:%d", port))
			adm := serial(fmt.Sprintf("127.0.0.1:%d", adminPort), operator)
			if pub == want && adm == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: serving serials %s (public) and %s (admin), want %s", step, pub, adm, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Rotation by rename: the file watch picks it up.
	second := ca.Server(t, time.Time{}, time.Time{})
	second.Rename(t, certFile, keyFile)
	waitSerial("rename", second.Cert.SerialNumber.String())
	webhookDelivered("after rename")

	// A broken pair is refused and the served one kept; then SIGHUP
	// after a good rewrite.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	waitSerial("broken key", second.Cert.SerialNumber.String())
	third := ca.Server(t, time.Time{}, time.Time{})
	third.Write(t, certFile, keyFile)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSerial("SIGHUP", third.Cert.SerialNumber.String())
	webhookDelivered("after SIGHUP")
	resp, err = client(operator).Get(adminURL + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin after rotation: %d", resp.StatusCode)
	}
	select {
	case err := <-done:
		t.Fatalf("gateway exited: %v", err)
	default:
	}
}
