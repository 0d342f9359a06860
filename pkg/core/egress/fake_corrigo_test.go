package egress

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// fakeCorrigo is a small CorrigoPro Direct on loopback for sender tests: it
// keeps work orders, applies the workflow calls, records every call with its
// MessageId, and returns injected errors on demand. It is deliberately
// permissive (no status rules) so tests can tell the guard's refusals from
// CorrigoPro's.
type fakeCorrigo struct {
	srv *httptest.Server

	mu       sync.Mutex
	wos      map[int64]*corrigo.WorkOrder
	settings map[int]corrigo.CustomerSettings
	invoices map[int64]*corrigo.Invoice
	calls    []fakeCall
	faults   map[string][]fault // lower-case path → errors to answer first
	tokens   atomic.Int32
	down     atomic.Bool // every api call answers 503
	// stall, if set, is asked after a call took effect and before it is
	// answered; a non-nil channel holds the answer until it is closed or
	// the client gives up (an answer lost after CorrigoPro acted).
	stall func(path string) <-chan struct{}
}

type fakeCall struct {
	Method, Path, MessageID string
	Body                    map[string]any
	At                      time.Time // when the request arrived (server side)
	Down                    bool      // answered 503 because the fake was down
}

type fault struct {
	status, code int
	msg          string
	retryAfter   string // Retry-After header, if any
}

func newFakeCorrigo(t *testing.T) *fakeCorrigo {
	t.Helper()
	f := &fakeCorrigo{
		wos:      map[int64]*corrigo.WorkOrder{},
		settings: map[int]corrigo.CustomerSettings{},
		invoices: map[int64]*corrigo.Invoice{},
		faults:   map[string][]fault{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a real corrigo.Client pointed at the fake.
func (f *fakeCorrigo) client(t *testing.T) *corrigo.Client {
	t.Helper()
	c, err := corrigo.NewClient(corrigo.Config{
		BaseURL: f.srv.URL + "/Direct/", OAuthURL: f.srv.URL + "/OAuth/Token",
		ClientID: "id", ClientSecret: "secret",
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeCorrigo) addWO(wo corrigo.WorkOrder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wos[wo.WorkOrderId] = &wo
}

func (f *fakeCorrigo) wo(id int64) corrigo.WorkOrder {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.wos[id]
}

func (f *fakeCorrigo) fail(path string, n int, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[strings.ToLower(path)] = append(f.faults[strings.ToLower(path)], ft)
	}
}

// callsTo returns the recorded calls whose path is path (case-insensitive).
func (f *fakeCorrigo) callsTo(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if strings.EqualFold(c.Path, path) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeCorrigo) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeCorrigo) serve(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.URL.Path, "/OAuth/Token") {
		f.tokens.Add(1)
		writeJSON(w, 200, corrigo.TokenResponse{AccessToken: "tok", TokenType: "bearer", ExpiresIn: 1199})
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" && r.Header.Get("Authorization") != "bearer tok" {
		writeJSON(w, 401, corrigo.ErrorBody{Code: 2000, Message: "Unauthorized"})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/Direct/")
	lp := strings.ToLower(path)
	var body map[string]any
	mid := r.URL.Query().Get("messageId")
	if r.Method != http.MethodGet {
		_ = json.NewDecoder(r.Body).Decode(&body)
		if m, ok := body["MessageId"].(string); ok {
			mid = m
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: path, MessageID: mid, Body: body, At: time.Now()})
	if f.down.Load() {
		f.calls[len(f.calls)-1].Down = true
		f.mu.Unlock()
		writeJSON(w, 503, corrigo.ErrorBody{Code: 1000, Message: "down for maintenance", MessageId: mid})
		return
	}
	if q := f.faults[lp]; len(q) > 0 {
		ft := q[0]
		f.faults[lp] = q[1:]
		f.mu.Unlock()
		if ft.retryAfter != "" {
			w.Header().Set("Retry-After", ft.retryAfter)
		}
		writeJSON(w, ft.status, corrigo.ErrorBody{Code: ft.code, Message: ft.msg, MessageId: mid})
		return
	}
	woID := int64(0)
	if v, ok := body["WorkOrderId"].(float64); ok {
		woID = int64(v)
	}
	if s := r.URL.Query().Get("workOrderId"); s != "" {
		woID, _ = strconv.ParseInt(s, 10, 64)
	}
	setStatus := func(st corrigo.Status) {
		if wo := f.wos[woID]; wo != nil {
			wo.Status = st
		}
	}
	stall := f.stall
	ok := func() {
		f.mu.Unlock()
		if stall != nil {
			if c := stall(path); c != nil {
				select {
				case <-c:
				case <-r.Context().Done():
				}
			}
		}
		writeJSON(w, 200, corrigo.Envelope{MessageId: mid})
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && lp == "api/workorder":
		var resp corrigo.WorkOrdersResponse
		for _, s := range r.URL.Query()["ids"] {
			id, _ := strconv.ParseInt(s, 10, 64)
			if wo := f.wos[id]; wo != nil {
				resp.WorkOrders = append(resp.WorkOrders, *wo)
			}
		}
		resp.MessageId = mid
		writeJSON(w, 200, resp)
	case r.Method == http.MethodGet && lp == "api/customersettings":
		id, _ := strconv.Atoi(r.URL.Query().Get("customerId"))
		cs, found := f.settings[id]
		if !found {
			writeJSON(w, 400, corrigo.ErrorBody{Code: 3003, Message: "customer not found", MessageId: mid})
			return
		}
		writeJSON(w, 200, corrigo.CustomerSettingsResponse{Settings: cs, Envelope: corrigo.Envelope{MessageId: mid}})
	case r.Method == http.MethodGet && lp == "api/invoice":
		inv := f.invoices[woID]
		if inv == nil {
			inv = &corrigo.Invoice{WorkOrderId: woID, Status: corrigo.InvoiceDraft}
		}
		writeJSON(w, 200, corrigo.InvoiceResponse{Invoice: *inv, Envelope: corrigo.Envelope{MessageId: mid}})
	case lp == "api/workorder/accept":
		setStatus(corrigo.StatusAccepted)
		ok()
	case lp == "api/workorder/reject":
		setStatus(corrigo.StatusRejected)
		ok()
	case lp == "api/workorder/checkin":
		setStatus(corrigo.StatusCheckedIn)
		ok()
	case lp == "api/workorder/pause":
		setStatus(corrigo.StatusPaused)
		ok()
	case lp == "api/workorder/checkout", lp == "api/workorder/workdonedetails":
		setStatus(corrigo.StatusCheckedOut)
		ok()
	case lp == "api/workorder/quotesubmit":
		if wo := f.wos[woID]; wo != nil {
			amount, _ := body["Amount"].(float64)
			wo.Nte = &corrigo.Nte{Quote: &corrigo.Quote{Amount: amount, QuoteStatus: corrigo.QuoteSubmitted}}
		}
		ok()
	case lp == "api/invoice/submit":
		f.invoices[woID] = &corrigo.Invoice{WorkOrderId: woID, Status: corrigo.InvoicePendingVerification}
		ok()
	case lp == "api/invoice", lp == "api/workorder/note", lp == "api/messages", lp == "api/workorder/appointmentinfo":
		ok()
	default:
		writeJSON(w, 404, map[string]string{"Message": "no route " + path})
	}
}
