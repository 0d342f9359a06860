package csvexport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// anyAccount tells resolveAccount that the gateway decides the account
// (inbound answers carry no account per action).
const anyAccount = "\x00gateway decides"

// inboundSummary is the JSON answer of the inbound endpoints.
type inboundSummary struct {
	File     string `json:"file"`
	Actions  int    `json:"actions"`
	Rejected int    `json:"rejected"`
	Already  bool   `json:"alreadyProcessed,omitempty"`
	Error    string `json:"error,omitempty"`
	// Report is the errors report (CSV text) when rows were rejected.
	Report string `json:"report,omitempty"`
}

// HandleInbound serves two requests the gateway forwards from the
// plugin's inbound path, for gateways without Host.SubmitActions (see
// ActionSubmitter):
//
//	POST <inbound>/inbox?name=updates.csv   body: an inbox CSV
//	POST <inbound>/scan                     process the inbox folder now
//
// Both answer with the actions of the valid rows (the gateway executes
// them) and a JSON summary with the errors report. The content's hash is
// marked processed before the answer leaves the plugin, so the same file
// is never applied twice; if the gateway loses the answer, the file's
// actions are lost too (at most once). Host.SubmitActions, when offered,
// gives exactly once.
func (p *Plugin) HandleInbound(ctx context.Context, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	p.mu.Lock()
	c, host, ib := p.cfg, p.host, p.inbox
	p.mu.Unlock()
	if c == nil {
		return pluginapi.InboundResponse{}, nil, pluginapi.RetryLater(errors.New("csv-export is not configured yet"))
	}
	path := strings.Trim(req.Path, "/")
	if req.Method != http.MethodPost {
		return jsonResponse(http.StatusMethodNotAllowed, map[string]string{"error": "use POST"}), nil, nil
	}
	col := &collector{}
	switch path {
	case "inbox", "upload":
		name := req.Query.Get("name")
		if name == "" || strings.ContainsAny(name, `/\`) {
			name = "upload.csv"
		}
		target := ib
		if target == nil {
			target = &inbox{cfg: c, host: host, now: p.Now}
		}
		var fileErr error
		if int64(len(req.Body)) > c.InboxMaxBytes && c.InboxMaxBytes > 0 {
			fileErr = fmt.Errorf("file is larger than inbox_max_bytes (%d bytes)", c.InboxMaxBytes)
		}
		fo, err := target.process(ctx, col, name, req.Body, false, anyAccount, fileErr)
		if err != nil {
			return pluginapi.InboundResponse{}, nil, pluginapi.RetryLater(err)
		}
		status := http.StatusOK
		if fo.FileErr != "" {
			status = http.StatusUnprocessableEntity
		}
		return jsonResponse(status, summary(fo)), col.actions, nil
	case "scan":
		if ib == nil {
			return jsonResponse(http.StatusNotFound, map[string]string{"error": "no inbox is configured"}), nil, nil
		}
		fos, err := ib.scan(ctx, col, anyAccount)
		out := make([]inboundSummary, len(fos))
		for i, fo := range fos {
			out[i] = summary(fo)
		}
		body := map[string]any{"files": out}
		if err != nil {
			body["error"] = err.Error()
		}
		return jsonResponse(http.StatusOK, body), col.actions, nil
	}
	return jsonResponse(http.StatusNotFound, map[string]string{"error": "unknown path; use POST inbox or POST scan"}), nil, nil
}

func summary(fo fileOutcome) inboundSummary {
	return inboundSummary{File: fo.File, Actions: fo.Actions, Rejected: fo.Rejected, Already: fo.Already, Error: fo.FileErr, Report: string(fo.Report)}
}

func jsonResponse(status int, v any) pluginapi.InboundResponse {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"encode answer"}`)
	}
	return pluginapi.InboundResponse{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}
}

// inboundEvent handles an event of source "inbound" whose body is an inbox
// CSV (a gateway that stores inbound requests as events before handing
// them to the plugin). The event store makes this path exactly once: a
// redelivered event gives the same actions, which the gateway's outbox
// does not send twice. The content hash is remembered with the event id,
// so the same file sent again as a different event is not applied again.
func (p *Plugin) inboundEvent(ctx context.Context, ev pluginapi.Event, ib *inbox) ([]pluginapi.Action, error) {
	p.mu.Lock()
	c, host := p.cfg, p.host
	p.mu.Unlock()
	if ib == nil {
		ib = &inbox{cfg: c, host: host, now: p.Now}
	}
	if int64(len(ev.Body)) > c.InboxMaxBytes {
		return nil, pluginapi.Permanent(fmt.Errorf("inbound file is larger than inbox_max_bytes (%d bytes)", c.InboxMaxBytes))
	}
	name := "event-" + ev.ID + ".csv"
	acct := ev.Account
	if acct == "" {
		acct = anyAccount
	}
	sink := &eventSink{eventID: ev.ID}
	ib.mu.Lock()
	claimed, err := ib.claimForEvent(ctx, ev.Body, ev.ID)
	ib.mu.Unlock()
	if err != nil {
		return nil, pluginapi.RetryLater(err)
	}
	if !claimed {
		host.Log(ctx, "info", "inbound file has the same content as one already processed; not applying it again", "event", ev.ID)
		return nil, nil
	}
	fo, err := ib.processEvent(ctx, sink, name, ev.Body, acct)
	if err != nil {
		return nil, pluginapi.RetryLater(err)
	}
	if fo.FileErr != "" {
		return nil, pluginapi.Permanent(fmt.Errorf("inbound file rejected: %s", fo.FileErr))
	}
	return sink.actions, nil
}

// eventSink collects actions for an inbound event.
type eventSink struct {
	eventID string
	actions []pluginapi.Action
}

func (s *eventSink) SubmitActions(_ context.Context, _, _ string, actions []pluginapi.Action) error {
	s.actions = append(s.actions, actions...)
	return nil
}
