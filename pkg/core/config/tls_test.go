package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testcerts"
	"github.com/wogate/wogate/pkg/core/config"
)

// TestTLS: the tls blocks load with paths relative to the config file,
// their files are checked at load naming the key, and a listener others
// can reach without TLS is reported (validate refuses it) unless the
// config says a proxy terminates TLS.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, "config test CA")
	ca.Server(t, time.Time{}, time.Time{}).Write(t, filepath.Join(dir, "good.crt"), filepath.Join(dir, "good.key"))
	now := time.Now()
	ca.Server(t, now.Add(-48*time.Hour), now.Add(-time.Hour)).Write(t, filepath.Join(dir, "old.crt"), filepath.Join(dir, "old.key"))
	ca.Server(t, time.Time{}, now.Add(5*24*time.Hour)).Write(t, filepath.Join(dir, "soon.crt"), filepath.Join(dir, "soon.key"))
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const base = "corrigo: {accounts: {main: {sandbox: true}}}\n"
	cases := []struct {
		name, yaml       string
		wantErr          string
		wantWarn         string
		wantPlain        []string // keys PlaintextListeners reports
		wantCert, wantCA string
	}{
		{name: "loopback without TLS", yaml: ""},
		{name: "public TLS", yaml: "tls: {cert_file: good.crt, key_file: good.key, min_version: '1.3'}\n", wantCert: "good.crt"},
		{name: "admin TLS with client CA", yaml: "admin: {tls: {cert_file: good.crt, key_file: good.key, client_ca_file: ca.pem}}\n", wantCA: "ca.pem"},
		{name: "plaintext on all addresses", yaml: "listen: 0.0.0.0:8080\nadmin: {listen: '0.0.0.0:8081', token: a-long-admin-token-0123456789, allowed_hosts: [x]}\n",
			wantPlain: []string{"tls", "admin.tls"}, wantWarn: "listen (0.0.0.0:8080) is not a loopback address and has no TLS: set tls.cert_file and tls.key_file"},
		{name: "proxy in front", yaml: "listen: 0.0.0.0:8080\ntls: {terminated_by_proxy: true}\n"},
		{name: "TLS on all addresses", yaml: "listen: 0.0.0.0:8080\ntls: {cert_file: good.crt, key_file: good.key}\n"},
		{name: "expired", yaml: "tls: {cert_file: old.crt, key_file: old.key}\n", wantErr: "tls.cert_file: " + filepath.Join(dir, "old.crt") + ": certificate expired on"},
		{name: "expiring", yaml: "tls: {cert_file: soon.crt, key_file: soon.key}\n", wantWarn: "tls.cert_file: " + filepath.Join(dir, "soon.crt") + ": certificate expires on"},
		{name: "mismatched pair", yaml: "admin: {tls: {cert_file: good.crt, key_file: soon.key}}\n", wantErr: "admin.tls.cert_file: " + filepath.Join(dir, "good.crt") + " and " + filepath.Join(dir, "soon.key") + ": tls: private key does not match"},
		{name: "missing key", yaml: "tls: {cert_file: good.crt, key_file: nope.key}\n", wantErr: "nope.key: no such file"},
		{name: "cert without key", yaml: "tls: {cert_file: good.crt}\n", wantErr: "tls.key_file: required with tls.cert_file"},
		{name: "bad version", yaml: "tls: {cert_file: good.crt, key_file: good.key, min_version: '1.1'}\n", wantErr: `tls.min_version: "1.1": want 1.2 or 1.3`},
		{name: "client CA on the public listener", yaml: "tls: {cert_file: good.crt, key_file: good.key, client_ca_file: ca.pem}\n", wantErr: "tls.client_ca_file: only admin.tls"},
		{name: "client CA without TLS", yaml: "admin: {tls: {client_ca_file: ca.pem}}\n", wantErr: "admin.tls.client_ca_file: needs admin.tls.cert_file"},
		{name: "client CA not PEM", yaml: "admin: {tls: {cert_file: good.crt, key_file: good.key, client_ca_file: good.key}}\n", wantErr: "no PEM certificate"},
		{name: "both", yaml: "tls: {cert_file: good.crt, key_file: good.key, terminated_by_proxy: true}\n", wantErr: "tls.terminated_by_proxy: contradicts"},
		{name: "unknown key", yaml: "tls: {cert: good.crt}\n", wantErr: "tls.cert"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "wogate.yaml")
			if err := os.WriteFile(path, []byte(base+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range cfg.Warnings {
				warns = append(warns, w.String())
			}
			if all := strings.Join(warns, "\n"); tc.wantWarn != "" && !strings.Contains(all, tc.wantWarn) {
				t.Errorf("warnings %q, want %q", all, tc.wantWarn)
			}
			var plain []string
			for _, e := range cfg.PlaintextListeners() {
				plain = append(plain, e.Key)
			}
			if strings.Join(plain, ",") != strings.Join(tc.wantPlain, ",") {
				t.Errorf("plaintext listeners %v, want %v", plain, tc.wantPlain)
			}
			if tc.wantCert != "" && cfg.TLS.CertFile != filepath.Join(dir, tc.wantCert) {
				t.Errorf("cert_file %s, want it relative to the config's directory", cfg.TLS.CertFile)
			}
			if tc.wantCA != "" && cfg.Admin.TLS.ClientCAFile != filepath.Join(dir, tc.wantCA) {
				t.Errorf("client_ca_file %s", cfg.Admin.TLS.ClientCAFile)
			}
		})
	}
}
