package csvexport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/plugins/internal/textfmt"
)

// Env is what a column value sees. Field paths and expressions are
// type-checked against it when the plugin is configured, so a typo such as
// workOrder.WorkOrderNumbr fails `gateway validate`, not the first event.
type Env struct {
	// Event is the notification being written.
	Event EventEnv `expr:"event"`
	// WorkOrder is the work order: from the event, else the last copy this
	// plugin saw (NewWorkOrder events carry it), else fetched from
	// CorrigoPro when fetch_work_order is on. Nil when unknown.
	WorkOrder *corrigo.WorkOrder `expr:"workOrder"`
	// Header is the notification header as CorrigoPro sent it.
	Header corrigo.Header `expr:"header"`
	// Account is the gateway's account name for the event.
	Account string `expr:"account"`
	// Now is when the row is written (UTC).
	Now time.Time `expr:"now"`
}

// EventEnv flattens what most spreadsheets want from a notification: its
// action and date, and the status, comment and amounts its payload carries.
type EventEnv struct {
	ID          string    // the gateway's event id (stable across redeliveries)
	Account     string    // account name
	Source      string    // webhook, poll, reconcile
	Rule        string    // rule that routed the event here
	Action      string    // NewWorkOrder, Accepted, CheckedIn, ...
	Date        time.Time // ActionDate (UTC); zero when CorrigoPro sent none
	WorkOrderID int64     // header work order id
	MessageID   string    // CorrigoPro MessageId
	PerformedBy string    // sender or performer name
	Status      string    // new status for status changes (Accepted, CheckedIn, ...)
	Comment     string    // comment of a status change, check out or completion info
	Text        string    // message text (MessageSent)
	Amount      float64   // NTE, quote or invoice amount when the payload has one
	RepairCode  string    // check out / completion info repair code
	Category    string    // check out / completion info repair category
}

// Column is one configured output column.
type Column struct {
	Name  string
	Value string
}

// compiledColumn is a Column with its program.
type compiledColumn struct {
	Column
	prog *vm.Program
}

// pathRE matches a plain field path such as workOrder.Sla.DueDate.
var pathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// exprSource turns a column value into expr source. A plain field path is
// rewritten with optional chaining (workOrder?.Sla?.DueDate) so that a
// missing part (no SLA, no work order) gives an empty cell instead of an
// error; anything else is taken as an expression as written.
func exprSource(value string) string {
	v := strings.TrimSpace(value)
	if pathRE.MatchString(v) {
		return strings.ReplaceAll(v, ".", "?.")
	}
	return v
}

// maxNodes bounds the size of a column expression.
const maxNodes = 2000

// compileColumns compiles every column against Env.
func compileColumns(cols []Column) ([]compiledColumn, error) {
	out := make([]compiledColumn, 0, len(cols))
	var problems []string
	for i, c := range cols {
		prog, err := expr.Compile(exprSource(c.Value), expr.Env(Env{}), expr.MaxNodes(maxNodes))
		if err != nil {
			problems = append(problems, fmt.Sprintf("column %d (%q): value %q: %v", i+1, c.Name, c.Value, err))
			continue
		}
		out = append(out, compiledColumn{Column: c, prog: prog})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// evalRow evaluates every column for env. A column that fails at run time
// (say, a division by zero in an expression) yields an error naming it:
// writing a row with a silently empty cell would hide a config mistake.
func evalRow(cols []compiledColumn, env *Env, escapeFormulas bool) ([]string, error) {
	row := make([]string, len(cols))
	var machine vm.VM
	for i, c := range cols {
		v, err := machine.Run(c.prog, env)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		s := textfmt.Value(v)
		if escapeFormulas {
			s = escapeFormula(s)
		}
		row[i] = s
	}
	return row, nil
}

// escapeFormula defuses a cell a spreadsheet would run as a formula
// ("CSV injection": a work order description starting with "=" or "@"
// comes from a stranger). Numbers such as "-12.5" are left alone.
func escapeFormula(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s
		}
		return "'" + s
	}
	return s
}

// newEnv builds the column environment for an event.
func newEnv(ev pluginapi.Event, wo *corrigo.WorkOrder, now time.Time) *Env {
	e := &Env{
		WorkOrder: wo,
		Header:    ev.Header,
		Account:   ev.Account,
		Now:       now.UTC(),
		Event: EventEnv{
			ID: ev.ID, Account: ev.Account, Source: ev.Source, Rule: ev.Rule,
			Action: string(ev.Header.Action), WorkOrderID: ev.Header.WorkOrderId,
			MessageID: ev.Header.MessageId,
		},
	}
	if !ev.Header.ActionDate.IsZero() {
		e.Event.Date = ev.Header.ActionDate.UTC()
	}
	switch {
	case ev.Header.Sender != nil && ev.Header.Sender.Name != "":
		e.Event.PerformedBy = ev.Header.Sender.Name
	case ev.Header.PerformedBy != nil:
		e.Event.PerformedBy = ev.Header.PerformedBy.Name
	}
	if e.Event.WorkOrderID == 0 && wo != nil {
		e.Event.WorkOrderID = wo.WorkOrderId
	}
	if len(ev.Body) == 0 {
		return e
	}
	n, err := ev.Notification()
	if err != nil {
		return e
	}
	fillPayload(&e.Event, n.Payload)
	return e
}

// fillPayload copies the payload fields EventEnv flattens.
func fillPayload(e *EventEnv, p corrigo.Payload) {
	sc := func(s corrigo.StatusChange) {
		e.Status, e.Comment = string(s.Status), s.Comment
	}
	repair := func(r *corrigo.RepairInfo) {
		if r != nil {
			e.RepairCode, e.Category = r.Code, r.Category
		}
	}
	switch x := p.(type) {
	case corrigo.NewWorkOrderPayload:
		e.Status = string(x.Details.Status)
		if x.Details.Nte != nil {
			e.Amount = x.Details.Nte.Amount
		}
	case corrigo.AcceptedPayload:
		sc(x.StatusChange)
	case corrigo.RejectedPayload:
		sc(x.StatusChange)
	case corrigo.CheckedInPayload:
		sc(x.StatusChange)
	case corrigo.PausedPayload:
		sc(x.StatusChange)
	case corrigo.NeedsCompletionDetailsPayload:
		sc(x.StatusChange)
	case corrigo.PutOnHoldPayload:
		sc(x.StatusChange)
	case corrigo.ReopenedPayload:
		sc(x.StatusChange)
	case corrigo.RecalledPayload:
		sc(x.StatusChange)
	case corrigo.CheckedOutPayload:
		e.Status = string(corrigo.StatusCheckedOut)
		e.Comment = x.Comment
		repair(x.RepairInfo)
	case corrigo.CompletionInfoChangedPayload:
		e.Comment = x.Comment
		repair(x.RepairInfo)
	case corrigo.MessageSentPayload:
		e.Text = x.Text
	case corrigo.NteChangedPayload:
		e.Amount = x.Amount
	case corrigo.QuoteChangedPayload:
		e.Amount, e.Status, e.Comment = x.Quote.Amount, x.Quote.QuoteStatus, x.Quote.Comment
	case corrigo.InvoiceStatusChangedPayload:
		e.Amount, e.Status, e.Comment = x.Amount, x.Status, x.Comment
	}
}
