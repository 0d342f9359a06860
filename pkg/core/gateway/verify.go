package gateway

import (
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// cachedVerifier remembers tokens that verified for as long as the
// verifier would accept them (their expiry plus the clock skew).
// CorrigoPro signs a webhook token once and sends it with every
// notification for its 20-minute life, so checking the RSA signature of
// the same string again buys nothing; a token that did not verify is never
// cached and pays the full check every time.
type cachedVerifier struct {
	v   *corrigo.Verifier
	now func() time.Time

	mu sync.RWMutex
	ok map[string]time.Time // token → when to stop trusting it
}

// maxCachedTokens bounds the cache; on overflow it is emptied (valid tokens
// are few: one live token per sender).
const maxCachedTokens = 64

func newCachedVerifier(v *corrigo.Verifier) *cachedVerifier {
	return &cachedVerifier{v: v, now: time.Now, ok: map[string]time.Time{}}
}

// Check has the ingest.VerifyFunc shape.
func (c *cachedVerifier) Check(token string) (string, error) {
	now := c.now()
	c.mu.RLock()
	until, hit := c.ok[token]
	c.mu.RUnlock()
	if hit && now.Before(until) {
		return "", nil
	}
	res, err := c.v.VerifyToken(token)
	if err != nil {
		if hit {
			c.mu.Lock()
			delete(c.ok, token)
			c.mu.Unlock()
		}
		return string(corrigo.ReasonOf(err)), err
	}
	if !res.AcceptedUntil.IsZero() {
		c.mu.Lock()
		if len(c.ok) >= maxCachedTokens {
			clear(c.ok)
		}
		c.ok[token] = res.AcceptedUntil
		c.mu.Unlock()
	}
	return "", nil
}
