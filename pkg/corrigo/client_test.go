package corrigo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestGetWorkOrdersBatchesOf50(t *testing.T) {
	tests := []struct {
		n         int
		wantSizes []int
	}{
		{0, nil},
		{1, []int{1}},
		{50, []int{50}},
		{51, []int{50, 1}},
		{120, []int{50, 50, 20}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			f := newClientFake(t)
			// Echo the requested ids back as work orders.
			f.setHandler(func(w http.ResponseWriter, r *http.Request, rec clientRecorded) {
				var parts []string
				for _, id := range rec.Query["ids"] {
					parts = append(parts, `{"WorkOrderId":`+id+`}`)
				}
				_, _ = io.WriteString(w, `{"WorkOrders":[`+strings.Join(parts, ",")+`]}`)
			})
			c := f.client()
			ids := make([]int64, tt.n)
			for i := range ids {
				ids[i] = int64(1000 + i)
			}
			got, err := c.GetWorkOrders(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n {
				t.Fatalf("%d work orders, want %d", len(got), tt.n)
			}
			for i := range got {
				if got[i].WorkOrderId != ids[i] {
					t.Fatalf("work order %d has id %d, want %d (order kept)", i, got[i].WorkOrderId, ids[i])
				}
			}
			reqs := f.requests()
			if len(reqs) != len(tt.wantSizes) {
				t.Fatalf("%d requests, want %d", len(reqs), len(tt.wantSizes))
			}
			mids := map[string]bool{}
			for i, r := range reqs {
				if got := len(r.Query["ids"]); got != tt.wantSizes[i] {
					t.Errorf("request %d carries %d ids, want %d", i, got, tt.wantSizes[i])
				}
				mids[r.Query.Get("messageId")] = true
			}
			if len(mids) != len(reqs) {
				t.Errorf("MessageIds are not unique per request: %v", mids)
			}
		})
	}
}

func TestGetWorkOrdersBatchMessageIDsWithOverride(t *testing.T) {
	f := newClientFake(t)
	f.setHandler(respondJSON(200, `{"WorkOrders":[]}`))
	c := f.client()
	ids := make([]int64, 101)
	ctx := WithMessageID(context.Background(), "idem-7")
	if _, err := c.GetWorkOrders(ctx, ids); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.requests() {
		got = append(got, r.Query.Get("messageId"))
	}
	if want := []string{"idem-7", "idem-7-2", "idem-7-3"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("MessageIds %v, want %v", got, want)
	}
}

func TestGetWorkOrdersStopsAtFailingBatch(t *testing.T) {
	f := newClientFake(t)
	var n int
	var mu sync.Mutex
	f.setHandler(func(w http.ResponseWriter, r *http.Request, rec clientRecorded) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k == 2 {
			respondJSON(503, `{"Code":1000,"Message":"busy"}`)(w, r, rec)
			return
		}
		_, _ = io.WriteString(w, `{"WorkOrders":[{"WorkOrderId":1}]}`)
	})
	c := f.client()
	got, err := c.GetWorkOrders(context.Background(), make([]int64, 150))
	if ClassOf(err) != ClassTransient || len(got) != 1 || len(f.requests()) != 2 {
		t.Fatalf("got %d work orders, err %v after %d requests", len(got), err, len(f.requests()))
	}
}

func TestGetWorkOrderNotInAnswer(t *testing.T) {
	f := newClientFake(t)
	f.setHandler(respondJSON(200, `{"WorkOrders":[]}`))
	_, err := f.client().GetWorkOrder(context.Background(), 9)
	if !errors.Is(err, ErrWorkOrderNotFound) || ClassOf(err) != ClassNotFound {
		t.Fatalf("err = %v (class %s)", err, ClassOf(err))
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMessageIDs(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		ctx    func() context.Context
		req    AcceptRequest
		check  func(t *testing.T, getID, putID string)
	}{
		{"generated uuid v4", "", context.Background, AcceptRequest{WorkOrderId: 1},
			func(t *testing.T, g, p string) {
				if !uuidV4.MatchString(g) || !uuidV4.MatchString(p) || g == p {
					t.Errorf("ids %q %q are not distinct uuid v4", g, p)
				}
			}},
		{"prefix", "acme-", context.Background, AcceptRequest{WorkOrderId: 1},
			func(t *testing.T, g, p string) {
				for _, id := range []string{g, p} {
					rest, ok := strings.CutPrefix(id, "acme-")
					if !ok || !uuidV4.MatchString(rest) {
						t.Errorf("id %q is not acme-<uuid v4>", id)
					}
				}
			}},
		{"WithMessageID overrides", "acme-", func() context.Context { return WithMessageID(context.Background(), "key-1") }, AcceptRequest{WorkOrderId: 1},
			func(t *testing.T, g, p string) {
				if g != "key-1" || p != "key-1" {
					t.Errorf("ids %q %q, want key-1", g, p)
				}
			}},
		{"explicit body MessageId wins for the body call", "", func() context.Context { return WithMessageID(context.Background(), "key-1") }, AcceptRequest{WorkOrderId: 1, Envelope: Envelope{MessageId: "body-id"}},
			func(t *testing.T, g, p string) {
				if g != "key-1" || p != "body-id" {
					t.Errorf("ids %q %q, want key-1 and body-id", g, p)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			c := f.client(func(cfg *Config) { cfg.MessageIDPrefix = tt.prefix })
			ctx := tt.ctx()
			if _, err := c.Customers(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Accept(ctx, tt.req); err != nil {
				t.Fatal(err)
			}
			r := f.requests()
			p, _ := bodyMap(t, r[1].Body)["MessageId"].(string)
			tt.check(t, r[0].Query.Get("messageId"), p)
		})
	}
}

func TestNewMessageIDIsUUIDv4(t *testing.T) {
	id := NewMessageID("p-")
	u, err := uuid.Parse(strings.TrimPrefix(id, "p-"))
	if err != nil || u.Version() != 4 {
		t.Fatalf("%q: %v version %v", id, err, u.Version())
	}
}

func TestAPIErrorDecoding(t *testing.T) {
	tests := []struct {
		name       string
		call       func(c *Client) error
		status     int
		body       string
		ctype      string
		wantCode   int
		wantMsg    string
		wantVE     []ValidationError
		wantMID    string // "" = the request's MessageId
		wantHint   string
		wantClass  Class
		wantInText []string
	}{
		{
			name:   "validation 2100",
			call:   func(c *Client) error { return c.Reject(context.Background(), RejectRequest{WorkOrderId: 5}) },
			status: 400, body: `{"Code":2100,"Message":"Model data validation failed","ValidationErrors":[{"FieldName":"Comment","ErrorType":"Required","Message":"Comment is required"}],"MessageId":"srv-mid"}`,
			wantCode: 2100, wantMsg: "Model data validation failed",
			wantVE:  []ValidationError{{FieldName: "Comment", ErrorType: "Required", Message: "Comment is required"}},
			wantMID: "srv-mid", wantHint: "ValidationErrors", wantClass: ClassValidation,
			wantInText: []string{"PUT api/workOrder/reject", "HTTP 400", "code 2100", "Comment (Required): Comment is required", "srv-mid"},
		},
		{
			name:   "validation on a GET hints at the query string",
			call:   func(c *Client) error { _, err := c.Customers(context.Background()); return err },
			status: 400, body: `{"Code":2100,"Message":"Model data validation failed","ValidationErrors":[{"FieldName":"","ErrorType":"IncorrectType","Message":"Empty request model"}],"MessageId":null}`,
			wantCode: 2100, wantMsg: "Model data validation failed",
			wantVE:   []ValidationError{{ErrorType: "IncorrectType", Message: "Empty request model"}},
			wantHint: "query string", wantClass: ClassValidation,
		},
		{
			name:   "500 on a body call hints at Content-Type and region",
			call:   func(c *Client) error { return c.Accept(context.Background(), AcceptRequest{WorkOrderId: 5}) },
			status: 500, body: `{"Code":1000,"Message":"Internal server error occurred.","ValidationErrors":null,"MessageId":"f54d6dcb"}`,
			wantCode: 1000, wantMsg: "Internal server error occurred.", wantMID: "f54d6dcb",
			wantHint: "Content-Type: application/json", wantClass: ClassTransient,
			wantInText: []string{"region"},
		},
		{
			name:   "500 on a GET hints at the region",
			call:   func(c *Client) error { _, err := c.Customers(context.Background()); return err },
			status: 500, body: `{"Code":1000,"Message":"Internal server error occurred."}`,
			wantCode: 1000, wantMsg: "Internal server error occurred.", wantHint: "wrong region", wantClass: ClassTransient,
		},
		{
			name: "3056 tax mismatch needs a person",
			call: func(c *Client) error {
				return c.SubmitInvoice(context.Background(), InvoiceSubmitRequest{WorkOrderId: 5})
			},
			status: 400, body: `{"Code":3056,"Message":"Tax amount mismatch"}`,
			wantCode: 3056, wantMsg: "Tax amount mismatch", wantHint: "SubmitAnyway", wantClass: ClassNeedsPerson,
		},
		{
			name:   "404 in HTML",
			call:   func(c *Client) error { _, err := c.GetInvoice(context.Background(), 5); return err },
			status: 404, body: `<html><body><h1>404 - File or directory not found.</h1></body></html>`, ctype: "text/html",
			wantMsg: "Not Found", wantHint: "/Direct/", wantClass: ClassNotFound,
		},
		{
			name:   "404 in plain text",
			call:   func(c *Client) error { _, err := c.GetInvoice(context.Background(), 5); return err },
			status: 404, body: "No HTTP resource was found\n that matches the request URI", ctype: "text/plain",
			wantMsg: "No HTTP resource was found that matches the request URI", wantClass: ClassNotFound,
		},
		{
			name:   "429 empty body",
			call:   func(c *Client) error { _, err := c.Customers(context.Background()); return err },
			status: 429, body: "", wantMsg: "Too Many Requests", wantHint: "rate limited", wantClass: ClassTransient,
		},
		{
			name:   "3001 invalid state",
			call:   func(c *Client) error { return c.Accept(context.Background(), AcceptRequest{WorkOrderId: 5}) },
			status: 400, body: `{"Code":3001,"Message":"Work order state is invalid for this operation"}`,
			wantCode: 3001, wantMsg: "Work order state is invalid for this operation", wantClass: ClassPermanent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			f.setHandler(func(w http.ResponseWriter, r *http.Request, rec clientRecorded) {
				ct := tt.ctype
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			err := tt.call(f.client())
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			r := f.requests()[0]
			sentMID := r.Query.Get("messageId")
			if sentMID == "" && len(r.Body) > 0 {
				sentMID, _ = bodyMap(t, r.Body)["MessageId"].(string)
			}
			wantMID := tt.wantMID
			if wantMID == "" {
				wantMID = sentMID
			}
			if ae.StatusCode != tt.status || ae.Code != tt.wantCode || ae.Message != tt.wantMsg || ae.MessageId != wantMID {
				t.Errorf("got status %d code %d message %q mid %q; want %d %d %q %q", ae.StatusCode, ae.Code, ae.Message, ae.MessageId, tt.status, tt.wantCode, tt.wantMsg, wantMID)
			}
			if fmt.Sprint(ae.ValidationErrors) != fmt.Sprint(tt.wantVE) {
				t.Errorf("validation errors %+v, want %+v", ae.ValidationErrors, tt.wantVE)
			}
			if ae.Method != r.Method || ae.Path != r.Path {
				t.Errorf("error names %s %s, request was %s %s", ae.Method, ae.Path, r.Method, r.Path)
			}
			if !strings.Contains(ae.Hint, tt.wantHint) {
				t.Errorf("hint %q lacks %q", ae.Hint, tt.wantHint)
			}
			if got := ClassOf(err); got != tt.wantClass {
				t.Errorf("class %s, want %s", got, tt.wantClass)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error text %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "tok-") || strings.Contains(err.Error(), fakeClientSecret) {
				t.Errorf("error leaks a credential: %q", err)
			}
		})
	}
}

// TestClassOf runs real calls against answers with each status and code and
// against network and context failures.
func TestClassOf(t *testing.T) {
	type tc struct {
		name   string
		status int
		code   int
		want   Class
	}
	tests := []tc{
		{"401", 401, 0, ClassAuth},
		{"401 code 2000", 401, 2000, ClassAuth},
		{"code 2000 on 400", 400, 2000, ClassAuth},
		{"429", 429, 0, ClassTransient},
		{"500", 500, 1000, ClassTransient},
		{"503", 503, 0, ClassTransient},
		{"2100", 400, 2100, ClassValidation},
		{"3000 generic", 400, 3000, ClassNeedsPerson},
		{"3056 tax mismatch", 400, 3056, ClassNeedsPerson},
		{"404", 404, 0, ClassNotFound},
		{"400 without code", 400, 0, ClassValidation},
	}
	for _, code := range []int{3001, 3002, 3003, 3004, 3005, 3036, 3042, 3043, 3050, 3051, 3052} {
		tests = append(tests, tc{strconv.Itoa(code), 400, code, ClassPermanent})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			body := ""
			if tt.code != 0 {
				body = fmt.Sprintf(`{"Code":%d,"Message":"m"}`, tt.code)
			}
			f.setHandler(respondJSON(tt.status, body))
			err := f.client().Accept(context.Background(), AcceptRequest{WorkOrderId: 1})
			if got := ClassOf(err); got != tt.want {
				t.Fatalf("ClassOf(%v) = %s, want %s", err, got, tt.want)
			}
		})
	}

	t.Run("success", func(t *testing.T) {
		f := newClientFake(t)
		if got := ClassOf(f.client().Accept(context.Background(), AcceptRequest{WorkOrderId: 1})); got != "" {
			t.Fatalf("class of success = %q", got)
		}
	})
	t.Run("network error", func(t *testing.T) {
		f := newClientFake(t)
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String() + "/Direct/"
		_ = ln.Close()
		c := f.client(func(cfg *Config) { cfg.BaseURL = dead })
		err = c.Accept(context.Background(), AcceptRequest{WorkOrderId: 1})
		var ne net.Error
		if !errors.As(err, &ne) || ClassOf(err) != ClassTransient {
			t.Fatalf("err = %v (class %s), want a transient net.Error", err, ClassOf(err))
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		f := newClientFake(t)
		c := f.client()
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := c.Accept(ctx, AcceptRequest{WorkOrderId: 1})
		if ClassOf(err) != ClassCanceled {
			t.Fatalf("err = %v (class %s), want canceled", err, ClassOf(err))
		}
	})
	t.Run("deadline exceeded", func(t *testing.T) {
		f := newClientFake(t)
		f.setHandler(func(w http.ResponseWriter, r *http.Request, _ clientRecorded) {
			<-r.Context().Done() // never answers in time
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := f.client().Accept(ctx, AcceptRequest{WorkOrderId: 1})
		if !errors.Is(err, context.DeadlineExceeded) || ClassOf(err) != ClassTransient {
			t.Fatalf("err = %v (class %s), want a transient deadline", err, ClassOf(err))
		}
	})
}

func TestResponseBodyIsBounded(t *testing.T) {
	f := newClientFake(t)
	f.setHandler(func(w http.ResponseWriter, r *http.Request, _ clientRecorded) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"Customers":[`)
		chunk := strings.Repeat(" ", 1<<16)
		for written := 0; written <= 1<<20; written += len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	c := f.client()
	if c.maxBody != MaxResponseBytes {
		t.Fatalf("default bound %d, want %d", c.maxBody, MaxResponseBytes)
	}
	c.maxBody = 1 << 20 // the same code path, a smaller answer to send
	_, err := c.Customers(context.Background())
	if !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err = %v, want a too-large error", err)
	}
}

func TestObserverSeesTokenRedacted(t *testing.T) {
	f := newClientFake(t)
	var mu sync.Mutex
	var seen []Exchange
	c := f.client(func(cfg *Config) {
		cfg.Observer = func(e Exchange) { mu.Lock(); seen = append(seen, e); mu.Unlock() }
	})
	f.setHandler(respondJSON(200, `{"Customers":[]}`))
	if _, err := c.Customers(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("%d exchanges, want token + API", len(seen))
	}
	tokEx, apiEx := seen[0], seen[1]
	if tokEx.URL != f.oauthURL() || tokEx.Method != "POST" || tokEx.Status != 200 {
		t.Errorf("token exchange %+v", tokEx)
	}
	for _, b := range [][]byte{tokEx.RequestBody, tokEx.ResponseBody, apiEx.RequestBody, apiEx.ResponseBody} {
		if s := string(b); strings.Contains(s, fakeClientSecret) || strings.Contains(s, "tok-1") {
			t.Errorf("exchange body leaks a credential: %s", s)
		}
	}
	if !strings.Contains(string(tokEx.RequestBody), "client_secret=REDACTED") || !strings.Contains(string(tokEx.ResponseBody), `"access_token":"REDACTED"`) {
		t.Errorf("token exchange bodies: %s / %s", tokEx.RequestBody, tokEx.ResponseBody)
	}
	if apiEx.Status != 200 || apiEx.MessageID == "" || !strings.Contains(apiEx.URL, "messageId="+apiEx.MessageID) || apiEx.Duration <= 0 {
		t.Errorf("API exchange %+v", apiEx)
	}
}

func TestObserverSeesBothAttemptsOf401Retry(t *testing.T) {
	f := newClientFake(t)
	f.unauthorizedN = 1
	var statuses []int
	c := f.client(func(cfg *Config) {
		cfg.Observer = func(e Exchange) {
			if strings.Contains(e.URL, "/Direct/") {
				statuses = append(statuses, e.Status)
			}
		}
	})
	if err := c.Pause(context.Background(), PauseRequest{WorkOrderId: 3}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(statuses) != "[401 200]" {
		t.Fatalf("observed statuses %v, want [401 200]", statuses)
	}
}

func TestNewClientConfig(t *testing.T) {
	ok := func(c Config) Config { c.ClientID, c.ClientSecret = "id", "secret"; return c }
	tests := []struct {
		name     string
		cfg      Config
		wantBase string
		wantErr  string
	}{
		{"region am", ok(Config{Region: RegionAM}), "https://am-api.corrigopro.com/Direct/", ""},
		{"region apac", ok(Config{Region: RegionAPAC}), "https://apac-api.corrigopro.com/Direct/", ""},
		{"region emea upper case", ok(Config{Region: "EMEA"}), "https://emea-api.corrigopro.com/Direct/", ""},
		{"unknown region", ok(Config{Region: "mars"}), "", "unknown region"},
		{"no region or base", ok(Config{}), "", "set Region"},
		{"base overrides region", ok(Config{Region: RegionAM, BaseURL: "http://127.0.0.1:9/Direct/"}), "http://127.0.0.1:9/Direct/", ""},
		{"base without slash", ok(Config{BaseURL: "http://h/Direct"}), "http://h/Direct/", ""},
		{"REST service URL with api/", ok(Config{BaseURL: "https://am-api.corrigopro.com/Direct/api/"}), "https://am-api.corrigopro.com/Direct/", ""},
		{"root base", ok(Config{BaseURL: "http://h"}), "http://h/", ""},
		{"relative base", ok(Config{BaseURL: "/Direct/"}), "", "absolute"},
		{"base with query", ok(Config{BaseURL: "http://h/Direct/?x=1"}), "", "query"},
		{"bad oauth url", ok(Config{Region: RegionAM, OAuthURL: "ftp://x"}), "", "OAuthURL"},
		{"no client id", Config{Region: RegionAM, ClientSecret: "very-secret-value"}, "", "ClientID"},
		{"no secret", Config{Region: RegionAM, ClientID: "i"}, "", "ClientSecret"},
		{"negative refresh", ok(Config{Region: RegionAM, RefreshBefore: -time.Second}), "", "RefreshBefore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.cfg.ClientSecret != "" && strings.Contains(err.Error(), tt.cfg.ClientSecret) {
					t.Fatalf("error leaks the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tt.wantBase {
				t.Fatalf("base %q, want %q", c.BaseURL(), tt.wantBase)
			}
			if c.auth.oauthURL != DefaultOAuthURL && tt.cfg.OAuthURL == "" {
				t.Fatalf("oauth URL %q", c.auth.oauthURL)
			}
		})
	}
}

func TestDefaultTransportIsTuned(t *testing.T) {
	c, err := NewClient(Config{Region: RegionAM, ClientID: "i", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", c.http.Transport)
	}
	if tr.MaxIdleConnsPerHost < 64 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost || tr.IdleConnTimeout == 0 || tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 {
		t.Fatalf("transport not tuned: %+v", tr)
	}
	if c.http.Timeout == 0 {
		t.Fatal("no overall request timeout")
	}
}
