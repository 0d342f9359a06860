// Package textfmt renders work order values as text the way the bundled
// plugins put them in CSV cells and ERP request templates: one rendering,
// so a value looks the same in both.
package textfmt

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Value renders v as text: times as RFC 3339 UTC, nil and zero times as
// empty, numbers without exponent (NaN and infinities as empty), named
// string types (corrigo.Status, corrigo.Action) as their string, other
// Stringers through String, structs, maps and slices as JSON.
func Value(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case corrigo.Time:
		return Time(x.Time)
	case *corrigo.Time:
		if x == nil {
			return ""
		}
		return Time(x.Time)
	case time.Time:
		return Time(x)
	case *time.Time:
		if x == nil {
			return ""
		}
		return Time(*x)
	case time.Duration:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return Float(x)
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return ""
		}
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case fmt.Stringer: // json.Number among others
		return x.String()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return Float(rv.Float())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Pointer:
		if rv.IsNil() {
			return ""
		}
		return Value(rv.Elem().Interface())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Time renders t as RFC 3339 in UTC, or "" when it is zero.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Float renders f without exponent, or "" when it is NaN or infinite.
func Float(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
