package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestSandboxCommand starts `gateway sandbox` on a free port with a loaded
// key pair, calls it, and stops it by cancelling ctx.
func TestSandboxCommand(t *testing.T) {
	dir := t.TempDir()
	key, certPEM, err := corrigo.GenerateCertificate("cmd test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile, certOut := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "out.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runSandbox(ctx, []string{"--listen", addr, "--key", keyFile, "--cert", certFile, "--cert-out", certOut, "--seed-work-orders", "3"})
	}()
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := testhttp.Get(t.Context(), base+"/certificate.pem")
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := corrigo.NewClient(corrigo.Config{BaseURL: base + "/Direct/", OAuthURL: base + "/OAuth/Token", ClientID: "sandbox", ClientSecret: "sandbox-secret"})
	if err != nil {
		t.Fatal(err)
	}
	wos, err := c.SearchWorkOrders(ctx, corrigo.SearchParameters{})
	if err != nil || len(wos) != 3 {
		t.Fatalf("search: %d %v", len(wos), err)
	}
	// gateway sandbox emulate talks to the running sandbox.
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"ProcedureMarked", "--sandbox", base, "--work-order", strconv.FormatInt(wos[0].WorkOrderId, 10)}, 0},
		{[]string{"isMStatusChanged", "--sandbox", base}, 0},
		{[]string{"NoSuchAction", "--sandbox", base}, 1},
		{[]string{"Accepted", "--sandbox", base, "--work-order", "1"}, 1},
		{[]string{"--sandbox", base}, 2},
	} {
		if got := runSandbox(ctx, append([]string{"emulate"}, tc.args...)); got != tc.code {
			t.Errorf("sandbox emulate %v: exit %d, want %d", tc.args, got, tc.code)
		}
	}
	resp, err := testhttp.Get(t.Context(), base+"/_sandbox/notifications")
	if err != nil {
		t.Fatal(err)
	}
	var ns struct{ Notifications []sandbox.Notification }
	err = json.NewDecoder(resp.Body).Decode(&ns)
	_ = resp.Body.Close()
	if err != nil || len(ns.Notifications) != 2 || ns.Notifications[0].Action != corrigo.ActionProcedureMarked ||
		ns.Notifications[0].WorkOrderId != wos[0].WorkOrderId || ns.Notifications[1].WorkOrderId != sandbox.EmulatedWorkOrderId {
		t.Fatalf("notifications after emulate: %+v %v", ns.Notifications, err)
	}
	out, err := os.ReadFile(certOut)
	if err != nil || !bytes.Equal(out, certPEM) {
		t.Fatalf("--cert-out wrote %d bytes (%v), want the loaded certificate", len(out), err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after ctx cancel")
	}
}

func TestSandboxCommandBadFlags(t *testing.T) {
	dir := t.TempDir()
	_, certA, _ := corrigo.GenerateCertificate("a", time.Hour)
	keyB, _, _ := corrigo.GenerateCertificate("b", time.Hour)
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keyB)}), 0o600)
	_ = os.WriteFile(certFile, certA, 0o600)
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"--nope"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"--key", keyFile}, 2},
		{[]string{"--key", keyFile, "--cert", certFile}, 1},                 // mismatched pair
		{[]string{"--key", certFile, "--cert", certFile}, 1},                // not a key
		{[]string{"--key", filepath.Join(dir, "x"), "--cert", certFile}, 1}, // missing file
	}
	for _, tc := range tests {
		if got := runSandbox(context.Background(), tc.args); got != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, got, tc.code)
		}
	}
}

func TestSandboxBanner(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sb.Close() }()
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printBanner(&b, sb, "id1", "secret1", 30*time.Second, 0.01)
	for _, want := range []string{sb.BaseURL() + "api/", sb.OAuthURL(), sb.CertificateURL(), sb.ControlURL(),
		"client_id        id1", "client_secret    secret1", "every 30s", "client_id=id1&client_secret=secret1", "Bearer $TOKEN"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
}
