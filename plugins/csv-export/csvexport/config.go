package csvexport

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// DefaultColumns are written when the config names none.
var DefaultColumns = []Column{
	{Name: "time", Value: "event.Date"},
	{Name: "action", Value: "event.Action"},
	{Name: "work_order_id", Value: "event.WorkOrderID"},
	{Name: "work_order_number", Value: "workOrder.WorkOrderNumber"},
	{Name: "status", Value: "event.Status"},
	{Name: "customer", Value: "workOrder.Customer.Name"},
	{Name: "work_type", Value: "workOrder.WorkType.Name"},
	{Name: "priority", Value: "workOrder.Sla.PriorityName"},
	{Name: "due", Value: "workOrder.Sla.DueDate"},
	{Name: "nte", Value: "workOrder.Nte.Amount"},
	{Name: "location", Value: "workOrder.ServiceLocation.SpaceName"},
	{Name: "description", Value: "workOrder.AccompanyingMessage"},
	{Name: "comment", Value: "event.Comment"},
}

// eventIDValue is the column value that holds the event id.
const eventIDValue = "event.ID"

func actionNames() []string {
	out := make([]string, len(corrigo.KnownActions))
	for i, a := range corrigo.KnownActions {
		out[i] = string(a)
	}
	return out
}

// Schema is the plugin's config schema; the README's config table is
// generated from it.
func Schema() pluginapi.Schema {
	return pluginapi.Schema{Fields: []pluginapi.Field{
		{Name: "dir", Type: pluginapi.TypeString, Required: true, Example: "/srv/wogate/csv",
			Description: "Directory the CSV files are written to (created if missing)."},
		{Name: "file", Type: pluginapi.TypeString, Default: "workorders-{date}.csv", Example: "{customer}/{month}.csv",
			Description: "File name pattern, relative to dir. Placeholders: {date} (2006-01-02), {month} (2006-01), {year}, " +
				"{customer} (customer name, made safe for file names), {customer_id}, {account}, {branch}. " +
				"Dates are the event's ActionDate in `timezone`, so a redelivered event lands in the same file."},
		{Name: "columns", Type: pluginapi.TypeAny,
			Example: `[{name: wo, value: workOrder.WorkOrderNumber}, {name: emergency, value: "(workOrder?.Sla?.IsEmergency ?? false) ? 'YES' : ''"}]`,
			Description: "Output columns, in order: a list of {name, value}. value is a field path into " +
				"event, workOrder, header, account or now (e.g. `workOrder.Sla.DueDate`; a missing part gives an empty cell) " +
				"or an expr-lang expression over the same names, type-checked at configuration time. " +
				"Default: time, action, work_order_id, work_order_number, status, customer, work_type, priority, due, nte, location, description, comment."},
		{Name: "event_id_column", Type: pluginapi.TypeString, Default: "event_id",
			Description: "Name of the column holding the gateway's event id, appended after `columns` unless a column already has value `event.ID`. " +
				"It is what makes writing idempotent after a crash; it cannot be turned off."},
		{Name: "header", Type: pluginapi.TypeBool, Default: true,
			Description: "Write a header row at the top of every new file."},
		{Name: "max_bytes", Type: pluginapi.TypeInt, Default: int64(0), Example: "10485760",
			Description: "Rotate to a new part (name.2.csv, name.3.csv, ...) before a file would grow beyond this many bytes; 0 means no limit."},
		{Name: "timezone", Type: pluginapi.TypeString, Default: "UTC", Example: "Europe/London",
			Description: "IANA time zone for the dates in file names and for inbox times written without a zone."},
		{Name: "events", Type: pluginapi.TypeStringList, Enum: actionNames(), Example: "NewWorkOrder, Accepted, CheckedIn, CheckedOut",
			Description: "Notification actions to write; empty writes every event routed to the plugin."},
		{Name: "fetch_work_order", Type: pluginapi.TypeBool, Default: false,
			Description: "When an event carries no work order and the plugin has not seen one for it yet, fetch it from CorrigoPro (one API call per such event)."},
		{Name: "escape_formulas", Type: pluginapi.TypeBool, Default: true,
			Description: "Prefix cells that start with =, +, -, @ (and are not numbers) with a quote so spreadsheets do not run them as formulas."},
		{Name: "accept", Type: pluginapi.TypeBool, Default: false,
			Description: "Answer every NewWorkOrder event with an accept action (for providers who take every job)."},
		{Name: "accept_comment", Type: pluginapi.TypeString, Default: "",
			Description: "Comment sent with automatic accepts."},
		{Name: "inbox", Type: pluginapi.TypeString, Example: "/srv/wogate/inbox",
			Description: "Directory watched for CSV files of updates (check in/out, notes, quotes, invoice lines) to send to CorrigoPro. Empty turns the inbox off."},
		{Name: "inbox_poll", Type: pluginapi.TypeDuration, Default: "10s",
			Description: "How often the inbox is scanned."},
		{Name: "inbox_settle", Type: pluginapi.TypeDuration, Default: "2s",
			Description: "A file is picked up only when it has not changed for this long, so a half-copied file is never read."},
		{Name: "inbox_account", Type: pluginapi.TypeString,
			Description: "Account for inbox rows that name none and whose work order the plugin has not seen in an event."},
		{Name: "inbox_max_bytes", Type: pluginapi.TypeInt, Default: int64(10 << 20),
			Description: "Largest inbox file accepted; bigger files are rejected whole."},
	}}
}

// Config is the applied configuration.
type Config struct {
	Dir            string
	File           namePattern
	Columns        []Column // including the event id column
	IDCol          int
	Header         bool
	MaxBytes       int64
	Location       *time.Location
	Events         []string
	FetchWorkOrder bool
	EscapeFormulas bool
	Accept         bool
	AcceptComment  string
	Inbox          string
	InboxPoll      time.Duration
	InboxSettle    time.Duration
	InboxAccount   string
	InboxMaxBytes  int64
}

// parseConfig turns a schema-applied config map into a Config, collecting
// every problem.
func parseConfig(cfg map[string]any) (*Config, []pluginapi.ConfigError) {
	pc := pluginapi.ParseConfig(cfg)
	bad := pc.Fail
	str := pc.String

	c := &Config{
		Dir: str("dir"), Header: pc.Bool("header"), MaxBytes: pc.Int64("max_bytes"),
		FetchWorkOrder: pc.Bool("fetch_work_order"), EscapeFormulas: pc.Bool("escape_formulas"),
		Accept: pc.Bool("accept"), AcceptComment: str("accept_comment"),
		Inbox: str("inbox"), InboxPoll: pc.Duration("inbox_poll"), InboxSettle: pc.Duration("inbox_settle"),
		InboxAccount: str("inbox_account"), InboxMaxBytes: pc.Int64("inbox_max_bytes"),
		Events: pc.StringList("events"),
	}
	if strings.TrimSpace(c.Dir) == "" {
		bad("dir", "must not be empty")
	}
	p, err := parsePattern(str("file"))
	if err != nil {
		bad("file", "%v", err)
	}
	c.File = p
	if c.MaxBytes < 0 {
		bad("max_bytes", "must not be negative")
	}
	loc, err := time.LoadLocation(str("timezone"))
	if err != nil {
		bad("timezone", "unknown time zone %q", str("timezone"))
	}
	c.Location = loc
	columns, _ := pc.Any("columns")
	cols, cerr := parseColumns(columns)
	if cerr != nil {
		bad("columns", "%v", cerr)
	}
	idName := str("event_id_column")
	c.IDCol = -1
	for i, col := range cols {
		if strings.TrimSpace(col.Value) == eventIDValue {
			c.IDCol = i
			break
		}
	}
	if c.IDCol < 0 {
		if strings.TrimSpace(idName) == "" {
			bad("event_id_column", "must not be empty: the event id column is what keeps rows from being written twice")
		}
		cols = append(cols, Column{Name: idName, Value: eventIDValue})
		c.IDCol = len(cols) - 1
	}
	seen := map[string]bool{}
	for _, col := range cols {
		if seen[col.Name] {
			bad("columns", "column name %q is used twice", col.Name)
		}
		seen[col.Name] = true
	}
	if cerr == nil {
		if _, err := compileColumns(cols); err != nil {
			bad("columns", "%v", err)
		}
	}
	c.Columns = cols
	if c.Inbox != "" {
		if c.InboxPoll <= 0 {
			bad("inbox_poll", "must be positive")
		}
		if c.InboxSettle < 0 {
			bad("inbox_settle", "must not be negative")
		}
		if c.InboxMaxBytes <= 0 {
			bad("inbox_max_bytes", "must be positive")
		}
		if c.Dir != "" && samePath(c.Dir, c.Inbox) {
			bad("inbox", "must not be the output directory (the plugin would read its own files)")
		}
	}
	return c, pc.Errors()
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && filepath.Clean(aa) == filepath.Clean(bb)
}

// parseColumns reads the columns value: nil (defaults) or a list whose
// items are {name, value} maps, or strings (a field path naming itself).
func parseColumns(v any) ([]Column, error) {
	if v == nil {
		return slices.Clone(DefaultColumns), nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list of {name, value} items")
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("must name at least one column (leave it out for the defaults)")
	}
	out := make([]Column, 0, len(list))
	for i, item := range list {
		switch x := item.(type) {
		case string:
			if strings.TrimSpace(x) == "" {
				return nil, fmt.Errorf("item %d is empty", i+1)
			}
			out = append(out, Column{Name: x, Value: x})
		case map[string]any:
			var col Column
			for k, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("item %d: %s must be a string", i+1, k)
				}
				switch k {
				case "name":
					col.Name = s
				case "value":
					col.Value = s
				default:
					return nil, fmt.Errorf("item %d: unknown key %q (want name and value)", i+1, k)
				}
			}
			if strings.TrimSpace(col.Value) == "" {
				return nil, fmt.Errorf("item %d: value is required", i+1)
			}
			if col.Name == "" {
				col.Name = col.Value
			}
			out = append(out, col)
		default:
			return nil, fmt.Errorf("item %d must be a {name, value} map", i+1)
		}
	}
	return out, nil
}

func (c *Config) header() []string {
	h := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		h[i] = col.Name
	}
	return h
}
