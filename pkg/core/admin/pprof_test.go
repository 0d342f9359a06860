package admin_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/admin"
)

// TestPprof: off by default (404); on, every profile route wants the
// admin token, and what it serves is a real profile.
func TestPprof(t *testing.T) {
	off := newEnv(t)
	if r := off.do(t, http.MethodGet, "/debug/pprof/heap", testToken, ""); r.status != http.StatusNotFound {
		t.Errorf("pprof off: /debug/pprof/heap answered %d, want 404", r.status)
	}

	on := newEnv(t, func(o *admin.Options) { o.Pprof = true })
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1", "/debug/pprof/symbol", "/debug/pprof/trace?seconds=1"} {
		if r := on.do(t, http.MethodGet, path, "", ""); r.status != http.StatusUnauthorized {
			t.Errorf("%s without a token answered %d, want 401", path, r.status)
		}
	}
	// One wrong token only: the login throttle blocks an address after a few.
	if r := on.do(t, http.MethodGet, "/debug/pprof/heap", "wrong-token-0123456789", ""); r.status != http.StatusUnauthorized {
		t.Errorf("heap with a wrong token answered %d, want 401", r.status)
	}
	// A named profile and the CPU profile are gzipped protobuf.
	for _, path := range []string{"/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		r := on.do(t, http.MethodGet, path, testToken, "")
		if r.status != http.StatusOK {
			t.Fatalf("%s answered %d: %s", path, r.status, r.body)
		}
		zr, err := gzip.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s: not gzip: %v", path, err)
		}
		if raw, err := io.ReadAll(zr); err != nil || len(raw) == 0 {
			t.Fatalf("%s: %d bytes of profile, %v", path, len(raw), err)
		}
	}
	if r := on.do(t, http.MethodGet, "/debug/pprof/goroutine?debug=1", testToken, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "goroutine profile:") {
		t.Errorf("goroutine?debug=1: %d %.200s", r.status, r.body)
	}
	if r := on.do(t, http.MethodGet, "/debug/pprof/", testToken, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "heap") {
		t.Errorf("index: %d %.200s", r.status, r.body)
	}
}
