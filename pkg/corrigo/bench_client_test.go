package corrigo

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// BenchmarkParallelCalls measures concurrent GET api/customers against a
// loopback server, with the tuned transport and with Go's defaults (two idle
// connections per host). Besides time per call it reports new TCP
// connections per call: every new connection is a TLS handshake against the
// real CorrigoPro and a socket left in TIME_WAIT, which loopback plain HTTP
// hides from the ns/op figure.
func BenchmarkParallelCalls(b *testing.B) {
	for _, bc := range []struct {
		name string
		hc   func() *http.Client
	}{
		{"tuned", NewHTTPClient},
		{"go-default", func() *http.Client { return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var conns atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("POST /OAuth/Token", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"access_token":"t","token_type":"bearer","expires_in":1199}`)
			})
			mux.HandleFunc("GET /Direct/api/customers", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"Customers":[{"Id":1,"Name":"A","BranchIds":[1,2]}],"MessageId":"m"}`)
			})
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			hc := bc.hc()
			defer hc.CloseIdleConnections()
			c, err := NewClient(Config{BaseURL: srv.URL + "/Direct/", OAuthURL: srv.URL + "/OAuth/Token", ClientID: "i", ClientSecret: "s", HTTPClient: hc})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Customers(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(16) // 16 × GOMAXPROCS goroutines
			start := conns.Load()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Customers(context.Background()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(conns.Load()-start)/float64(b.N), "conns/op")
		})
	}
}
