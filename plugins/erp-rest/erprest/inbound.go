package erprest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// Callback is an ERP status callback, parsed.
type Callback struct {
	JobID  string
	Status string
	// Body is the decoded JSON body (objects are map[string]any, numbers
	// float64), as status_map expressions see it.
	Body any
}

// ParseCallback reads the job id and status out of a callback body.
func ParseCallback(body []byte, jobIDPath, statusPath jsonPath) (*Callback, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, errors.New("body is empty")
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, errors.New("body must be a JSON object")
	}
	field := func(p jsonPath, name string) (string, error) {
		v, ok := p.lookup(doc)
		if !ok {
			return "", fmt.Errorf("body has no %s at %q", name, p.String())
		}
		s, ok := scalarString(v)
		if !ok || strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("%s at %q must be a non-empty string or number", name, p.String())
		}
		if len(s) > maxJobIDLen {
			return "", fmt.Errorf("%s at %q is longer than %d bytes", name, p.String(), maxJobIDLen)
		}
		return strings.TrimSpace(s), nil
	}
	cb := &Callback{}
	if cb.JobID, err = field(jobIDPath, "job id"); err != nil {
		return nil, err
	}
	if cb.Status, err = field(statusPath, "status"); err != nil {
		return nil, err
	}
	cb.Body = plainJSON(doc)
	return cb, nil
}

// inboundError is a callback the plugin answers with an HTTP error.
type inboundError struct {
	status int
	msg    string
}

func (e *inboundError) Error() string { return e.msg }

func badRequest(status int, format string, a ...any) *inboundError {
	return &inboundError{status: status, msg: fmt.Sprintf(format, a...)}
}

// HandleInbound handles an ERP status callback forwarded by the gateway
// from /plugins/<name>/inbound. It checks the shared secret, finds the work
// order of the job and maps the status to actions. Answers are JSON:
// 200 {"result":"accepted"|"ignored", ...}, or 4xx/503 {"error": "..."}.
func (p *Plugin) HandleInbound(ctx context.Context, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	cfg, _, host, err := p.state()
	if err != nil {
		return jsonResponse(http.StatusServiceUnavailable, map[string]any{"error": err.Error()}), nil, nil //nolint:nilerr // not configured yet: answered with a 503, not a plugin error
	}
	if req.Method != "" && req.Method != http.MethodPost && req.Method != http.MethodPut {
		r := jsonResponse(http.StatusMethodNotAllowed, map[string]any{"error": "use POST or PUT"})
		r.Header.Set("Allow", "POST, PUT")
		return r, nil, nil
	}
	if int64(len(req.Body)) > cfg.InboundMaxBytes {
		return jsonResponse(http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("body is larger than %d bytes", cfg.InboundMaxBytes)}), nil, nil
	}
	if err := verifySignature(cfg, req.Header, req.Body); err != nil {
		host.Log(ctx, "warn", "refused ERP callback", "reason", err.Error())
		return jsonResponse(http.StatusUnauthorized, map[string]any{"error": err.Error()}), nil, nil
	}
	res, actions, err := p.mapCallback(ctx, cfg, host, req.Body, req.Header)
	if err != nil {
		var ie *inboundError
		if errors.As(err, &ie) {
			host.Log(ctx, "warn", "ERP callback not applied", "status", ie.status, "reason", ie.msg)
			return jsonResponse(ie.status, map[string]any{"error": ie.msg}), nil, nil
		}
		// The gateway's store is unavailable: the ERP should call again.
		host.Log(ctx, "warn", "ERP callback not applied; asking the ERP to retry", "error", err.Error())
		r := jsonResponse(http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
		r.Header.Set("Retry-After", "30")
		return r, nil, nil
	}
	return jsonResponse(http.StatusOK, res), actions, nil
}

// inboundEvent maps an ERP callback the gateway stored as an event (source
// "inbound"). The gateway has authenticated it at its inbound endpoint, so
// only the body counts here.
func (p *Plugin) inboundEvent(ctx context.Context, cfg *Config, host pluginapi.Host, ev pluginapi.Event) ([]pluginapi.Action, error) {
	_, actions, err := p.mapCallback(ctx, cfg, host, ev.Body, nil)
	if err != nil {
		var ie *inboundError
		if errors.As(err, &ie) {
			return nil, pluginapi.Permanent(fmt.Errorf("ERP callback: %s", ie.msg))
		}
		return nil, err
	}
	return actions, nil
}

// mapCallback parses a callback and builds its actions.
func (p *Plugin) mapCallback(ctx context.Context, cfg *Config, host pluginapi.Host, body []byte, hdr http.Header) (map[string]any, []pluginapi.Action, error) {
	cb, err := ParseCallback(body, cfg.InboundJobIDPath, cfg.InboundStatusPath)
	if err != nil {
		return nil, nil, badRequest(http.StatusBadRequest, "%v", err)
	}
	wb, ok, err := host.KVGet(ctx, WorkOrderKey(cb.JobID))
	if err != nil {
		return nil, nil, retryable(fmt.Errorf("read %s: %w", WorkOrderKey(cb.JobID), err))
	}
	if !ok {
		return nil, nil, badRequest(http.StatusNotFound, "unknown job %q: no work order was sent to the ERP as this job", cb.JobID)
	}
	var wr woRecord
	if err := json.Unmarshal(wb, &wr); err != nil || wr.WorkOrderID == 0 {
		return nil, nil, badRequest(http.StatusInternalServerError, "record of job %q is damaged", cb.JobID)
	}
	res := map[string]any{"job_id": cb.JobID, "status": cb.Status, "work_order_id": wr.WorkOrderID, "account": wr.Account}
	maps, ok := cfg.StatusMap[cb.Status]
	if !ok {
		if cfg.IgnoreUnmapped {
			res["result"] = "ignored"
			return res, nil, nil
		}
		return nil, nil, badRequest(http.StatusUnprocessableEntity, "status %q is not in status_map", cb.Status)
	}
	env := &InboundEnv{Body: cb.Body, Status: cb.Status, JobID: cb.JobID, WorkOrderID: wr.WorkOrderID, Account: wr.Account,
		Header: firstValues(hdr), Now: p.now()}
	var actions []pluginapi.Action
	for _, m := range maps {
		as, err := m.actions(env)
		if err != nil {
			return nil, nil, badRequest(http.StatusUnprocessableEntity, "status %q: %v", cb.Status, err)
		}
		actions = append(actions, as...)
	}
	kinds := make([]string, len(actions))
	for i, a := range actions {
		kinds[i] = string(a.Kind)
	}
	res["result"] = "accepted"
	res["actions"] = kinds
	if len(actions) == 0 {
		res["result"] = "ignored"
	}
	host.Log(ctx, "info", "ERP callback", "job_id", cb.JobID, "status", cb.Status, "work_order_id", wr.WorkOrderID, "actions", strings.Join(kinds, ","))
	return res, actions, nil
}

// verifySignature checks the callback's proof of the shared secret.
func verifySignature(cfg *Config, hdr http.Header, body []byte) error {
	if cfg.InboundSecret == "" {
		return nil
	}
	got := strings.TrimSpace(hdr.Get(cfg.InboundSignatureHeader))
	if got == "" {
		return fmt.Errorf("missing %s header", cfg.InboundSignatureHeader)
	}
	if cfg.InboundSignature == "token" {
		if subtle.ConstantTimeCompare([]byte(got), []byte(cfg.InboundSecret)) != 1 {
			return fmt.Errorf("wrong %s", cfg.InboundSignatureHeader)
		}
		return nil
	}
	got = strings.TrimPrefix(strings.TrimPrefix(got, "sha256="), "SHA256=")
	sig, err := hex.DecodeString(got)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%s must be a hex HMAC-SHA256", cfg.InboundSignatureHeader)
	}
	if !hmac.Equal(sig, Sign(cfg.InboundSecret, body)) {
		return fmt.Errorf("%s does not match the body", cfg.InboundSignatureHeader)
	}
	return nil
}

// Sign is the HMAC-SHA256 of body under secret, as callbacks must send it
// (hex-encoded) in the signature header.
func Sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func firstValues(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[http.CanonicalHeaderKey(k)] = v[0]
		}
	}
	return out
}

func jsonResponse(status int, v any) pluginapi.InboundResponse {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"cannot encode answer"}`)
		status = http.StatusInternalServerError
	}
	return pluginapi.InboundResponse{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}
}
