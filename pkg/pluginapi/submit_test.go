package pluginapi_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// submitter is a plugin that, for each event, submits actions through its
// Host and keeps the error it got, as the plugin process saw it.
type submitter struct {
	mu      sync.Mutex
	host    pluginapi.Host
	actions []pluginapi.Action
	got     error
	isSub   bool
}

func (p *submitter) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{Name: "submitter", Version: "1"}, nil
}
func (p *submitter) ValidateConfig(context.Context, map[string]any) []pluginapi.ConfigError {
	return nil
}
func (p *submitter) Configure(_ context.Context, _ map[string]any, h pluginapi.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host = h
	return nil
}
func (p *submitter) HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	p.mu.Lock()
	h, acts := p.host, p.actions
	p.mu.Unlock()
	s, ok := h.(pluginapi.ActionSubmitter)
	var err error
	if ok {
		err = s.SubmitActions(ctx, ev.Account, ev.ID, acts)
	}
	p.mu.Lock()
	p.isSub, p.got = ok, err
	p.mu.Unlock()
	return nil, nil
}
func (p *submitter) Stop(context.Context) error { return nil }

// queueHost is a gateway-side Host that also queues actions.
type queueHost struct {
	*plugintest.Host
	mu    sync.Mutex
	calls []queued
	err   error
}

type queued struct {
	Account, Key string
	Actions      []pluginapi.Action
}

func (h *queueHost) SubmitActions(_ context.Context, account, key string, actions []pluginapi.Action) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, queued{account, key, actions})
	return h.err
}

// start serves p over an in-process gRPC connection with host as the
// gateway's Host.
func start(t *testing.T, p pluginapi.Plugin, host pluginapi.Host) pluginhost.Remote {
	t.Helper()
	gc, gs := plugin.TestPluginGRPCConn(t, false, pluginhost.PluginSet(p, 0))
	t.Cleanup(func() {
		_ = gc.Conn.Close()
		gs.Stop()
	})
	r, err := pluginhost.Dispense(gc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Configure(ctx, "test", map[string]any{}, host); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSubmitActionsOverTheWire(t *testing.T) {
	at := corrigo.NewTime(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC))
	actions := []pluginapi.Action{
		{Kind: pluginapi.KindCheckIn, WorkOrderID: 7, Comment: "on site", ActualActionDate: &at, PerformedBy: &corrigo.Person{Name: "Tom"}},
		{Kind: pluginapi.KindNote, WorkOrderID: 7, Text: "parts ordered"},
	}
	cases := []struct {
		name      string
		hostErr   error
		noQueue   bool // the gateway's Host cannot queue actions
		wantErr   bool
		retryable bool
		unsup     bool
	}{
		{name: "queued"},
		{name: "refused", hostErr: pluginapi.Permanent(errors.New("unknown account \"x\"")), wantErr: true},
		{name: "try later", hostErr: pluginapi.RetryLater(errors.New("store is down")), wantErr: true, retryable: true},
		{name: "plain error is retryable", hostErr: errors.New("disk full"), wantErr: true, retryable: true},
		{name: "host says unsupported", hostErr: errors.ErrUnsupported, wantErr: true, retryable: true, unsup: true},
		{name: "host without a queue", noQueue: true, wantErr: true, retryable: true, unsup: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &submitter{actions: actions}
			qh := &queueHost{Host: plugintest.NewHost(), err: tc.hostErr}
			var host pluginapi.Host = qh
			if tc.noQueue {
				host = qh.Host
			}
			r := start(t, p, host)
			if _, err := r.HandleEvent(context.Background(), pluginapi.Event{ID: "key-1", Account: "acme"}); err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			got, isSub := p.got, p.isSub
			p.mu.Unlock()
			if !isSub {
				t.Fatal("the SDK's host does not offer ActionSubmitter")
			}
			if !tc.wantErr {
				if got != nil {
					t.Fatalf("SubmitActions: %v", got)
				}
				qh.mu.Lock()
				defer qh.mu.Unlock()
				if len(qh.calls) != 1 {
					t.Fatalf("host saw %d calls", len(qh.calls))
				}
				c := qh.calls[0]
				if c.Account != "acme" || c.Key != "key-1" || !reflect.DeepEqual(c.Actions, actions) {
					t.Fatalf("host got %+v", c)
				}
				return
			}
			var pe *pluginapi.Error
			if !errors.As(got, &pe) {
				t.Fatalf("error %v (%T) is not a *pluginapi.Error", got, got)
			}
			if pe.Retryable != tc.retryable {
				t.Errorf("retryable = %v, want %v (%v)", pe.Retryable, tc.retryable, got)
			}
			if errors.Is(got, errors.ErrUnsupported) != tc.unsup {
				t.Errorf("errors.Is(ErrUnsupported) = %v, want %v (%v)", !tc.unsup, tc.unsup, got)
			}
		})
	}
}

func TestSubmitActionsEmptyIsNoCall(t *testing.T) {
	p := &submitter{}
	qh := &queueHost{Host: plugintest.NewHost()}
	r := start(t, p, qh)
	if _, err := r.HandleEvent(context.Background(), pluginapi.Event{ID: "k", Account: "acme"}); err != nil {
		t.Fatal(err)
	}
	if p.got != nil || len(qh.calls) != 0 {
		t.Fatalf("err %v, %d calls", p.got, len(qh.calls))
	}
}
