package rules

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/wogate/wogate/pkg/corrigo"
)

// Helper functions available in conditions. They are registered with
// expr.Function and typed prototypes: calls are type-checked at compile
// time and run without reflection. docs/rules.md documents each.
//
// The time helpers measure from the environment's `now`, not the wall
// clock, so a decision can be replayed: the compiler rewrites since(t) into
// since(t, now) (see nowPatcher). An unset time (zero, or null in
// CorrigoPro's JSON) is infinitely far away: since and until return the
// largest duration, the hours/minutes helpers +Inf, so `hoursUntil(x) < 4`
// is false for a missing date.

// nowFuncs take an implicit `now` as their last argument.
var nowFuncs = map[string]bool{
	"since": true, "until": true,
	"hoursSince": true, "hoursUntil": true,
	"minutesSince": true, "minutesUntil": true,
}

var (
	ctimeT    = reflect.TypeOf(corrigo.Time{})
	maxDur    = time.Duration(math.MaxInt64)
	errNotime = errors.New("want a time")
)

// asTime accepts time.Time and corrigo.Time.
func asTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case corrigo.Time:
		return t.Time, nil
	case *corrigo.Time:
		if t == nil {
			return time.Time{}, nil
		}
		return t.Time, nil
	}
	return time.Time{}, fmt.Errorf("%w, got %T", errNotime, v)
}

// elapsed returns now-t (sign = +1) or t-now (sign = -1), MaxInt64 when t
// is unset.
func elapsed(params []any, sign int) (time.Duration, error) {
	if len(params) != 2 {
		return 0, fmt.Errorf("want 1 argument, got %d", len(params)-1)
	}
	t, err := asTime(params[0])
	if err != nil {
		return 0, err
	}
	now, err := asTime(params[1])
	if err != nil {
		return 0, err
	}
	if t.IsZero() {
		return maxDur, nil
	}
	if sign > 0 {
		return now.Sub(t), nil
	}
	return t.Sub(now), nil
}

func inUnit(d time.Duration, unit time.Duration) float64 {
	if d == maxDur {
		return math.Inf(1)
	}
	return float64(d) / float64(unit)
}

// timeProtos lists f(T, now) for both time types.
func timeProtos(result any) []any {
	switch result.(type) {
	case time.Duration:
		return []any{new(func(time.Time, time.Time) time.Duration), new(func(corrigo.Time, time.Time) time.Duration)}
	default:
		return []any{new(func(time.Time, time.Time) float64), new(func(corrigo.Time, time.Time) float64)}
	}
}

// regexCache holds compiled patterns of match(); bounded so patterns built
// from event data cannot grow it without limit.
var regexCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

const regexCacheMax = 4096

func compileRegex(p string) (*regexp.Regexp, error) {
	regexCache.Lock()
	re, ok := regexCache.m[p]
	regexCache.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", p, err)
	}
	regexCache.Lock()
	if regexCache.m == nil {
		regexCache.m = map[string]*regexp.Regexp{}
	}
	if len(regexCache.m) < regexCacheMax {
		regexCache.m[p] = re
	}
	regexCache.Unlock()
	return re, nil
}

// businessHours is a parsed schedule such as
// "Mon-Fri 08:00-18:00, Sat 09:00-13:00".
type businessHours struct {
	windows []window
}

type window struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes after midnight; end may be ≤ start (overnight)
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseBusinessHours parses comma-separated windows. Each window is an
// optional day or day range ("Mon", "Mon-Fri", "Fri-Mon"; default every
// day) and a time range "HH:MM-HH:MM" (end 24:00 allowed; an end before the
// start runs past midnight and belongs to the start day).
func parseBusinessHours(spec string) (*businessHours, error) {
	bh := &businessHours{}
	for _, part := range strings.Split(spec, ",") {
		fields := strings.Fields(part)
		var w window
		var timeRange string
		switch len(fields) {
		case 1:
			timeRange = fields[0]
			for i := range w.days {
				w.days[i] = true
			}
		case 2:
			timeRange = fields[1]
			from, to, isRange := strings.Cut(strings.ToLower(fields[0]), "-")
			d1, ok1 := dayNames[from]
			d2, ok2 := d1, ok1
			if isRange {
				d2, ok2 = dayNames[to]
			}
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("invalid days %q in business hours %q (want e.g. Mon-Fri)", fields[0], spec)
			}
			for d := d1; ; d = (d + 1) % 7 {
				w.days[d] = true
				if d == d2 {
					break
				}
			}
		default:
			return nil, fmt.Errorf("invalid business hours %q (want e.g. \"Mon-Fri 08:00-18:00, Sat 09:00-13:00\")", spec)
		}
		a, b, ok := strings.Cut(timeRange, "-")
		if !ok {
			return nil, fmt.Errorf("invalid time range %q in business hours %q (want HH:MM-HH:MM)", timeRange, spec)
		}
		var err error
		if w.start, err = parseClock(a); err != nil {
			return nil, fmt.Errorf("business hours %q: %w", spec, err)
		}
		if w.end, err = parseClock(b); err != nil {
			return nil, fmt.Errorf("business hours %q: %w", spec, err)
		}
		if w.start == 24*60 {
			return nil, fmt.Errorf("business hours %q: a window cannot start at 24:00", spec)
		}
		bh.windows = append(bh.windows, w)
	}
	return bh, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("invalid time %q (want HH:MM, 00:00 to 24:00)", s)
	}
	return hh*60 + mm, nil
}

// contains reports whether t (already in the schedule's zone) is inside.
func (bh *businessHours) contains(t time.Time) bool {
	mins := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	prev := (day + 6) % 7
	for _, w := range bh.windows {
		if w.end > w.start {
			if w.days[day] && mins >= w.start && mins < w.end {
				return true
			}
			continue
		}
		// Overnight window: the evening part on its day, the morning
		// part on the next.
		if w.days[day] && mins >= w.start {
			return true
		}
		if w.days[prev] && mins < w.end {
			return true
		}
	}
	return false
}

var (
	hoursCache sync.Map // spec -> *businessHours
	zoneCache  sync.Map // name -> *time.Location
)

func businessHoursFor(spec string) (*businessHours, error) {
	if v, ok := hoursCache.Load(spec); ok {
		return v.(*businessHours), nil
	}
	bh, err := parseBusinessHours(spec)
	if err != nil {
		return nil, err
	}
	hoursCache.Store(spec, bh)
	return bh, nil
}

func zoneFor(name string) (*time.Location, error) {
	if v, ok := zoneCache.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

func isKnownStatus(s string) bool {
	for _, k := range corrigo.AllStatuses {
		if string(k) == s {
			return true
		}
	}
	return false
}

func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case corrigo.Status:
		return string(s)
	case corrigo.Action:
		return string(s)
	}
	return fmt.Sprint(v)
}

// functions returns the expr options registering every helper.
func functions() []expr.Option {
	opts := []expr.Option{
		expr.Function("since", func(p ...any) (any, error) { return elapsed(p, 1) }, timeProtos(time.Duration(0))...),
		expr.Function("until", func(p ...any) (any, error) { return elapsed(p, -1) }, timeProtos(time.Duration(0))...),
		expr.Function("hoursSince", func(p ...any) (any, error) {
			d, err := elapsed(p, 1)
			return inUnit(d, time.Hour), err
		}, timeProtos(0.0)...),
		expr.Function("hoursUntil", func(p ...any) (any, error) {
			d, err := elapsed(p, -1)
			return inUnit(d, time.Hour), err
		}, timeProtos(0.0)...),
		expr.Function("minutesSince", func(p ...any) (any, error) {
			d, err := elapsed(p, 1)
			return inUnit(d, time.Minute), err
		}, timeProtos(0.0)...),
		expr.Function("minutesUntil", func(p ...any) (any, error) {
			d, err := elapsed(p, -1)
			return inUnit(d, time.Minute), err
		}, timeProtos(0.0)...),
		expr.Function("isSet", func(p ...any) (any, error) {
			t, err := asTime(p[0])
			return !t.IsZero(), err
		}, new(func(time.Time) bool), new(func(corrigo.Time) bool)),
		expr.Function("inBusinessHours", func(p ...any) (any, error) {
			t, err := asTime(p[0])
			if err != nil {
				return false, err
			}
			bh, err := businessHoursFor(str(p[1]))
			if err != nil {
				return false, err
			}
			loc := time.UTC
			if len(p) > 2 {
				if loc, err = zoneFor(str(p[2])); err != nil {
					return false, err
				}
			}
			return bh.contains(t.In(loc)), nil
		},
			new(func(time.Time, string) bool), new(func(corrigo.Time, string) bool),
			new(func(time.Time, string, string) bool), new(func(corrigo.Time, string, string) bool)),
		expr.Function("match", func(p ...any) (any, error) {
			re, err := compileRegex(str(p[1]))
			if err != nil {
				return false, err
			}
			return re.MatchString(str(p[0])), nil
		}, new(func(string, string) bool)),
		expr.Function("containsAny", func(p ...any) (any, error) {
			s := str(p[0])
			switch list := p[1].(type) {
			case []any:
				for _, x := range list {
					if sub := str(x); sub != "" && strings.Contains(s, sub) {
						return true, nil
					}
				}
			case []string:
				for _, sub := range list {
					if sub != "" && strings.Contains(s, sub) {
						return true, nil
					}
				}
			}
			return false, nil
		}, new(func(string, []any) bool), new(func(string, []string) bool)),
		expr.Function("isStatus", func(p ...any) (any, error) {
			s := str(p[0])
			for _, x := range p[1:] {
				if str(x) == s {
					return true, nil
				}
			}
			return false, nil
		}, new(func(string, ...string) bool), new(func(corrigo.Status, ...string) bool)),
		expr.Patch(nowPatcher{}),
		expr.Patch(coercePatcher{}),
	}
	return opts
}

// nowPatcher rewrites since(t) into since(t, now): the helpers are pure
// functions of their arguments (fast, no environment access), and rule
// authors still write the short form.
type nowPatcher struct{}

func (nowPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || !nowFuncs[id.Value] || len(call.Arguments) != 1 {
		return
	}
	now := &ast.IdentifierNode{Value: "now"}
	now.SetLocation(call.Location())
	call.Arguments = append(call.Arguments, now)
}

// coercePatcher lets conditions use CorrigoPro's named types as the plain
// values they are. expr compares types strictly, so without it
// `workOrder.Status == "New"` (corrigo.Status vs string) fails to compile
// and `workOrder.Status in ["New"]` is silently false; and corrigo.Time
// cannot be compared with `now`. Operands and arguments of a named string
// type are wrapped in string(...), and corrigo.Time values in .Time.
// Member access (`workOrder.Sla.DueDate.Year()`) is left alone.
type coercePatcher struct{}

func (coercePatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		coerce(&n.Left)
		coerce(&n.Right)
	case *ast.UnaryNode:
		coerce(&n.Node)
	case *ast.CallNode:
		for i := range n.Arguments {
			coerce(&n.Arguments[i])
		}
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			coerce(&n.Arguments[i])
		}
	case *ast.ArrayNode:
		for i := range n.Nodes {
			coerce(&n.Nodes[i])
		}
	case *ast.ConditionalNode:
		coerce(&n.Exp1)
		coerce(&n.Exp2)
	}
}

var stringT = reflect.TypeOf("")

func coerce(slot *ast.Node) {
	n := *slot
	if n == nil {
		return
	}
	t := n.Type()
	switch {
	case t == ctimeT:
		m := &ast.MemberNode{Node: n, Property: &ast.StringNode{Value: "Time"}}
		m.SetLocation(n.Location())
		m.Property.SetLocation(n.Location())
		*slot = m
	case t != nil && t.Kind() == reflect.String && t != stringT:
		b := &ast.BuiltinNode{Name: "string", Arguments: []ast.Node{n}}
		b.SetLocation(n.Location())
		*slot = b
	}
}
