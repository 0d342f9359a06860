// Package csvexport is the csv-export plugin: it writes CorrigoPro work
// orders and their status changes to CSV files for providers who run on
// spreadsheets, and turns CSV files of updates dropped in an inbox folder
// back into CorrigoPro actions.
//
// It imports only the plugin SDK (pkg/pluginapi) and the CorrigoPro models
// (pkg/corrigo), as every third-party plugin would.
package csvexport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Plugin implements pluginapi.Plugin and pluginapi.InboundHandler.
type Plugin struct {
	// Now returns the current time; tests replace it.
	Now func() time.Time

	mu     sync.Mutex
	cfg    *Config
	cols   []compiledColumn
	host   pluginapi.Host
	w      *writer
	inbox  *inbox
	stopBG context.CancelFunc
	bgDone chan struct{}
	// manualInbox keeps the poller from starting (tests drive scans).
	manualInbox bool
}

// New returns an unconfigured plugin.
func New() *Plugin { return &Plugin{Now: time.Now} }

var (
	_ pluginapi.Plugin         = (*Plugin)(nil)
	_ pluginapi.InboundHandler = (*Plugin)(nil)
)

// Describe reports the plugin's name, version and schema.
func (p *Plugin) Describe(context.Context) (pluginapi.Info, error) {
	return pluginapi.Info{
		Name:         "csv-export",
		Version:      Version,
		Description:  "Writes work orders and their status changes to CSV files and sends updates from an inbox folder of CSV files back to CorrigoPro.",
		ConfigSchema: Schema(),
	}, nil
}

// ValidateConfig checks what the schema cannot: the file pattern, the
// time zone and the column expressions (compiled against Env).
func (p *Plugin) ValidateConfig(_ context.Context, cfg map[string]any) []pluginapi.ConfigError {
	_, errs := parseConfig(cfg)
	return errs
}

// Configure applies the config: it creates the output directory, checks
// it is writable, and starts the inbox poller.
func (p *Plugin) Configure(ctx context.Context, cfg map[string]any, host pluginapi.Host) error {
	c, errs := parseConfig(cfg)
	if len(errs) > 0 {
		return pluginapi.Permanent(fmt.Errorf("config: %w", joinConfigErrors(errs)))
	}
	cols, err := compileColumns(c.Columns)
	if err != nil {
		return pluginapi.Permanent(fmt.Errorf("columns: %w", err))
	}
	if err := ensureWritableDir(c.Dir); err != nil {
		return pluginapi.Permanent(fmt.Errorf("dir: %w", err))
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	warn := func(msg string, kv ...any) {
		if host != nil {
			host.Log(context.Background(), "warn", msg, kv...)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg != nil {
		return pluginapi.Permanent(errors.New("already configured"))
	}
	p.cfg, p.cols, p.host = c, cols, host
	p.w = newWriter(c.Dir, c.header(), c.Header, c.IDCol, c.MaxBytes, warn)
	if c.Inbox != "" {
		ib, err := newInbox(c, host, p.Now)
		if err != nil {
			return pluginapi.Permanent(fmt.Errorf("inbox: %w", err))
		}
		p.inbox = ib
		if ib.sink != nil && !p.manualInbox {
			bg, cancel := context.WithCancel(context.Background())
			p.stopBG, p.bgDone = cancel, make(chan struct{})
			go func() {
				defer close(p.bgDone)
				ib.run(bg)
			}()
		} else if ib.sink == nil {
			host.Log(ctx, "warn", "inbox is configured but this gateway cannot take actions from a plugin on its own (no Host.SubmitActions); "+
				"files are picked up when the gateway forwards POST <inbound path>/scan, or when a file is POSTed to <inbound path>/inbox",
				"inbox", c.Inbox)
		}
	}
	return nil
}

func joinConfigErrors(errs []pluginapi.ConfigError) error {
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// HandleEvent writes one row for the event (once, however often the event
// is delivered) and, when accept is on, accepts new work orders. Events
// with source "inbound" carry an inbox CSV in their body instead.
func (p *Plugin) HandleEvent(ctx context.Context, ev pluginapi.Event) ([]pluginapi.Action, error) {
	p.mu.Lock()
	c, cols, host, w, ib := p.cfg, p.cols, p.host, p.w, p.inbox
	p.mu.Unlock()
	if c == nil {
		return nil, pluginapi.RetryLater(errors.New("csv-export is not configured yet"))
	}
	if ev.Source == "inbound" {
		return p.inboundEvent(ctx, ev, ib)
	}
	var actions []pluginapi.Action
	if c.Accept && ev.Header.Action == corrigo.ActionNewWorkOrder {
		actions = append(actions, pluginapi.Action{Kind: pluginapi.KindAccept, WorkOrderID: ev.Header.WorkOrderId, Comment: c.AcceptComment})
	}
	if len(c.Events) > 0 && !slices.Contains(c.Events, string(ev.Header.Action)) {
		return actions, nil
	}
	if ev.Replay {
		// gateway replay: answer as usual, write no row.
		return actions, nil
	}
	if ev.ID == "" {
		return nil, pluginapi.Permanent(errors.New("event has no id; cannot write it idempotently"))
	}
	// Fast path: the row was written and marked before.
	if _, found, err := host.KVGet(ctx, rowKey(ev.ID)); err != nil {
		return nil, pluginapi.RetryLater(fmt.Errorf("read row mark: %w", err))
	} else if found {
		return actions, nil
	}
	wo, err := p.workOrder(ctx, c, host, ev)
	if err != nil {
		return nil, err
	}
	now := p.Now()
	env := newEnv(ev, wo, now)
	row, err := evalRow(cols, env, c.EscapeFormulas)
	if err != nil {
		// The same event will fail the same way: a config problem.
		return nil, pluginapi.Permanent(fmt.Errorf("event %s: %w", ev.ID, err))
	}
	row[c.IDCol] = ev.ID
	date := env.Event.Date
	if date.IsZero() {
		date = now
	}
	rel := c.File.render(nameInput{Date: date.In(c.Location), WorkOrder: wo, Account: ev.Account, Branch: ev.Header.BranchId})
	res, err := w.Append(rel, ev.ID, row)
	if err != nil {
		return nil, pluginapi.RetryLater(fmt.Errorf("write row: %w", err))
	}
	mark, _ := json.Marshal(rowMark{File: res.File, At: now.UTC()})
	if err := host.KVPut(ctx, rowKey(ev.ID), mark); err != nil {
		// The row is on disk; a redelivery finds it in the file index.
		return nil, pluginapi.RetryLater(fmt.Errorf("mark row written: %w", err))
	}
	return actions, nil
}

// rowMark is the KV value stored under row:<event id>.
type rowMark struct {
	File string    `json:"file"`
	At   time.Time `json:"at"`
}

func rowKey(eventID string) string { return "row:" + eventID }
func woKey(id int64) string        { return "wo:" + strconv.FormatInt(id, 10) }

// woCache is the KV value stored under wo:<id>: the last copy of a work
// order the plugin saw, and its account (which lets inbox rows name only
// a work order id).
type woCache struct {
	Account   string            `json:"account"`
	WorkOrder corrigo.WorkOrder `json:"workOrder"`
}

// workOrder returns the work order for ev: the event's own (remembered for
// later events), else the remembered copy, else (fetch_work_order) a fresh
// one from CorrigoPro, else nil.
func (p *Plugin) workOrder(ctx context.Context, c *Config, host pluginapi.Host, ev pluginapi.Event) (*corrigo.WorkOrder, error) {
	id := ev.Header.WorkOrderId
	if ev.WorkOrder != nil {
		if id == 0 {
			id = ev.WorkOrder.WorkOrderId
		}
		if id != 0 {
			b, err := json.Marshal(woCache{Account: ev.Account, WorkOrder: *ev.WorkOrder})
			if err == nil {
				if err := host.KVPut(ctx, woKey(id), b); err != nil {
					return nil, pluginapi.RetryLater(fmt.Errorf("remember work order: %w", err))
				}
			}
		}
		return ev.WorkOrder, nil
	}
	if id == 0 {
		return nil, nil
	}
	b, found, err := host.KVGet(ctx, woKey(id))
	if err != nil {
		return nil, pluginapi.RetryLater(fmt.Errorf("read remembered work order: %w", err))
	}
	if found {
		var wc woCache
		if json.Unmarshal(b, &wc) == nil && wc.WorkOrder.WorkOrderId == id {
			return &wc.WorkOrder, nil
		}
	}
	if !c.FetchWorkOrder {
		return nil, nil
	}
	wo, err := host.GetWorkOrder(ctx, ev.Account, id)
	if errors.Is(err, pluginapi.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, pluginapi.RetryLater(fmt.Errorf("fetch work order %d: %w", id, err))
	}
	if b, err := json.Marshal(woCache{Account: ev.Account, WorkOrder: *wo}); err == nil {
		_ = host.KVPut(ctx, woKey(id), b) // a cache; the row does not depend on it
	}
	return wo, nil
}

// Stop ends the inbox poller.
func (p *Plugin) Stop(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.stopBG, p.bgDone
	p.stopBG = nil
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop: inbox poller still busy: %w", ctx.Err())
	}
}
