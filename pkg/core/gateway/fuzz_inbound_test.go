package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// countingStore counts the events a real store inserted.
type countingStore struct {
	intakeStore
	inserted atomic.Int64
}

func (c *countingStore) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	ok, err := c.intakeStore.InsertEvent(ctx, e)
	if ok {
		c.inserted.Add(1)
	}
	return ok, err
}

// FuzzInboundRequest drives the gateway side of /plugins/{name}/inbound
// with arbitrary requests (credentials, X-Wogate-Account, Idempotency-Key,
// method, path, body, remote address) and arbitrary plugin answers
// (status, headers, body, actions, errors), on a real SQLite store. It must
// never panic, and:
//   - a request without the right credential gets 401, 403 or 404, never
//     reaches the plugin and stores nothing;
//   - actions are stored only when the caller gets the plugin's own answer
//     (an answer the gateway replaced, a refusal or an error, stores
//     nothing);
//   - the same request sent again stores nothing more and gets the same
//     status (idempotency by key or by content);
//   - every answer the gateway writes itself is JSON.
func FuzzInboundRequest(f *testing.F) {
	const tok, sec = "s3cret-token-0123456789", "hmac-secret-0123456789"
	note := `[{"Kind":"note","WorkOrderID":5,"Comment":"x"}]`
	for _, s := range []struct {
		plugin               uint8
		credOK, loop         bool
		token, sig, acct, ik string
		method, path, body   string
		status               int
		actions              string
		perr                 uint8
	}{
		{0, true, false, "", "", "", "", "POST", "/", `{"a":1}`, 200, note, 0},
		{0, false, false, "Bearer nope", "", "", "", "POST", "/", `{}`, 200, note, 0},
		{0, false, true, tok[:5], "", "", "", "POST", "/x", `{}`, 200, note, 0},
		{1, true, false, "", "", "acme", "k-1", "PUT", "/cb", `{"job":"J"}`, 202, note, 0},
		{1, false, false, "", "sha256=00", "", "", "POST", "/", `{}`, 200, note, 0},
		{1, false, false, "", "zz", "", "", "POST", "/", ``, 200, note, 0},
		{2, true, true, "", "", "", "", "GET", "/", ``, 0, `[]`, 0},
		{2, false, false, "", "", "", "", "POST", "/", `{}`, 200, note, 0},
		{3, false, true, tok, "", "", "", "POST", "/", `{}`, 200, note, 0},
		{0, true, false, "", "", "nobody", "", "POST", "/", `{}`, 200, note, 0},
		{0, true, false, "", "", "", "\r\nx", "POST", "/", `{}`, 999, note, 0},
		{0, true, false, "", "", "", "", "POST", "/", `{}`, 200, `[{"Kind":"teleport","WorkOrderID":5}]`, 0},
		{0, true, false, "", "", "", "", "POST", "/", `{}`, 200, `[{"Kind":"note"}]`, 0},
		{0, true, false, "", "", "beta", "", "POST", "/", `{}`, 500, note, 0},
		{0, true, false, "", "", "", "", "POST", "/", `{}`, 200, note, 1},
		{0, true, false, "", "", "", "", "POST", "/", `{}`, 200, note, 2},
		{0, true, false, "", "", "", "", "POST", "/", `{}`, 200, note, 3},
	} {
		f.Add(s.plugin, s.credOK, s.loop, s.token, s.sig, s.acct, s.ik, s.method, s.path, []byte(s.body), s.status, []byte(`{"ok":true}`), []byte(s.actions), s.perr)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	cs := &countingStore{intakeStore: st}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := newActionIntake(cs, map[string]bool{"acme": false, "beta": true}, log)
	policies := map[string]config.PluginInbound{
		"tok":  {Token: tok},
		"hmac": {HMACSecret: sec, HMACHeader: "X-Signature"},
		"lo":   {AllowUnauthenticatedOnLoopback: true},
		"none": {},
	}
	names := []string{"tok", "hmac", "lo", "none", "unknown"}
	type answer struct {
		status  int
		body    []byte
		actions []pluginapi.Action
		err     error
	}
	var current atomic.Pointer[answer]
	var calls atomic.Int64
	plugin := &fakeInbound{fn: func(string, pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
		calls.Add(1)
		a := current.Load()
		return pluginapi.InboundResponse{Status: a.status, Header: http.Header{"X-From": {"plugin"}}, Body: a.body}, a.actions, a.err
	}}
	h := &inboundHandler{plugins: plugin, intake: in, log: log, maxBody: 4096,
		policy: func(name string) (config.PluginInbound, bool) {
			p, ok := policies[name]
			return p, ok
		}}
	mux := http.NewServeMux()
	registerInbound(mux, h)
	perrs := []error{nil, pluginapi.RetryLater(errors.New("busy")), pluginapi.Permanent(errors.New("no")), pluginapi.NeedsPerson(errors.New("who"))}

	f.Fuzz(func(t *testing.T, which uint8, credOK, loop bool, token, sig, acct, ik, method, path string, body []byte,
		status int, pbody, pactions []byte, perr uint8) {
		name := names[int(which)%len(names)]
		req := httptest.NewRequest(http.MethodPost, "/plugins/"+name+"/inbound", bytes.NewReader(body))
		if m := method; validMethod(m) {
			req.Method = m
		}
		if path != "" && validPathSuffix(path) {
			req.URL.Path += path
		}
		req.RemoteAddr = "203.0.113.9:4000"
		if loop {
			req.RemoteAddr = "127.0.0.1:4000"
		}
		switch name {
		case "tok":
			if credOK {
				token = "Bearer " + tok
			} else if token == "Bearer "+tok || token == tok {
				return
			}
			req.Header.Set("Authorization", token)
		case "hmac":
			if credOK {
				sig = hmacHex(sec, string(body))
			} else if checkHMAC(sig, sec, body) {
				return
			}
			req.Header.Set("X-Signature", sig)
		}
		authed := credOK && (name == "tok" || name == "hmac") || name == "lo" && loop
		if acct != "" {
			req.Header.Set(AccountHeader, acct)
		}
		if ik != "" {
			req.Header.Set(IdempotencyHeader, ik)
		}
		var acts []pluginapi.Action
		if json.Unmarshal(pactions, &acts) != nil {
			acts = nil
		}
		current.Store(&answer{status: status, body: pbody, actions: acts, err: perrs[int(perr)%len(perrs)]})

		send := func() (*httptest.ResponseRecorder, int64, int64) {
			c0, i0 := calls.Load(), cs.inserted.Load()
			req2 := req.Clone(context.Background())
			req2.Body = io.NopCloser(bytes.NewReader(body))
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req2)
			return rec, calls.Load() - c0, cs.inserted.Load() - i0
		}
		rec, called, inserted := send()
		if !authed {
			// An HMAC is checked over the body, so a body over the limit is
			// refused (413) before it is.
			tooBig := name == "hmac" && len(body) > 4096 && rec.Code == http.StatusRequestEntityTooLarge
			if rec.Code != 401 && rec.Code != 403 && rec.Code != 404 && !tooBig {
				t.Fatalf("%s without its credential: %d %s", name, rec.Code, rec.Body)
			}
			if called != 0 || inserted != 0 {
				t.Fatalf("%s without its credential: the plugin was called %d times, %d events stored", name, called, inserted)
			}
		}
		fromPlugin := rec.Header().Get("X-From") == "plugin"
		if !fromPlugin && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("the gateway's own answer %d is not JSON: %q", rec.Code, rec.Body)
		}
		if inserted > 0 && !(fromPlugin && bytes.Equal(rec.Body.Bytes(), pbody)) {
			t.Fatalf("%d events stored, but the caller got %d %q instead of the plugin's answer", inserted, rec.Code, rec.Body)
		}
		if fromPlugin && status != 0 && rec.Code != status {
			t.Fatalf("plugin answered %d, the caller got %d", status, rec.Code)
		}
		rec2, _, inserted2 := send()
		if inserted2 != 0 {
			t.Fatalf("the same request again stored %d more events", inserted2)
		}
		if rec2.Code != rec.Code {
			t.Fatalf("the same request again: %d, first %d", rec2.Code, rec.Code)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// validPathSuffix keeps paths the mux routes to the handler unchanged
// (no cleaning redirects).
func validPathSuffix(p string) bool {
	if p[0] != '/' || len(p) > 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '-') {
			return false
		}
	}
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '/' && p[i+1] == '/' {
			return false
		}
	}
	return true
}
