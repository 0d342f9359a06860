package corrigo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAPIErrorBody feeds arbitrary error answers to the decoder: it must
// never panic, always yield an APIError naming the call, and keep the
// message printable on one line when it comes from a non-JSON body.
func FuzzAPIErrorBody(f *testing.F) {
	seeds := []string{
		`{"Code":2100,"Message":"Model data validation failed","ValidationErrors":[{"FieldName":"","ErrorType":"IncorrectType","Message":"Empty request model"}],"MessageId":null}`,
		`{"Code":2000,"Message":"Authorization has been denied for this request.","ValidationErrors":null,"MessageId":null}`,
		`{"Code":1000,"Message":"Internal server error occurred.","ValidationErrors":null,"MessageId":"f54d6dcb-d166-4794-bc91-c77fde173c31"}`,
		`{"Code":3056,"Message":"Tax mismatch"}`,
		`<html><body>404</body></html>`,
		"plain\ntext\xff\xfe",
		``, `null`, `[]`, `{"Code":"x"}`, `{"ValidationErrors":[null,{}]}`,
	}
	for _, s := range seeds {
		f.Add(400, "PUT", s)
	}
	f.Add(404, "GET", "No HTTP resource")
	c := &Client{}
	f.Fuzz(func(t *testing.T, status int, method, body string) {
		cl := call{method: method, path: "api/x", messageID: "m-1"}
		e := c.apiError(cl, status, []byte(body), http.Header{"Retry-After": {body}})
		if e.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", e.RetryAfter)
		}
		if e == nil || e.Method != method || e.Path != "api/x" || e.StatusCode != status {
			t.Fatalf("apiError = %+v", e)
		}
		if e.MessageId == "" {
			t.Fatal("lost the MessageId")
		}
		_ = e.Error()
		_ = e.Class()
		if e.Code == 0 && strings.ContainsAny(e.Message, "\n\r") {
			t.Fatalf("multi-line message from a non-JSON body: %q", e.Message)
		}
		if e.Code == 0 && !utf8.ValidString(e.Message) {
			t.Fatalf("invalid UTF-8 message %q", e.Message)
		}
	})
}

type fuzzRoundTripper struct {
	status int
	body   []byte
}

func (rt fuzzRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: rt.status, Body: io.NopCloser(bytes.NewReader(rt.body)), Header: http.Header{}, Request: r}, nil
}

// FuzzTokenResponse feeds arbitrary OAuth answers to the token source: it
// must return a token with a positive lifetime or a *TokenError, and the
// observed response body must never contain the token.
func FuzzTokenResponse(f *testing.F) {
	f.Add(200, `{"access_token":"H4sIAAAAAAAEAG2NvQrCMBzE<---->OOoH_cGiaJ3jH","token_type":"bearer","expires_in":1199}`)
	f.Add(200, `{"access_token":"a","token_type":"bearer"}`)
	f.Add(200, `{"access_token":"x","token_type":"mac","expires_in":-5}`)
	f.Add(400, `{"error":"invalid_client"}`)
	f.Add(400, `{"error":"unsupported_grant_type"}`)
	f.Add(200, `{"error":"invalid_client","access_token":"t"}`)
	f.Add(500, `oops`)
	f.Add(200, ``)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 {
			return
		}
		var seen Exchange
		s := &tokenSource{
			oauthURL: "http://oauth.invalid/OAuth/Token", clientID: "id", clientSecret: "secret-xyz",
			httpClient: &http.Client{Transport: fuzzRoundTripper{status, []byte(body)}},
			observe:    func(e Exchange) { seen = e },
			now:        time.Now,
		}
		tok, life, err := s.fetch(context.Background())
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err %T %v, want *TokenError", err, err)
			}
			if tok != "" {
				t.Fatal("token and error")
			}
		} else {
			if tok == "" || life <= 0 {
				t.Fatalf("token %q lifetime %v", tok, life)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(seen.ResponseBody, &m); err != nil {
				t.Fatalf("observed body %q: %v", seen.ResponseBody, err)
			}
			for k, v := range m {
				if strings.EqualFold(k, "access_token") && string(v) != `"REDACTED"` {
					t.Fatalf("observed body %q keeps the token", seen.ResponseBody)
				}
			}
		}
		if bytes.Contains(seen.RequestBody, []byte("secret-xyz")) {
			t.Fatal("observed request leaks the secret")
		}
	})
}
