package erprest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

func TestAuthModes(t *testing.T) {
	cases := []struct {
		name string
		auth fakeerp.Auth
		cfg  []any
		// bad is a config whose credentials the ERP refuses.
		bad []any
		// badMsg is what the refusal says.
		badMsg string
	}{
		{name: "none", auth: fakeerp.Auth{Type: "none"}},
		{name: "bearer", auth: fakeerp.Auth{Type: "bearer", Token: "t0k"},
			cfg: []any{"auth_type", "bearer", "auth_token", "t0k"},
			bad: []any{"auth_type", "bearer", "auth_token", "wrong"}, badMsg: "ERP answered 401"},
		{name: "basic", auth: fakeerp.Auth{Type: "basic", Username: "wogate", Password: "p:ss wörd"},
			cfg: []any{"auth_type", "basic", "auth_username", "wogate", "auth_password", "p:ss wörd"},
			bad: []any{"auth_type", "basic", "auth_username", "wogate", "auth_password", "nope"}, badMsg: "ERP answered 401"},
		{name: "api key", auth: fakeerp.Auth{Type: "api_key", Header: "X-FieldFlow-Key", Key: "k-123"},
			cfg: []any{"auth_type", "api_key", "auth_header", "X-FieldFlow-Key", "auth_key", "k-123"},
			bad: []any{"auth_type", "api_key", "auth_key", "k-123"}, badMsg: "ERP answered 401"}, // default header name
		{name: "oauth2 header", auth: fakeerp.Auth{Type: "oauth2", ClientID: "wogate", ClientSecret: "s3cret", Scope: "jobs"},
			cfg: []any{"auth_type", "oauth2_client_credentials", "client_id", "wogate", "client_secret", "s3cret", "scopes", []any{"jobs", "sites"}},
			bad: []any{"auth_type", "oauth2_client_credentials", "client_id", "wogate", "client_secret", "bad"}, badMsg: "invalid_client"},
		{name: "oauth2 body", auth: fakeerp.Auth{Type: "oauth2", ClientID: "wogate", ClientSecret: "s3cret", ClientAuthInBody: true},
			cfg: []any{"auth_type", "oauth2_client_credentials", "client_id", "wogate", "client_secret", "s3cret", "token_auth_style", "body"},
			bad: []any{"auth_type", "oauth2_client_credentials", "client_id", "wogate", "client_secret", "s3cret"}, badMsg: "invalid_client"},
		{name: "oauth2 scope", auth: fakeerp.Auth{Type: "oauth2", ClientID: "wogate", ClientSecret: "s3cret", Scope: "jobs"},
			cfg: []any{"auth_type", "oauth2_client_credentials", "client_id", "wogate", "client_secret", "s3cret", "scopes", "jobs"},
			bad: []any{"auth_type", "oauth2_client_credentials", "client_id", "wogate", "client_secret", "s3cret"}, badMsg: "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			erp := fakeerp.New(fakeerp.Options{Auth: tc.auth})
			defer erp.Close()
			cfg := baseConfig(erp)
			if strings.HasPrefix(tc.auth.Type, "oauth2") {
				cfg["token_url"] = erp.URL() + "/oauth/token"
			}
			c := start(t, with(cfg, tc.cfg...))
			for i := int64(1); i <= 3; i++ {
				if acts := mustHandle(t, c, workOrder(i, "WO-"+string(rune('0'+i)))); kinds(acts) != "accept" {
					t.Fatalf("actions = %+v", acts)
				}
			}
			if tc.auth.Type == "oauth2" {
				if n := erp.TokensIssued(); n != 1 {
					t.Errorf("tokens issued for 3 jobs = %d, want 1 (cached)", n)
				}
			}
			if tc.bad == nil {
				return
			}
			cb := start(t, with(cfg, tc.bad...))
			_, err := handle(t, cb, workOrder(9, "WO-9"))
			wantErr(t, err, true, tc.badMsg)
			if n := len(erp.Jobs()); n != 3 {
				t.Errorf("jobs = %d after refused credentials, want 3", n)
			}
		})
	}
}

func TestOAuth2RefreshesRevokedAndExpiredTokens(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	erp := fakeerp.New(fakeerp.Options{Now: clock, Auth: fakeerp.Auth{Type: "oauth2", ClientID: "id", ClientSecret: "sec", TokenLifetime: 10 * time.Minute}})
	defer erp.Close()
	c := start(t, with(baseConfig(erp), "auth_type", "oauth2_client_credentials", "token_url", erp.URL()+"/oauth/token",
		"client_id", "id", "client_secret", "sec"))
	mustHandle(t, c, workOrder(1, "WO-1"))
	erp.ExpireTokens() // revoked: the next request gets a 401 and retries with a new token
	if acts := mustHandle(t, c, workOrder(2, "WO-2")); kinds(acts) != "accept" {
		t.Fatalf("after revocation: %+v", acts)
	}
	if n := erp.TokensIssued(); n != 2 {
		t.Errorf("tokens issued = %d, want 2", n)
	}
	var unauthorized int
	for _, r := range erp.Requests() {
		if r.Status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized != 1 {
		t.Errorf("401 answers = %d, want 1", unauthorized)
	}
}

func TestTokenEndpointDown(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{Auth: fakeerp.Auth{Type: "oauth2", ClientID: "id", ClientSecret: "sec"}})
	defer erp.Close()
	c := start(t, with(baseConfig(erp), "auth_type", "oauth2_client_credentials", "token_url", "http://127.0.0.1:1/token",
		"client_id", "id", "client_secret", "sec"))
	_, err := handle(t, c, workOrder(1, "WO-1"))
	wantErr(t, err, true, "oauth2 token: POST http://127.0.0.1:1/token")
	if len(erp.Jobs()) != 0 {
		t.Error("job created without a token")
	}
}
