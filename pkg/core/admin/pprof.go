package admin

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves Go's runtime profiles under /debug/pprof/ when
// Options.Pprof is on, behind the same bearer token as the API: a heap
// profile holds whatever the gateway had in memory, secrets included,
// and a CPU profile costs the gateway CPU for as long as the caller asks.
// The config refuses admin.pprof without admin.token, so these routes
// never answer without one.
//
// Only GET routes: the symbol lookup's POST form is not needed by
// `go tool pprof` for Go binaries (profiles carry their symbols), and
// every admin POST must be JSON.
//
// The routes are registered on the handler's own mux; importing
// net/http/pprof also registers them on http.DefaultServeMux, which the
// gateway never serves.
func (h *Handler) pprofRoutes(m routeMux) {
	auth := func(f http.HandlerFunc) http.Handler { return h.apiAuth(f) }
	// Index serves the named profiles too: /debug/pprof/heap,
	// goroutine, allocs, block, mutex, threadcreate.
	m.Handle("GET /debug/pprof/", auth(pprof.Index))
	m.Handle("GET /debug/pprof/cmdline", auth(pprof.Cmdline))
	m.Handle("GET /debug/pprof/profile", auth(pprof.Profile))
	m.Handle("GET /debug/pprof/symbol", auth(pprof.Symbol))
	m.Handle("GET /debug/pprof/trace", auth(pprof.Trace))
}
