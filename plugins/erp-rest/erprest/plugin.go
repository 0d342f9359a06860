// Package erprest is the erp-rest plugin: a connector between CorrigoPro
// and any REST ERP or field-service system, configured rather than coded.
//
// Outbound, a NewWorkOrder event becomes a job in the ERP (a templated
// request), the ERP's job id is kept in the gateway's key-value store, and
// the ERP's answer decides the CorrigoPro actions (accept, appointment,
// reject). Inbound, the ERP's status callbacks reach the plugin through the
// gateway and are mapped, by configuration, to check in, pause, check out,
// quote and invoice actions.
//
// It imports only the plugin SDK (pkg/pluginapi) and the CorrigoPro models
// (pkg/corrigo), as every third-party plugin would.
package erprest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Plugin implements pluginapi.Plugin and pluginapi.InboundHandler.
type Plugin struct {
	// Now returns the current time; tests replace it.
	Now func() time.Time

	mu     sync.RWMutex
	cfg    *Config
	client *client
	host   pluginapi.Host
}

// New returns an unconfigured plugin.
func New() *Plugin { return &Plugin{Now: time.Now} }

var (
	_ pluginapi.Plugin         = (*Plugin)(nil)
	_ pluginapi.InboundHandler = (*Plugin)(nil)
)

// Describe reports the plugin's name, version and schema.
func (p *Plugin) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{
		Name:    "erp-rest",
		Version: Version,
		Description: "Creates a job in a REST ERP or field-service system for each new work order, " +
			"and turns the ERP's status callbacks into CorrigoPro actions.",
		ConfigSchema: Schema(),
	}, nil
}

// ValidateConfig compiles every template and checks the cross-field rules
// (credentials for the auth type, site settings for unknown_location).
func (p *Plugin) ValidateConfig(_ context.Context, cfg map[string]any) []pluginapi.ConfigError {
	_, errs := parseConfig(cfg)
	return errs
}

// Configure applies a config. It does not call the ERP: an ERP that is
// down at start must not keep the gateway from starting; requests fail
// (retryably) until it is back.
func (p *Plugin) Configure(ctx context.Context, cfg map[string]any, host pluginapi.Host) error {
	c, errs := parseConfig(cfg)
	if len(errs) > 0 {
		return pluginapi.Permanent(fmt.Errorf("config: %w", joinConfigErrors(errs)))
	}
	if host == nil {
		return pluginapi.Permanent(errors.New("no host"))
	}
	cl := newClient(c)
	p.mu.Lock()
	old := p.client
	p.cfg, p.client, p.host = c, cl, host
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	if c.InboundSecret == "" && len(c.StatusMap) > 0 {
		host.Log(ctx, "warn", "inbound_secret is empty: ERP callbacks are not checked by the plugin; the gateway's plugins.<name>.inbound (token or hmac_secret) is all that authenticates them")
	}
	return nil
}

// Stop closes idle connections to the ERP.
func (p *Plugin) Stop(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.close()
	}
	return nil
}

// state returns the current configuration, or a retryable error before
// the first Configure (the gateway configures a restarted plugin before
// sending it events, so this is a race worth retrying, not a dead letter).
func (p *Plugin) state() (*Config, *client, pluginapi.Host, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cfg == nil {
		return nil, nil, nil, pluginapi.RetryLater(errors.New("plugin is not configured yet"))
	}
	return p.cfg, p.client, p.host, nil
}

func (p *Plugin) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}
