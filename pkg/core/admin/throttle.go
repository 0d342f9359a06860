package admin

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wogate/wogate/internal/backoff"
)

// Wrong admin tokens are throttled per client address: a few are free
// (typos), then every further one blocks the address for a time that
// doubles, up to throttleMaxBlock. While blocked, a request is answered
// 429 without looking at its token, so guessing gets nowhere; a right
// token once the block ends clears the record. Before this, 300 wrong
// logins took 6.5 s.
const (
	throttleFree     = 5                // wrong tokens per throttleWindow before blocking
	throttleWindow   = time.Minute      // how long a wrong token counts
	throttleFirst    = time.Second      // first block
	throttleMaxBlock = 5 * time.Minute  // longest block
	throttleForget   = 15 * time.Minute // a record idle this long is dropped
	throttleMaxAddrs = 4096             // records kept; beyond, addresses share one
)

type loginThrottle struct {
	now   func() time.Time
	mu    sync.Mutex
	addrs map[string]*loginRecord
}

type loginRecord struct {
	failures     int       // within the current window
	windowStart  time.Time // first failure of the window
	last         time.Time // last failure
	blockedUntil time.Time
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	if now == nil {
		now = time.Now
	}
	return &loginThrottle{now: now, addrs: map[string]*loginRecord{}}
}

// clientKey is the address a request's failures are counted under: the
// peer's IP (X-Forwarded-For is not trusted here).
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked returns how long r's address must still wait (0: not blocked).
func (t *loginThrottle) blocked(r *http.Request) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.addrs[clientKey(r)]
	if rec == nil {
		rec = t.addrs[overflowAddr]
	}
	if rec == nil || !now.Before(rec.blockedUntil) {
		return 0
	}
	return rec.blockedUntil.Sub(now)
}

const overflowAddr = "(many addresses)"

// failed records a wrong token from r's address.
func (t *loginThrottle) failed(r *http.Request) {
	now := t.now()
	key := clientKey(r)
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.addrs[key]
	if rec == nil {
		if len(t.addrs) >= throttleMaxAddrs {
			t.prune(now)
		}
		if len(t.addrs) >= throttleMaxAddrs {
			key = overflowAddr
			rec = t.addrs[key]
		}
		if rec == nil {
			rec = &loginRecord{}
			t.addrs[key] = rec
		}
	}
	if now.Sub(rec.last) > throttleForget {
		*rec = loginRecord{}
	}
	// The free failures renew every throttleWindow; once an address is
	// past them, only throttleForget of quiet (or the right token)
	// clears its record.
	if rec.failures <= throttleFree && now.Sub(rec.windowStart) > throttleWindow {
		rec.windowStart, rec.failures = now, 0
	}
	rec.failures++
	rec.last = now
	if over := rec.failures - throttleFree; over > 0 {
		rec.blockedUntil = now.Add(backoff.Exponential(throttleFirst, throttleMaxBlock, over))
	}
}

// succeeded clears r's address's record.
func (t *loginThrottle) succeeded(r *http.Request) {
	t.mu.Lock()
	delete(t.addrs, clientKey(r))
	t.mu.Unlock()
}

// prune drops records idle for throttleForget (t.mu held).
func (t *loginThrottle) prune(now time.Time) {
	for k, rec := range t.addrs {
		if now.Sub(rec.last) > throttleForget && !now.Before(rec.blockedUntil) {
			delete(t.addrs, k)
		}
	}
}

// tooManyLogins answers an API request from a blocked address.
func tooManyLogins(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	writeError(w, http.StatusTooManyRequests, "too_many_failures", "",
		"too many wrong tokens from this address; try again in "+wait.Round(time.Second).String())
}
