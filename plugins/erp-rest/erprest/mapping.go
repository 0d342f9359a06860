package erprest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/plugins/internal/textfmt"
)

// A status_map entry turns one ERP status into CorrigoPro actions. Each
// action names its kind and gives templates for its fields; the templates
// see the callback (InboundEnv).

// Mapping action names. Most are pluginapi action kinds; "invoice" is an
// invoice update followed by a submit, "ignore" acknowledges a status
// without doing anything.
const (
	mapInvoice = "invoice"
	mapIgnore  = "ignore"
)

var (
	personFields = []string{"comment", "performed_by", "performed_by_phone"}
	placeFields  = []string{"actual_date", "latitude", "longitude"}
	repairFields = []string{"repair_code", "repair_category", "repair_code_id", "repair_category_id", "custom_fields"}
	invoiceField = []string{"invoice_number", "invoice_date", "line_items", "tax_amount", "discount_amount", "total_amount", "currency", "comment"}
)

// mappingFields lists the fields each mapping action accepts.
var mappingFields = map[string][]string{
	string(pluginapi.KindAccept):          personFields,
	string(pluginapi.KindReject):          personFields,
	string(pluginapi.KindCheckIn):         concat(personFields, placeFields),
	string(pluginapi.KindPause):           concat(personFields, placeFields),
	string(pluginapi.KindCheckOut):        concat(personFields, placeFields, repairFields),
	string(pluginapi.KindWorkDoneDetails): concat([]string{"comment"}, repairFields),
	string(pluginapi.KindQuote):           {"amount", "line_items", "comment"},
	mapInvoice:                            concat(invoiceField, []string{"submit", "submit_anyway"}),
	string(pluginapi.KindInvoiceUpdate):   invoiceField,
	string(pluginapi.KindInvoiceSubmit):   {"submit_anyway"},
	string(pluginapi.KindNote):            {"text"},
	string(pluginapi.KindMessage):         {"text", "visibility"},
	string(pluginapi.KindAppointment):     {"scheduled_start", "pte"},
	mapIgnore:                             nil,
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func mappingActionNames() []string {
	names := slices.Collect(maps.Keys(mappingFields))
	sort.Strings(names)
	return names
}

// mapping is one compiled action of a status.
type mapping struct {
	Action string
	fields map[string]*strTemplate
	submit bool // invoice: also submit (default true)
}

// parseStatusMap compiles status_map. Keys in errors look like
// "status_map.done[1].repair_code".
func parseStatusMap(v any) (map[string][]*mapping, []pluginapi.ConfigError) {
	out := map[string][]*mapping{}
	if v == nil {
		return out, nil
	}
	var errs []pluginapi.ConfigError
	bad := func(key, format string, a ...any) {
		errs = append(errs, pluginapi.ConfigError{Key: key, Message: fmt.Sprintf(format, a...)})
	}
	m, ok := toStringMap(v)
	if !ok {
		bad("status_map", "must be a map of ERP status to action(s), got %T", v)
		return out, errs
	}
	statuses := slices.Sorted(maps.Keys(m))
	for _, status := range statuses {
		entry := m[status]
		key := "status_map." + status
		var list []any
		switch e := entry.(type) {
		case []any:
			list = e
		default:
			list = []any{e}
		}
		if len(list) == 0 {
			bad(key, "lists no action (use {action: ignore} to acknowledge a status without acting)")
			continue
		}
		for i, item := range list {
			ik := key
			if len(list) > 1 {
				ik = fmt.Sprintf("%s[%d]", key, i)
			}
			mp, perrs := parseMapping(item, ik)
			errs = append(errs, perrs...)
			if mp != nil {
				out[status] = append(out[status], mp)
			}
		}
	}
	return out, errs
}

func parseMapping(v any, key string) (*mapping, []pluginapi.ConfigError) {
	var errs []pluginapi.ConfigError
	bad := func(k, format string, a ...any) {
		errs = append(errs, pluginapi.ConfigError{Key: k, Message: fmt.Sprintf(format, a...)})
	}
	if s, ok := v.(string); ok { // shorthand: "done: check_out"
		v = map[string]any{"action": s}
	}
	m, ok := toStringMap(v)
	if !ok {
		bad(key, "must be a map with an action, got %T", v)
		return nil, errs
	}
	action, _ := m["action"].(string)
	allowed, known := mappingFields[action]
	if !known {
		bad(key+".action", "must be one of %s, got %v", strings.Join(mappingActionNames(), ", "), m["action"])
		return nil, errs
	}
	mp := &mapping{Action: action, fields: map[string]*strTemplate{}, submit: true}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == "action" {
			continue
		}
		fk := key + "." + k
		if k == "submit" && action == mapInvoice {
			b, ok := m[k].(bool)
			if !ok {
				bad(fk, "must be true or false")
			}
			mp.submit = b
			continue
		}
		if !slices.Contains(allowed, k) {
			bad(fk, "is not a field of %s (fields: %s)", action, strings.Join(allowed, ", "))
			continue
		}
		var src string
		switch x := m[k].(type) {
		case string:
			src = x
		case bool, float64, int, int64, json.Number:
			src = fmt.Sprint(x)
		default:
			bad(fk, "must be a template string or a literal, got %T", m[k])
			continue
		}
		t, err := compileString(src, InboundEnv{}, false)
		if err != nil {
			bad(fk, "%v", err)
			continue
		}
		mp.fields[k] = t
	}
	// A field that failed to compile counts as given: one error per
	// mistake.
	has := func(k string) bool { _, given := m[k]; return given }
	switch pluginapi.ActionKind(action) {
	case pluginapi.KindReject:
		if !has("comment") {
			bad(key+".comment", "is required for reject (CorrigoPro requires a reason)")
		}
	case pluginapi.KindQuote:
		if !has("amount") && !has("line_items") {
			bad(key, "quote needs amount or line_items")
		}
	case pluginapi.KindNote, pluginapi.KindMessage:
		if !has("text") {
			bad(key+".text", "is required for %s", action)
		}
	case pluginapi.KindAppointment:
		if !has("scheduled_start") {
			bad(key+".scheduled_start", "is required for appointment")
		}
	case pluginapi.KindInvoiceUpdate, mapInvoice:
		if !has("line_items") && !has("total_amount") {
			bad(key, "%s needs line_items or total_amount", action)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return mp, nil
}

// toStringMap accepts the map shapes YAML and JSON decoders produce.
func toStringMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

// actions builds the CorrigoPro actions of one mapping for a callback.
func (m *mapping) actions(env *InboundEnv) ([]pluginapi.Action, error) {
	ev := fieldEval{m: m, env: env}
	a := pluginapi.Action{WorkOrderID: env.WorkOrderID}
	switch m.Action {
	case mapIgnore:
		return nil, nil
	case mapInvoice:
		a.Kind = pluginapi.KindInvoiceUpdate
	default:
		a.Kind = pluginapi.ActionKind(m.Action)
	}
	a.Comment = ev.str("comment")
	if name := ev.str("performed_by"); name != "" {
		a.PerformedBy = &corrigo.Person{Name: name, Phone: ev.str("performed_by_phone")}
	}
	if t := ev.time("actual_date"); !t.IsZero() {
		a.ActualActionDate = &t
	}
	if m.fields["latitude"] != nil || m.fields["longitude"] != nil {
		lat, lon := ev.float("latitude"), ev.float("longitude")
		if lat != 0 || lon != 0 {
			a.Location = &corrigo.GeoLocation{Latitude: lat, Longitude: lon}
		}
	}
	if code, cat := ev.str("repair_code"), ev.str("repair_category"); code != "" || cat != "" || m.fields["repair_code_id"] != nil {
		ri := &corrigo.RepairInfo{Code: code, Category: cat, CodeId: int(ev.int("repair_code_id")), CategoryId: int(ev.int("repair_category_id"))}
		if *ri != (corrigo.RepairInfo{}) {
			a.RepairInfo = ri
		}
	}
	if m.fields["custom_fields"] != nil {
		ev.decode("custom_fields", &a.CustomFields)
	}
	a.Text = ev.str("text")
	a.Visibility = ev.str("visibility")
	switch a.Kind {
	case pluginapi.KindQuote:
		a.Amount = ev.float("amount")
		ev.decode("line_items", &a.LineItems)
		if a.Amount == 0 {
			a.Amount = lineTotal(a.LineItems)
		}
	case pluginapi.KindInvoiceUpdate:
		inv := &corrigo.Invoice{
			WorkOrderId: env.WorkOrderID, InvoiceNumber: ev.str("invoice_number"), InvoiceDate: ev.time("invoice_date"),
			TaxAmount: ev.float("tax_amount"), DiscountAmount: ev.float("discount_amount"), TotalAmount: ev.float("total_amount"),
			Currency: ev.str("currency"), Comment: a.Comment,
		}
		if inv.InvoiceDate.IsZero() {
			// CorrigoPro refuses to submit an invoice without a date
			// (3052 "InvoiceDate is required").
			inv.InvoiceDate = corrigo.NewTime(env.Now)
		}
		ev.decode("line_items", &inv.LineItems)
		if m.fields["total_amount"] == nil {
			inv.TotalAmount = round2(lineTotal(inv.LineItems) + inv.TaxAmount - inv.DiscountAmount)
		}
		a.Invoice, a.Comment = inv, ""
	case pluginapi.KindInvoiceSubmit:
		a.SubmitAnyway = ev.bool("submit_anyway")
	case pluginapi.KindAppointment:
		a.Appointment = &corrigo.Appointment{ScheduledStart: ev.time("scheduled_start"), Pte: ev.str("pte")}
	}
	if ev.err != nil {
		return nil, fmt.Errorf("%s: %w", m.Action, ev.err)
	}
	out := []pluginapi.Action{a}
	if m.Action == mapInvoice && m.submit {
		out = append(out, pluginapi.Action{Kind: pluginapi.KindInvoiceSubmit, WorkOrderID: env.WorkOrderID, SubmitAnyway: ev.bool("submit_anyway")})
	}
	for _, x := range out {
		if err := x.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Action, err)
		}
	}
	if ev.err != nil {
		return nil, fmt.Errorf("%s: %w", m.Action, ev.err)
	}
	return out, nil
}

// lineTotal sums line amounts (quantity × rate where the amount is not
// given).
func lineTotal(lines []corrigo.LineItem) float64 {
	var sum float64
	for _, l := range lines {
		if l.Amount != 0 {
			sum += l.Amount
		} else {
			sum += l.Quantity * l.Rate
		}
	}
	return round2(sum)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// fieldEval evaluates a mapping's fields, keeping the first error so the
// callback's answer names the field at fault.
type fieldEval struct {
	m   *mapping
	env *InboundEnv
	err error
}

func (e *fieldEval) value(k string) any {
	t := e.m.fields[k]
	if t == nil || e.err != nil {
		return nil
	}
	v, err := t.value(e.env)
	if err != nil {
		e.err = fmt.Errorf("%s: %w", k, err)
		return nil
	}
	return v
}

func (e *fieldEval) fail(k string, format string, a ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%s: %s", k, fmt.Sprintf(format, a...))
	}
}

func (e *fieldEval) str(k string) string { return strings.TrimSpace(textfmt.Value(e.value(k))) }

func (e *fieldEval) float(k string) float64 {
	switch x := e.value(k).(type) {
	case nil:
		return 0
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			e.fail(k, "is not a finite number")
			return 0
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			e.fail(k, "%q is not a number", x)
			return 0
		}
		return f
	default:
		e.fail(k, "must be a number, got %T", x)
		return 0
	}
}

func (e *fieldEval) int(k string) int64 {
	f := e.float(k)
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		e.fail(k, "must be a whole number, got %v", f)
		return 0
	}
	return int64(f)
}

func (e *fieldEval) bool(k string) bool {
	switch x := e.value(k).(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			e.fail(k, "%q is not true or false", x)
		}
		return b
	default:
		e.fail(k, "must be true or false, got %T", x)
		return false
	}
}

func (e *fieldEval) time(k string) corrigo.Time {
	switch x := e.value(k).(type) {
	case nil:
		return corrigo.Time{}
	case string:
		if strings.TrimSpace(x) == "" {
			return corrigo.Time{}
		}
		t, err := corrigo.ParseTime(x)
		if err != nil {
			e.fail(k, "%v", err)
		}
		return t
	case time.Time:
		return corrigo.NewTime(x)
	case corrigo.Time:
		return x
	case float64: // Unix seconds
		if x <= 0 || x > 253402300799 {
			e.fail(k, "%v is not a Unix time in years 1970-9999", x)
			return corrigo.Time{}
		}
		sec, frac := math.Modf(x)
		return corrigo.NewTime(time.Unix(int64(sec), int64(frac*1e9)))
	default:
		e.fail(k, "must be a date, got %T", x)
		return corrigo.Time{}
	}
}

// decode converts a structured value (list of maps) into dst through JSON;
// encoding/json matches keys case-insensitively, so {description: ...}
// fills Description.
func (e *fieldEval) decode(k string, dst any) {
	v := e.value(k)
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Slice {
		e.fail(k, "must be a list, got %T", v)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.fail(k, "%v", err)
		return
	}
	if err := json.Unmarshal(b, dst); err != nil {
		e.fail(k, "%v", err)
	}
}
