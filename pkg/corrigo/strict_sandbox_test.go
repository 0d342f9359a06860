package corrigo_test

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
	"sync"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// rewriter is a reverse proxy on loopback in front of the real sandbox
// that can change CorrigoPro's answers the way a real CorrigoPro might
// differ from the sandbox: another wrapper key, another 2xx status.
type rewriter struct {
	mu      sync.Mutex
	rename  map[string]string // wrapper key → key the answer uses instead
	status  int               // replace a 200 by this status; 0 keeps it
	onPaths string            // only for paths containing it; "" all API calls
}

func (rw *rewriter) modify(r *http.Response) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if !strings.Contains(r.Request.URL.Path, "/api/") || (rw.onPaths != "" && !strings.Contains(r.Request.URL.Path, rw.onPaths)) {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	_ = r.Body.Close()
	for from, to := range rw.rename {
		b = bytes.Replace(b, []byte(`"`+from+`":`), []byte(`"`+to+`":`), 1)
	}
	if rw.status != 0 && r.StatusCode == http.StatusOK {
		r.StatusCode, r.Status = rw.status, strconv.Itoa(rw.status)+" "+http.StatusText(rw.status)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

func (rw *rewriter) set(fn func(*rewriter)) { rw.mu.Lock(); fn(rw); rw.mu.Unlock() }

func proxiedSandbox(t *testing.T, cfg corrigo.Config) (*sandbox.Sandbox, *rewriter, *corrigo.Client, *[]corrigo.Exchange) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	target, _ := url.Parse(sb.URL())
	rw := &rewriter{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = rw.modify
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var exs []corrigo.Exchange
	cfg.BaseURL, cfg.OAuthURL = srv.URL+"/Direct/", srv.URL+"/OAuth/Token"
	cfg.ClientID, cfg.ClientSecret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
	cfg.Observer = func(x corrigo.Exchange) { mu.Lock(); exs = append(exs, x); mu.Unlock() }
	c, err := corrigo.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sb, rw, c, &exs
}

// TestInferredWrapperKeysAreChecked: when CorrigoPro's answer carries its
// data under another key than the inferred one, the call fails with a
// *ShapeError naming the key expected and the keys present, instead of
// returning empty settings; the Observer (the communication log) gets the
// same error. With the sandbox's keys the calls succeed.
func TestInferredWrapperKeysAreChecked(t *testing.T) {
	sb, rw, c, exs := proxiedSandbox(t, corrigo.Config{})
	ctx := context.Background()
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		key  string
		call func() error
	}{
		{"Settings", func() error { _, err := c.CustomerSettings(ctx, sandbox.CustomerHarbor); return err }},
		{"Associates", func() error { _, err := c.Associates(ctx, sandbox.BranchDemo); return err }},
		{"PriceList", func() error { _, err := c.PriceList(ctx, wo.WorkOrderId); return err }},
		{"NoteHistory", func() error { _, err := c.NoteHistory(ctx, wo.WorkOrderId); return err }},
	}
	for _, tc := range calls {
		rw.set(func(r *rewriter) { r.rename = nil })
		if err := tc.call(); err != nil {
			t.Fatalf("%s with the sandbox's own key: %v", tc.key, err)
		}
		rw.set(func(r *rewriter) { r.rename = map[string]string{tc.key: "Data"} })
		err := tc.call()
		var se *corrigo.ShapeError
		if !errors.As(err, &se) || !errors.Is(err, corrigo.ErrUnexpectedShape) || se.Want != tc.key || !strings.Contains(strings.Join(se.Got, ","), "Data") {
			t.Fatalf("%s renamed: %v", tc.key, err)
		}
		if corrigo.ClassOf(err) != corrigo.ClassNeedsPerson || !strings.Contains(err.Error(), "inferred [I]") {
			t.Errorf("%s: class %s, message %v", tc.key, corrigo.ClassOf(err), err)
		}
		last := (*exs)[len(*exs)-1]
		if !errors.As(last.Err, &se) || last.Status != 200 {
			t.Errorf("%s: the exchange carries %v (status %d)", tc.key, last.Err, last.Status)
		}
	}
	// A key in another case still decodes (json matches it so).
	rw.set(func(r *rewriter) { r.rename = map[string]string{"Settings": "settings"} })
	if cs, err := c.CustomerSettings(ctx, sandbox.CustomerHarbor); err != nil || !cs.RepairInfoRequired {
		t.Errorf("lower-case key: %+v %v", cs, err)
	}
}

// TestNon200SuccessIsAnError: a 2xx other than 200 fails with an
// *APIError that names it and is parked for a person (the call may have
// taken effect), both for reads and for actions; corrigo.accept_any_2xx
// (Config.AcceptAny2xx) takes it as success.
func TestNon200SuccessIsAnError(t *testing.T) {
	sb, rw, c, exs := proxiedSandbox(t, corrigo.Config{})
	ctx := context.Background()
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	rw.set(func(r *rewriter) { r.status = http.StatusAccepted })
	err = c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: wo.WorkOrderId})
	var ae *corrigo.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 202 || corrigo.ClassOf(err) != corrigo.ClassNeedsPerson ||
		!strings.Contains(err.Error(), "instead of 200") || !strings.Contains(err.Error(), "accept_any_2xx") {
		t.Fatalf("accept answered 202: %v (class %s)", err, corrigo.ClassOf(err))
	}
	if last := (*exs)[len(*exs)-1]; last.Status != 202 || last.Err == nil {
		t.Errorf("the exchange of a 202 carries no error: %+v", last)
	}
	if got, _, _ := sb.WorkOrder(wo.WorkOrderId); got.Status != corrigo.StatusAccepted {
		t.Errorf("the sandbox did not see the accept (%s): the proxy only changes the answer", got.Status)
	}
	if _, err := c.Customers(ctx); err == nil {
		t.Error("a 202 to a read is a success")
	}

	_, rw2, lax, _ := proxiedSandbox(t, corrigo.Config{AcceptAny2xx: true})
	rw2.set(func(r *rewriter) { r.status = http.StatusAccepted })
	if cs, err := lax.Customers(ctx); err != nil || len(cs) == 0 {
		t.Errorf("AcceptAny2xx: %v", err)
	}
}
