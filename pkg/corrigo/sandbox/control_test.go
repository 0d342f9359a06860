package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

func TestOAuth(t *testing.T) {
	sb, _ := start(t, sandbox.Options{})
	post := func(ctype, body string) (int, map[string]any) {
		resp, err := testhttp.Post(t.Context(), sb.OAuthURL(), ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, ctype, body string
		status            int
		errCode           string
	}{
		{"ok", form, "grant_type=client_credentials&client_id=sandbox&client_secret=sandbox-secret", 200, ""},
		{"wrong secret", form, "grant_type=client_credentials&client_id=sandbox&client_secret=nope", 401, "invalid_client"},
		{"unknown client", form, "grant_type=client_credentials&client_id=who&client_secret=sandbox-secret", 401, "invalid_client"},
		{"no credentials", form, "grant_type=client_credentials", 401, "invalid_client"},
		{"password grant", form, "grant_type=password&client_id=sandbox&client_secret=sandbox-secret", 400, "unsupported_grant_type"},
		{"no grant", form, "client_id=sandbox&client_secret=sandbox-secret", 400, "unsupported_grant_type"},
		{"JSON body", "application/json", `{"grant_type":"client_credentials"}`, 400, "unsupported_grant_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, m := post(tc.ctype, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d (%v)", st, tc.status, m)
			}
			if tc.errCode != "" {
				if m["error"] != tc.errCode {
					t.Fatalf("error %v, want %s", m["error"], tc.errCode)
				}
				return
			}
			tok, _ := m["access_token"].(string)
			if !strings.HasPrefix(tok, "H4sI") || !strings.Contains(tok, "<---->") || m["token_type"] != "bearer" || m["expires_in"] != float64(1199) {
				t.Fatalf("answer %v", m)
			}
		})
	}
	// The access token is a real token too.
	v, _ := corrigo.NewVerifier(sb.CertificatePEM(), corrigo.VerifyOptions{})
	if tk, err := v.Verify(rawToken(t, sb)); err != nil || tk.Name() != sandbox.DefaultClientID {
		t.Fatalf("access token: %v", err)
	}
	// The client reports bad credentials as typed errors.
	c, _ := corrigo.NewClient(corrigo.Config{BaseURL: sb.BaseURL(), OAuthURL: sb.OAuthURL(), ClientID: "sandbox", ClientSecret: "wrong"})
	if _, err := c.Customers(context.Background()); !errors.Is(err, corrigo.ErrInvalidClient) {
		t.Fatalf("client with a wrong secret: %v", err)
	}
}

// TestTokenExpiry uses a controllable clock: an access token older than its
// lifetime is refused with 401 / 2000.
func TestTokenExpiry(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sb, _ := start(t, sandbox.Options{Now: now, TokenLifetime: 5 * time.Minute})
	resp, err := testhttp.PostForm(t.Context(), sb.OAuthURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"sandbox"}, "client_secret": {"sandbox-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	var tr corrigo.TokenResponse
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	_ = resp.Body.Close()
	if tr.ExpiresIn != 299 {
		t.Fatalf("expires_in %d", tr.ExpiresIn)
	}
	u := sb.BaseURL() + "api/customers?messageId=x"
	if r := raw(t, "GET", u, tr.AccessToken, "", nil); r.Status != 200 {
		t.Fatalf("fresh token: %d", r.Status)
	}
	offset.Store(int64(5*time.Minute + time.Second))
	if r := raw(t, "GET", u, tr.AccessToken, "", nil); r.Status != 401 || r.errBody(t).Code != corrigo.CodeUnauthorized {
		t.Fatalf("expired token: %d %s", r.Status, r.Body)
	}
	// The client recovers by itself: it refreshes after the 401.
	c := newClient(t, sb)
	if _, err := c.Customers(context.Background()); err != nil {
		t.Fatalf("client after expiry: %v", err)
	}
}

func TestControlAPI(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, c := start(t, sandbox.Options{SeedWorkOrders: 5})
	ctx := context.Background()

	var info sandbox.Info
	if st := ctl(t, sb, "GET", "/_sandbox/", nil, &info); st != 200 || info.WorkOrders != 5 || info.OAuthURL != sb.OAuthURL() || len(info.Customers) != 4 {
		t.Fatalf("info %d %+v", st, info)
	}
	var hook map[string]any
	if st := ctl(t, sb, "PUT", "/_sandbox/webhook", map[string]string{"Url": rc.url}, &hook); st != 200 || hook["Url"] != rc.url {
		t.Fatalf("webhook %d %v", st, hook)
	}
	var created struct{ WorkOrders []corrigo.WorkOrder }
	spec := map[string]any{"Count": 3, "Spec": map[string]any{"CustomerId": sandbox.CustomerSummit, "Type": "PMRM", "Priority": "emergency"}}
	if st := ctl(t, sb, "POST", "/_sandbox/workorders", spec, &created); st != 200 || len(created.WorkOrders) != 3 {
		t.Fatalf("create %d %+v", st, created)
	}
	w0 := created.WorkOrders[0]
	if w0.Customer.ID != sandbox.CustomerSummit || w0.Type != "PMRM" || !w0.Sla.IsEmergency || w0.Status != corrigo.StatusNew {
		t.Fatalf("created %+v", w0)
	}
	for _, bad := range []map[string]any{
		{"Spec": map[string]any{"CustomerId": 1}},
		{"Spec": map[string]any{"Type": "Emergency"}},
		{"Spec": map[string]any{"CustomerId": sandbox.CustomerNorthwind, "BranchId": sandbox.BranchDemo}},
		{"Count": 2, "Spec": map[string]any{"WorkOrderNumber": "X1"}},
		{"Bogus": true},
	} {
		if st := ctl(t, sb, "POST", "/_sandbox/workorders", bad, nil); st != 400 {
			t.Fatalf("bad create %v: %d", bad, st)
		}
	}
	idle(t, sb)
	if n := len(rc.deliveries()); n != 3 {
		t.Fatalf("%d NewWorkOrder deliveries", n)
	}

	// Customer action through the control API.
	var res sandbox.ActionResult
	path := fmt.Sprintf("/_sandbox/workorders/%d/actions", w0.WorkOrderId)
	if st := ctl(t, sb, "POST", path, map[string]any{"Action": "PutOnHold", "Comment": "waiting for parts"}, &res); st != 200 || res.WorkOrder.Status != corrigo.StatusOnHold {
		t.Fatalf("action %d %+v", st, res)
	}
	if st := ctl(t, sb, "POST", path, map[string]any{"Action": "Verify"}, nil); st != 409 {
		t.Fatalf("refused action: %d", st)
	}
	if st := ctl(t, sb, "POST", "/_sandbox/workorders/424242/actions", map[string]any{"Action": "Recall"}, nil); st != 404 {
		t.Fatalf("unknown work order: %d", st)
	}
	var detail struct {
		sandbox.WorkOrderDetail
		Notifications []sandbox.Notification
	}
	if st := ctl(t, sb, "GET", fmt.Sprintf("/_sandbox/workorders/%d", w0.WorkOrderId), nil, &detail); st != 200 ||
		len(detail.History) != 2 || detail.History[1].Action != "PutOnHold" || len(detail.Notifications) != 2 || detail.Invoice.Status != corrigo.InvoiceDraft {
		t.Fatalf("detail %d %+v", st, detail)
	}
	var list struct{ WorkOrders []corrigo.WorkOrderSummary }
	if st := ctl(t, sb, "GET", "/_sandbox/workorders?status=OnHold", nil, &list); st != 200 || len(list.WorkOrders) != 1 {
		t.Fatalf("list %d %+v", st, list)
	}

	// Usage log with filters.
	if _, err := c.Customers(corrigo.WithMessageID(ctx, "usage-1")); err != nil {
		t.Fatal(err)
	}
	var ul struct{ Entries []sandbox.UsageEntry }
	if st := ctl(t, sb, "GET", "/_sandbox/usage-log?messageId=usage-1", nil, &ul); st != 200 || len(ul.Entries) != 1 || ul.Entries[0].Path != "/Direct/api/customers?messageId=usage-1" {
		t.Fatalf("usage log %d %+v", st, ul)
	}
	if st := ctl(t, sb, "GET", "/_sandbox/usage-log?direction=Outbound&limit=2", nil, &ul); st != 200 || len(ul.Entries) != 2 || ul.Entries[1].Action != "PutOnHold" {
		t.Fatalf("outbound usage %+v", ul)
	}
	if st := ctl(t, sb, "GET", fmt.Sprintf("/_sandbox/usage-log?workOrderId=%d&direction=outbound", w0.WorkOrderId), nil, &ul); st != 200 || len(ul.Entries) != 2 {
		t.Fatalf("per work order usage %+v", ul)
	}
	if st := ctl(t, sb, "GET", "/_sandbox/usage-log?since=yesterday", nil, nil); st != 400 {
		t.Fatalf("bad since: %d", st)
	}
	var ns struct{ Notifications []sandbox.Notification }
	if st := ctl(t, sb, "GET", "/_sandbox/notifications?state=delivered", nil, &ns); st != 200 || len(ns.Notifications) != 4 {
		t.Fatalf("notifications %+v", ns)
	}

	// Tokens: test tokens and revocation.
	var tok map[string]string
	if st := ctl(t, sb, "POST", "/_sandbox/tokens", map[string]string{"Audience": "Else", "Lifetime": "1m"}, &tok); st != 200 {
		t.Fatalf("tokens %d", st)
	}
	v, _ := corrigo.NewVerifier(sb.CertificatePEM(), corrigo.VerifyOptions{})
	if _, err := v.Verify(tok["Token"]); corrigo.ReasonOf(err) != corrigo.ReasonWrongAudience {
		t.Fatalf("control token: %v", err)
	}
	access := rawToken(t, sb)
	var rev map[string]int
	if st := ctl(t, sb, "POST", "/_sandbox/tokens/revoke", map[string]any{"ClientId": "sandbox"}, &rev); st != 200 || rev["Revoked"] < 1 {
		t.Fatalf("revoke %d %v", st, rev)
	}
	if r := raw(t, "GET", sb.BaseURL()+"api/customers", access, "", nil); r.Status != 401 {
		t.Fatalf("revoked: %d", r.Status)
	}
	if st := ctl(t, sb, "POST", "/_sandbox/tokens/revoke", map[string]any{}, nil); st != 400 {
		t.Fatalf("empty revoke: %d", st)
	}

	// Reset.
	var reset map[string]any
	if st := ctl(t, sb, "POST", "/_sandbox/reset", nil, &reset); st != 200 || reset["WorkOrders"] != float64(5) {
		t.Fatalf("reset %d %v", st, reset)
	}
	if len(sb.UsageLog()) != 0 || len(sb.Notifications(sandbox.NotificationFilter{})) != 0 {
		t.Fatal("reset kept the logs")
	}
	if st := ctl(t, sb, "GET", "/_sandbox/nothing", nil, nil); st != 404 {
		t.Fatalf("unknown control endpoint: %d", st)
	}
}

func TestFaults(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	var f sandbox.Faults
	if st := ctl(t, sb, "PUT", "/_sandbox/faults", map[string]any{"ErrorRate": 1}, &f); st != 200 || f.ErrorRate != 1 {
		t.Fatalf("faults %d %+v", st, f)
	}
	_, err := c.Customers(ctx)
	wantErr(t, err, corrigo.CodeInternal)
	if corrigo.ClassOf(err) != corrigo.ClassTransient {
		t.Fatalf("class %s", corrigo.ClassOf(err))
	}
	// OAuth and the control API are not affected.
	_ = rawToken(t, sb)

	if st := ctl(t, sb, "PUT", "/_sandbox/faults", map[string]any{"OutageFor": "150ms"}, &f); st != 200 || f.OutageUntil.IsZero() {
		t.Fatalf("outage %d %+v", st, f)
	}
	_, err = c.Customers(ctx)
	var ae *corrigo.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("during outage: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := c.Customers(ctx); err != nil {
		t.Fatalf("after outage: %v", err)
	}

	if st := ctl(t, sb, "PUT", "/_sandbox/faults", map[string]any{"Latency": "60ms"}, &f); st != 200 {
		t.Fatalf("latency %d", st)
	}
	t0 := time.Now()
	if _, err := c.Customers(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 60*time.Millisecond {
		t.Fatalf("call took %v with 60ms latency", d)
	}
	for _, bad := range []map[string]any{{"ErrorRate": 2}, {"Latency": "-1s"}, {"Latency": "soon"}, {"Unknown": 1}} {
		if st := ctl(t, sb, "PUT", "/_sandbox/faults", bad, nil); st != 400 {
			t.Fatalf("bad faults %v: %d", bad, st)
		}
	}
	if st := ctl(t, sb, "DELETE", "/_sandbox/faults", nil, &f); st != 200 || f.Latency != 0 {
		t.Fatalf("clear faults %d %+v", st, f)
	}
	// A partial error rate fails some calls, never state changes.
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	fails := 0
	for i := 0; i < 40; i++ {
		err := c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: id})
		if corrigo.ClassOf(err) == corrigo.ClassTransient {
			fails++
		}
	}
	if fails == 0 || fails == 40 {
		t.Fatalf("%d of 40 calls failed at rate 0.5", fails)
	}
	_, hist, _ := sb.WorkOrder(id)
	if len(hist) != 2 {
		t.Fatalf("history %+v", hist)
	}
}

func TestAutoCreate(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, _ := start(t, sandbox.Options{WebhookURL: rc.url, AutoCreateEvery: 10 * time.Millisecond})
	waitFor(t, "three auto-created work orders", 5*time.Second, func() bool { return len(rc.deliveries()) >= 3 })
	if n := len(sb.WorkOrderIDs()); n < 3 {
		t.Fatalf("%d work orders", n)
	}
}

// TestConcurrentUse drives the API, customer actions, searches and webhook
// delivery at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	rc := newReceiver(t, nil)
	sb, c := start(t, sandbox.Options{WebhookURL: rc.url, SeedWorkOrders: 20})
	ctx := context.Background()
	const n = 40
	ids := make([]int64, n)
	for i := range ids {
		wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = wo.WorkOrderId
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i, id := range ids {
		wg.Add(3)
		go func() {
			defer wg.Done()
			if err := c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: id}); err != nil {
				errs <- err
				return
			}
			if err := c.CheckIn(ctx, corrigo.CheckInRequest{WorkOrderId: id}); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := sb.Act(id, sandbox.Action{Action: "Message", Text: fmt.Sprint("m", i)}); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := c.SearchWorkOrders(ctx, corrigo.SearchParameters{Statuses: []corrigo.Status{corrigo.StatusNew}}); err != nil {
				errs <- err
			}
			_ = sb.UsageLog()
			_ = sb.Notifications(sandbox.NotificationFilter{})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	idle(t, sb)
	if got := len(rc.deliveries()); got != 2*n {
		t.Fatalf("%d deliveries, want %d", got, 2*n)
	}
	for _, id := range ids {
		if st := status(t, sb, id); st != corrigo.StatusCheckedIn {
			t.Fatalf("%d: %s", id, st)
		}
	}
}
