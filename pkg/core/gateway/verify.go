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
	// verified, if set, is told the combination (and key index) of every
	// accepted token, cached or not (signatures.go).
	verified func(combination string, key int)

	mu sync.RWMutex
	ok map[string]cachedToken
}

// cachedToken is a token that verified: until when to trust it, and how.
type cachedToken struct {
	until       time.Time
	combination string
	key         int
}

// maxCachedTokens bounds the cache; on overflow it is emptied (valid tokens
// are few: one live token per sender).
const maxCachedTokens = 64

func newCachedVerifier(v *corrigo.Verifier, verified func(combination string, key int)) *cachedVerifier {
	return &cachedVerifier{v: v, now: time.Now, verified: verified, ok: map[string]cachedToken{}}
}

// Check has the ingest.VerifyFunc shape.
func (c *cachedVerifier) Check(token string) (string, error) {
	now := c.now()
	c.mu.RLock()
	ct, hit := c.ok[token]
	c.mu.RUnlock()
	if hit && now.Before(ct.until) {
		if c.verified != nil {
			c.verified(ct.combination, ct.key)
		}
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
		c.ok[token] = cachedToken{until: res.AcceptedUntil, combination: res.Combination(), key: res.Key}
		c.mu.Unlock()
	}
	if c.verified != nil {
		c.verified(res.Combination(), res.Key)
	}
	return "", nil
}
