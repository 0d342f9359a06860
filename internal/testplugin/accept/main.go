// Command accept is the wogate test plugin: it answers events with actions
// chosen by config and can misbehave on purpose (delay, fail, crash) so
// tests can exercise the gateway's timeouts, retries and supervisor.
//
// Config (all optional):
//
//	actions:            map of notification Action → comma-separated action
//	                    kinds, default {NewWorkOrder: accept}
//	delay:              sleep this long in every HandleEvent
//	crash_after:        exit(3) while handling the Nth event of this process
//	crash_on_configure: exit(3) inside Configure
//	exit_after:         exit(4) this long after Configure, on its own
//	fail_rate:          fraction 0..1 of events answered with an error
//	fail_permanent:     make those errors permanent instead of retryable
//	fail_needs_person:  make those errors park the event for a person
//	kv:                 count events per work order in the host KV store
//	                    (key "seen/<work order id>")
//	fetch_work_order:   fetch the work order through the host
//	report:             append a note whose Text is JSON describing what
//	                    the plugin saw (pid, in-flight calls, counts, the
//	                    WOGATE_TEST_PROBE environment variable, the
//	                    traceparent the gateway sent and the working
//	                    directory)
//
// Environment: WOGATE_TEST_PIDFILE, if set, names a file the plugin
// appends its pid to at start.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

var schema = pluginapi.Schema{Fields: []pluginapi.Field{
	{Name: "actions", Type: pluginapi.TypeStringMap, Default: map[string]string{"NewWorkOrder": "accept"},
		Description: "Notification action → comma-separated action kinds to answer with."},
	{Name: "delay", Type: pluginapi.TypeDuration, Default: "0s", Description: "Sleep this long in every HandleEvent."},
	{Name: "crash_after", Type: pluginapi.TypeInt, Default: 0, Description: "Exit while handling the Nth event (0: never)."},
	{Name: "crash_on_configure", Type: pluginapi.TypeBool, Default: false, Description: "Exit inside Configure."},
	{Name: "exit_after", Type: pluginapi.TypeDuration, Default: "0s", Description: "Exit this long after Configure (0: never)."},
	{Name: "fail_rate", Type: pluginapi.TypeFloat, Default: 0.0, Description: "Fraction of events answered with an error."},
	{Name: "fail_permanent", Type: pluginapi.TypeBool, Default: false, Description: "Report failures as permanent."},
	{Name: "fail_needs_person", Type: pluginapi.TypeBool, Default: false, Description: "Report failures as needing a person (parked)."},
	{Name: "kv", Type: pluginapi.TypeBool, Default: false, Description: "Count events per work order in the host KV store."},
	{Name: "fetch_work_order", Type: pluginapi.TypeBool, Default: false, Description: "Fetch the work order through the host."},
	{Name: "report", Type: pluginapi.TypeBool, Default: false, Description: "Append a note describing what the plugin saw."},
	{Name: "comment", Type: pluginapi.TypeString, Default: "accepted by the wogate test plugin", Description: "Comment on accept, reject and other actions."},
	{Name: "token", Type: pluginapi.TypeString, Secret: true, Description: "Unused; shows a secret field."},
	{Name: "mode", Type: pluginapi.TypeString, Default: "normal", Enum: []string{"normal", "quiet"}, Description: "quiet: log nothing."},
}}

type config struct {
	actions        map[string][]pluginapi.ActionKind
	delay          time.Duration
	crashAfter     int64
	failRate       float64
	failPermanent  bool
	failPerson     bool
	kv, fetch      bool
	report, quiet  bool
	comment        string
	exitAfter      time.Duration
	crashConfigure bool
}

type acceptPlugin struct {
	mu       sync.Mutex
	cfg      config
	host     pluginapi.Host
	events   atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64
}

func (p *acceptPlugin) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{
		Name: "accept", Version: "1.0.0",
		Description:  "Test plugin: answers events with configured actions.",
		ConfigSchema: schema,
	}, nil
}

func parseKinds(s string) ([]pluginapi.ActionKind, error) {
	var out []pluginapi.ActionKind
	for _, part := range strings.Split(s, ",") {
		k := pluginapi.ActionKind(strings.TrimSpace(part))
		if k == "" {
			continue
		}
		known := false
		for _, a := range pluginapi.AllKinds {
			known = known || a == k
		}
		if !known {
			return nil, fmt.Errorf("unknown action kind %q", k)
		}
		out = append(out, k)
	}
	return out, nil
}

func (p *acceptPlugin) ValidateConfig(_ context.Context, cfg map[string]any) []pluginapi.ConfigError {
	var errs []pluginapi.ConfigError
	if r := cfg["fail_rate"].(float64); r < 0 || r > 1 {
		errs = append(errs, pluginapi.ConfigError{Key: "fail_rate", Message: "must be between 0 and 1"})
	}
	for ev, kinds := range cfg["actions"].(map[string]string) {
		if _, err := parseKinds(kinds); err != nil {
			errs = append(errs, pluginapi.ConfigError{Key: "actions." + ev, Message: err.Error()})
		}
	}
	return errs
}

func (p *acceptPlugin) Configure(_ context.Context, raw map[string]any, host pluginapi.Host) error {
	c := config{
		actions:        map[string][]pluginapi.ActionKind{},
		delay:          raw["delay"].(time.Duration),
		crashAfter:     raw["crash_after"].(int64),
		failRate:       raw["fail_rate"].(float64),
		failPermanent:  raw["fail_permanent"].(bool),
		failPerson:     raw["fail_needs_person"].(bool),
		kv:             raw["kv"].(bool),
		fetch:          raw["fetch_work_order"].(bool),
		report:         raw["report"].(bool),
		quiet:          raw["mode"].(string) == "quiet",
		comment:        raw["comment"].(string),
		exitAfter:      raw["exit_after"].(time.Duration),
		crashConfigure: raw["crash_on_configure"].(bool),
	}
	for ev, kinds := range raw["actions"].(map[string]string) {
		ks, err := parseKinds(kinds)
		if err != nil {
			return err
		}
		c.actions[ev] = ks
	}
	if c.crashConfigure {
		pluginapi.Logger().Error("test plugin: crashing in Configure as configured")
		os.Exit(3)
	}
	if c.exitAfter > 0 {
		time.AfterFunc(c.exitAfter, func() { os.Exit(4) })
	}
	p.mu.Lock()
	p.cfg, p.host = c, host
	p.mu.Unlock()
	if !c.quiet {
		host.Log(context.Background(), "info", "configured", "pid", os.Getpid())
	}
	return nil
}

func (p *acceptPlugin) HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	in := p.inflight.Add(1)
	defer p.inflight.Add(-1)
	for {
		m := p.maxIn.Load()
		if in <= m || p.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	p.mu.Lock()
	c, host := p.cfg, p.host
	p.mu.Unlock()
	n := p.events.Add(1)
	if c.crashAfter > 0 && n >= c.crashAfter {
		// Logger writes to the real stderr synchronously, so these last
		// words reach the gateway's log even though the process exits now.
		pluginapi.Logger().Error("test plugin: crashing as configured", "event", n)
		os.Exit(3)
	}
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return nil, pluginapi.RetryLater(ctx.Err())
		}
	}
	if c.failRate > 0 && rand.Float64() < c.failRate { //nolint:gosec // G404: test plugin, no security use
		err := fmt.Errorf("test plugin: configured failure on event %s", ev.ID)
		switch {
		case c.failPerson:
			return nil, pluginapi.NeedsPerson(err)
		case c.failPermanent:
			return nil, pluginapi.Permanent(err)
		}
		return nil, pluginapi.RetryLater(err)
	}
	id := ev.Header.WorkOrderId
	cwd, _ := os.Getwd()
	rep := map[string]any{"pid": os.Getpid(), "events": n, "inflight": in, "max_inflight": p.maxIn.Load(),
		"probe": os.Getenv("WOGATE_TEST_PROBE"), "traceparent": pluginapi.Traceparent(ctx), "cwd": cwd}
	if c.kv {
		key := "seen/" + strconv.FormatInt(id, 10)
		v, _, err := host.KVGet(ctx, key)
		if err != nil {
			return nil, err
		}
		count, _ := strconv.Atoi(string(v))
		count++
		if err := host.KVPut(ctx, key, []byte(strconv.Itoa(count))); err != nil {
			return nil, err
		}
		rep["seen"] = count
	}
	if c.fetch {
		wo, err := host.GetWorkOrder(ctx, ev.Account, id)
		if err != nil {
			return nil, err
		}
		rep["work_order_number"] = wo.WorkOrderNumber
	}
	if !c.quiet {
		pluginapi.Logger().Debug("handled event", "event", ev.ID, "work_order", id)
	}
	var out []pluginapi.Action
	for _, k := range c.actions[string(ev.Header.Action)] {
		out = append(out, action(k, id, c.comment))
	}
	if c.report {
		b, _ := json.Marshal(rep)
		out = append(out, pluginapi.Action{Kind: pluginapi.KindNote, WorkOrderID: id, Text: string(b)})
	}
	return out, nil
}

// action builds a valid action of kind k.
func action(k pluginapi.ActionKind, id int64, comment string) pluginapi.Action {
	a := pluginapi.Action{Kind: k, WorkOrderID: id, Comment: comment}
	now := corrigo.NewTime(time.Now())
	switch k {
	case pluginapi.KindCheckOut:
		a.RepairInfo = &corrigo.RepairInfo{CodeId: 1, Code: "FIXED", CategoryId: 1, Category: "General"}
	case pluginapi.KindQuote:
		a.Amount = 100
	case pluginapi.KindInvoiceUpdate:
		a.Invoice = &corrigo.Invoice{WorkOrderId: id, TotalAmount: 100, LineItems: []corrigo.LineItem{
			{Type: corrigo.LineItemLabor, Description: "Labor", Quantity: 1, Rate: 100, Amount: 100}}}
	case pluginapi.KindNote, pluginapi.KindMessage:
		a.Text = comment
	case pluginapi.KindAppointment:
		a.Appointment = &corrigo.Appointment{ScheduledStart: corrigo.NewTime(now.Add(24 * time.Hour)), Pte: "Appointment"}
	}
	return a
}

// HandleInbound turns {"WorkOrderId": 1, "Kind": "check_in"} into that
// action and echoes the body.
func (p *acceptPlugin) HandleInbound(_ context.Context, req pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	var in struct {
		WorkOrderId int64
		Kind        pluginapi.ActionKind
	}
	if err := json.Unmarshal(req.Body, &in); err != nil || in.WorkOrderId == 0 {
		return pluginapi.InboundResponse{Status: 400, Body: []byte(`{"error":"want {\"WorkOrderId\":n,\"Kind\":k}"}`)}, nil, nil //nolint:nilerr // a bad request is answered with a 400, not a plugin error
	}
	p.mu.Lock()
	comment := p.cfg.comment
	p.mu.Unlock()
	h := map[string][]string{"Content-Type": {"application/json"}, "X-Path": {req.Path}}
	return pluginapi.InboundResponse{Status: 202, Header: h, Body: req.Body}, []pluginapi.Action{action(in.Kind, in.WorkOrderId, comment)}, nil
}

func (p *acceptPlugin) Stop(context.Context) error { return nil }

func main() {
	writePID()
	pluginapi.Serve(&acceptPlugin{})
}

// writePID appends this process's pid to the file WOGATE_TEST_PIDFILE
// names (if set), so process tests can check that no plugin outlives its
// gateway.
func writePID() {
	path := os.Getenv("WOGATE_TEST_PIDFILE")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) //nolint:gosec // G304: a test's own file
	if err != nil {
		fmt.Fprintf(os.Stderr, "pid file: %v\n", err)
		os.Exit(5)
	}
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	_ = f.Close()
}
