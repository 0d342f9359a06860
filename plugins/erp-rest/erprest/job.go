package erprest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/retryafter"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// jobRecord is what the plugin keeps per work order under
// job:<account>:<workOrderId>: the ERP's job id and what the ERP said when
// the job was created, so that handling the event again (after a crash,
// or a redelivery) gives the same actions without a second request.
type jobRecord struct {
	JobID     string       `json:"job_id"`
	SiteID    string       `json:"site_id,omitempty"`
	Scheduled corrigo.Time `json:"scheduled,omitzero"`
	Comment   string       `json:"accept_comment,omitempty"`
	// Existing is true when the ERP already had the job (409 or lookup).
	Existing bool `json:"existing,omitempty"`
}

// woRecord is kept under wo:<jobId>: which work order a job belongs to,
// for the ERP's callbacks.
type woRecord struct {
	Account     string `json:"account"`
	WorkOrderID int64  `json:"work_order_id"`
}

// JobKey is the key-value key of a work order's job record.
func JobKey(account string, woID int64) string {
	return "job:" + account + ":" + strconv.FormatInt(woID, 10)
}

// WorkOrderKey is the key-value key that maps an ERP job id back to its
// work order.
func WorkOrderKey(jobID string) string { return "wo:" + jobID }

// HandleEvent creates the ERP job for a NewWorkOrder event and decides the
// CorrigoPro actions. Other notifications are ignored; events of source
// "inbound" (ERP callbacks stored by the gateway) are mapped like
// HandleInbound does.
func (p *Plugin) HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	cfg, cl, host, err := p.state()
	if err != nil {
		return nil, err
	}
	if ev.Source == "inbound" {
		return p.inboundEvent(ctx, cfg, host, ev)
	}
	if ev.Header.Action != corrigo.ActionNewWorkOrder {
		return nil, nil
	}
	wo := ev.WorkOrder
	if wo == nil {
		if ev.Header.WorkOrderId == 0 {
			return nil, pluginapi.Permanent(errors.New("event names no work order"))
		}
		wo, err = host.GetWorkOrder(ctx, ev.Account, ev.Header.WorkOrderId)
		if errors.Is(err, pluginapi.ErrNotFound) {
			return nil, pluginapi.Permanent(fmt.Errorf("work order %d: %w", ev.Header.WorkOrderId, err))
		}
		if err != nil {
			return nil, retryable(fmt.Errorf("fetch work order %d: %w", ev.Header.WorkOrderId, err))
		}
	}
	if wo.WorkOrderId == 0 {
		wo.WorkOrderId = ev.Header.WorkOrderId
	}
	if wo.WorkOrderId == 0 {
		return nil, pluginapi.Permanent(errors.New("work order has no id"))
	}
	j := &jobRun{p: p, cfg: cfg, cl: cl, host: host, account: ev.Account, wo: wo}
	return j.run(ctx, ev)
}

// jobRun is one NewWorkOrder being turned into an ERP job.
type jobRun struct {
	p       *Plugin
	cfg     *Config
	cl      *client
	host    pluginapi.Host
	account string
	wo      *corrigo.WorkOrder
	env     *JobEnv
}

func (j *jobRun) run(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	key := JobKey(j.account, j.wo.WorkOrderId)
	if rec, ok, err := j.loadJob(ctx, key); err != nil {
		return nil, err
	} else if ok {
		j.host.Log(ctx, "info", "job already created", "work_order_id", j.wo.WorkOrderId, "job_id", rec.JobID)
		return j.decide(rec), nil
	}
	if ev.Replay {
		// gateway replay: no job exists, and creating one is a side
		// effect in the ERP. What would be sent depends on the ERP's
		// answer (comment, schedule), so answer nothing.
		j.host.Log(ctx, "info", "replay: would create an ERP job; not created, no actions", "work_order_id", j.wo.WorkOrderId)
		return nil, nil
	}
	j.env = &JobEnv{
		WO: *j.wo, Account: j.account, Now: j.p.now(),
		Event: EventEnv{ID: ev.ID, Source: ev.Source, Action: string(ev.Header.Action), MessageID: ev.Header.MessageId, Date: ev.Header.ActionDate.Time},
	}
	if j.cfg.IdempotencyKey != nil {
		k, err := j.cfg.IdempotencyKey.render(j.env)
		if err != nil {
			return nil, pluginapi.Permanent(fmt.Errorf("idempotency_key: %w", err))
		}
		j.env.IdempotencyKey = k
	}
	if j.cfg.SiteKey != nil {
		site, err := j.resolveSite(ctx)
		if err != nil {
			return nil, err
		}
		j.env.SiteID = site
	}
	body, err := j.cfg.CreateBody.eval(j.env)
	if err != nil {
		return nil, pluginapi.Permanent(fmt.Errorf("create_body: %w", err))
	}
	path, err := j.cfg.CreatePath.render(j.env)
	if err != nil {
		return nil, pluginapi.Permanent(fmt.Errorf("create_path: %w", err))
	}
	hdr := http.Header{}
	if j.cfg.IdempotencyHeader != "" && j.env.IdempotencyKey != "" {
		hdr.Set(j.cfg.IdempotencyHeader, j.env.IdempotencyKey)
	}
	resp, err := j.cl.do(ctx, "create job", j.cfg.CreateMethod, path, body, hdr)
	if err != nil {
		return nil, retryable(err)
	}
	rec := &jobRecord{SiteID: j.env.SiteID}
	var doc any
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		rec.JobID, err = idFrom(resp, j.cfg.CreateIDPath)
		if err != nil {
			// The job exists in the ERP but the config cannot find its id:
			// a person must fix create_id_path; a retry would meet a 409.
			return nil, pluginapi.Permanent(fmt.Errorf("create job: ERP answered %d but create_id_path: %w (answer: %s)", resp.Status, err, excerpt(resp.Body)))
		}
		doc, _ = decodeJSON(resp.Body)
	case resp.Status == http.StatusConflict:
		rec.Existing = true
		if rec.JobID, doc, err = j.existing(ctx, resp); err != nil {
			return nil, err
		}
	case resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnprocessableEntity:
		reason := j.reason(resp)
		switch j.cfg.OnValidationError {
		case ValidationReject:
			j.host.Log(ctx, "info", "ERP refused the job; rejecting the work order", "work_order_id", j.wo.WorkOrderId, "status", resp.Status, "reason", reason)
			return []pluginapi.Action{{Kind: pluginapi.KindReject, WorkOrderID: j.wo.WorkOrderId, Comment: truncate("ERP refused the job: "+reason, 3000)}}, nil
		case ValidationFail:
			return nil, pluginapi.Permanent(fmt.Errorf("create job: ERP answered %d: %s", resp.Status, reason))
		default: // ValidationPark
			j.host.Log(ctx, "warn", "ERP refused the job; parking the event for a person", "work_order_id", j.wo.WorkOrderId, "status", resp.Status, "reason", reason)
			return nil, pluginapi.NeedsPerson(fmt.Errorf("%swork order %s: the ERP refused the job (%d): %s; fix create_body or the ERP, then reprocess the event (the work order was left untouched)",
				ParkError, woLabel(j), resp.Status, truncate(reason, 1000)))
		}
	default:
		return nil, statusError("create job", resp, j.reason(resp))
	}
	if len(j.cfg.ScheduledPath) > 0 && doc != nil {
		if v, ok := j.cfg.ScheduledPath.lookup(doc); ok {
			if s, ok := scalarString(v); ok && s != "" {
				if t, err := corrigo.ParseTime(s); err == nil {
					rec.Scheduled = t
				} else {
					j.host.Log(ctx, "warn", "scheduled_path holds no date", "work_order_id", j.wo.WorkOrderId, "value", s)
				}
			}
		}
	}
	if j.cfg.AcceptComment != nil {
		j.env.JobID, j.env.Response = rec.JobID, plainJSON(doc)
		c, err := j.cfg.AcceptComment.render(j.env)
		if err != nil {
			j.host.Log(ctx, "warn", "accept_comment failed; accepting without a comment", "error", err.Error())
		}
		rec.Comment = truncate(c, 3000)
	}
	if err := j.storeJob(ctx, key, rec); err != nil {
		return nil, err
	}
	j.host.Log(ctx, "info", "ERP job recorded", "work_order_id", j.wo.WorkOrderId, "job_id", rec.JobID, "existing", rec.Existing)
	return j.decide(rec), nil
}

// existing handles a 409: the ERP already has the job (because an earlier
// attempt created it and the plugin died before recording the id, or the
// ERP knows the work order by another route). The id comes from the 409
// body at conflict_id_path, or from lookup_path.
func (j *jobRun) existing(ctx context.Context, resp *response) (string, any, error) {
	if id, err := idFrom(resp, j.cfg.ConflictIDPath); err == nil {
		doc, _ := decodeJSON(resp.Body)
		return id, doc, nil
	}
	if j.cfg.LookupPath == nil {
		return "", nil, pluginapi.Permanent(fmt.Errorf("create job: ERP answered 409 (job exists) without an id at %q and lookup_path is not set (answer: %s)",
			j.cfg.ConflictIDPath.String(), excerpt(resp.Body)))
	}
	path, err := j.cfg.LookupPath.render(j.env)
	if err != nil {
		return "", nil, pluginapi.Permanent(fmt.Errorf("lookup_path: %w", err))
	}
	lr, err := j.cl.do(ctx, "look up job", http.MethodGet, path, nil, nil)
	if err != nil {
		return "", nil, retryable(err)
	}
	if lr.Status < 200 || lr.Status > 299 {
		return "", nil, statusError("look up job", lr, j.reason(lr))
	}
	id, err := idFrom(lr, j.cfg.LookupIDPath)
	if err != nil {
		return "", nil, pluginapi.Permanent(fmt.Errorf("look up job: ERP says the job exists but lookup_id_path: %w (answer: %s)", err, excerpt(lr.Body)))
	}
	ldoc, _ := decodeJSON(lr.Body)
	return id, ldoc, nil
}

// decide turns a job record into CorrigoPro actions: accept (unless the
// config waits for a schedule the ERP did not give), then the appointment
// when the ERP scheduled the job.
func (j *jobRun) decide(rec *jobRecord) []pluginapi.Action {
	var out []pluginapi.Action
	if j.cfg.Accept && (!j.cfg.AcceptRequiresSchedule || !rec.Scheduled.IsZero()) {
		out = append(out, pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: j.wo.WorkOrderId, Comment: rec.Comment})
	}
	if !rec.Scheduled.IsZero() {
		out = append(out, pluginapi.Action{Kind: pluginapi.KindAppointment, WorkOrderID: j.wo.WorkOrderId,
			Appointment: &corrigo.Appointment{ScheduledStart: rec.Scheduled, Pte: j.cfg.AppointmentPte}})
	}
	return out
}

func (j *jobRun) loadJob(ctx context.Context, key string) (*jobRecord, bool, error) {
	b, ok, err := j.host.KVGet(ctx, key)
	if err != nil {
		return nil, false, retryable(fmt.Errorf("read %s: %w", key, err))
	}
	if !ok {
		return nil, false, nil
	}
	var rec jobRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.JobID == "" {
		// Not ours or damaged: a plain job id is accepted too, so an
		// operator can write one by hand.
		s := strings.TrimSpace(string(b))
		if s == "" {
			return nil, false, nil
		}
		return &jobRecord{JobID: s}, true, nil
	}
	return &rec, true, nil
}

// storeJob records the job: the reverse mapping first, so a callback that
// arrives the moment the job exists can be matched, then the job record.
// A failure here is retryable; the retry meets the ERP's 409 and recovers
// the id instead of creating a second job.
func (j *jobRun) storeJob(ctx context.Context, key string, rec *jobRecord) error {
	wb, _ := json.Marshal(woRecord{Account: j.account, WorkOrderID: j.wo.WorkOrderId})
	if err := j.host.KVPut(ctx, WorkOrderKey(rec.JobID), wb); err != nil {
		return retryable(fmt.Errorf("record job %s: %w", rec.JobID, err))
	}
	jb, _ := json.Marshal(rec)
	if err := j.host.KVPut(ctx, key, jb); err != nil {
		return retryable(fmt.Errorf("record job %s: %w", rec.JobID, err))
	}
	return nil
}

// reason reads the ERP's reason from an error answer.
func (j *jobRun) reason(resp *response) string {
	return reasonOf(resp, j.cfg.RejectReasonPath)
}

func reasonOf(resp *response, p jsonPath) string {
	if doc, err := decodeJSON(resp.Body); err == nil && len(p) > 0 {
		if v, ok := p.lookup(doc); ok {
			if s, ok := scalarString(v); ok && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s)
			}
			if b, err := json.Marshal(v); err == nil && string(b) != "null" {
				return truncate(string(b), 300)
			}
		}
	}
	if e := excerpt(resp.Body); e != "" {
		return e
	}
	return http.StatusText(resp.Status)
}

// statusError classifies an unexpected ERP answer: overload, throttling,
// server errors and refused credentials are retried later (credentials can
// be fixed and the events replayed within the gateway's attempts); other
// client errors mean the request itself is wrong, which retrying cannot
// fix.
func statusError(op string, resp *response, reason string) error {
	err := fmt.Errorf("%s: ERP answered %d: %s", op, resp.Status, reason)
	if resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusServiceUnavailable {
		// The ERP said when to come back: pass it on, so the gateway
		// redelivers the event no sooner (it caps the wait itself).
		if d, ok := retryafter.FromHeader(resp.Header, time.Now()); ok && d > 0 {
			return pluginapi.RetryAfter(fmt.Errorf("%w (Retry-After %s)", err, d), d)
		}
	}
	switch {
	case resp.Status >= 500, resp.Status == http.StatusRequestTimeout, resp.Status == http.StatusTooManyRequests,
		resp.Status == http.StatusTooEarly, resp.Status == http.StatusUnauthorized, resp.Status == http.StatusForbidden:
		return pluginapi.RetryLater(err)
	}
	return pluginapi.Permanent(err)
}

// retryable keeps an *pluginapi.Error's verdict and makes anything else
// retryable (network failures, timeouts, token endpoint trouble).
func retryable(err error) error {
	var pe *pluginapi.Error
	if errors.As(err, &pe) {
		return &pluginapi.Error{Message: err.Error(), Retryable: pe.Retryable, RetryAfter: pe.RetryAfter}
	}
	var te *tokenError
	if errors.As(err, &te) && te.Status >= 400 && te.Status < 500 && te.Status != http.StatusTooManyRequests {
		// Bad client credentials: still retried (a person can fix the
		// config within the gateway's attempts) but said plainly.
		return pluginapi.RetryLater(fmt.Errorf("%w (check client_id, client_secret and scopes)", err))
	}
	if isTimeout(err) {
		return pluginapi.RetryLater(fmt.Errorf("%w (ERP slower than timeout)", err))
	}
	return pluginapi.RetryLater(err)
}

// excerpt is the start of a body for messages: valid UTF-8, one line, at
// most 300 bytes.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	return truncate(s, 300)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// plainJSON converts json.Number values to float64 so expressions can do
// arithmetic on a decoded response.
func plainJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plainJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = plainJSON(e)
		}
		return x
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	}
	return v
}
