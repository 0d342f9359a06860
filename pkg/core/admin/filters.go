package admin

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// Page sizes.
const (
	defaultLimit = 100
	maxListLimit = 10000 // one list (the store's own cap; bulk tools list every match)
	maxBulk      = 10000 // one bulk operation
	maxLogLimit  = 1000  // one page of the communication log (entries carry bodies)
)

// Parameters each query accepts; anything else is a 400, so a typo such
// as "acount" is not silently ignored.
var (
	deadLetterParams = []string{"kind", "status", "account", "work_order", "action", "since", "limit"}
	logParams        = []string{"since", "until", "account", "direction", "severity", "work_order", "customer", "limit", "before_id"}
)

// checkParams rejects unknown and repeated query parameters.
func checkParams(q url.Values, allowed []string) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" {
			// "?=x" or "?&=": a parameter with no name. The 400 must still
			// name a field, so it names the query string as a whole.
			return badField("query", "a parameter has an empty name (accepted: "+strings.Join(allowed, ", ")+")")
		}
		if !slices.Contains(allowed, k) {
			return badField(k, "unknown parameter (accepted: "+strings.Join(allowed, ", ")+")")
		}
		if len(q[k]) > 1 {
			return badField(k, "given more than once")
		}
	}
	return nil
}

// DeadLetterQuery is a dead letter filter as written by a user (query
// string, bulk body, UI form, `gateway dlq` flags). Query is its one
// encoding as the parameters of GET /api/v1/deadletters, which the CLI
// sends and the UI links to.
type DeadLetterQuery struct {
	Kind      string `json:"kind,omitempty"`
	Status    string `json:"status,omitempty"`
	Account   string `json:"account,omitempty"`
	WorkOrder string `json:"work_order,omitempty"`
	Action    string `json:"action,omitempty"`
	Since     string `json:"since,omitempty"`
	Limit     string `json:"limit,omitempty"`
}

func filterInputFromQuery(q url.Values) DeadLetterQuery {
	return DeadLetterQuery{Kind: q.Get("kind"), Status: q.Get("status"), Account: q.Get("account"),
		WorkOrder: q.Get("work_order"), Action: q.Get("action"), Since: q.Get("since"), Limit: q.Get("limit")}
}

// Query returns the filter as URL values, leaving out empty ones.
func (f DeadLetterQuery) Query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("kind", f.Kind)
	set("status", f.Status)
	set("account", f.Account)
	set("work_order", f.WorkOrder)
	set("action", f.Action)
	set("since", f.Since)
	set("limit", f.Limit)
	return q
}

// parse checks every field and builds the store filter. maxLimit bounds
// limit (a page, or a bulk operation).
func (f DeadLetterQuery) parse(accounts []string, now time.Time, maxLimit int) (store.DeadLetterFilter, error) {
	var out store.DeadLetterFilter
	switch f.Kind {
	case "", "event", "action":
		out.Kind = f.Kind
	default:
		return out, badField("kind", "must be event or action, not "+strconv.Quote(f.Kind))
	}
	switch f.Status {
	case "", "dead", "parked", "ignored":
		out.Status = f.Status
	case "refused":
		if f.Kind == "event" {
			return out, badField("status", "refused applies to actions only (kind=action or no kind)")
		}
		out.Status = f.Status
	default:
		return out, badField("status", "must be dead, parked, ignored or refused, not "+strconv.Quote(f.Status))
	}
	var err error
	if out.Account, err = checkAccount(f.Account, accounts); err != nil {
		return out, err
	}
	if out.WorkOrderID, err = parseID("work_order", f.WorkOrder); err != nil {
		return out, err
	}
	if len(f.Action) > 100 {
		return out, badField("action", "too long")
	}
	out.Action = f.Action
	if out.Since, err = parseTime("since", f.Since, now); err != nil {
		return out, err
	}
	if out.Limit, err = parseLimit(f.Limit, maxLimit); err != nil {
		return out, err
	}
	return out, nil
}

// parseLogFilter checks a communication log query.
func parseLogFilter(q url.Values, accounts []string, now time.Time) (store.LogFilter, error) {
	var f store.LogFilter
	if err := checkParams(q, logParams); err != nil {
		return f, err
	}
	var err error
	if f.Since, err = parseTime("since", q.Get("since"), now); err != nil {
		return f, err
	}
	if f.Until, err = parseTime("until", q.Get("until"), now); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, badField("until", "must be after since")
	}
	if f.Account, err = checkAccount(q.Get("account"), accounts); err != nil {
		return f, err
	}
	switch d := q.Get("direction"); d {
	case "", "inbound", "outbound":
		f.Direction = d
	default:
		return f, badField("direction", "must be inbound or outbound, not "+strconv.Quote(d))
	}
	switch s := q.Get("severity"); s {
	case "", "info", "warn", "error":
		f.Severity = s
	default:
		return f, badField("severity", "must be info, warn or error, not "+strconv.Quote(s))
	}
	if f.WorkOrderID, err = parseID("work_order", q.Get("work_order")); err != nil {
		return f, err
	}
	if c := q.Get("customer"); len(c) > 200 {
		return f, badField("customer", "too long")
	} else {
		f.Customer = c
	}
	if f.Limit, err = parseLimit(q.Get("limit"), maxLogLimit); err != nil {
		return f, err
	}
	if f.BeforeID, err = parseID("before_id", q.Get("before_id")); err != nil {
		return f, err
	}
	return f, nil
}

func checkAccount(a string, accounts []string) (string, error) {
	if a == "" || len(accounts) == 0 {
		if len(a) > 100 {
			return "", badField("account", "too long")
		}
		return a, nil
	}
	if !slices.Contains(accounts, a) {
		return "", badField("account", "unknown account "+strconv.Quote(a)+" (configured: "+strings.Join(accounts, ", ")+")")
	}
	return a, nil
}

// parseID parses a positive int64 ("" is 0, meaning unset).
func parseID(field, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, badField(field, "must be a positive integer, not "+strconv.Quote(s))
	}
	return n, nil
}

func parseLimit(s string, maxLimit int) (int, error) {
	if s == "" {
		return min(defaultLimit, maxLimit), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badField("limit", "must be an integer from 1 to "+strconv.Itoa(maxLimit)+", not "+strconv.Quote(s))
	}
	return n, nil
}

// timeLayouts are the absolute forms a time may take; the HTML
// datetime-local input sends the minute and second forms (read as UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// ParseTime reads a time as the API's since and until do (and gateway
// replay's --since, --from, --to): RFC 3339, a UTC date or date/time
// without zone, or a positive duration back from now. field names the
// value in the error.
func ParseTime(field, s string, now time.Time) (time.Time, error) { return parseTime(field, s, now) }

// parseTime reads an absolute time (RFC 3339, or a UTC date/time without
// zone) or a duration back from now ("24h", "90m").
func parseTime(field, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				break
			}
			return t.UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 && d < 100*365*24*time.Hour {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, badField(field, "must be an RFC 3339 time (2026-01-02T15:04:05Z), a UTC date (2026-01-02) or a positive duration back from now (24h), not "+strconv.Quote(s))
}

// ref names one dead letter: "event:12" or "action:7".
type ref struct {
	Kind string
	ID   int64
}

func (r ref) String() string { return r.Kind + ":" + strconv.FormatInt(r.ID, 10) }

func parseRef(field, s string) (ref, error) {
	kind, id, ok := strings.Cut(s, ":")
	if !ok {
		return ref{}, badField(field, "must be kind:id such as event:12 or action:7, not "+strconv.Quote(s))
	}
	return parseKindID(field, kind, id)
}

func parseKindID(field, kind, id string) (ref, error) {
	if kind != "event" && kind != "action" {
		return ref{}, badField(field, "kind must be event or action, not "+strconv.Quote(kind))
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return ref{}, badField(field, "id must be a positive integer, not "+strconv.Quote(id))
	}
	return ref{Kind: kind, ID: n}, nil
}
