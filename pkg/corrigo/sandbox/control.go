package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// routes builds the top-level handler.
func (s *Sandbox) routes() http.Handler {
	api := s.apiRoutes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.ToLower(r.URL.Path)
		switch {
		case p == "/oauth/token" || p == "/oauth/token/":
			s.serveOAuth(w, r)
		case strings.HasPrefix(p, "/direct/api/"):
			s.serveAPI(w, r, api)
		case p == "/certificate.pem" || p == "/_sandbox/certificate.pem":
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Content-Disposition", `attachment; filename="corrigopro-direct-sandbox.pem"`)
			_, _ = w.Write(s.tokens.certPEM)
		case p == "/_sandbox" || strings.HasPrefix(p, "/_sandbox/"):
			s.serveControl(w, r)
		case p == "/":
			writeControl(w, http.StatusOK, s.info())
		default:
			http.NotFound(w, r)
		}
	})
}

func writeControl(w http.ResponseWriter, status int, v any) {
	b, err := marshalIndent(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeControl(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// Info describes a running sandbox (GET /_sandbox/info and GET /).
type Info struct {
	RESTBase       string
	OAuthURL       string
	CertificateURL string
	ControlURL     string
	WebhookURL     string
	Clients        []string
	WorkOrders     int
	Customers      []corrigo.Customer
	Endpoints      []string
}

var controlEndpoints = []string{
	"GET  /_sandbox/info",
	"GET  /_sandbox/customers",
	"GET  /_sandbox/branches",
	"GET  /_sandbox/workorders?status=&customerId=&limit=",
	"POST /_sandbox/workorders {Count, Spec}",
	"GET  /_sandbox/workorders/{id}",
	"POST /_sandbox/workorders/{id}/actions {Action, ...}",
	"POST /_sandbox/emulate {Action, WorkOrderId, BranchId}",
	"GET  /_sandbox/usage-log?direction=&workOrderId=&messageId=&action=&path=&status=&since=&afterSeq=&limit=",
	"GET  /_sandbox/notifications?state=&workOrderId=&action=&limit=",
	"POST /_sandbox/notifications/reprocess {Ids}",
	"POST /_sandbox/notifications/ignore {Ids}",
	"POST /_sandbox/notifications/{id}/redeliver {Delay}",
	"GET  /_sandbox/webhook",
	"PUT  /_sandbox/webhook {Url}",
	"GET  /_sandbox/faults",
	"PUT  /_sandbox/faults {ErrorRate, Latency, OutageFor, DuplicateRate, RedeliverRate, RedeliverDelay, WebhookFailRate}",
	"DELETE /_sandbox/faults",
	"POST /_sandbox/tokens {Name, Audience, Lifetime}",
	"POST /_sandbox/tokens/revoke {Token | ClientId | All}",
	"POST /_sandbox/reset",
	"GET  /_sandbox/files/{attachmentId}",
	"GET  /certificate.pem",
}

func (s *Sandbox) info() Info {
	in := Info{
		RESTBase: s.BaseURL() + "api/", OAuthURL: s.OAuthURL(), CertificateURL: s.CertificateURL(),
		ControlURL: s.ControlURL(), WebhookURL: s.WebhookURL(), WorkOrders: len(s.records()), Endpoints: controlEndpoints,
	}
	for id := range s.opts.Clients {
		in.Clients = append(in.Clients, id)
	}
	for _, c := range s.Customers() {
		in.Customers = append(in.Customers, c.Customer)
	}
	return in
}

// decodeControl reads a JSON body; an empty body leaves v as it is.
func decodeControl(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func (s *Sandbox) serveControl(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/_sandbox"), "/")
	parts := strings.Split(rest, "/")
	head := strings.ToLower(parts[0])
	q := r.URL.Query()
	method := r.Method

	switch {
	case head == "" || head == "info":
		writeControl(w, http.StatusOK, s.info())

	case head == "health":
		writeControl(w, http.StatusOK, map[string]any{"Status": "ok", "PendingNotifications": s.PendingNotifications()})

	case head == "customers":
		writeControl(w, http.StatusOK, s.Customers())

	case head == "branches":
		writeControl(w, http.StatusOK, s.Branches())

	case head == "reset" && method == http.MethodPost:
		s.Reset()
		writeControl(w, http.StatusOK, map[string]any{"Reset": true, "WorkOrders": len(s.records())})

	case head == "usage-log" || head == "usagelog":
		f := UsageFilter{Direction: q.Get("direction"), MessageId: q.Get("messageId"), Action: q.Get("action"), PathPrefix: q.Get("path")}
		var err error
		if f.WorkOrderId, err = optInt(q.Get("workOrderId")); err == nil {
			var st, after, lim int64
			if st, err = optInt(q.Get("status")); err == nil {
				if after, err = optInt(q.Get("afterSeq")); err == nil {
					lim, err = optInt(q.Get("limit"))
				}
			}
			f.Status, f.AfterSeq, f.Limit = int(st), after, int(lim)
		}
		if err == nil && q.Get("since") != "" {
			var t corrigo.Time
			if t, err = corrigo.ParseTime(q.Get("since")); err == nil {
				f.Since = t.Time
			}
		}
		if err != nil {
			controlError(w, http.StatusBadRequest, "usage-log filter: %v", err)
			return
		}
		writeControl(w, http.StatusOK, map[string]any{"Entries": s.Usage(f)})

	case head == "emulate" && method == http.MethodPost:
		var req EmulateRequest
		if err := decodeControl(r, &req); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		res, err := s.Emulate(req)
		switch {
		case errors.Is(err, ErrNoWorkOrder):
			controlError(w, http.StatusNotFound, "%v", err)
		case err != nil:
			controlError(w, http.StatusBadRequest, "%v", err)
		default:
			writeControl(w, http.StatusOK, res)
		}

	case head == "workorders" && len(parts) == 1:
		s.controlWorkOrders(w, r)

	case head == "workorders" && len(parts) >= 2:
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			controlError(w, http.StatusBadRequest, "work order id %q is not a number", parts[1])
			return
		}
		if len(parts) == 2 && method == http.MethodGet {
			d, ok := s.Detail(id)
			if !ok {
				controlError(w, http.StatusNotFound, "work order %d not found", id)
				return
			}
			writeControl(w, http.StatusOK, struct {
				WorkOrderDetail
				Notifications []Notification
			}{d, s.Notifications(NotificationFilter{WorkOrderId: id})})
			return
		}
		if len(parts) == 3 && strings.EqualFold(parts[2], "actions") && method == http.MethodPost {
			var a Action
			if err := decodeControl(r, &a); err != nil {
				controlError(w, http.StatusBadRequest, "%v", err)
				return
			}
			res, err := s.Act(id, a)
			if err != nil {
				var ae *ActionError
				if errors.As(err, &ae) {
					status := http.StatusConflict
					if ae.Code == corrigo.CodeValidation {
						status = http.StatusBadRequest
					} else if ae.Code == corrigo.CodeNotFoundOrRecalled && s.rec(id) == nil {
						status = http.StatusNotFound
					}
					writeControl(w, status, map[string]any{"error": ae.Message, "Code": ae.Code})
					return
				}
				controlError(w, http.StatusInternalServerError, "%v", err)
				return
			}
			writeControl(w, http.StatusOK, res)
			return
		}
		controlError(w, http.StatusNotFound, "no control endpoint %s %s", method, r.URL.Path)

	case head == "notifications":
		s.controlNotifications(w, r, parts)

	case head == "webhook":
		switch method {
		case http.MethodGet:
		case http.MethodPut, http.MethodPost:
			var body struct{ Url string }
			if err := decodeControl(r, &body); err != nil {
				controlError(w, http.StatusBadRequest, "%v", err)
				return
			}
			s.SetWebhookURL(body.Url)
		default:
			controlError(w, http.StatusMethodNotAllowed, "use GET or PUT")
			return
		}
		writeControl(w, http.StatusOK, map[string]any{
			"Url": s.WebhookURL(), "Retry": !s.opts.NoWebhookRetry, "MaxAttempts": s.opts.WebhookMaxAttempts,
			"Concurrency": s.opts.WebhookConcurrency, "TimeScale": s.opts.TimeScale, "RetrySchedule": durations(s.opts.RetrySchedule),
		})

	case head == "faults":
		switch method {
		case http.MethodGet:
		case http.MethodPut, http.MethodPost:
			var f Faults
			if err := decodeControl(r, &f); err != nil {
				controlError(w, http.StatusBadRequest, "%v", err)
				return
			}
			if err := s.SetFaults(f); err != nil {
				controlError(w, http.StatusBadRequest, "%v", err)
				return
			}
		case http.MethodDelete:
			_ = s.SetFaults(Faults{})
		default:
			controlError(w, http.StatusMethodNotAllowed, "use GET, PUT or DELETE")
			return
		}
		writeControl(w, http.StatusOK, s.Faults())

	case head == "tokens" && method == http.MethodPost && len(parts) == 1:
		var body struct {
			Name, Audience string
			Lifetime       Duration
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if body.Name == "" {
			body.Name = "CorrigoPro"
		}
		if body.Audience == "" {
			body.Audience = s.opts.WebhookAudience
		}
		if body.Lifetime == 0 {
			body.Lifetime = Duration(s.opts.TokenLifetime)
		}
		tok, err := s.IssueToken(body.Name, body.Audience, time.Duration(body.Lifetime))
		if err != nil {
			controlError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		writeControl(w, http.StatusOK, map[string]string{"Token": tok})

	case head == "tokens" && len(parts) == 2 && strings.EqualFold(parts[1], "revoke") && method == http.MethodPost:
		var body struct {
			Token, ClientId string
			All             bool
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if body.Token == "" && body.ClientId == "" && !body.All {
			controlError(w, http.StatusBadRequest, "give Token, ClientId or All:true")
			return
		}
		writeControl(w, http.StatusOK, map[string]int{"Revoked": s.tokens.revoke(body.Token, body.ClientId, body.All)})

	case head == "files" && len(parts) == 2 && method == http.MethodGet:
		f := s.fileByID(parts[1])
		if f == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.meta.MimeType)
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.meta.Name))
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
		_, _ = w.Write(f.data)

	default:
		controlError(w, http.StatusNotFound, "no control endpoint %s %s; see GET /_sandbox/", method, r.URL.Path)
	}
}

func durations(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

func optInt(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	return n, nil
}

// CreateRequest is the body of POST /_sandbox/workorders.
type CreateRequest struct {
	Count int
	Spec  WorkOrderSpec
}

func (s *Sandbox) controlWorkOrders(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		cust, err := optInt(q.Get("customerId"))
		if err != nil {
			controlError(w, http.StatusBadRequest, "customerId: %v", err)
			return
		}
		lim, err := optInt(q.Get("limit"))
		if err != nil {
			controlError(w, http.StatusBadRequest, "limit: %v", err)
			return
		}
		status := q.Get("status")
		out := []corrigo.WorkOrderSummary{}
		for _, rec := range s.records() {
			wo := rec.snapshot()
			if status != "" && !strings.EqualFold(status, string(wo.Status)) {
				continue
			}
			if cust != 0 && (wo.Customer == nil || int64(wo.Customer.ID) != cust) {
				continue
			}
			out = append(out, summaryOf(wo))
		}
		if lim > 0 && int64(len(out)) > lim {
			out = out[int64(len(out))-lim:]
		}
		writeControl(w, http.StatusOK, map[string]any{"WorkOrders": out})
	case http.MethodPost:
		var req CreateRequest
		if err := decodeControl(r, &req); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if req.Count <= 0 {
			req.Count = 1
		}
		if req.Count > 10000 {
			controlError(w, http.StatusBadRequest, "Count must be at most 10000")
			return
		}
		if req.Count > 1 && req.Spec.WorkOrderNumber != "" {
			controlError(w, http.StatusBadRequest, "WorkOrderNumber can only be given with Count 1")
			return
		}
		out := make([]corrigo.WorkOrder, 0, req.Count)
		for i := 0; i < req.Count; i++ {
			wo, err := s.CreateWorkOrder(req.Spec)
			if err != nil {
				controlError(w, http.StatusBadRequest, "%v", err)
				return
			}
			out = append(out, wo)
		}
		writeControl(w, http.StatusOK, map[string]any{"WorkOrders": out})
	default:
		controlError(w, http.StatusMethodNotAllowed, "use GET or POST")
	}
}

func (s *Sandbox) controlNotifications(w http.ResponseWriter, r *http.Request, parts []string) {
	q := r.URL.Query()
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		wo, err := optInt(q.Get("workOrderId"))
		if err != nil {
			controlError(w, http.StatusBadRequest, "workOrderId: %v", err)
			return
		}
		lim, err := optInt(q.Get("limit"))
		if err != nil {
			controlError(w, http.StatusBadRequest, "limit: %v", err)
			return
		}
		f := NotificationFilter{State: q.Get("state"), WorkOrderId: wo, Action: corrigo.Action(q.Get("action")), Limit: int(lim)}
		writeControl(w, http.StatusOK, map[string]any{"Notifications": s.Notifications(f)})
	case len(parts) == 2 && strings.EqualFold(parts[1], "reprocess") && r.Method == http.MethodPost:
		var body struct{ Ids []int64 }
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeControl(w, http.StatusOK, map[string]int{"Requeued": s.Reprocess(body.Ids...)})
	case len(parts) == 2 && strings.EqualFold(parts[1], "ignore") && r.Method == http.MethodPost:
		var body struct{ Ids []int64 }
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		ids := s.Ignore(body.Ids...)
		if ids == nil {
			ids = []int64{}
		}
		writeControl(w, http.StatusOK, map[string]any{"Ignored": len(ids), "Ids": ids})
	case len(parts) == 3 && strings.EqualFold(parts[2], "redeliver") && r.Method == http.MethodPost:
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			controlError(w, http.StatusBadRequest, "notification id %q is not a number", parts[1])
			return
		}
		var body struct{ Delay Duration }
		if err := decodeControl(r, &body); err != nil {
			controlError(w, http.StatusBadRequest, "%v", err)
			return
		}
		cid, err := s.Redeliver(id, time.Duration(body.Delay))
		if err != nil {
			controlError(w, http.StatusNotFound, "%v", err)
			return
		}
		writeControl(w, http.StatusOK, map[string]int64{"Id": cid})
	default:
		controlError(w, http.StatusNotFound, "no control endpoint %s %s", r.Method, r.URL.Path)
	}
}
