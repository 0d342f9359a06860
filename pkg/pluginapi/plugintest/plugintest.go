// Package plugintest lets plugin authors test a plugin end to end without
// the gateway: the plugin runs in-process behind the real gRPC glue (the
// same protocol code the gateway uses, over a real socket), and its host
// callbacks reach a fake Host with an in-memory key-value store and canned
// work orders and customer settings.
//
//	func TestAccepts(t *testing.T) {
//		c := plugintest.Start(t, &myPlugin{})
//		if err := c.Configure(ctx, map[string]any{"url": srv.URL}); err != nil { t.Fatal(err) }
//		actions, err := c.HandleEvent(ctx, plugintest.NewWorkOrderEvent("acct", wo))
//		...
//	}
package plugintest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// Client drives a plugin through the protocol, as the gateway would.
type Client struct {
	remote   pluginhost.Remote
	instance string
	// Host is the fake host the plugin's callbacks reach.
	Host *Host
}

// Option tunes Start.
type Option func(*options)

type options struct {
	instance string
	host     *Host
}

// WithHost uses h instead of a fresh NewHost().
func WithHost(h *Host) Option { return func(o *options) { o.host = h } }

// WithInstanceName sets the instance name sent with Configure (default
// "test").
func WithInstanceName(name string) Option { return func(o *options) { o.instance = name } }

// Start serves p over an in-process gRPC connection (go-plugin's
// TestPluginGRPCConn) and returns a Client for it. The connection is closed
// when the test ends. It fails the test if p's config schema is malformed.
func Start(t testing.TB, p pluginapi.Plugin, opts ...Option) *Client {
	t.Helper()
	o := options{instance: "test"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.host == nil {
		o.host = NewHost()
	}
	gc, gs := plugin.TestPluginGRPCConn(t, false, pluginhost.PluginSet(p, 0))
	t.Cleanup(func() {
		// Not gc.Close: it asks the server to stop itself over the
		// controller service, which would race with gs.Stop.
		_ = gc.Conn.Close()
		gs.Stop()
	})
	r, err := pluginhost.Dispense(gc)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	c := &Client{remote: r, instance: o.instance, Host: o.host}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Describe(ctx)
	if err != nil {
		t.Fatalf("plugintest: describe: %v", err)
	}
	if err := info.ConfigSchema.Check(); err != nil {
		t.Fatalf("plugintest: plugin %q: %v", info.Name, err)
	}
	return c
}

// StartConfigured is Start followed by Configure(cfg); it fails the test
// if configuration fails.
func StartConfigured(t testing.TB, p pluginapi.Plugin, cfg map[string]any, opts ...Option) *Client {
	t.Helper()
	c := Start(t, p, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatalf("plugintest: configure: %v", err)
	}
	return c
}

// Describe calls the plugin's Describe through the protocol.
func (c *Client) Describe(ctx context.Context) (pluginapi.RemoteInfo, error) {
	return c.remote.Describe(ctx)
}

// ValidateConfig validates cfg (schema checks, then the plugin's own).
func (c *Client) ValidateConfig(ctx context.Context, cfg map[string]any) ([]pluginapi.ConfigError, error) {
	return c.remote.ValidateConfig(ctx, cfg)
}

// Configure configures the plugin with the fake Host. Config problems come
// back as pluginapi.ConfigErrors.
func (c *Client) Configure(ctx context.Context, cfg map[string]any) error {
	return c.remote.Configure(ctx, c.instance, cfg, c.Host)
}

// HandleEvent sends one event. Plugin errors come back as *pluginapi.Error.
func (c *Client) HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	return c.remote.HandleEvent(ctx, ev)
}

// HandleInbound sends one inbound HTTP request.
func (c *Client) HandleInbound(ctx context.Context, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	return c.remote.HandleInbound(ctx, req)
}

// Stop calls the plugin's Stop.
func (c *Client) Stop(ctx context.Context) error { return c.remote.Stop(ctx) }

// Verdict is what the gateway does with an event whose HandleEvent call
// returned an error (see VerdictOf).
type Verdict string

// Verdicts, as the gateway's dispatcher applies them.
const (
	// VerdictNone: no error, the event is handled.
	VerdictNone Verdict = ""
	// VerdictRetry: delivered again later, with backoff, up to the
	// gateway's delivery.max_attempts (pluginapi.RetryLater, and any error
	// that is not a *pluginapi.Error).
	VerdictRetry Verdict = "retry"
	// VerdictPermanent: a dead letter at once (pluginapi.Permanent).
	VerdictPermanent Verdict = "permanent"
	// VerdictNeedsPerson: parked, a dead letter with the reason, for a
	// person to fix and reprocess (pluginapi.NeedsPerson).
	VerdictNeedsPerson Verdict = "needs_person"
)

// VerdictOf says what the gateway would do with an event whose
// HandleEvent returned err, after the error crossed the protocol (as
// errors from Client.HandleEvent have):
//
//	_, err := c.HandleEvent(ctx, ev)
//	if v := plugintest.VerdictOf(err); v != plugintest.VerdictNeedsPerson { ... }
func VerdictOf(err error) Verdict {
	if err == nil {
		return VerdictNone
	}
	var pe *pluginapi.Error
	if !errors.As(err, &pe) {
		return VerdictRetry
	}
	switch {
	case pe.NeedsPerson:
		return VerdictNeedsPerson
	case pe.Retryable:
		return VerdictRetry
	}
	return VerdictPermanent
}

// NewWorkOrderEvent builds the event the gateway sends for a NewWorkOrder
// notification about wo, with a realistic body.
func NewWorkOrderEvent(account string, wo corrigo.WorkOrder) pluginapi.Event {
	h := corrigo.Header{
		WorkOrderId: wo.WorkOrderId,
		BranchId:    wo.BranchId,
		Sender:      &corrigo.Sender{Name: "CorrigoPro", Type: "CorrigoPro"},
		ActionDate:  corrigo.NewTime(time.Now()),
		ApiVersion:  "2.0",
		MessageId:   fmt.Sprintf("plugintest-%d-%d", wo.WorkOrderId, time.Now().UnixNano()),
	}
	body, err := corrigo.NewNotification(h, corrigo.NewWorkOrderPayload{Details: wo})
	if err != nil { // WorkOrder always encodes; keep the event usable anyway
		body = nil
	}
	h.Action = corrigo.ActionNewWorkOrder
	w := wo
	return pluginapi.Event{
		ID: "ev-" + h.MessageId, Account: account, Source: "webhook", Rule: "test",
		Header: h, WorkOrder: &w, Body: body,
	}
}

// Host is a fake pluginapi.Host: an in-memory key-value store, canned work
// orders and customer settings, and a record of log lines. It is safe for
// concurrent use.
type Host struct {
	mu         sync.Mutex
	kv         map[string][]byte
	workOrders map[string]corrigo.WorkOrder
	settings   map[string]corrigo.CustomerSettings
	logs       []LogEntry
	fail       error
}

// LogEntry is one Host.Log call.
type LogEntry struct {
	Level   string
	Message string
	Attrs   map[string]any
}

// NewHost returns an empty fake host.
func NewHost() *Host {
	return &Host{
		kv:         map[string][]byte{},
		workOrders: map[string]corrigo.WorkOrder{},
		settings:   map[string]corrigo.CustomerSettings{},
	}
}

var _ pluginapi.Host = (*Host)(nil)

func woKey(account string, id int64) string { return fmt.Sprintf("%s/%d", account, id) }
func csKey(account string, id int) string   { return fmt.Sprintf("%s/%d", account, id) }

// AddWorkOrder makes GetWorkOrder(account, wo.WorkOrderId) return wo.
func (h *Host) AddWorkOrder(account string, wo corrigo.WorkOrder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.workOrders[woKey(account, wo.WorkOrderId)] = wo
}

// AddCustomerSettings makes GetCustomerSettings(account, cs.CustomerId)
// return cs.
func (h *Host) AddCustomerSettings(account string, cs corrigo.CustomerSettings) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settings[csKey(account, cs.CustomerId)] = cs
}

// FailWith makes every later call fail with err (nil restores normal
// behaviour); use a *pluginapi.Error to test retryable host failures.
func (h *Host) FailWith(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

// KV returns a copy of the key-value store.
func (h *Host) KV() map[string][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.kv)
}

// Logs returns the lines logged so far.
func (h *Host) Logs() []LogEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogEntry(nil), h.logs...)
}

func (h *Host) GetWorkOrder(_ context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	wo, ok := h.workOrders[woKey(account, id)]
	if !ok {
		return nil, fmt.Errorf("work order %d in account %q: %w", id, account, pluginapi.ErrNotFound)
	}
	return &wo, nil
}

func (h *Host) GetCustomerSettings(_ context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	cs, ok := h.settings[csKey(account, customerID)]
	if !ok {
		return nil, fmt.Errorf("customer %d in account %q: %w", customerID, account, pluginapi.ErrNotFound)
	}
	return &cs, nil
}

func (h *Host) KVGet(_ context.Context, key string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, false, h.fail
	}
	v, ok := h.kv[key]
	return append([]byte(nil), v...), ok, nil
}

func (h *Host) KVPut(_ context.Context, key string, value []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return h.fail
	}
	if key == "" {
		return errors.New("kv put: empty key")
	}
	h.kv[key] = append([]byte(nil), value...)
	return nil
}

func (h *Host) KVDelete(_ context.Context, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return h.fail
	}
	delete(h.kv, key)
	return nil
}

func (h *Host) Log(_ context.Context, level, msg string, kv ...any) {
	attrs := map[string]any{}
	r := slog.NewRecord(time.Time{}, 0, msg, 0)
	r.Add(kv...)
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Any()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, LogEntry{Level: level, Message: msg, Attrs: attrs})
}
