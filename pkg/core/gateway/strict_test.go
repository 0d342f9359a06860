package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// renamingProxy is a loopback reverse proxy in front of the sandbox's API
// that renames the customerSettings answer's "Settings" key while on is
// set, and answers 202 instead of 200 while accepted is set.
func renamingProxy(t *testing.T, on, accepted *atomic.Bool) func(*sandbox.Sandbox) string {
	return func(sb *sandbox.Sandbox) string {
		target, _ := url.Parse(sb.URL())
		p := httputil.NewSingleHostReverseProxy(target)
		p.ModifyResponse = func(r *http.Response) error {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			_ = r.Body.Close()
			if on.Load() && strings.Contains(r.Request.URL.Path, "customerSettings") {
				b = bytes.Replace(b, []byte(`"Settings":`), []byte(`"CustomerSettings":`), 1)
			}
			if accepted.Load() && r.StatusCode == 200 {
				r.StatusCode, r.Status = 202, "202 Accepted"
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
			r.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		}
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		return srv.URL + "/Direct/"
	}
}

// TestUnexpectedAnswersReachTheCommunicationLog: through the gateway's
// own client, a customerSettings answer without the inferred key and a
// 202 are errors, and the communication log records both with severity
// error; with corrigo.accept_any_2xx the 202 is a success.
func TestUnexpectedAnswersReachTheCommunicationLog(t *testing.T) {
	for _, lax := range []bool{false, true} {
		var rename, accepted atomic.Bool
		o := worldOpts{apiURL: renamingProxy(t, &rename, &accepted)}
		if lax {
			o.corrigoYAML = "  accept_any_2xx: true\n"
		}
		w := newWorld(t, o)
		c := w.g.clients["main"]
		ctx := context.Background()
		rename.Store(true)
		_, err := c.CustomerSettings(ctx, sandbox.CustomerHarbor)
		if !errors.Is(err, corrigo.ErrUnexpectedShape) {
			t.Fatalf("renamed Settings key: %v", err)
		}
		rename.Store(false)
		accepted.Store(true)
		_, err = c.Customers(ctx)
		if lax != (err == nil) {
			t.Fatalf("accept_any_2xx=%v: a 202 gives %v", lax, err)
		}
		accepted.Store(false)
		if err := w.stop(); err != nil { // flushes the log
			t.Fatal(err)
		}
		st, err := assemble.OpenStore(ctx, w.g.cfg, assemble.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := st.QueryLog(ctx, store.LogFilter{Direction: "outbound", Severity: "error", Limit: 50})
		_ = st.Close()
		if err != nil {
			t.Fatal(err)
		}
		var shape, non200 bool
		for _, e := range entries {
			shape = shape || (strings.Contains(e.Error, `has no "Settings" key (it has keys CustomerSettings`) && e.Status == 200)
			non200 = non200 || (strings.Contains(e.Error, "HTTP 202 Accepted instead of 200") && e.Status == 202)
		}
		if !shape || non200 == lax {
			t.Errorf("accept_any_2xx=%v: shape logged %v, 202 logged %v in %d error entries", lax, shape, non200, len(entries))
		}
	}
}

// TestCustomFieldChangeDropsCachedSettings: the customer changes a custom
// field in CorrigoPro (the sandbox's CustomFieldChange), CorrigoPro sends
// AdditionalFieldDescriptorUpdated, and the gateway's guard drops that
// customer's cached settings when it handles the event.
func TestCustomFieldChangeDropsCachedSettings(t *testing.T) {
	w := newWorld(t, worldOpts{})
	wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest, CustomerId: sandbox.CustomerHarbor})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("accepted", func() bool { return w.status(wo.WorkOrderId) == corrigo.StatusAccepted })
	required := true
	if _, err := w.sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActCustomFieldChange, CustomFieldId: 502, IsRequired: &required}); err != nil {
		t.Fatal(err)
	}
	want := `"msg":"a custom field configuration changed; customer settings will be fetched again"`
	w.waitFor("the guard drops the settings", func() bool { return strings.Contains(w.logs.String(), want) })
	if !strings.Contains(w.logs.String(), `"customer":90256`) {
		t.Errorf("the invalidation does not name customer 90256:\n%s", w.logs.String())
	}
}
