package sandbox

import (
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// tokenInfo is what the sandbox remembers about an access token it issued.
type tokenInfo struct {
	client  string
	expires time.Time
	revoked bool
}

// tokenService issues OAuth access tokens and webhook tokens in CorrigoPro's
// format and checks bearer tokens on the REST API.
//
// Bearer tokens are checked by lookup of the tokens this sandbox issued, not
// by verifying the signature: a map lookup costs nothing next to an RSA
// verification, and it makes revocation exact. The tokens themselves are
// real, signed tokens (corrigo.Verifier accepts them).
type tokenService struct {
	iss      issuer
	certPEM  []byte
	lifetime time.Duration
	audience string
	now      func() time.Time
	clients  map[string]string

	mu     sync.RWMutex
	access map[string]*tokenInfo

	hookMu      sync.Mutex
	hookToken   string
	hookRenewAt time.Time
}

// issuer mints signed tokens; it is corrigo.TokenIssuer.
type issuer interface {
	Issue(name, audience string, lifetime time.Duration) (string, error)
}

// newIssuer builds the token issuer. The format (hash, signed bytes, gzip,
// padding) comes from Options.TokenFormat; the clock is the sandbox's.
func newIssuer(key *rsa.PrivateKey, format corrigo.IssuerOptions, now func() time.Time) issuer {
	format.Now = now
	return corrigo.NewTokenIssuer(key, format)
}

func newTokenService(opts Options, now func() time.Time) (*tokenService, error) {
	key, certPEM := opts.Key, opts.CertificatePEM
	if key == nil {
		var err error
		key, certPEM, err = corrigo.GenerateCertificate("CorrigoPro Direct Sandbox", 5*365*24*time.Hour)
		if err != nil {
			return nil, fmt.Errorf("sandbox: generate certificate: %w", err)
		}
	} else if len(certPEM) == 0 {
		return nil, fmt.Errorf("sandbox: Options.Key given without Options.CertificatePEM")
	}
	return &tokenService{
		iss:      newIssuer(key, opts.TokenFormat, now),
		certPEM:  certPEM,
		lifetime: opts.TokenLifetime,
		audience: opts.WebhookAudience,
		now:      now,
		clients:  opts.Clients,
		access:   map[string]*tokenInfo{},
	}, nil
}

// issueAccess mints an access token for a client and remembers it.
func (t *tokenService) issueAccess(client string) (string, error) {
	tok, err := t.iss.Issue(client, t.audience, t.lifetime)
	if err != nil {
		return "", err
	}
	now := t.now()
	t.mu.Lock()
	if len(t.access) > 1024 {
		for k, v := range t.access {
			if now.After(v.expires) {
				delete(t.access, k)
			}
		}
	}
	t.access[tok] = &tokenInfo{client: client, expires: now.Add(t.lifetime)}
	t.mu.Unlock()
	return tok, nil
}

// authError says why a bearer token was refused.
type authError string

// check validates an Authorization header value; it returns the client id.
func (t *tokenService) check(header string) (string, authError) {
	if header == "" {
		return "", "missing Authorization header"
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", "Authorization scheme is not Bearer"
	}
	tok = strings.TrimSpace(tok)
	t.mu.RLock()
	info := t.access[tok]
	var client string
	var revoked bool
	var expires time.Time
	if info != nil {
		client, revoked, expires = info.client, info.revoked, info.expires
	}
	t.mu.RUnlock()
	switch {
	case info == nil:
		return "", "token unknown"
	case revoked:
		return "", "token revoked"
	case !t.now().Before(expires):
		return "", "token expired"
	}
	return client, ""
}

// revoke revokes one token, every token of a client, or all tokens; it
// returns how many were revoked.
func (t *tokenService) revoke(token, client string, all bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, v := range t.access {
		if v.revoked {
			continue
		}
		if all || (token != "" && k == token) || (client != "" && v.client == client) {
			v.revoked = true
			n++
		}
	}
	return n
}

// webhookToken returns the bearer token for webhook deliveries. One token is
// reused until half its lifetime is gone: signing per delivery would cost an
// RSA operation per notification, and CorrigoPro's tokens are 20-minute
// tokens too.
func (t *tokenService) webhookToken() (string, error) {
	t.hookMu.Lock()
	defer t.hookMu.Unlock()
	now := t.now()
	if t.hookToken != "" && now.Before(t.hookRenewAt) {
		return t.hookToken, nil
	}
	tok, err := t.iss.Issue("CorrigoPro", t.audience, t.lifetime)
	if err != nil {
		return "", err
	}
	t.hookToken, t.hookRenewAt = tok, now.Add(t.lifetime/2)
	return tok, nil
}

// checkSecret compares a client's secret in constant time.
func (t *tokenService) checkSecret(id, secret string) bool {
	want, ok := t.clients[id]
	if !ok {
		// Compare anyway so unknown ids take as long as wrong secrets.
		subtle.ConstantTimeCompare([]byte(secret), []byte(secret+"x"))
		return false
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
}

// serveOAuth answers POST /OAuth/Token (form-urlencoded client credentials).
func (s *Sandbox) serveOAuth(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	writeOAuth := func(status int, v any) {
		b, _ := marshal(v)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Pragma", "no-cache")
		w.Header().Set("Expires", "-1")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		s.usage.add(UsageEntry{
			Time: start, Duration: s.now().Sub(start), Direction: DirectionInbound,
			Method: r.Method, Path: r.URL.Path, Status: status,
			Request: "(client credentials)", Response: string(b),
		})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeOAuth(http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "use POST"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeOAuth(http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuth(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeOAuth(http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id == "" {
		// RFC 6749 §2.3.1 also allows HTTP Basic client authentication.
		if u, p, ok := r.BasicAuth(); ok {
			id, secret = u, p
		}
	}
	if !s.tokens.checkSecret(id, secret) {
		writeOAuth(s.opts.InvalidClientStatus, map[string]string{"error": "invalid_client"})
		return
	}
	tok, err := s.tokens.issueAccess(id)
	if err != nil {
		writeOAuth(http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	writeOAuth(http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(s.opts.TokenLifetime/time.Second) - 1,
	})
}

// IssueToken mints a token with any name, audience and lifetime, signed by
// the sandbox's key. Tests use it to build expired or wrong-audience tokens;
// such tokens are not accepted by the REST API (only OAuth-issued ones are).
func (s *Sandbox) IssueToken(name, audience string, lifetime time.Duration) (string, error) {
	return s.tokens.iss.Issue(name, audience, lifetime)
}

// WebhookToken returns the token currently sent with webhook deliveries.
func (s *Sandbox) WebhookToken() (string, error) { return s.tokens.webhookToken() }

// RevokeToken revokes one access token; RevokeClient every token of a
// client. Revoked tokens get 401/2000 on the REST API.
func (s *Sandbox) RevokeToken(token string) int { return s.tokens.revoke(token, "", false) }

// RevokeClient revokes every access token issued to a client.
func (s *Sandbox) RevokeClient(clientID string) int { return s.tokens.revoke("", clientID, false) }

// RevokeAllTokens revokes every access token issued so far.
func (s *Sandbox) RevokeAllTokens() int { return s.tokens.revoke("", "", true) }
