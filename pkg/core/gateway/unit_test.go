package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/reconcile"
	"github.com/wogate/wogate/pkg/corrigo"
)

func TestCachedVerifier(t *testing.T) {
	key, certPEM, err := corrigo.GenerateCertificate("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	iss := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{})
	good, err := iss.Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v, err := corrigo.NewVerifier(certPEM, corrigo.VerifyOptions{Now: func() time.Time { return now }, ClockSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := newCachedVerifier(v)
	c.now = func() time.Time { return now }
	for range 3 {
		if reason, err := c.Check(good); err != nil {
			t.Fatalf("good token: %s %v", reason, err)
		}
	}
	if len(c.ok) != 1 {
		t.Errorf("cache holds %d tokens, want 1", len(c.ok))
	}
	// A forged token is checked every time and never cached.
	otherKey, _, _ := corrigo.GenerateCertificate("mallory", time.Hour)
	forged, _ := corrigo.NewTokenIssuer(otherKey, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 20*time.Minute)
	for range 2 {
		if reason, err := c.Check(forged); err == nil || reason != "bad_signature" {
			t.Fatalf("forged token: reason %q, err %v", reason, err)
		}
	}
	// A tampered copy of the good token is not the cached string.
	if _, err := c.Check(good[:len(good)-2] + "AA"); err == nil {
		t.Fatal("tampered token accepted")
	}
	// Past its expiry the cached token is checked again, and refused.
	now = now.Add(21 * time.Minute)
	if reason, err := c.Check(good); err == nil || reason != "expired" {
		t.Fatalf("expired cached token: reason %q, err %v", reason, err)
	}
	if len(c.ok) != 0 {
		t.Errorf("expired token still cached")
	}
}

// Each plugin's supervisor block reaches its Spec.
func TestPluginSpecsCarrySupervisor(t *testing.T) {
	cfg := &config.Config{Plugins: map[string]config.Plugin{
		"a": {Command: "a", Supervisor: config.PluginSupervisor{MaxCrashes: 2, Window: time.Minute,
			BackoffInitial: time.Second, BackoffMax: 3 * time.Second}},
	}}
	got := pluginSpecs(cfg)[0].Supervisor
	want := plugins.Supervisor{MaxCrashes: 2, CrashWindow: time.Minute, BackoffMin: time.Second, BackoffMax: 3 * time.Second}
	if got != want {
		t.Errorf("spec supervisor = %+v, want %+v", got, want)
	}
}

type memKV map[string][]byte

func (m memKV) KVGet(ctx context.Context, p, k string) ([]byte, bool, error) {
	v, ok := m[p+"/"+k]
	return v, ok, nil
}
func (m memKV) KVPut(ctx context.Context, p, k string, v []byte) error { m[p+"/"+k] = v; return nil }
func (m memKV) KVDelete(ctx context.Context, p, k string) error        { delete(m, p+"/"+k); return nil }

type fixedReader struct{}

func (fixedReader) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	return &corrigo.WorkOrder{WorkOrderId: id}, nil
}
func (fixedReader) CustomerSettings(ctx context.Context, account string, id int) (*corrigo.CustomerSettings, error) {
	return &corrigo.CustomerSettings{CustomerId: id}, nil
}

func TestHostServicesChecksArguments(t *testing.T) {
	h := &hostServices{accounts: map[string]bool{"main": true}, reader: fixedReader{}, settings: fixedReader{}, kv: memKV{}}
	ctx := context.Background()
	if wo, err := h.GetWorkOrder(ctx, "main", 7); err != nil || wo.WorkOrderId != 7 {
		t.Fatalf("GetWorkOrder = %v, %v", wo, err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown account", func() error { _, err := h.GetWorkOrder(ctx, "other", 7); return err }(), `unknown account "other"`},
		{"bad id", func() error { _, err := h.GetWorkOrder(ctx, "main", 0); return err }(), "not valid"},
		{"settings unknown account", func() error { _, err := h.GetCustomerSettings(ctx, "x", 1); return err }(), "unknown account"},
		{"empty key", h.KVPut(ctx, "erp", "", []byte("v")), "key must be"},
		{"long key", h.KVPut(ctx, "erp", strings.Repeat("k", maxKVKey+1), []byte("v")), "key must be"},
		{"big value", h.KVPut(ctx, "erp", "k", make([]byte, maxKVValue+1)), "limit"},
		{"no plugin", h.KVDelete(ctx, "", "k"), "without a plugin"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if err := h.KVPut(ctx, "erp", "wo/1", []byte("job-9")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := h.KVGet(ctx, "erp", "wo/1"); err != nil || !ok || string(v) != "job-9" {
		t.Fatalf("KVGet = %q %v %v", v, ok, err)
	}
}

// Each gateway keeps its own silence reports, the last per account, until
// its maintenance loops stop.
func TestWebhookSilencePerGateway(t *testing.T) {
	var a, b Gateway
	a.silences.put(reconcile.Silence{Account: "main", Silent: true})
	a.silences.put(reconcile.Silence{Account: "main", Silent: false})
	a.silences.put(reconcile.Silence{Account: "other", Silent: true})
	got := a.WebhookSilence()
	if len(got) != 2 || got["main"].Silent || !got["other"].Silent {
		t.Fatalf("a: %+v", got)
	}
	got["main"] = reconcile.Silence{Account: "main", Silent: true}
	if a.WebhookSilence()["main"].Silent {
		t.Fatal("the returned map is the gateway's own")
	}
	if len(b.WebhookSilence()) != 0 {
		t.Fatalf("b sees a's reports: %+v", b.WebhookSilence())
	}
	a.silences.clear()
	if len(a.WebhookSilence()) != 0 {
		t.Fatal("reports kept after the loops stopped")
	}
}
