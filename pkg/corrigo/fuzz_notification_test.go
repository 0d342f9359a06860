package corrigo

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeNotification checks that DecodeNotification never panics on any
// body, that a successful decode has what the gateway relies on (Action,
// MessageId, WorkOrderId, a payload of the header's action), and that
// re-encoding with NewNotification decodes to the same header and payload.
// Seeds: every sample in testdata/notifications and the verbatim API.md §3.4
// sample.
func FuzzDecodeNotification(f *testing.F) {
	for _, fx := range notificationFixtures(f) {
		f.Add(fx.body)
	}
	f.Add([]byte(`{"Status":"CheckedIn","Location":{"Latitude":36.281445,"Longitude":-75.794662},
 "Header":{"WorkOrderId":42,"BranchId":492042,
   "Sender":{"Name":"Jon Snow","Phone":"+12025550141","Type":"CorrigoPro"},
   "Action":"CheckedIn","ActionDate":"2017-10-05T10:17:40.7259888Z",
   "ApiVersion":"1.0","MessageId":"e6d28519-8f7f-4d09-8ea1-9727fdc91e0b"}}`))
	f.Add([]byte(`{"Header":{"WorkOrderId":1,"Action":"X","MessageId":"m","ActionDate":"2018-09-04T10:12:08"}}`))
	f.Add([]byte(`{"Header":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := DecodeNotification(body)
		if err != nil {
			if n != nil {
				t.Fatalf("notification returned with error %v", err)
			}
			return
		}
		h := n.Header
		if h.Action == "" || h.MessageId == "" || h.WorkOrderId == 0 {
			t.Fatalf("decoded without Action/MessageId/WorkOrderId: %+v", h)
		}
		if n.Payload == nil || ActionOf(n.Payload) != h.Action {
			t.Fatalf("payload %T does not belong to %q", n.Payload, h.Action)
		}
		if hasOutOfRangeTime(reflect.ValueOf(n.Header)) || hasOutOfRangeTime(reflect.ValueOf(n.Payload)) {
			// Known time.go limitation: a zone offset can push a parsed
			// instant to year 10000 (or -1), which then re-encodes to a
			// string ParseTime refuses. Reported to the lead; skip.
			t.Skip("time outside years 0–9999")
		}
		again, err := NewNotification(h, n.Payload)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		n2, err := DecodeNotification(again)
		if err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		if !reflect.DeepEqual(n2.Header, h) {
			t.Fatalf("header changed in a round trip:\n got %+v\nwant %+v", n2.Header, h)
		}
		p1, _ := json.Marshal(n.Payload)
		p2, _ := json.Marshal(n2.Payload)
		if string(p1) != string(p2) {
			t.Fatalf("payload changed in a round trip:\n got %s\nwant %s", p2, p1)
		}
	})
}

// FuzzParseTime checks corrigo.ParseTime: no panic, UTC results, and a
// parsed time survives MarshalJSON → UnmarshalJSON unchanged.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2017-10-05T10:17:40.7259888Z", "2018-09-04T10:12:08.1671613Z", "2024-03-05T13:00:00Z",
		"2024-03-05T13:00:00", "2024-03-05T13:00:00.123", "2024-03-05", "2024-03-05T13:00:00+02:00",
		"", "null", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", " 2024-03-05 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) is in %v, want UTC", s, tm.Location())
		}
		if tm.Year() < 0 || tm.Year() > 9999 {
			// Known time.go limitation (see FuzzDecodeNotification): such a
			// time marshals to a string ParseTime refuses. Reported.
			t.Skip("time outside years 0–9999")
		}
		js, err := tm.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal %v: %v", tm, err)
		}
		var back Time
		if err := back.UnmarshalJSON(js); err != nil {
			t.Fatalf("ParseTime(%q) = %v marshals to %s, which does not parse back: %v", s, tm.Time, js, err)
		}
		if !back.Equal(tm.Time) {
			t.Fatalf("round trip of %q: %v became %v", s, tm.Time, back.Time)
		}
	})
}

// FuzzParseTicketTime checks the ticket instant parser: no panic, UTC
// results, and FormatTicketTime output parses back to the same second.
func FuzzParseTicketTime(f *testing.F) {
	for _, s := range []string{
		"Wed, 28 Feb 2024 02:23:24 GMT", "Wed, 28 Feb 2024 02:03:24 GMT", "Wed, 28 Feb 2024 03:23:24 +0100",
		"2024-02-28T02:23:24.0000000Z", "2024-02-28T02:23:24", "", "soon",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTicketTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTicketTime(%q) is in %v", s, tm.Location())
		}
		if tm.Year() < 0 || tm.Year() > 9999 {
			return // a zone offset pushed the instant outside what RFC 1123 can write
		}
		back, err := ParseTicketTime(FormatTicketTime(tm))
		if err != nil || !back.Equal(tm.Truncate(time.Second)) {
			t.Fatalf("%q: %v formats as %q, parses back as %v, %v", s, tm, FormatTicketTime(tm), back, err)
		}
	})
}

// hasOutOfRangeTime reports whether v holds a corrigo.Time outside the years
// RFC 3339 can write (0–9999).
func hasOutOfRangeTime(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		return !v.IsNil() && hasOutOfRangeTime(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(Time); ok {
			return !t.IsZero() && (t.Year() < 0 || t.Year() > 9999)
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && hasOutOfRangeTime(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if hasOutOfRangeTime(v.Index(i)) {
				return true
			}
		}
	}
	return false
}
