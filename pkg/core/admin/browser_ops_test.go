package admin_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserOperatorQuestions drives the pages an operator opens first
// in headless Chromium: the work order list (filter it, open one), a
// timeline in causal order that says why, the plugins page, and the
// log, where refused calls and dead letters stand out and numbers line
// up under their headers. Screenshots go with the other browser test's.
func TestBrowserOperatorQuestions(t *testing.T) {
	exe := chromiumPath(t)
	e := newEnv(t)
	b := newChrome(t, exe, artifactDir(t))
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	b.do("open work orders", chromedp.Navigate(e.srv.URL+"/ui/work-orders"), chromedp.WaitVisible(css("#login")))
	b.do("type the token", chromedp.SendKeys(css("#token"), testToken))
	b.load("log in", chromedp.Submit(css("#token")))
	if loc := b.location(); !strings.HasSuffix(loc, "/ui/work-orders") {
		t.Fatalf("after login at %s", loc)
	}

	// The list answers the first questions without a search.
	rows := `document.querySelectorAll('#wo-table tbody tr[data-wo]').length`
	if c, n := b.text("#wo-count"), evaluate[int](b, rows); !strings.HasPrefix(c, "6 work order(s)") || n != 6 {
		t.Fatalf("list: %q, %d rows", c, n)
	}
	row := b.text(`#wo-table tr[data-wo="1001"]`)
	for _, w := range []string{"WO-1001", "Contoso Retail", "acme", "Accepted", "NewWorkOrder", "note", "dead", "note text too long"} {
		if !strings.Contains(row, w) {
			t.Errorf("row 1001 lacks %q: %s", w, row)
		}
	}
	// A work order with dead letters stands out: a red edge.
	if edge := evaluate[string](b, `getComputedStyle(document.querySelector('#wo-table tr[data-wo="1001"] td')).borderLeftColor`); edge != "rgb(179, 38, 30)" {
		t.Errorf("row with dead letters has edge %s", edge)
	}
	if edge := evaluate[string](b, `getComputedStyle(document.querySelector('#wo-table tr[data-wo="1005"] td')).borderLeftWidth`); edge != "0px" {
		t.Errorf("row without problems has an edge of %s", edge)
	}
	b.shot("20-work-orders")

	// Filter: only those with dead letters.
	b.do("tick problems", chromedp.Click(css(`#wo-filter input[name="problems"]`)))
	b.load("filter", chromedp.Submit(css(`#wo-filter input[name="q"]`)))
	if loc, n := b.location(), evaluate[int](b, rows); !strings.Contains(loc, "problems=true") || n != 4 {
		t.Fatalf("problems filter at %s: %d rows", loc, n)
	}
	b.shot("21-work-orders-problems")
	b.do("search", chromedp.SetValue(css(`#wo-filter input[name="q"]`), "fabrikam"))
	b.load("search", chromedp.Submit(css(`#wo-filter input[name="q"]`)))
	if n := evaluate[int](b, rows); n != 2 {
		t.Fatalf("search fabrikam: %d rows: %s", n, b.text("#wo-table"))
	}

	// Open 1001 from the list: the timeline reads in causal order.
	b.load("all again", chromedp.Click(css(`#wo-filter a[href="/ui/work-orders"]`)))
	b.load("open 1001", chromedp.Click(css(`#wo-table tr[data-wo="1001"] a.wo`)))
	types := evaluate[string](b, `Array.from(document.querySelectorAll('#timeline li .type')).map(e => e.textContent).join(' ')`)
	if types != "http event decision plugin_call action http action_sent action http" {
		t.Fatalf("timeline order: %s", types)
	}
	why := evaluate[string](b, `Array.from(document.querySelectorAll('#timeline li .why')).map(e => e.textContent).join(' | ')`)
	if !strings.Contains(why, "corrigo: 400 validation: note text too long") {
		t.Errorf("timeline does not say why: %q", why)
	}
	// "why: " comes from the stylesheet, so the reason reads as one.
	if before := evaluate[string](b, `getComputedStyle(document.querySelector('#timeline li .why'), '::before').content`); before != `"why: "` {
		t.Errorf("why label: %s", before)
	}
	b.shot("22-timeline-causal")
	b.load("back to the list", chromedp.Click(css("#all-work-orders")))
	if loc := b.location(); !strings.HasSuffix(loc, "/ui/work-orders") {
		t.Fatalf("back at %s", loc)
	}

	// The plugins page (the README's /ui/plugins).
	b.load("plugins", chromedp.Click(css(`nav a[href="/ui/plugins"]`)))
	if n := evaluate[int](b, `document.querySelectorAll('#plugins-page-table tr[data-plugin]').length`); n != 2 {
		t.Fatalf("plugins page lists %d plugins", n)
	}
	mailer := b.text(`#plugins-page-table tr[data-plugin="mailer"]`)
	for _, w := range []string{"quarantined", "Restart", "exit status 2", "notify"} {
		if !strings.Contains(mailer, w) {
			t.Errorf("mailer row lacks %q: %s", w, mailer)
		}
	}
	alignedUnder(t, b, "#plugins-page-table", 8) // Restarts
	b.shot("23-plugins")

	// The log: a call CorrigoPro refused stands out, in colour, and the
	// work order's dead letters are one click away.
	b.load("log", chromedp.Click(css(`nav a[href="/ui/log"]`)))
	if n := evaluate[int](b, `document.querySelectorAll('#log-table tr.out-rejected').length`); n != 1 {
		t.Fatalf("%d rejected rows", n)
	}
	if bg := evaluate[string](b, `getComputedStyle(document.querySelector('#log-table tr.out-rejected .badge.out-rejected')).backgroundColor`); bg != "rgb(179, 38, 30)" {
		t.Errorf("rejected badge colour %s", bg)
	}
	// Red even though its severity is warn; a plain row has no edge.
	if bg := evaluate[string](b, `getComputedStyle(document.querySelector('#log-table tr.out-rejected')).backgroundColor`); bg != "rgb(253, 241, 239)" {
		t.Errorf("rejected row is not tinted red: %s", bg)
	}
	if edge := evaluate[string](b, `getComputedStyle(document.querySelector('#log-table tr.out-rejected td')).borderLeftColor`); edge != "rgb(179, 38, 30)" {
		t.Errorf("rejected row edge %s", edge)
	}
	if edge := evaluate[string](b, `getComputedStyle(document.querySelector('#log-table tr.sev-info td')).borderLeftWidth`); edge != "0px" {
		t.Errorf("an info row has an edge of %s", edge)
	}
	if n := evaluate[int](b, `document.querySelectorAll('#log-table a.dl-mark').length`); n < 1 {
		t.Error("no dead letter mark in the log")
	}
	alignedUnder(t, b, "#log-table", 9) // ms
	alignedUnder(t, b, "#log-table", 6) // Status
	b.shot("24-log-marked")
	b.load("dead letters from the log", chromedp.Click(css("#log-table a.dl-mark")))
	if loc := b.location(); !strings.Contains(loc, "/ui/dead-letters?") || !strings.Contains(loc, "work_order=") {
		t.Fatalf("dead letter mark led to %s", loc)
	}
}

// alignedUnder checks that column col (1-based) of table sel is
// right-aligned in tabular figures, its cells' right edges (less
// padding) under the header's, so numbers line up under their headers.
func alignedUnder(t *testing.T, b *chrome, sel string, col int) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const t = document.querySelector(%q);
		const th = t.querySelector('thead th:nth-child(%d)');
		const tds = Array.from(t.querySelectorAll('tbody tr td:nth-child(%d)'));
		const right = e => e.getBoundingClientRect().right - parseFloat(getComputedStyle(e).paddingRight);
		return JSON.stringify({
			th: getComputedStyle(th).textAlign, thRight: right(th),
			td: tds.map(e => getComputedStyle(e).textAlign),
			fig: tds.map(e => getComputedStyle(e).fontVariantNumeric),
			rights: tds.map(right),
		});
	})()`, sel, col, col)
	var got struct {
		TH      string    `json:"th"`
		THRight float64   `json:"thRight"`
		TD      []string  `json:"td"`
		Fig     []string  `json:"fig"`
		Rights  []float64 `json:"rights"`
	}
	if err := jsonUnmarshalString(evaluate[string](b, js), &got); err != nil {
		t.Fatal(err)
	}
	if got.TH != "right" || len(got.TD) == 0 {
		t.Errorf("%s column %d: header aligned %q, %d cells", sel, col, got.TH, len(got.TD))
		return
	}
	for i := range got.TD {
		if got.TD[i] != "right" || !strings.Contains(got.Fig[i], "tabular-nums") || math.Abs(got.Rights[i]-got.THRight) > 1 {
			t.Errorf("%s column %d row %d: aligned %q, figures %q, right edge %.1f vs header %.1f", sel, col, i, got.TD[i], got.Fig[i], got.Rights[i], got.THRight)
		}
	}
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }
