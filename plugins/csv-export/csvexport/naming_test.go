package csvexport

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

func TestPatternRender(t *testing.T) {
	wo := sampleWorkOrder()
	in := nameInput{Date: time.Date(2024, 5, 1, 23, 0, 0, 0, time.UTC), WorkOrder: &wo, Account: "acme/prod", Branch: 7}
	for pattern, want := range map[string]string{
		"workorders-{date}.csv":             "workorders-2024-05-01.csv",
		"{customer}/{date}.csv":             "Acme_Stores_Inc/2024-05-01.csv",
		"{year}/{month}/{customer_id}.csv":  "2024/2024-05/12.csv",
		"{account}-{branch}.csv":            "acme_prod-7.csv",
		"static.csv":                        "static.csv",
		"{customer}-{customer}-{date}.csv":  "Acme_Stores_Inc-Acme_Stores_Inc-2024-05-01.csv",
		"nested/dirs/{date}/{customer}.csv": "nested/dirs/2024-05-01/Acme_Stores_Inc.csv",
	} {
		p, err := parsePattern(pattern)
		if err != nil {
			t.Errorf("%s: %v", pattern, err)
			continue
		}
		if got := p.render(in); got != filepath.FromSlash(want) {
			t.Errorf("%s → %q, want %q", pattern, got, want)
		}
	}
}

func TestPatternUnknownCustomer(t *testing.T) {
	p, _ := parsePattern("{customer}/{customer_id}.csv")
	if got := p.render(nameInput{}); got != filepath.FromSlash("unknown-customer/unknown-customer.csv") {
		t.Fatalf("got %q", got)
	}
	wo := corrigo.WorkOrder{Customer: &corrigo.CustomerRef{ID: 9, Name: "../.."}}
	if got := p.render(nameInput{WorkOrder: &wo}); got != filepath.FromSlash("customer-9/9.csv") {
		t.Fatalf("dangerous customer name rendered as %q", got)
	}
}

func TestPatternErrors(t *testing.T) {
	for _, p := range []string{"", "/abs/{date}.csv", "../{date}.csv", "a/./b.csv", "{nope}.csv", "{date.csv", "date}.csv", "dir/", "a//b.csv"} {
		if _, err := parsePattern(p); err == nil {
			t.Errorf("pattern %q accepted", p)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Stores, Inc.": "Acme_Stores_Inc",
		"../../etc":         "etc",
		"...":               "",
		".hidden":           "hidden",
		"Café Zürich":       "Café_Zürich",
		"a\x00b":            "a_b",
		"   ":               "",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
