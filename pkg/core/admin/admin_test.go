package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/admin/admintest"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

const testToken = "s3cret-admin-token"

type env struct {
	st   store.Store
	seed *admintest.Seeded
	srv  *httptest.Server
	rt   *admintest.Runtime
}

// newEnv opens a real SQLite store in a temporary directory, seeds it and
// serves the admin handler on a loopback port.
func newEnv(t *testing.T, mod ...func(*admin.Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	seed, err := admintest.Seed(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	rt := admintest.NewRuntime()
	o := admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "wogate_up 1\n") })}
	for _, m := range mod {
		m(&o)
	}
	srv := httptest.NewServer(admin.New(st, rt, o))
	t.Cleanup(srv.Close)
	return &env{st: st, seed: seed, srv: srv, rt: rt}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (e *env) do(t *testing.T, method, path, token, body string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" || method == http.MethodPost {
		// As gateway dlq does: the admin API takes only JSON on POST.
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func refs(t *testing.T, m map[string]any) []string {
	t.Helper()
	items, _ := m["items"].([]any)
	var out []string
	for _, it := range items {
		out = append(out, it.(map[string]any)["ref"].(string))
	}
	return out
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path, auth string
		want             int
	}{
		{"no token", "/api/v1/dead-letters", "", 401},
		{"wrong token", "/api/v1/dead-letters", "Bearer nope", 401},
		{"wrong scheme", "/api/v1/dead-letters", "Basic " + testToken, 401},
		{"token prefix", "/api/v1/dead-letters", "Bearer " + testToken[:5], 401},
		{"token with suffix", "/api/v1/dead-letters", "Bearer " + testToken + "x", 401},
		{"good token", "/api/v1/dead-letters", "Bearer " + testToken, 200},
		{"lower-case scheme", "/api/v1/rules", "bearer " + testToken, 200},
		{"unknown endpoint needs token", "/api/v1/nope", "", 401},
		{"unknown endpoint", "/api/v1/nope", "Bearer " + testToken, 404},
		{"healthz is open", "/healthz", "", 200},
		{"readyz is open (quarantined plugin)", "/readyz", "", 503},
		{"metrics open by default", "/metrics", "", 200},
		{"query token is not accepted", "/api/v1/rules?token=" + testToken, "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.want, b)
			}
			if tc.want == 401 {
				if ct := res.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("content type %q", ct)
				}
				if !strings.Contains(res.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("no WWW-Authenticate challenge")
				}
				var body struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(b, &body); err != nil || body.Error.Code != "unauthorized" || body.Error.Message == "" {
					t.Errorf("error body %s", b)
				}
			}
		})
	}
}

func TestMetricsNeedToken(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) { o.MetricsNeedToken = true })
	if r := e.do(t, "GET", "/metrics", "", ""); r.status != 401 {
		t.Fatalf("status %d", r.status)
	}
	if r := e.do(t, "GET", "/metrics", testToken, ""); r.status != 200 || !bytes.Contains(r.body, []byte("wogate_up")) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestNoTokenConfigured(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) { o.Token = "" })
	if r := e.do(t, "GET", "/api/v1/dead-letters", "", ""); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestListDeadLetters(t *testing.T) {
	e := newEnv(t)
	s := e.seed
	ev := func(id int64) string { return fmt.Sprintf("event:%d", id) }
	ac := func(id int64) string { return fmt.Sprintf("action:%d", id) }
	at := func(d time.Duration) string { return s.Base.Add(d).Format(time.RFC3339) }
	tests := []struct {
		query string
		want  []string // newest first
	}{
		// The dead action was created when the seed ran, an hour after
		// the first event arrived.
		{"", []string{ac(s.DeadAction), ev(s.GlobexDeadEvent), ev(s.ParkedEvent), ev(s.DeadEvent)}},
		{"?kind=event", []string{ev(s.GlobexDeadEvent), ev(s.ParkedEvent), ev(s.DeadEvent)}},
		{"?kind=action", []string{ac(s.DeadAction)}},
		{"?status=parked", []string{ev(s.ParkedEvent)}},
		{"?status=refused", []string{ac(s.RefusedAction)}},
		{"?status=dead&kind=event", []string{ev(s.GlobexDeadEvent), ev(s.DeadEvent)}},
		{"?account=globex", []string{ev(s.GlobexDeadEvent)}},
		{"?work_order=1001", []string{ac(s.DeadAction)}},
		{"?action=CheckedIn", []string{ev(s.DeadEvent)}},
		{"?action=note", []string{ac(s.DeadAction)}},
		{"?since=" + at(90*time.Second), []string{ac(s.DeadAction), ev(s.GlobexDeadEvent), ev(s.ParkedEvent)}},
		{"?since=90m", []string{ac(s.DeadAction), ev(s.GlobexDeadEvent), ev(s.ParkedEvent), ev(s.DeadEvent)}},
		{"?since=30m", []string{ac(s.DeadAction)}},
		{"?since=" + at(10*time.Minute) + "&kind=event", nil},
		{"?limit=1", []string{ac(s.DeadAction)}},
		{"?status=ignored", nil},
		{"?account=acme&kind=event&action=Accepted&status=parked", []string{ev(s.ParkedEvent)}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := e.do(t, "GET", "/api/v1/dead-letters"+tc.query, testToken, "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := refs(t, r.json(t))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"bad kind", "GET", "/api/v1/dead-letters?kind=evnt", "", 400, "invalid_argument", "kind"},
		{"bad status", "GET", "/api/v1/dead-letters?status=done", "", 400, "invalid_argument", "status"},
		{"refused event", "GET", "/api/v1/dead-letters?kind=event&status=refused", "", 400, "invalid_argument", "status"},
		{"unknown account", "GET", "/api/v1/dead-letters?account=nope", "", 400, "invalid_argument", "account"},
		{"bad work order", "GET", "/api/v1/dead-letters?work_order=abc", "", 400, "invalid_argument", "work_order"},
		{"negative work order", "GET", "/api/v1/dead-letters?work_order=-3", "", 400, "invalid_argument", "work_order"},
		{"bad since", "GET", "/api/v1/dead-letters?since=yesterday", "", 400, "invalid_argument", "since"},
		{"negative since", "GET", "/api/v1/dead-letters?since=-5h", "", 400, "invalid_argument", "since"},
		{"zero limit", "GET", "/api/v1/dead-letters?limit=0", "", 400, "invalid_argument", "limit"},
		{"huge limit", "GET", "/api/v1/dead-letters?limit=1000000", "", 400, "invalid_argument", "limit"},
		{"unknown parameter", "GET", "/api/v1/dead-letters?acount=acme", "", 400, "invalid_argument", "acount"},
		{"parameter without a name", "GET", "/api/v1/dead-letters?=", "", 400, "invalid_argument", "query"},
		{"log parameter without a name", "GET", "/api/v1/log?=x&limit=1", "", 400, "invalid_argument", "query"},
		{"repeated parameter", "GET", "/api/v1/dead-letters?kind=event&kind=action", "", 400, "invalid_argument", "kind"},
		{"show bad kind", "GET", "/api/v1/dead-letters/widget/1", "", 400, "invalid_argument", "ref"},
		{"show bad id", "GET", "/api/v1/dead-letters/event/x", "", 400, "invalid_argument", "ref"},
		{"show unknown event", "GET", "/api/v1/dead-letters/event/999999", "", 404, "not_found", ""},
		{"show unknown action", "GET", "/api/v1/dead-letters/action/999999", "", 404, "not_found", ""},
		{"reprocess unknown", "POST", "/api/v1/dead-letters/event/999999/reprocess", "", 404, "not_found", ""},
		{"ignore unknown", "POST", "/api/v1/dead-letters/action/999999/ignore", "", 404, "not_found", ""},
		{"reprocess done event", "POST", "/api/v1/dead-letters/event/{done}/reprocess", "", 409, "wrong_state", ""},
		{"reprocess pending event", "POST", "/api/v1/dead-letters/event/{pending}/reprocess", "", 409, "wrong_state", ""},
		{"ignore sent action", "POST", "/api/v1/dead-letters/action/{sent}/ignore", "", 409, "wrong_state", ""},
		{"reprocess sent action", "POST", "/api/v1/dead-letters/action/{sent}/reprocess", "", 409, "wrong_state", ""},
		{"GET on reprocess", "GET", "/api/v1/dead-letters/event/1/reprocess", "", 405, "method_not_allowed", ""},
		{"DELETE on a dead letter", "DELETE", "/api/v1/dead-letters/event/1", "", 405, "method_not_allowed", ""},
		{"bulk empty body", "POST", "/api/v1/dead-letters/reprocess", "", 400, "invalid_argument", "body"},
		{"bulk not JSON", "POST", "/api/v1/dead-letters/reprocess", "refs=event:1", 400, "invalid_argument", "body"},
		{"bulk unknown field", "POST", "/api/v1/dead-letters/ignore", `{"ids":[1]}`, 400, "invalid_argument", "body"},
		{"bulk no refs", "POST", "/api/v1/dead-letters/reprocess", `{"refs":[]}`, 400, "invalid_argument", "refs"},
		{"bulk both", "POST", "/api/v1/dead-letters/reprocess", `{"refs":["event:1"],"filter":{}}`, 400, "invalid_argument", "refs"},
		{"bulk bad ref", "POST", "/api/v1/dead-letters/reprocess", `{"refs":["event:1","evt:2"]}`, 400, "invalid_argument", "refs[1]"},
		{"bulk ref without kind", "POST", "/api/v1/dead-letters/reprocess", `{"refs":["12"]}`, 400, "invalid_argument", "refs[0]"},
		{"bulk bad filter", "POST", "/api/v1/dead-letters/ignore", `{"filter":{"status":"zombie"}}`, 400, "invalid_argument", "filter.status"},
		{"bulk two objects", "POST", "/api/v1/dead-letters/ignore", `{"refs":["event:1"]} {}`, 400, "invalid_argument", "body"},
		{"log bad severity", "GET", "/api/v1/log?severity=fatal", "", 400, "invalid_argument", "severity"},
		{"log bad direction", "GET", "/api/v1/log?direction=sideways", "", 400, "invalid_argument", "direction"},
		{"log until before since", "GET", "/api/v1/log?since=2026-03-02T10:00:00Z&until=2026-03-02T09:00:00Z", "", 400, "invalid_argument", "until"},
		{"log bad until", "GET", "/api/v1/log?until=tomorrow", "", 400, "invalid_argument", "until"},
		{"log bad limit", "GET", "/api/v1/log?limit=x", "", 400, "invalid_argument", "limit"},
		{"log year 0", "GET", "/api/v1/log?since=0000-01-01", "", 400, "invalid_argument", "since"},
		{"log bad before_id", "GET", "/api/v1/log?before_id=0", "", 400, "invalid_argument", "before_id"},
		{"log unknown parameter", "GET", "/api/v1/log?wo=1", "", 400, "invalid_argument", "wo"},
		{"timeline bad id", "GET", "/api/v1/work-orders/abc/timeline", "", 400, "invalid_argument", "id"},
		{"timeline unknown account", "GET", "/api/v1/work-orders/1001/timeline?account=x", "", 400, "invalid_argument", "account"},
	}
	repl := strings.NewReplacer("{done}", fmt.Sprint(e.seed.DoneEvent), "{pending}", fmt.Sprint(e.seed.PendingEvent),
		"{sent}", fmt.Sprint(e.seed.SentAction))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, repl.Replace(tc.path), testToken, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code == "" {
				return
			}
			var body struct {
				Error struct{ Code, Field, Message string }
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("not JSON: %s", r.body)
			}
			if body.Error.Code != tc.code || body.Error.Field != tc.field || body.Error.Message == "" {
				t.Fatalf("error %+v, want code %s field %q", body.Error, tc.code, tc.field)
			}
		})
	}
}

func TestBulkContentType(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/api/v1/dead-letters/ignore", strings.NewReader(`{"refs":["event:1"]}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/plain")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestShowDeadLetter(t *testing.T) {
	e := newEnv(t)
	t.Run("event", func(t *testing.T) {
		r := e.do(t, "GET", fmt.Sprintf("/api/v1/dead-letters/event/%d", e.seed.DeadEvent), testToken, "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var d admin.DeadLetterDetail
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatal(err)
		}
		if d.Ref != fmt.Sprintf("event:%d", e.seed.DeadEvent) || d.Status != "dead" || d.Event == nil ||
			!strings.Contains(d.LastError, "unknown site 77") || !bytes.Contains(d.Event.Body, []byte(`"CheckedIn"`)) ||
			!bytes.Contains(d.Event.Decision, []byte(`erp-all`)) || len(d.Actions) != 0 {
			t.Fatalf("detail %s", r.body)
		}
	})
	t.Run("action with its event", func(t *testing.T) {
		r := e.do(t, "GET", fmt.Sprintf("/api/v1/dead-letters/action/%d", e.seed.DeadAction), testToken, "")
		var d admin.DeadLetterDetail
		if err := json.Unmarshal(r.body, &d); err != nil || r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if d.Outbox == nil || d.Outbox.Kind != "note" || d.Event == nil || d.Event.ID != e.seed.DoneEvent || len(d.Actions) != 2 ||
			!bytes.Contains(d.Outbox.Payload, []byte("hello")) || d.Outbox.IdempotencyKey != "k-1001-1" {
			t.Fatalf("detail %s", r.body)
		}
	})
}

func TestReprocessAndIgnoreOne(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := fmt.Sprintf("/api/v1/dead-letters/event/%d/reprocess", e.seed.DeadEvent)
	r := e.do(t, "POST", path, testToken, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	if m["status"] != "requeued" || m["config_version"] != "cfg-2" {
		t.Fatalf("answer %s", r.body)
	}
	ev, err := e.st.GetEvent(ctx, e.seed.DeadEvent)
	if err != nil || ev.Status != store.EventPending || ev.Attempts != 0 {
		t.Fatalf("event after requeue: %+v, %v", ev, err)
	}
	// Again: no longer a dead letter.
	if r := e.do(t, "POST", path, testToken, ""); r.status != 409 {
		t.Fatalf("second requeue: %d %s", r.status, r.body)
	}
	// It left the list.
	if got := refs(t, e.do(t, "GET", "/api/v1/dead-letters?kind=event", testToken, "").json(t)); strings.Contains(fmt.Sprint(got), fmt.Sprintf("event:%d ", e.seed.DeadEvent)) || len(got) != 2 {
		t.Fatalf("list after requeue: %v", got)
	}

	ig := fmt.Sprintf("/api/v1/dead-letters/action/%d/ignore", e.seed.DeadAction)
	if r := e.do(t, "POST", ig, testToken, ""); r.status != 200 || r.json(t)["status"] != "ignored" {
		t.Fatalf("ignore: %d %s", r.status, r.body)
	}
	a, err := e.st.GetAction(ctx, e.seed.DeadAction)
	if err != nil || a.Status != store.ActionIgnored {
		t.Fatalf("action after ignore: %+v %v", a, err)
	}
	if r := e.do(t, "POST", ig, testToken, ""); r.status != 200 {
		t.Fatalf("ignoring an ignored action is a no-op: %d %s", r.status, r.body)
	}
	if got := refs(t, e.do(t, "GET", "/api/v1/dead-letters?status=ignored", testToken, "").json(t)); fmt.Sprint(got) != fmt.Sprintf("[action:%d]", e.seed.DeadAction) {
		t.Fatalf("ignored list: %v", got)
	}
	// An ignored action can still be reprocessed.
	if r := e.do(t, "POST", fmt.Sprintf("/api/v1/dead-letters/action/%d/reprocess", e.seed.DeadAction), testToken, ""); r.status != 200 {
		t.Fatalf("reprocess ignored: %d %s", r.status, r.body)
	}
}

func TestBulk(t *testing.T) {
	t.Run("by refs", func(t *testing.T) {
		e := newEnv(t)
		body := fmt.Sprintf(`{"refs":["event:%d","action:%d","event:%d","event:999999","event:%d"]}`,
			e.seed.DeadEvent, e.seed.RefusedAction, e.seed.DoneEvent, e.seed.DeadEvent)
		r := e.do(t, "POST", "/api/v1/dead-letters/reprocess", testToken, body)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var res admin.BulkResult
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		// The repeated ref is handled once.
		if res.Requested != 4 || res.Succeeded != 2 || res.Failed != 2 || res.ConfigVersion != "cfg-2" {
			t.Fatalf("result %s", r.body)
		}
		codes := map[string]int{}
		for _, x := range res.Results {
			codes[x.Ref] = x.Code
		}
		if codes[fmt.Sprintf("event:%d", e.seed.DoneEvent)] != 409 || codes["event:999999"] != 404 {
			t.Fatalf("codes %v", codes)
		}
	})
	t.Run("by filter", func(t *testing.T) {
		e := newEnv(t)
		r := e.do(t, "POST", "/api/v1/dead-letters/ignore", testToken, `{"filter":{"account":"acme","kind":"event"}}`)
		var res admin.BulkResult
		if err := json.Unmarshal(r.body, &res); err != nil || r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if res.Requested != 2 || res.Succeeded != 2 {
			t.Fatalf("result %s", r.body)
		}
		left := refs(t, e.do(t, "GET", "/api/v1/dead-letters", testToken, "").json(t))
		want := fmt.Sprintf("[action:%d event:%d]", e.seed.DeadAction, e.seed.GlobexDeadEvent)
		if fmt.Sprint(left) != want {
			t.Fatalf("left %v, want %s", left, want)
		}
		// Reprocess everything ignored.
		r = e.do(t, "POST", "/api/v1/dead-letters/reprocess", testToken, `{"filter":{"status":"ignored"}}`)
		if err := json.Unmarshal(r.body, &res); err != nil || res.Succeeded != 2 || res.Failed != 0 {
			t.Fatalf("reprocess ignored: %s", r.body)
		}
	})
}

func TestLog(t *testing.T) {
	e := newEnv(t)
	at := func(d time.Duration) string { return e.seed.Base.Add(d).Format(time.RFC3339) }
	tests := []struct {
		query string
		want  int
	}{
		{"", 8},
		{"?account=globex", 2},
		{"?direction=outbound", 3},
		{"?severity=warn", 2},
		{"?severity=error", 1},
		{"?work_order=1001", 3},
		{"?customer=Fabrikam%20Foods", 2},
		{"?since=" + at(2*time.Minute), 6},
		{"?since=" + at(2*time.Minute) + "&until=" + at(3*time.Minute), 1},
		{"?until=" + at(time.Minute), 1},
		{"?since=" + e.seed.Base.Format("2006-01-02"), 8},
		{"?since=" + e.seed.Base.Format("2006-01-02T15:04"), 8},
		{"?limit=3", 3},
		{"?account=acme&direction=inbound&severity=info", 3},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := e.do(t, "GET", "/api/v1/log"+tc.query, testToken, "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var p admin.LogPage
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Count != tc.want || len(p.Items) != tc.want {
				t.Fatalf("got %d entries, want %d: %s", p.Count, tc.want, r.body)
			}
			for i := 1; i < len(p.Items); i++ {
				if p.Items[i].ID >= p.Items[i-1].ID {
					t.Fatalf("not newest first")
				}
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		var all []int64
		path := "/api/v1/log?limit=3"
		for range 10 {
			var p admin.LogPage
			if err := json.Unmarshal(e.do(t, "GET", path, testToken, "").body, &p); err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items {
				all = append(all, it.ID)
			}
			if p.NextBeforeID == 0 {
				break
			}
			path = fmt.Sprintf("/api/v1/log?limit=3&before_id=%d", p.NextBeforeID)
		}
		if len(all) != 8 {
			t.Fatalf("paged %d entries: %v", len(all), all)
		}
	})
}

func TestTimeline(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/api/v1/work-orders/1001/timeline", testToken, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var tl admin.Timeline
	if err := json.Unmarshal(r.body, &tl); err != nil {
		t.Fatal(err)
	}
	// Causal order, not clock order: the seed's outbound calls carry a
	// later clock than the actions' sent times, yet each call sits
	// between its action and the action's sent entry (matched by the
	// endpoint it called), and the note's failure says why.
	var types []string
	for _, en := range tl.Entries {
		types = append(types, en.Type)
	}
	want := "http event decision plugin_call action http action_sent action http"
	if strings.Join(types, " ") != want {
		t.Fatalf("types %q, want %q\n%s", strings.Join(types, " "), want, r.body)
	}
	if tl.Events != 1 || tl.Actions != 2 || fmt.Sprint(tl.Accounts) != "[acme]" {
		t.Fatalf("timeline %s", r.body)
	}
	if en := tl.Entries[5]; en.Type != "http" || !strings.Contains(en.Summary, "workOrder/accept") {
		t.Fatalf("the accept's call is not before its sent entry: %+v", en)
	}
	if en := tl.Entries[7]; en.Type != "action" || en.Why != "corrigo: 400 validation: note text too long" || en.Severity != "error" {
		t.Fatalf("the dead note does not say why: %+v", en)
	}
	if en := tl.Entries[8]; en.Why != "validation: note text too long" || !strings.Contains(en.Summary, "workOrder/note → 400") {
		t.Fatalf("the refused call does not carry CorrigoPro's error: %+v", en)
	}
	if !strings.Contains(string(r.body), "rule erp-new → plugin erp: 2 action(s) in 3.2 ms") {
		t.Fatalf("plugin call summary missing: %s", r.body)
	}
	t.Run("account filter", func(t *testing.T) {
		var tl admin.Timeline
		_ = json.Unmarshal(e.do(t, "GET", "/api/v1/work-orders/1001/timeline?account=globex", testToken, "").body, &tl)
		if len(tl.Entries) != 0 {
			t.Fatalf("globex has nothing for 1001: %+v", tl)
		}
	})
	t.Run("dead letter ref", func(t *testing.T) {
		var tl admin.Timeline
		_ = json.Unmarshal(e.do(t, "GET", "/api/v1/work-orders/1002/timeline", testToken, "").body, &tl)
		found := false
		for _, en := range tl.Entries {
			if en.Type == "dead_letter" && en.Ref == fmt.Sprintf("event:%d", e.seed.DeadEvent) && strings.Contains(en.Detail, "unknown site") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no dead letter entry: %+v", tl.Entries)
		}
	})
}

func TestRuntimeEndpoints(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path string
		want []string
	}{
		{"/api/v1/rules", []string{`"name": "erp-new"`, `"hits": 12`, `"config_version": "cfg-2"`, `"shadow": true`}},
		{"/api/v1/plugins", []string{`"name": "mailer"`, `"state": "quarantined"`, `"restarts": 3`}},
		{"/api/v1/breakers", []string{`"account": "globex"`, `"state": "open"`}},
		{"/api/v1/backlog", []string{`"account": "acme"`, `"pending_events": 1`, `"account": "globex"`}},
		{"/api/v1/status", []string{`"store_ok": true`, `"dead_letters": 4`, `"config_version": "cfg-2"`}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := e.do(t, "GET", tc.path, testToken, "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			for _, w := range tc.want {
				if !bytes.Contains(r.body, []byte(w)) {
					t.Errorf("missing %s in %s", w, r.body)
				}
			}
		})
	}
}

func TestNilRuntime(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	srv := httptest.NewServer(admin.New(st, nil, admin.Options{}))
	defer srv.Close()
	for _, p := range []string{"/api/v1/rules", "/api/v1/plugins", "/api/v1/breakers", "/api/v1/status", "/api/v1/dead-letters", "/readyz", "/ui/health", "/ui/rules"} {
		res, err := testhttp.Get(t.Context(), srv.URL+p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, res.StatusCode, b)
		}
	}
	// Without known accounts the timeline needs one.
	res, _ := testhttp.Get(t.Context(), srv.URL+"/api/v1/work-orders/5/timeline")
	_ = res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("timeline without account: %d", res.StatusCode)
	}
}

func TestStoreClosed(t *testing.T) {
	e := newEnv(t)
	_ = e.st.Close()
	r := e.do(t, "GET", "/api/v1/dead-letters", testToken, "")
	if r.status != 503 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/readyz", "", ""); r.status != 503 || !bytes.Contains(r.body, []byte("store")) {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
}

// TestWorkOrdersAPI: the list says, per work order, what an operator asks
// first: number, customer, status in CorrigoPro, last event, last action
// and its result, dead letters.
func TestWorkOrdersAPI(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/api/v1/work-orders", testToken, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var p admin.WorkOrderPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	var order []string
	byWO := map[int64]admin.WorkOrderView{}
	for _, w := range p.Items {
		order = append(order, fmt.Sprint(w.WorkOrderID))
		byWO[w.WorkOrderID] = w
	}
	// Newest last event first: 1005 arrived last.
	if strings.Join(order, " ") != "1005 1004 2001 1003 1002 1001" || p.Count != 6 || p.NextBeforeID != 0 {
		t.Fatalf("order %v: %s", order, r.body)
	}
	w := byWO[1001]
	if w.Number != "WO-1001" || w.Customer != "Contoso Retail" || w.Status != "Accepted" ||
		w.StatusFrom != fmt.Sprintf("action:%d", e.seed.SentAction) || w.Events != 1 || w.Actions != 2 ||
		w.LastEvent.Action != "NewWorkOrder" || w.LastEvent.Status != "done" ||
		w.LastAction == nil || w.LastAction.Kind != "note" || w.LastAction.Status != "dead" ||
		w.LastAction.LastError != "corrigo: 400 validation: note text too long" || w.DeadLetters != 1 || !w.Dead || w.Parked {
		t.Fatalf("1001: %+v %+v", w, w.LastAction)
	}
	if w := byWO[1003]; w.Status != "Accepted" || w.StatusFrom != fmt.Sprintf("event:%d", e.seed.ParkedEvent) || !w.Parked || w.DeadLetters != 1 {
		t.Fatalf("1003: %+v", w)
	}
	if w := byWO[1004]; w.LastAction == nil || w.LastAction.Status != "refused" || w.DeadLetters != 0 || w.Status != "CheckedOut" {
		t.Fatalf("1004: %+v", w)
	}
	for _, c := range []struct {
		query string
		want  string
	}{
		{"?problems=true", "2001 1003 1002 1001"},
		{"?account=globex", "2001"},
		{"?status=checkedin", "1002"},
		{"?q=northwind&limit=3", "2001"}, // matched within the page of 3
	} {
		var p admin.WorkOrderPage
		_ = json.Unmarshal(e.do(t, "GET", "/api/v1/work-orders"+c.query, testToken, "").body, &p)
		var got []string
		for _, w := range p.Items {
			got = append(got, fmt.Sprint(w.WorkOrderID))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v, want %s", c.query, got, c.want)
		}
	}
	// Paging continues below the last row's newest event.
	var p1, p2 admin.WorkOrderPage
	_ = json.Unmarshal(e.do(t, "GET", "/api/v1/work-orders?limit=4", testToken, "").body, &p1)
	if p1.NextBeforeID == 0 {
		t.Fatalf("page 1 not full: %+v", p1)
	}
	_ = json.Unmarshal(e.do(t, "GET", fmt.Sprintf("/api/v1/work-orders?limit=4&before_id=%d", p1.NextBeforeID), testToken, "").body, &p2)
	if len(p2.Items) != 2 || p2.Items[0].WorkOrderID != 1002 || p2.NextBeforeID != 0 {
		t.Fatalf("page 2: %+v", p2)
	}
	for _, bad := range []string{"?problems=2", "?limit=0", "?limit=501", "?before_id=x", "?account=nope", "?since=yesterday", "?colour=red"} {
		if r := e.do(t, "GET", "/api/v1/work-orders"+bad, testToken, ""); r.status != 400 || !strings.Contains(string(r.body), "invalid_argument") {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
}
