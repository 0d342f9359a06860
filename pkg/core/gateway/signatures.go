package gateway

import (
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/corrigo"
)

// signatureTracker remembers, per account, which hash/signed-bytes
// combination verified its webhook tokens. CorrigoPro's signature
// algorithm is inferred (API.md §6.2), so the operator pins it from what
// real tokens show (docs/webhook-tokens.md): the tracker logs the
// combination at the first accepted token and again whenever it changes,
// counts it in wogate_webhook_signatures_verified_total and answers the
// admin status endpoint. It outlives reloads: a rebuilt verifier keeps the
// account's history.
type signatureTracker struct {
	log   *slog.Logger
	now   func() time.Time
	count func(account, combination string) // metrics; nil: none

	mu    sync.Mutex
	accts map[string]*admin.WebhookSignatureInfo
}

func newSignatureTracker(log *slog.Logger, count func(account, combination string)) *signatureTracker {
	return &signatureTracker{log: log, now: time.Now, count: count, accts: map[string]*admin.WebhookSignatureInfo{}}
}

// configure records the combinations account's verifier tries (called
// each time its webhook is built).
func (t *signatureTracker) configure(account string, v *corrigo.Verifier) {
	var conf []string
	for _, c := range v.Combinations() {
		conf = append(conf, c.Hash.String()+"/"+string(c.SignedBytes))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.state(account)
	s.Configured = conf
}

func (t *signatureTracker) state(account string) *admin.WebhookSignatureInfo {
	s, ok := t.accts[account]
	if !ok {
		s = &admin.WebhookSignatureInfo{Account: account, Key: -1, Configured: []string{}}
		t.accts[account] = s
	}
	return s
}

// observer returns the cachedVerifier callback for account.
func (t *signatureTracker) observer(account string) func(combination string, key int) {
	return func(combination string, key int) { t.observe(account, combination, key) }
}

func (t *signatureTracker) observe(account, combination string, key int) {
	now := t.now()
	t.mu.Lock()
	s := t.state(account)
	prev, prevKey := s.Combination, s.Key
	first := s.Verified == 0
	s.Verified++
	s.LastVerified = now
	if first {
		s.FirstVerified = now
	}
	changed := !first && (prev != combination || prevKey != key)
	if changed {
		s.Changes++
		s.Previous = prev
	}
	s.Combination, s.Key = combination, key
	conf := len(s.Configured)
	t.mu.Unlock()
	if t.count != nil {
		t.count(account, combination)
	}
	switch {
	case first:
		msg := "webhook token signature verified: pin this combination (docs/webhook-tokens.md)"
		if conf == 1 {
			msg = "webhook token signature verified with the pinned combination"
		}
		t.log.Info(msg, "account", account, "combination", combination, "key", key,
			"pin", pinHint(account, combination), "combinations_tried", conf)
	case changed:
		t.log.Warn("webhook token signature now verifies with another combination or key: CorrigoPro changed how it signs, or rotated its certificate",
			"account", account, "combination", combination, "key", key, "previous", prev, "previous_key", prevKey,
			"pin", pinHint(account, combination))
	}
}

// pinHint spells the config that pins combination ("SHA-256/decoded").
func pinHint(account, combination string) string {
	h, sb, _ := strings.Cut(combination, "/")
	h = strings.ToLower(strings.ReplaceAll(h, "-", ""))
	return "corrigo.accounts." + account + ".webhook: {hashes: [" + h + "], signed_bytes: [" + sb + "]}"
}

// snapshot lists every account's state, sorted by account.
func (t *signatureTracker) snapshot() []admin.WebhookSignatureInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]admin.WebhookSignatureInfo, 0, len(t.accts))
	for _, s := range t.accts {
		c := *s
		c.Configured = append([]string{}, s.Configured...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out
}
