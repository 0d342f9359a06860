package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"not ready","problems":["plugin erp: quarantined"]}`))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// A port that was just free: nothing answers there.
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/healthz"
	_ = ln.Close()

	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		out, errs string
	}{
		{"healthy", []string{"--url", srv.URL + "/healthz"}, 0, `200 OK {"status":"ok"}`, ""},
		{"not ready", []string{"--url", srv.URL + "/readyz"}, 1, "", `503 Service Unavailable {"status":"not ready","problems":["plugin erp: quarantined"]}`},
		{"not found", []string{"--url", srv.URL + "/nothing"}, 1, "", "404 Not Found"},
		{"nobody listening", []string{"--url", closed}, 1, "", "connection refused"},
		{"too slow", []string{"--url", srv.URL + "/slow", "--timeout", "100ms"}, 1, "", "deadline exceeded"},
		{"not http", []string{"--url", "unix:///run/wogate.sock"}, 2, "", "want an http:// or https:// URL"},
		{"no host", []string{"--url", "http:///healthz"}, 2, "", "want an http:// or https:// URL"},
		{"zero timeout", []string{"--timeout", "0s"}, 2, "", "--timeout must be positive"},
		{"stray argument", []string{"extra"}, 2, "", `gateway health: unexpected arguments ["extra"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := healthMain(t.Context(), tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.errs) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
		})
	}
}
