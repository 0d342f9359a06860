package csvexport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/plugins/internal/textfmt"
)

// Inbox columns. work_order_id and action are required; the others are
// used by the actions that need them. An "error" column (as in the
// rejected files this plugin writes) is ignored, so a fixed rejected file
// can be dropped back as it is.
var inboxColumns = []string{
	"work_order_id", "action", "time", "comment", "amount", "repair_code", "repair_category",
	"performed_by", "description", "quantity", "rate", "line_type", "invoice_number", "account", "error",
}

// Inbox actions and what they become.
var inboxActions = map[string]pluginapi.ActionKind{
	"accept":         pluginapi.KindAccept,
	"reject":         pluginapi.KindReject,
	"check_in":       pluginapi.KindCheckIn,
	"pause":          pluginapi.KindPause,
	"check_out":      pluginapi.KindCheckOut,
	"note":           pluginapi.KindNote,
	"message":        pluginapi.KindMessage,
	"quote":          pluginapi.KindQuote,
	"invoice_line":   pluginapi.KindInvoiceUpdate,
	"invoice_submit": pluginapi.KindInvoiceSubmit,
	"appointment":    pluginapi.KindAppointment,
}

// actionAliases are spellings people type in spreadsheets.
var actionAliases = map[string]string{
	"checkin": "check_in", "checkout": "check_out", "complete": "check_out",
	"invoice": "invoice_line", "submit_invoice": "invoice_submit",
}

// inboxAction is one action an inbox file asks for.
type inboxAction struct {
	// Lines are the CSV lines the action comes from: one, or every
	// invoice_line row of a work order. Lines[0] keys its idempotency.
	Lines   []int
	Account string // from the row's account column; may be empty
	Action  pluginapi.Action
}

// rowError is one rejected row.
type rowError struct {
	Line        int
	Record      []string // the row as read; nil when it could not be parsed
	Raw         string   // the row's text when it could not be parsed
	WorkOrderID string
	Action      string
	Reason      string
}

// inboxParse is the result of reading one inbox file.
type inboxParse struct {
	Header   []string
	Comma    rune
	Actions  []inboxAction
	Rejected []rowError
	// FileErr means nothing of the file is applied (no header, unknown
	// columns, not UTF-8, ...).
	FileErr error
	// Rows counts data rows (blank and comment rows excluded).
	Rows int
	// rows holds every parsed data row by line, for reports about rows
	// rejected after parsing.
	rows map[int]rowError
}

// futureSlack is how far in the future an inbox time may be (clock skew
// between the provider's spreadsheet and the gateway).
const futureSlack = 5 * time.Minute

// parseInbox reads an inbox CSV. It never panics and never fails as a
// whole for a bad row: each row is either an action or a rowError.
func parseInbox(data []byte, loc *time.Location, now time.Time) inboxParse {
	var res inboxParse
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel's UTF-8 BOM
	if !utf8.Valid(data) {
		res.FileErr = errors.New("file is not UTF-8 text (save it as \"CSV UTF-8\")")
		return res
	}
	if len(bytes.TrimSpace(data)) == 0 {
		res.FileErr = errors.New("file is empty")
		return res
	}
	res.Comma = detectComma(data)
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = res.Comma
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = res.Comma != '\t' // with tabs it would swallow empty fields
	header, err := r.Read()
	if err != nil {
		res.FileErr = fmt.Errorf("line 1: cannot read the header row: %v", csvReason(err))
		return res
	}
	res.Header = append([]string(nil), header...)
	col := map[string]int{}
	var unknown []string
	for i, h := range header {
		name := normalizeName(h)
		if name == "" {
			unknown = append(unknown, fmt.Sprintf("column %d has no name", i+1))
			continue
		}
		if _, dup := col[name]; dup {
			res.FileErr = fmt.Errorf("line 1: column %q appears twice", name)
			return res
		}
		known := false
		for _, k := range inboxColumns {
			if k == name {
				known = true
			}
		}
		if !known {
			unknown = append(unknown, fmt.Sprintf("unknown column %q", h))
			continue
		}
		col[name] = i
	}
	if len(unknown) > 0 {
		res.FileErr = fmt.Errorf("line 1: %s (known columns: %s)", strings.Join(unknown, "; "), strings.Join(inboxColumns, ", "))
		return res
	}
	for _, req := range []string{"work_order_id", "action"} {
		if _, ok := col[req]; !ok {
			res.FileErr = fmt.Errorf("line 1: the header has no %q column", req)
			return res
		}
	}
	lines := bytes.Split(data, []byte("\n"))
	rawLines := func(from, to int) string {
		if from < 1 {
			from = 1
		}
		if to > len(lines) {
			to = len(lines)
		}
		if from > to {
			return ""
		}
		return strings.TrimRight(string(bytes.Join(lines[from-1:to], []byte("\n"))), "\r\n")
	}

	type invGroup struct {
		index  int // position of its action in res.Actions
		lines  []int
		bad    []int // lines of rejected invoice_line rows
		good   []rowError
		number string
	}
	groups := map[string]*invGroup{}
	groupKey := func(account string, wo int64) string { return account + "\x00" + strconv.FormatInt(wo, 10) }
	var submits []struct {
		key string
		at  int // index in res.Actions
		rec rowError
	}

	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			line, end := 0, 0
			if errors.As(err, &pe) {
				line, end = pe.StartLine, pe.Line
			}
			res.Rows++
			res.Rejected = append(res.Rejected, rowError{Line: line, Raw: rawLines(line, end), Reason: csvReason(err)})
			continue
		}
		line, _ := r.FieldPos(0)
		if blank(rec) || strings.HasPrefix(strings.TrimSpace(rec[0]), "#") {
			continue
		}
		res.Rows++
		record := append([]string(nil), rec...)
		get := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		re := rowError{Line: line, Record: record, WorkOrderID: get("work_order_id"), Action: get("action")}
		if res.rows == nil {
			res.rows = map[int]rowError{}
		}
		res.rows[line] = re
		reject := func(format string, a ...any) {
			re.Reason = fmt.Sprintf(format, a...)
			res.Rejected = append(res.Rejected, re)
		}
		if len(rec) != len(header) {
			reject("row has %d fields, the header has %d", len(rec), len(header))
			continue
		}
		act, name, reason := rowAction(get, loc, now)
		if reason != "" {
			if name == "invoice_line" {
				if wo, err := parseWorkOrderID(get("work_order_id")); err == nil {
					k := groupKey(get("account"), wo)
					g := groups[k]
					if g == nil {
						g = &invGroup{index: -1}
						groups[k] = g
					}
					g.bad = append(g.bad, line)
				}
			}
			reject("%s", reason)
			continue
		}
		account := get("account")
		switch name {
		case "invoice_line":
			k := groupKey(account, act.WorkOrderID)
			g := groups[k]
			if g == nil {
				g = &invGroup{index: -1}
				groups[k] = g
			}
			if g.index < 0 {
				g.index = len(res.Actions)
				res.Actions = append(res.Actions, inboxAction{Account: account, Action: pluginapi.Action{
					Kind: pluginapi.KindInvoiceUpdate, WorkOrderID: act.WorkOrderID,
					Invoice: &corrigo.Invoice{WorkOrderId: act.WorkOrderID},
				}})
			}
			ia := &res.Actions[g.index]
			ia.Lines = append(ia.Lines, line)
			inv := ia.Action.Invoice
			li := act.LineItems[0]
			inv.LineItems = append(inv.LineItems, li)
			inv.TotalAmount = round2(inv.TotalAmount + li.Amount)
			if li.Type == corrigo.LineItemTax {
				inv.TaxAmount = round2(inv.TaxAmount + li.Amount)
			}
			if n := get("invoice_number"); n != "" {
				if g.number != "" && g.number != n {
					// Undo: a conflicting invoice number is a row error.
					inv.LineItems = inv.LineItems[:len(inv.LineItems)-1]
					inv.TotalAmount = round2(inv.TotalAmount - li.Amount)
					if li.Type == corrigo.LineItemTax {
						inv.TaxAmount = round2(inv.TaxAmount - li.Amount)
					}
					ia.Lines = ia.Lines[:len(ia.Lines)-1]
					g.bad = append(g.bad, line)
					reject("invoice number %q differs from %q given earlier for work order %d", n, g.number, act.WorkOrderID)
					continue
				}
				g.number = n
				inv.InvoiceNumber = n
			}
			g.lines = append(g.lines, line)
			g.good = append(g.good, re)
		case "invoice_submit":
			submits = append(submits, struct {
				key string
				at  int
				rec rowError
			}{groupKey(account, act.WorkOrderID), len(res.Actions), re})
			res.Actions = append(res.Actions, inboxAction{Lines: []int{line}, Account: account, Action: act})
		default:
			res.Actions = append(res.Actions, inboxAction{Lines: []int{line}, Account: account, Action: act})
		}
	}

	// An invoice update replaces the invoice's lines, so the invoice lines
	// of one work order are applied together or not at all; so is a
	// submit that follows them.
	drop := map[int]bool{}
	for _, g := range groups {
		if len(g.bad) == 0 {
			continue
		}
		badLines := joinInts(g.bad)
		for _, ok := range g.good {
			ok.Reason = fmt.Sprintf("not applied: invoice line(s) %s of this work order are invalid, and the invoice lines of one work order are sent together", badLines)
			res.Rejected = append(res.Rejected, ok)
		}
		if g.index >= 0 {
			drop[g.index] = true
		}
		for _, s := range submits {
			k := s.key
			if groups[k] == g {
				s.rec.Reason = fmt.Sprintf("not applied: invoice line(s) %s of this work order are invalid", badLines)
				res.Rejected = append(res.Rejected, s.rec)
				drop[s.at] = true
			}
		}
	}
	if len(drop) > 0 {
		kept := res.Actions[:0]
		for i, a := range res.Actions {
			if !drop[i] {
				kept = append(kept, a)
			}
		}
		res.Actions = kept
	}
	sortRejected(res.Rejected)
	return res
}

// rowAction converts one row. name is the normalized action name (also
// when the row is bad); reason is empty on success.
func rowAction(get func(string) string, loc *time.Location, now time.Time) (a pluginapi.Action, name, reason string) {
	name = normalizeName(get("action"))
	if alias, ok := actionAliases[name]; ok {
		name = alias
	}
	wo, err := parseWorkOrderID(get("work_order_id"))
	if err != nil {
		return a, name, err.Error()
	}
	if name == "" {
		return a, name, "action is empty"
	}
	kind, ok := inboxActions[name]
	if !ok {
		return a, name, fmt.Sprintf("unknown action %q (known: accept, reject, check_in, pause, check_out, note, message, quote, invoice_line, invoice_submit, appointment)", get("action"))
	}
	a = pluginapi.Action{Kind: kind, WorkOrderID: wo}
	var when *corrigo.Time
	if s := get("time"); s != "" {
		t, err := parseInboxTime(s, loc)
		if err != nil {
			return a, name, err.Error()
		}
		if t.After(now.Add(futureSlack)) && name != "appointment" {
			return a, name, fmt.Sprintf("time %q is in the future", s)
		}
		ct := corrigo.NewTime(t)
		when = &ct
	}
	comment := get("comment")
	if p := get("performed_by"); p != "" {
		a.PerformedBy = &corrigo.Person{Name: p}
	}
	amount, hasAmount, err := parseAmount(get("amount"), "amount")
	if err != nil {
		return a, name, err.Error()
	}
	switch name {
	case "accept", "reject":
		a.Comment = comment
	case "check_in", "pause":
		a.Comment, a.ActualActionDate = comment, when
	case "check_out":
		a.Comment, a.ActualActionDate = comment, when
		if code, cat := get("repair_code"), get("repair_category"); code != "" || cat != "" {
			a.RepairInfo = &corrigo.RepairInfo{Code: code, Category: cat}
		}
	case "note", "message":
		a.Text = comment
		if comment == "" {
			return a, name, name + " needs its text in the comment column"
		}
	case "quote":
		if !hasAmount || amount <= 0 {
			return a, name, "quote needs a positive amount"
		}
		a.Amount, a.Comment = amount, comment
	case "appointment":
		if when == nil {
			return a, name, "appointment needs the scheduled start in the time column"
		}
		a.Appointment = &corrigo.Appointment{ScheduledStart: *when}
	case "invoice_submit":
	case "invoice_line":
		li, reason := invoiceLine(get, amount, hasAmount)
		if reason != "" {
			return a, name, reason
		}
		a.LineItems = []corrigo.LineItem{li}
		return a, name, ""
	}
	if err := a.Validate(); err != nil {
		return a, name, err.Error()
	}
	return a, name, ""
}

// invoiceLine reads an invoice_line row.
func invoiceLine(get func(string) string, amount float64, hasAmount bool) (corrigo.LineItem, string) {
	li := corrigo.LineItem{Description: get("description"), Quantity: 1}
	if li.Description == "" {
		return li, "invoice_line needs a description"
	}
	switch t := strings.ToLower(strings.ReplaceAll(get("line_type"), " ", "")); t {
	case "", "other":
		li.Type = corrigo.LineItemOther
	case "labor", "labour":
		li.Type = corrigo.LineItemLabor
	case "material", "materials":
		li.Type = corrigo.LineItemMaterial
	case "tax":
		li.Type = corrigo.LineItemTax
	case "pricelist":
		li.Type = corrigo.LineItemPriceList
	default:
		return li, fmt.Sprintf("unknown line_type %q (known: Labor, Material, Tax, Other, PriceList)", get("line_type"))
	}
	q, hasQ, err := parseAmount(get("quantity"), "quantity")
	if err != nil {
		return li, err.Error()
	}
	rate, hasRate, err := parseAmount(get("rate"), "rate")
	if err != nil {
		return li, err.Error()
	}
	if hasQ {
		if q <= 0 {
			return li, "quantity must be positive"
		}
		li.Quantity = q
	}
	switch {
	case hasRate && hasAmount:
		li.Rate, li.Amount = rate, amount
		if math.Abs(round2(li.Quantity*rate)-amount) > 0.005 {
			return li, fmt.Sprintf("amount %s is not quantity × rate (%s × %s)", textfmt.Float(amount), textfmt.Float(li.Quantity), textfmt.Float(rate))
		}
	case hasRate:
		li.Rate, li.Amount = rate, round2(li.Quantity*rate)
	case hasAmount:
		li.Amount, li.Rate = amount, round2(amount/li.Quantity)
	default:
		return li, "invoice_line needs an amount or a rate"
	}
	return li, ""
}

func parseWorkOrderID(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("work_order_id is empty")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("work_order_id %q is not a positive whole number", s)
	}
	return id, nil
}

// parseAmount reads an optional number. Thousands separators are refused:
// "1,234" means 1.234 in half of the world.
func parseAmount(s, name string) (float64, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("%s %q is not a number (write 1234.50, without currency or thousands separators)", name, s)
	}
	if math.Abs(f) > 1e12 {
		return 0, false, fmt.Errorf("%s %q is too large", name, s)
	}
	return f, true, nil
}

// inboxTimeLayouts are the accepted time spellings. Layouts without a zone
// are read in the configured time zone.
var inboxTimeLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseInboxTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range inboxTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not a date and time such as 2024-05-01 14:30 or 2024-05-01T14:30:00Z", s)
}

// normalizeName lower-cases a header or action name and turns spaces and
// dashes into underscores ("Work Order ID" → "work_order_id").
func normalizeName(s string) string {
	return nameReplacer.Replace(strings.ToLower(strings.TrimSpace(s)))
}

var nameReplacer = strings.NewReplacer(" ", "_", "-", "_")

// detectComma picks the delimiter of the header line: ',' unless ';' or a
// tab is more frequent (spreadsheets in many locales save with ';').
func detectComma(data []byte) rune {
	first := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		first = data[:i]
	}
	best, n := ',', bytes.Count(first, []byte(","))
	for _, c := range []rune{';', '\t'} {
		if k := bytes.Count(first, []byte(string(c))); k > n {
			best, n = c, k
		}
	}
	return best
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "malformed CSV: " + pe.Err.Error()
	}
	return err.Error()
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func sortRejected(rs []rowError) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Line < rs[j].Line })
}
