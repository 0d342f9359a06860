package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEval(t *testing.T) {
	nwo := "../../pkg/corrigo/testdata/notifications/NewWorkOrder.json"
	checkedIn := "../../pkg/corrigo/testdata/notifications/CheckedIn.json"
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"Header": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args    []string
		code    int
		out, er string
	}{
		{[]string{"--when", `event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency`, "--event", nwo}, 0, "true", ""},
		{[]string{"--when", `workOrder.Customer.Name == "Westeros Retail Group"`, "--event", nwo}, 0, "true", ""},
		{[]string{"--when", `event.Action == "NewWorkOrder"`, "--event", checkedIn}, 0, "false", ""},
		{[]string{"--when", `account == "emea-1"`, "--event", checkedIn, "--account", "emea-1"}, 0, "true", ""},
		{[]string{"--when", `event.Source == "poll"`, "--event", nwo, "--source", "poll"}, 0, "true", ""},
		{[]string{"--when", `workOrder.Sla.IsEmergncy`, "--event", nwo}, 1, "", "IsEmergncy"},
		{[]string{"--when", `1 + 1`, "--event", nwo}, 1, "", "bool"},
		{[]string{"--when", "true", "--event", bad}, 1, "", "bad.json"},
		{[]string{"--when", "true", "--event", "/nonexistent.json"}, 1, "", "nonexistent"},
		{[]string{"--when", "true"}, 2, "", ""},
		{[]string{"--when", "true", "--event", nwo, "--now", "yesterday"}, 2, "", "RFC 3339"},
	} {
		var out, errb bytes.Buffer
		code := evalMain(context.Background(), c.args, &out, &errb)
		if code != c.code || strings.TrimSpace(out.String()) != c.out || !strings.Contains(errb.String(), c.er) {
			t.Errorf("%v: exit %d, out %q, err %q; want %d %q %q", c.args, code, out.String(), errb.String(), c.code, c.out, c.er)
		}
	}
}
