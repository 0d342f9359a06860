package admin

import (
	"mime"
	"net"
	"net/http"
	"strings"
)

// The admin listener usually has no token (the default on loopback), so
// "only this machine can reach it" is what protects it. Two browser
// tricks get around that, and guard refuses both before any route runs:
//
//   - Cross-site requests: a page on another site POSTs to
//     http://127.0.0.1:8081/... from the operator's browser. Refused when
//     Sec-Fetch-Site or Origin says the request is cross-site (403), and
//     every state-changing API request must be application/json, which a
//     page on another site cannot send without a CORS preflight this
//     listener never answers (415).
//   - DNS rebinding: evil.example resolves to 127.0.0.1 after the page
//     loaded, so the browser thinks the admin API is same-origin. The Host
//     header still says evil.example: only configured host names are
//     served (421).

// DefaultAllowedHosts are the Host names every admin listener answers to.
var DefaultAllowedHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostExempt are the paths served whatever the Host header says: health
// checks and metrics scrapers address a pod or host by IP, and these
// answers change nothing and hold no secrets.
var hostExempt = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// guard wraps the admin routes with the Host and cross-origin checks
// (jsonOnly, the content-type check, runs inside apiAuth).
type guard struct {
	hosts map[string]bool
	cop   *http.CrossOriginProtection
}

func newGuard(extra []string) *guard {
	g := &guard{hosts: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	for _, h := range append(append([]string{}, DefaultAllowedHosts...), extra...) {
		if n := normHost(h); n != "" {
			g.hosts[n] = true
		}
	}
	return g
}

// normHost lower-cases a host name and strips a port, IPv6 brackets and
// a trailing dot ("LocalHost.:8081" → "localhost").
func normHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// check answers a refused request and reports false; it reports true for
// a request the routes may serve.
func (g *guard) check(w http.ResponseWriter, r *http.Request) bool {
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	if !(safe && hostExempt[r.URL.Path]) && !g.hosts[normHost(r.Host)] {
		writeError(w, http.StatusMisdirectedRequest, "wrong_host", "",
			"this admin listener does not answer to the host name in the request; add it to admin.allowed_hosts if it is yours")
		return false
	}
	if err := g.cop.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross_origin", "", "cross-origin request refused: "+err.Error())
		return false
	}
	return true
}

// jsonOnly answers 415 for a state-changing API request that is not
// application/json and reports false. apiAuth runs it after the token
// check, so an unauthenticated caller learns only that it is one.
//
// POST is the only state-changing method a page on another site can send
// without a preflight, and every state-changing route is a POST; other
// methods reach the routes, which answer 405.
func jsonOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return true
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "",
			"send Content-Type: application/json (also with an empty body)")
		return false
	}
	return true
}

// isJSON reports whether a Content-Type is application/json (parameters
// such as charset allowed).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
