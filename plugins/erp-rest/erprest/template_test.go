package erprest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

func sampleEnv() *JobEnv {
	return &JobEnv{
		WO: corrigo.WorkOrder{WorkOrderId: 12, WorkOrderNumber: "WO 12/a&b", Sla: &corrigo.Sla{DueDate: corrigo.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))},
			Customer: &corrigo.CustomerRef{ID: 3, Name: `Bob's "Burgers"`}},
		Account: "acct", SiteID: "S-1",
	}
}

func TestSplitTemplate(t *testing.T) {
	cases := []struct {
		in   string
		want []string // lit or {expr}
		err  string
	}{
		{in: "", want: []string{""}},
		{in: "plain", want: []string{"plain"}},
		{in: "${a}", want: []string{"{a}"}},
		{in: "x${a}y${b}", want: []string{"x", "{a}", "y", "{b}"}},
		{in: "$${a}", want: []string{"${a}"}},
		{in: "cost $5", want: []string{"cost $5"}},
		{in: `${ {"k": "}"}.k }`, want: []string{`{ {"k": "}"}.k }`}},
		{in: "${'a\\'}'}", want: []string{"{'a\\'}'}"}},
		{in: "${`}`}", want: []string{"{`}`}"}},
		{in: "${a", err: "unterminated ${ at offset 0"},
		{in: "x${'}", err: "unterminated string"},
		{in: "${ }", err: "empty ${}"},
	}
	for _, tc := range cases {
		segs, err := splitTemplate(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var got []string
		for _, s := range segs {
			if s.src != "" {
				got = append(got, "{"+s.src+"}")
			} else {
				got = append(got, s.lit)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBodyTemplateTypesAndEscaping(t *testing.T) {
	src := map[string]any{
		"id":       "${wo.WorkOrderId}",
		"ref":      "${wo.WorkOrderNumber}",
		"name":     "${wo.Customer.Name}",
		"due":      "${wo.Sla.DueDate}",
		"none":     "${wo.Contact.FullName}", // nil Contact: plain paths are nil-safe
		"text":     "WO ${wo.WorkOrderNumber} for ${wo.Customer.Name}",
		"sum":      "${1 + 2}",
		"flag":     "${wo.IsPreBilled}",
		"list":     []any{"${site_id}", 1.5, true, nil},
		"literal":  "$${not}",
		"nan":      "${0.0 / 0.0}",
		"constant": 7.0,
	}
	bt, err := compileBody(src, JobEnv{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := bt.eval(sampleEnv())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"constant":7,"due":"2030-01-02T03:04:05Z","flag":false,"id":12,"list":["S-1",1.5,true,null],"literal":"${not}","name":"Bob's \"Burgers\"","nan":null,"none":null,"ref":"WO 12/a\u0026b","sum":3,"text":"WO WO 12/a\u0026b for Bob's \"Burgers\""}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestURLTemplateEscaping(t *testing.T) {
	tp, err := compileString("/jobs/${wo.WorkOrderNumber}/x?ref=${wo.WorkOrderNumber}&c=${wo.Customer.ID}", JobEnv{}, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tp.render(sampleEnv())
	if err != nil {
		t.Fatal(err)
	}
	if want := "/jobs/WO%2012%2Fa&b/x?ref=WO+12%2Fa%26b&c=3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJSONPath(t *testing.T) {
	doc, err := decodeJSON([]byte(`{"data":{"job":{"id":12345678901234567890}},"list":[{"id":"a"},{"id":"b"}],"0":{"x":"key"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"data.job.id": "12345678901234567890", "list.1.id": "b", "list[0].id": "a", "$.list[1].id": "b", "0.x": "key",
	}
	for p, want := range cases {
		jp, err := parseJSONPath(p)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := jp.lookup(doc)
		s, _ := scalarString(v)
		if !ok || s != want {
			t.Errorf("%s = %v %v, want %s", p, v, ok, want)
		}
	}
	for _, p := range []string{"data.nope", "list.2.id", "list.-1.id", "list.x", "data.job.id.more"} {
		jp, _ := parseJSONPath(p)
		if v, ok := jp.lookup(doc); ok {
			t.Errorf("%s found %v", p, v)
		}
	}
	if _, err := parseJSONPath("a..b"); err == nil {
		t.Error("a..b parsed")
	}
	if _, err := decodeJSON([]byte(`{} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	got := truncate(s, 7)
	if len(got) > 7 || !strings.HasSuffix(got, "…") || !json.Valid([]byte(`"`+got+`"`)) {
		t.Errorf("truncate = %q", got)
	}
	if excerpt([]byte("a\n\n b\xff")) != "a b?" {
		t.Errorf("excerpt = %q", excerpt([]byte("a\n\n b\xff")))
	}
}
