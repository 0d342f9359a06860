// Package retryafter reads HTTP Retry-After headers (RFC 9110 §10.2.3):
// either delta-seconds ("120") or an HTTP-date ("Fri, 31 Dec 1999
// 23:59:59 GMT", and the two obsolete date forms net/http accepts).
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSeconds bounds delta-seconds so the Duration cannot overflow; callers
// cap the result far below this anyway.
const maxSeconds = 1 << 32

// Parse returns how long the server asked to wait, measured from now. ok
// is false when v is empty or not a Retry-After value. A date in the past,
// or "0", is ok with a zero duration: the server allows a retry at once.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		// delta-seconds is 1*DIGIT: no sign, no fraction, no spaces.
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > maxSeconds {
			n = maxSeconds // absurdly long: the caller's cap applies
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d = t.Sub(now); d < 0 {
		d = 0
	}
	return d, true
}

// FromHeader is Parse of h's Retry-After.
func FromHeader(h http.Header, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	return Parse(h.Get("Retry-After"), now)
}

// Cap bounds d by limit; limit ≤ 0 means Retry-After is not honoured and
// gives 0.
func Cap(d, limit time.Duration) time.Duration {
	if limit <= 0 || d <= 0 {
		return 0
	}
	return min(d, limit)
}
