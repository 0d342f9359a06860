package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The UI authenticates a browser with a session cookie set by the login
// form (the admin token typed once), or a request with the bearer header
// (scripts, curl). The cookie is HttpOnly and SameSite=Strict, and every
// form POST made with it must carry a CSRF token derived from it, so a
// page on another site can neither read nor use the session. The token is
// never accepted in a query string (it would end up in logs and history).

const sessionCookie = "wogate_admin_session"

// newSession returns a signed cookie value: expiry.epoch.nonce.mac.
func (h *Handler) newSession() string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	body := strconv.FormatInt(h.o.Now().Add(h.o.SessionTTL).Unix(), 10) + "." + strconv.FormatInt(h.epoch.Load(), 10) +
		"." + base64.RawURLEncoding.EncodeToString(nonce)
	return body + "." + h.sign("session|"+body)
}

// Sessions are signed cookies the gateway keeps no list of, so one
// cannot be revoked alone. Each carries the session epoch it was issued
// under; logging out (or POST /api/v1/sessions/revoke) moves the epoch on,
// which ends every session issued before. The epoch is kept in the store
// (watermark "admin:session_epoch"), so a restart does not bring revoked
// sessions back. One shared token means one identity: ending everyone's
// session on a logout is what logout can mean here.
const epochKey = "admin:session_epoch"

// epochStore is the part of store.Store the epoch needs.
type epochStore interface {
	GetWatermark(ctx context.Context, name string) (string, error)
	SetWatermark(ctx context.Context, name, value string) error
}

// loadEpoch reads the stored session epoch (0 when none).
func (h *Handler) loadEpoch(ctx context.Context) error {
	es, ok := h.st.(epochStore)
	if !ok || h.st == nil {
		return nil
	}
	v, err := es.GetWatermark(ctx, epochKey)
	if err != nil || v == "" {
		return err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("session epoch %q: %w", v, err)
	}
	h.epoch.Store(n)
	return nil
}

// revokeSessions ends every session issued so far. The new epoch is
// stored first: if the store fails, nothing changes and the caller says
// so, rather than revoke sessions only until the next restart.
func (h *Handler) revokeSessions(ctx context.Context) error {
	h.epochMu.Lock()
	defer h.epochMu.Unlock()
	next := h.epoch.Load() + 1
	if es, ok := h.st.(epochStore); ok && h.st != nil {
		if err := es.SetWatermark(ctx, epochKey, strconv.FormatInt(next, 10)); err != nil {
			return fmt.Errorf("store the session epoch: %w", err)
		}
	}
	h.epoch.Store(next)
	h.log.Info("admin sessions revoked", "epoch", next)
	return nil
}

func (h *Handler) sign(s string) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// validSession checks a cookie value's signature and expiry.
func (h *Handler) validSession(v string) bool {
	i := strings.LastIndexByte(v, '.')
	if i <= 0 || len(v) > 200 {
		return false
	}
	body, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(h.sign("session|"+body))) {
		return false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 {
		return false // a cookie from before epochs: log in again
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || h.o.Now().Unix() >= n {
		return false
	}
	e, err := strconv.ParseInt(parts[1], 10, 64)
	return err == nil && e == h.epoch.Load()
}

// csrfFor is the CSRF token of a session.
func (h *Handler) csrfFor(session string) string { return h.sign("csrf|" + session) }

func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, v string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, Secure: r.TLS != nil, //nolint:gosec // G124: Secure is set whenever the admin listener is TLS; plain HTTP admin must still log in
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.o.SessionTTL / time.Second)})
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil, //nolint:gosec // G124: as setSession
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// uiAuth is how a UI request was authenticated.
type uiAuth struct {
	bearer  bool   // Authorization header: no CSRF token needed
	session string // the cookie value, when authenticated by cookie
	open    bool   // no token configured
}

type uiAuthKey struct{}

func authOf(ctx context.Context) uiAuth {
	a, _ := ctx.Value(uiAuthKey{}).(uiAuth)
	return a
}

// requireUI authenticates a UI request, sending a browser without a
// session to the login form, and checks the CSRF token of state-changing
// requests made with the cookie.
func (h *Handler) requireUI(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var a uiAuth
		if tok, ok := bearer(r); ok {
			if wait := h.logins.blocked(r); wait > 0 && h.o.Token != "" {
				w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
				h.uiError(w, r, http.StatusTooManyRequests, "Too many wrong tokens. Try again later.")
				return
			}
			if !h.tokenOK(tok) {
				h.logins.failed(r)
				h.uiError(w, r, http.StatusUnauthorized, "Invalid bearer token.")
				return
			}
			a.bearer = true
		} else if c, err := r.Cookie(sessionCookie); err == nil && h.validSession(c.Value) {
			a.session = c.Value
		} else if h.o.Token == "" {
			// No token configured: still give the browser a session, which
			// anchors the CSRF token of its forms.
			a.session = h.newSession()
			h.setSession(w, r, a.session)
		} else {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.uiError(w, r, http.StatusUnauthorized, "Your session has ended. Log in again.")
			return
		}
		a.open = h.o.Token == ""
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
			if err := r.ParseForm(); err != nil {
				h.uiError(w, r, http.StatusBadRequest, "Unreadable form: "+err.Error())
				return
			}
		}
		if r.Method == http.MethodPost && !a.bearer {
			if !sameOrigin(r) {
				h.uiError(w, r, http.StatusForbidden, "Cross-origin form submission refused.")
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(h.csrfFor(a.session))) {
				h.uiError(w, r, http.StatusForbidden, "The form's CSRF token is missing or stale. Reload the page and try again.")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), uiAuthKey{}, a)))
	}
}

// sameOrigin refuses a POST whose Origin (or, without one, Referer)
// names another host. Browsers send Origin on every cross-site POST. An
// opaque origin ("null", sent by privacy settings and sandboxed frames)
// proves nothing either way and is let through: the CSRF token, not this
// check, is what protects the forms.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return true
	}
	u, err := url.Parse(src)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// safeNext accepts only a local UI path as the place to return to after
// login (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	// Dot segments ("/ui/../../x", or "%2e%2e", which browsers read as
	// "..") would take the redirect off the UI.
	p, _, _ := strings.Cut(next, "?")
	p, _, _ = strings.Cut(p, "#")
	for _, seg := range strings.Split(p, "/") {
		switch strings.ReplaceAll(strings.ToLower(seg), "%2e", ".") {
		case ".", "..":
			return "/ui/"
		}
	}
	return next
}
