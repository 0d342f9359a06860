package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// tokenWorld is a running sandbox (the CorrigoPro Desktop emulator's
// stand-in), its certificate on disk and a config with two accounts: main
// with the default verifier, pinned with SHA-1 only.
func tokenWorld(t *testing.T) (sb *sandbox.Sandbox, cfgPath, certPath string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	dir := t.TempDir()
	certPath = filepath.Join(dir, "corrigo.pem")
	if err := os.WriteFile(certPath, sb.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:1
data_dir: %[1]s
corrigo:
  accounts:
    main:
      base_url: %[2]s
      client_id: sandbox
      client_secret: sandbox-secret
      webhook: {certificate: "file:%[3]s"}
    pinned:
      base_url: %[2]s
      client_id: other
      client_secret: other-secret
      webhook: {certificate: "file:%[3]s", path: /webhooks/pinned, hashes: [sha1]}
admin: {listen: ""}
`, dir, sb.BaseURL(), certPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return sb, cfgPath, certPath
}

func runToken(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := tokenMain(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestTokenInspectAgainstConfig: a webhook token the sandbox signs, read
// from a saved request, is accepted by the default account and refused by
// the one pinned to SHA-1, which is told what to pin instead; the token
// never appears in the output.
func TestTokenInspectAgainstConfig(t *testing.T) {
	sb, cfgPath, _ := tokenWorld(t)
	tok, err := sb.WebhookToken()
	if err != nil {
		t.Fatal(err)
	}
	_, sig, _ := strings.Cut(tok, corrigo.TokenSeparator)
	req := "POST /webhooks/corrigo/main HTTP/1.1\nHost: gw.example\nAuthorization: Bearer " + tok + "\nContent-Type: application/json\n\n{\"Header\":{}}\n"
	capture := filepath.Join(t.TempDir(), "request.txt")
	if err := os.WriteFile(capture, []byte(req), 0o600); err != nil {
		t.Fatal(err)
	}
	r := gw(t, "token", "inspect", "--config", cfgPath, capture)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"token: gzip-compressed ticket",
		`name:      "CorrigoPro"`,
		"audience:  CorrigoProDirect",
		"valid now: yes",
		"lifetime:  20m0s",
		"account main (certificate configured):",
		"verifies:    SHA-256/decoded#0   (#key index)",
		"configured:  SHA-256/decoded, SHA-1/decoded\n  the gateway: accepts it now",
		"pin:         corrigo.accounts.main.webhook: {hashes: [sha256], signed_bytes: [decoded]}",
		"account pinned (certificate configured):",
		"configured:  SHA-1/decoded\n  the gateway: refuses it: webhook token rejected: bad_signature",
		"note:        the certificate verifies the token with a combination these settings do not try",
		"\n  pin:         corrigo.accounts.pinned.webhook: {hashes: [sha256], signed_bytes: [decoded]}",
		"result: accepted",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, sig) || strings.Contains(r.stdout+r.stderr, tok[:60]) {
		t.Error("the output holds the token")
	}

	// Only the pinned account: refused, exit 1; JSON says why.
	code, out, stderr := runToken(t, "Authorization: Bearer "+tok+"\n", "inspect", "--config", cfgPath, "--account", "pinned", "--format", "json")
	var rep tokenReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, stderr)
	}
	if rep.Accepted || len(rep.Checks) != 1 || rep.Checks[0].Reason != "bad_signature" || rep.Checks[0].Accepted ||
		strings.Join(rep.Checks[0].Verifying, ",") != "SHA-256/decoded#0" || rep.Ticket == nil || !rep.Ticket.ValidNow {
		t.Errorf("report %+v", rep)
	}
}

// TestTokenInspectExpiryAndOtherCertificates: an expired token is
// reported as such (claims still shown), a token from another key
// verifies with no combination, and access tokens of the config's own
// client id are refused as not webhook tokens.
func TestTokenInspectExpiryAndOtherCertificates(t *testing.T) {
	sb, cfgPath, certPath := tokenWorld(t)
	key, _, err := corrigo.GenerateCertificate("not corrigo", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	expired, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{Now: func() time.Time { return old }}).Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := runToken(t, expired, "inspect", "--certificate", certPath)
	if code != 1 || !strings.Contains(out, "valid now: no") || !regexp.MustCompile(`expires: .*\(40m[0-2]s ago\)`).MatchString(out) ||
		!strings.Contains(out, "verifies:    none") || !strings.Contains(out, "result: not accepted") {
		t.Errorf("expired foreign token: exit %d\n%s", code, out)
	}
	// The sandbox's own access token for client id "sandbox".
	api, err := corrigo.NewClient(corrigo.Config{BaseURL: sb.BaseURL(), OAuthURL: sb.OAuthURL(), ClientID: "sandbox", ClientSecret: "sandbox-secret"})
	if err != nil {
		t.Fatal(err)
	}
	access, err := api.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = runToken(t, "Bearer "+access, "inspect", "--config", cfgPath, "--account", "main")
	if code != 1 || !strings.Contains(out, "not_webhook_token") {
		t.Errorf("access token: exit %d\n%s", code, out)
	}
}

func TestTokenInspectUsage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"inspect"}, "eyJ9<---->AAAA", 2, "pass --config FILE or --certificate FILE"},
		{[]string{"inspect", "--account", "x"}, "", 2, "--account needs --config"},
		{[]string{"inspect", "a", "b"}, "", 2, "name one capture FILE"},
		{[]string{"inspect", "--format", "xml"}, "", 2, `unknown format "xml"`},
		{[]string{"inspect", "--certificate", "/nonexistent.pem"}, "x<---->y", 1, "--certificate"},
		{[]string{"inspect", "--certificate", "/dev/null"}, "", 1, "the capture is empty"},
		{[]string{"inspect", "--certificate", "/dev/null"}, "no separator here", 1, "not a CorrigoPro token: webhook token rejected: malformed"},
		{[]string{"frobnicate"}, "", 2, `unknown command "frobnicate"`},
	} {
		code, _, stderr := runToken(t, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
