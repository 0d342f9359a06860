package csvexport

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/pluginapi"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var sydney, _ = time.LoadLocation("Australia/Sydney")

// parseGoldenNow is the "now" of the golden parses: after every past time
// in testdata, before 2999.
var parseGoldenNow = time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)

func TestParseInboxGolden(t *testing.T) {
	for _, name := range []string{"mixed", "semicolon"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "inbox", name+".csv"))
			if err != nil {
				t.Fatal(err)
			}
			res := parseInbox(data, sydney, parseGoldenNow)
			if res.FileErr != nil {
				t.Fatalf("file error: %v", res.FileErr)
			}
			acts, err := json.MarshalIndent(res.Actions, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("inbox", name+".actions.golden.json"), append(acts, '\n'))
			golden(t, filepath.Join("inbox", name+".errors.golden.csv"), errorsReport(name+".csv", res.Rejected))
			golden(t, filepath.Join("inbox", name+".rejected.golden.csv"), rejectedFile(res, res.Rejected))
			for _, a := range res.Actions {
				if err := a.Action.Validate(); err != nil {
					t.Errorf("line %v: parser produced an invalid action: %v", a.Lines, err)
				}
			}
		})
	}
}

func TestParseInboxMixedSummary(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "inbox", "mixed.csv"))
	res := parseInbox(data, sydney, parseGoldenNow)
	kinds := []string{}
	for _, a := range res.Actions {
		kinds = append(kinds, string(a.Action.Kind))
	}
	want := "check_in check_out invoice_update invoice_submit quote note check_in appointment"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("actions = %s\nwant      %s", got, want)
	}
	inv := res.Actions[2]
	if len(inv.Lines) != 2 || inv.Lines[0] != 4 || inv.Action.Invoice.TotalAmount != 195.5 || inv.Action.Invoice.InvoiceNumber != "INV-77" {
		t.Errorf("invoice = lines %v %+v", inv.Lines, inv.Action.Invoice)
	}
	// 08:00 in Sydney is 22:00 UTC the day before.
	if got := res.Actions[0].Action.ActualActionDate.Format(time.RFC3339); got != "2024-04-30T22:00:00Z" {
		t.Errorf("check in time = %s", got)
	}
	lines := map[int]bool{}
	for _, r := range res.Rejected {
		lines[r.Line] = true
		if r.Reason == "" {
			t.Errorf("line %d rejected without a reason", r.Line)
		}
	}
	for _, l := range []int{9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 23} {
		if !lines[l] {
			t.Errorf("line %d not rejected", l)
		}
	}
	if res.Rows != 21 {
		t.Errorf("rows = %d, want 21", res.Rows)
	}
}

func TestParseInboxFileErrors(t *testing.T) {
	for name, want := range map[string]string{
		"unknown-column": `unknown column "comemnt"`,
		"no-id-column":   `no "work_order_id" column`,
		"not-utf8":       "not UTF-8",
		"empty":          "empty",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "inbox", name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		res := parseInbox(data, time.UTC, parseGoldenNow)
		if res.FileErr == nil || !strings.Contains(res.FileErr.Error(), want) {
			t.Errorf("%s: file error %v, want %q", name, res.FileErr, want)
		}
		if len(res.Actions) != 0 {
			t.Errorf("%s: actions from a rejected file", name)
		}
	}
}

func TestParseInboxCRLF(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "inbox", "mixed.csv"))
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	a := parseInbox(data, sydney, parseGoldenNow)
	b := parseInbox(crlf, sydney, parseGoldenNow)
	ja, _ := json.Marshal(a.Actions)
	jb, _ := json.Marshal(b.Actions)
	if !bytes.Equal(ja, jb) || len(a.Rejected) != len(b.Rejected) {
		t.Fatalf("CRLF file parsed differently:\n%s\n%s", ja, jb)
	}
}

func TestParseInboxInvoiceNumberConflict(t *testing.T) {
	data := "work_order_id,action,description,amount,invoice_number\n1,invoice_line,a,1,X\n1,invoice_line,b,2,Y\n2,invoice_line,c,3,\n"
	res := parseInbox([]byte(data), time.UTC, parseGoldenNow)
	if len(res.Actions) != 1 || res.Actions[0].Action.WorkOrderID != 2 {
		t.Fatalf("actions = %+v, want only work order 2's invoice", res.Actions)
	}
	if len(res.Rejected) != 2 {
		t.Fatalf("rejected = %+v, want both lines of work order 1", res.Rejected)
	}
}

func TestRejectedFileCanBeDroppedBack(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "inbox", "mixed.csv"))
	res := parseInbox(data, sydney, parseGoldenNow)
	again := parseInbox(rejectedFile(res, res.Rejected), sydney, parseGoldenNow)
	if again.FileErr != nil {
		t.Fatalf("a rejected file does not parse as an inbox file: %v", again.FileErr)
	}
}

func FuzzParseInbox(f *testing.F) {
	for _, name := range []string{"mixed", "semicolon", "unknown-column", "no-id-column", "not-utf8", "empty"} {
		data, err := os.ReadFile(filepath.Join("testdata", "inbox", name+".csv"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("work_order_id,action,description,amount\n1,invoice_line,\"x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := parseInbox(data, time.UTC, parseGoldenNow)
		if res.FileErr != nil {
			if len(res.Actions) > 0 {
				t.Fatal("actions from a rejected file")
			}
			return
		}
		prev := 0
		for _, a := range res.Actions {
			if len(a.Lines) == 0 || a.Lines[0] <= prev {
				t.Fatalf("action lines %v not strictly after %d", a.Lines, prev)
			}
			prev = a.Lines[0]
			if err := a.Action.Validate(); err != nil {
				t.Fatalf("invalid action %+v: %v", a.Action, err)
			}
			if a.Action.WorkOrderID <= 0 {
				t.Fatalf("action without work order: %+v", a.Action)
			}
			if a.Action.Kind == pluginapi.KindInvoiceUpdate && a.Action.Invoice == nil {
				t.Fatal("invoice update without invoice")
			}
		}
		for _, r := range res.Rejected {
			if r.Reason == "" {
				t.Fatalf("rejected row without reason: %+v", r)
			}
		}
		_ = errorsReport("f.csv", res.Rejected)
		_ = rejectedFile(res, res.Rejected)
	})
}
