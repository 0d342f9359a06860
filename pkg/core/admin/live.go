package admin

import (
	"sort"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/plugins"
)

// Live implements Runtime from the gateway's parts. Every field is read
// on each request, so a hot reload that swaps the config, the plugin
// manager or the sender only has to change what the functions return.
// Nil fields are shown as empty.
//
//	rt := &admin.Live{
//		Config:   func() *config.Config { return cfg },
//		PluginHealth:  func() admin.PluginHealther { return g.plugins },
//		BreakerStates: func() admin.BreakerReader { return g.sender },
//		Hits:          m.RuleHits, HitsSince: m.Since(),
//	}
type Live struct {
	Config        func() *config.Config
	PluginHealth  func() PluginHealther
	BreakerStates func() BreakerReader
	// Hits returns rule hit counts by rule name (metrics.Metrics.RuleHits).
	Hits      func() map[string]int64
	HitsSince time.Time
	// Reload reports the last config reload attempt; nil: not shown.
	Reload func() ReloadInfo
	// Signatures reports how each account's webhook tokens verify; nil:
	// not shown.
	Signatures func() []WebhookSignatureInfo
}

// WebhookSignatureInfo is how one account's webhook tokens verify. The
// signature algorithm is inferred (API.md §6.2): the combination that
// verified real tokens is the one to pin (docs/webhook-tokens.md).
type WebhookSignatureInfo struct {
	Account string `json:"account"`
	// Configured lists the hash/signed-bytes combinations the verifier
	// tries, in order ("SHA-256/decoded").
	Configured []string `json:"configured"`
	// Combination verified the last accepted token; empty until one did.
	Combination string `json:"combination,omitempty"`
	// Key is the index (PEM block order) of the certificate key that
	// verified it; -1 until one did.
	Key int `json:"key"`
	// Verified counts accepted tokens since start (cached ones included).
	Verified      int64     `json:"verified"`
	FirstVerified time.Time `json:"first_verified,omitzero"`
	LastVerified  time.Time `json:"last_verified,omitzero"`
	// Changes counts how often the combination changed; Previous is the
	// one before the last change.
	Changes  int    `json:"changes"`
	Previous string `json:"previous,omitempty"`
}

// SignatureReporter is a Runtime that reports webhook signature
// combinations; the status endpoint shows them.
type SignatureReporter interface {
	WebhookSignatures() ([]WebhookSignatureInfo, bool)
}

// WebhookSignatures implements SignatureReporter.
func (l *Live) WebhookSignatures() ([]WebhookSignatureInfo, bool) {
	if l.Signatures == nil {
		return nil, false
	}
	return l.Signatures(), true
}

// ReloadInfo is the outcome of the last config reload attempt.
type ReloadInfo struct {
	// Attempts counts reloads tried since the gateway started.
	Attempts    int       `json:"attempts"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is the last attempt's error; "" when it succeeded (the
	// config it named is then the one running).
	LastError   string    `json:"last_error,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastVersion string    `json:"last_version,omitempty"`
}

// ReloadReporter is a Runtime that reports config reloads; the status
// endpoint and the health page show the last one.
type ReloadReporter interface {
	LastReload() (ReloadInfo, bool)
}

// LastReload implements ReloadReporter.
func (l *Live) LastReload() (ReloadInfo, bool) {
	if l.Reload == nil {
		return ReloadInfo{}, false
	}
	return l.Reload(), true
}

// PluginHealther reports plugin health (*plugins.Manager).
type PluginHealther interface {
	Health() map[string]plugins.PluginHealth
}

// BreakerReader reports breaker states (*egress.Sender).
type BreakerReader interface {
	Accounts() []string
	BreakerState(account string) egress.BreakerState
}

var _ Runtime = (*Live)(nil)

func (l *Live) cfg() *config.Config {
	if l.Config == nil {
		return nil
	}
	return l.Config()
}

// Accounts implements Runtime.
func (l *Live) Accounts() []string {
	c := l.cfg()
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.Corrigo.Accounts))
	for n := range c.Corrigo.Accounts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ConfigVersion implements Runtime.
func (l *Live) ConfigVersion() string {
	if c := l.cfg(); c != nil {
		return c.Version
	}
	return ""
}

// Rules implements Runtime.
func (l *Live) Rules() []RuleInfo {
	c := l.cfg()
	if c == nil {
		return nil
	}
	var hits map[string]int64
	if l.Hits != nil {
		hits = l.Hits()
	}
	out := make([]RuleInfo, len(c.Rules))
	for i, r := range c.Rules {
		out[i] = RuleInfo{Index: i, Name: r.Name, When: r.When, Plugin: r.Plugin, Stop: r.Stop, Shadow: r.Shadow,
			Hits: hits[r.Name], HitsSince: l.HitsSince}
	}
	return out
}

// Plugins implements Runtime.
func (l *Live) Plugins() []PluginInfo {
	if l.PluginHealth == nil {
		return nil
	}
	src := l.PluginHealth()
	if src == nil {
		return nil
	}
	hs := src.Health()
	out := make([]PluginInfo, 0, len(hs))
	for name, h := range hs {
		if h.Name == "" {
			h.Name = name
		}
		out = append(out, pluginInfo(h))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func pluginInfo(h plugins.PluginHealth) PluginInfo {
	return PluginInfo{Name: h.Name, State: string(h.State), Since: h.Since, Restarts: h.Restarts,
		RecentCrashes: h.RecentCrashes, LastError: h.LastError, LastErrorAt: h.LastErrorAt, PID: h.PID,
		Version: h.Version, Protocol: h.Protocol, InFlight: h.InFlight}
}

// Breakers implements Runtime.
func (l *Live) Breakers() []BreakerInfo {
	if l.BreakerStates == nil {
		return nil
	}
	src := l.BreakerStates()
	if src == nil {
		return nil
	}
	var out []BreakerInfo
	for _, a := range src.Accounts() {
		out = append(out, BreakerInfo{Account: a, State: string(src.BreakerState(a))})
	}
	return out
}
