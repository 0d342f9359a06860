package tlscert_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testcerts"
	"github.com/wogate/wogate/pkg/core/tlscert"
)

// server serves r's config on loopback with net/http, as the gateway does.
func server(t *testing.T, r *tlscert.Reloader, o tlscert.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = w.Write([]byte(req.Proto))
		}),
		TLSConfig: r.ServerConfig(o),
		ErrorLog:  log.New(io.Discard, "", 0), // refused handshakes are what these tests make
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func files(t *testing.T) (dir, certFile, keyFile string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func dialSerial(t *testing.T, addr string, ca *testcerts.CA) (string, *tls.Conn) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), c
}

func TestVersionsAndHTTP2(t *testing.T) {
	ca := testcerts.NewCA(t, "test CA")
	_, cf, kf := files(t)
	ca.Server(t, time.Time{}, time.Time{}).Write(t, cf, kf)
	r, err := tlscert.New(cf, kf, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := server(t, r, tlscert.Options{})
	addr13 := server(t, r, tlscert.Options{MinVersion: tls.VersionTLS13})
	for _, tc := range []struct {
		addr    string
		version uint16
		ok      bool
	}{
		{addr, tls.VersionTLS12, true},
		{addr, tls.VersionTLS13, true},
		{addr, tls.VersionTLS11, false},
		{addr, tls.VersionTLS10, false},
		{addr13, tls.VersionTLS12, false},
		{addr13, tls.VersionTLS13, true},
	} {
		c, err := tls.Dial("tcp", tc.addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost",
			MinVersion: tc.version, MaxVersion: tc.version})
		if tc.ok != (err == nil) {
			t.Errorf("%s TLS %x: err %v, want ok=%v", tc.addr, tc.version, err, tc.ok)
		}
		if err == nil {
			_ = c.Close()
		}
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	resp, err := cl.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("proto %s, want HTTP/2.0", resp.Proto)
	}
}

func TestClientCertificateRequired(t *testing.T) {
	ca := testcerts.NewCA(t, "server CA")
	clientCA := testcerts.NewCA(t, "client CA")
	other := testcerts.NewCA(t, "other CA")
	dir, cf, kf := files(t)
	ca.Server(t, time.Time{}, time.Time{}).Write(t, cf, kf)
	caFile := filepath.Join(dir, "clients.pem")
	if err := os.WriteFile(caFile, clientCA.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := tlscert.LoadCAs(caFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tlscert.New(cf, kf, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := server(t, r, tlscert.Options{ClientCAs: pool})
	get := func(certs ...tls.Certificate) (*http.Response, error) {
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
		return cl.Get("https://" + addr + "/")
	}
	if _, err := get(); err == nil {
		t.Error("no client certificate: request succeeded")
	}
	if _, err := get(other.Client(t, "mallory").TLS(t)); err == nil {
		t.Error("certificate from another CA: request succeeded")
	}
	resp, err := get(clientCA.Client(t, "operator").TLS(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func waitSerial(t *testing.T, addr string, ca *testcerts.CA, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, c := dialSerial(t, addr, ca)
		_ = c.Close()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial %s, want %s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An earlier connection keeps working after a rotation.
func checkOld(t *testing.T, c *tls.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatalf("old connection: %v", err)
	}
	buf := make([]byte, 12)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf), "HTTP/1.1 200") {
		t.Fatalf("old connection answered %q, %v", buf, err)
	}
}

func TestWatchRename(t *testing.T) {
	ca := testcerts.NewCA(t, "test CA")
	_, cf, kf := files(t)
	first := ca.Server(t, time.Time{}, time.Time{})
	first.Write(t, cf, kf)
	r, err := tlscert.New(cf, kf, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	addr := server(t, r, tlscert.Options{})
	// HTTP/1.1 so that the old connection can be driven by hand.
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	second := ca.Server(t, time.Time{}, time.Time{})
	second.Rename(t, cf, kf)
	waitSerial(t, addr, ca, second.Cert.SerialNumber.String())
	checkOld(t, old)

	// A bad pair (a key of another certificate) keeps the current one.
	third, fourth := ca.Server(t, time.Time{}, time.Time{}), ca.Server(t, time.Time{}, time.Time{})
	if err := os.WriteFile(cf, third.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, fourth.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Fatalf("mismatched pair: %v", err)
	}
	time.Sleep(2 * tlscert.Debounce)
	if got := r.Current().Leaf.SerialNumber.String(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after a bad pair serving %s, want %s", got, second.Cert.SerialNumber)
	}
	waitSerial(t, addr, ca, second.Cert.SerialNumber.String())
}

func TestWatchSymlinkSwap(t *testing.T) {
	ca := testcerts.NewCA(t, "test CA")
	dir := t.TempDir()
	first := ca.Server(t, time.Time{}, time.Time{})
	cf, kf := first.SymlinkSwap(t, dir)
	r, err := tlscert.New(cf, kf, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	addr := server(t, r, tlscert.Options{})
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	second := ca.Server(t, time.Time{}, time.Time{})
	second.SymlinkSwap(t, dir)
	waitSerial(t, addr, ca, second.Cert.SerialNumber.String())
	checkOld(t, old)
}

func TestCheck(t *testing.T) {
	ca := testcerts.NewCA(t, "test CA")
	now := time.Now()
	dir, cf, kf := files(t)
	for _, tc := range []struct {
		name     string
		setup    func()
		wantErr  string
		wantWarn string
	}{
		{name: "good", setup: func() { ca.Server(t, time.Time{}, time.Time{}).Write(t, cf, kf) }},
		{name: "expired", setup: func() { ca.Server(t, now.Add(-48*time.Hour), now.Add(-time.Hour)).Write(t, cf, kf) },
			wantErr: cf + ": certificate expired on"},
		{name: "not yet valid", setup: func() { ca.Server(t, now.Add(time.Hour), now.Add(48*time.Hour)).Write(t, cf, kf) },
			wantErr: "not valid before"},
		{name: "expiring", setup: func() { ca.Server(t, time.Time{}, now.Add(3*24*time.Hour)).Write(t, cf, kf) },
			wantWarn: cf + ": certificate expires on"},
		{name: "mismatch", setup: func() {
			ca.Server(t, time.Time{}, time.Time{}).Write(t, cf, filepath.Join(dir, "x"))
			ca.Server(t, time.Time{}, time.Time{}).Write(t, filepath.Join(dir, "y"), kf)
		}, wantErr: "private key does not match public key"},
		{name: "not PEM", setup: func() { _ = os.WriteFile(cf, []byte("hello"), 0o600) }, wantErr: cf + " and " + kf},
		{name: "missing", setup: func() { _ = os.Remove(kf) }, wantErr: kf + ": no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca.Server(t, time.Time{}, time.Time{}).Write(t, cf, kf)
			tc.setup()
			warn, err := tlscert.Check(cf, kf, now)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
			if tc.wantWarn == "" && warn != "" || !strings.Contains(warn, tc.wantWarn) {
				t.Errorf("warning %q, want %q", warn, tc.wantWarn)
			}
		})
	}
}
